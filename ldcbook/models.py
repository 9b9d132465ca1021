"""Base learners of the training engine, and G copies of one learner as one computation.

The book's experiment chapters train k (DPA) or k*d (FA) base classifiers, each on its
own partition (see ``ALGORITHMS.md``, "Base learners and schedules used by the
paper"). This module defines them as plain :class:`torch.nn.Sequential` models:

``"nin"``
    Network-in-Network as used by DPA, FA and the LDC paper (about 1.0 M parameters):
    three blocks of bias-free convolutions, each followed by BatchNorm and ReLU,
    global average pooling and a linear classifier;
``"cnn"``
    a small convolutional network for 28x28 (MNIST) and 8x8 (digits) inputs at CPU
    scale: two strided convolutions with BatchNorm and ReLU, and a linear layer;
``"mlp"``
    a one-hidden-layer perceptron at CPU scale.

:class:`GroupedNet` holds the parameters of G such models stacked along a leading
model axis and runs any range of them as *one* computation: convolutions
become grouped convolutions (``groups=g``), BatchNorm runs over ``g*C`` channels (so
every model keeps its own batch statistics and running averages) and linear layers
become batched matrix products. Nothing in it mixes two models: every operation acts
on one model's channels or one model's matrix, which is what keeps a certificate
computed from the ensemble a proof (``ALGORITHMS.md``, "Training many base models at
once").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ldcbook._checks import check_int

LEARNERS: tuple[str, ...] = ("nin", "cnn", "mlp")
"""The names :func:`build_model` accepts."""

MLP_HIDDEN = 32
"""Width of the hidden layer of the ``"mlp"`` learner."""

CNN_WIDTH = 8
"""Channels of the first convolution of the ``"cnn"`` learner (the second has twice)."""


class GlobalAvgPool(nn.Module):
    """Average over the spatial axes: ``(N, C, H, W) -> (N, C)``.

    The global average pooling of Network-in-Network, written as an average pool
    whose window is the whole map: its backward pass is deterministic on CUDA (adaptive
    pooling's is not), and each channel's average is computed the same way however
    many channels there are (a mean reduction picks its strategy by shape).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.avg_pool2d(x, kernel_size=tuple(x.shape[2:])).flatten(1)


def _conv_bn_relu(
    c_in: int, c_out: int, kernel: int, stride: int = 1
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


def nin(in_channels: int = 3, num_classes: int = 10) -> nn.Sequential:
    """Network-in-Network, the base learner of DPA, FA and the LDC paper.

    Three blocks (``ALGORITHMS.md``, "Base learners"): conv5x5 -> 192, 1x1 -> 160,
    1x1 -> 96, max-pool 3/2; conv5x5 -> 192, 1x1 -> 192, 1x1 -> 192, average-pool 3/2;
    conv3x3 -> 192, 1x1 -> 192, 1x1 -> 192. Every convolution is bias-free and followed
    by BatchNorm and ReLU; then global average pooling and a linear layer. Pools use
    padding 1, so 32x32 inputs give 16x16 and 8x8 maps. With three input channels and
    ten classes it has 1,005,642 parameters.

    Parameters
    ----------
    in_channels : int
        Image channels (3 for CIFAR-10 and GTSRB, 1 for MNIST).
    num_classes : int
        Number of classes.

    Returns
    -------
    torch.nn.Sequential
    """
    in_channels = check_int("in_channels", in_channels, min_value=1)
    num_classes = check_int("num_classes", num_classes, min_value=2)
    layers: list[nn.Module] = [
        *_conv_bn_relu(in_channels, 192, 5),
        *_conv_bn_relu(192, 160, 1),
        *_conv_bn_relu(160, 96, 1),
        nn.MaxPool2d(3, stride=2, padding=1),
        *_conv_bn_relu(96, 192, 5),
        *_conv_bn_relu(192, 192, 1),
        *_conv_bn_relu(192, 192, 1),
        nn.AvgPool2d(3, stride=2, padding=1),
        *_conv_bn_relu(192, 192, 3),
        *_conv_bn_relu(192, 192, 1),
        *_conv_bn_relu(192, 192, 1),
        GlobalAvgPool(),
        nn.Linear(192, num_classes),
    ]
    return nn.Sequential(*layers)


def small_cnn(
    in_channels: int, num_classes: int, image_size: int, width: int = CNN_WIDTH
) -> nn.Sequential:
    """A small CNN for CPU-scale experiments (MNIST 28x28, digits 8x8).

    conv5x5 stride 2 -> ``width``, BatchNorm, ReLU; conv3x3 stride 2 -> ``2*width``,
    BatchNorm, ReLU; flatten; linear. Strided convolutions instead of pooling keep the
    feature maps small, which is what makes many copies of it fast on a CPU (the
    book's experiment chapters at the default scale). With the default width of 8 it
    has 9,250 parameters on 28x28 inputs with ten classes; on MNIST-5k with k = 50 its
    ensemble was as accurate as with width 16 (94 %) at half the cost.

    Parameters
    ----------
    in_channels : int
        Image channels.
    num_classes : int
        Number of classes.
    image_size : int
        Height (= width) of the input images, at least 4.
    width : int
        Channels of the first convolution.

    Returns
    -------
    torch.nn.Sequential
    """
    in_channels = check_int("in_channels", in_channels, min_value=1)
    num_classes = check_int("num_classes", num_classes, min_value=2)
    image_size = check_int("image_size", image_size, min_value=4)
    width = check_int("width", width, min_value=1)
    side = (image_size + 1) // 2  # conv 5x5, stride 2, padding 2
    side = (side + 1) // 2  # conv 3x3, stride 2, padding 1
    return nn.Sequential(
        *_conv_bn_relu(in_channels, width, 5, stride=2),
        *_conv_bn_relu(width, 2 * width, 3, stride=2),
        nn.Flatten(),
        nn.Linear(2 * width * side * side, num_classes),
    )


def mlp(
    in_channels: int, num_classes: int, image_size: int, hidden: int = MLP_HIDDEN
) -> nn.Sequential:
    """A one-hidden-layer perceptron for CPU-scale experiments (the book's chapters).

    flatten; linear -> ``hidden``; ReLU; linear. Without BatchNorm a model's output
    on one image does not depend on the other images of its batch. With the default
    width it has 25,450 parameters on 28x28 inputs with ten classes.

    Parameters
    ----------
    in_channels, num_classes, image_size : int
        As in :func:`small_cnn`.
    hidden : int
        Width of the hidden layer.

    Returns
    -------
    torch.nn.Sequential
    """
    in_channels = check_int("in_channels", in_channels, min_value=1)
    num_classes = check_int("num_classes", num_classes, min_value=2)
    image_size = check_int("image_size", image_size, min_value=1)
    hidden = check_int("hidden", hidden, min_value=1)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * image_size * image_size, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def build_model(
    name: str, in_channels: int, num_classes: int, image_size: int
) -> nn.Sequential:
    """Build one base learner by name, initialised from torch's global generator.

    Serves the experiment chapters and :mod:`ldcbook.ensemble`; see
    :func:`nin`, :func:`small_cnn` and :func:`mlp`. For a reproducible initialisation
    call it under ``torch.random.fork_rng`` after ``torch.manual_seed`` (as
    :func:`ldcbook.ensemble.init_models` does).

    Parameters
    ----------
    name : {"nin", "cnn", "mlp"}
        The learner.
    in_channels : int
        Image channels.
    num_classes : int
        Number of classes.
    image_size : int
        Height (= width) of the square input images.

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`LEARNERS`.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name == "nin":
        check_int("image_size", image_size, min_value=1)
        return nin(in_channels, num_classes)
    if name == "cnn":
        return small_cnn(in_channels, num_classes, image_size)
    if name == "mlp":
        return mlp(in_channels, num_classes, image_size)
    names = ", ".join(map(repr, LEARNERS))
    raise ValueError(f"name must be one of {names}, got {name!r}")


def num_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model`` (the paper's "about 1.0 M" for NiN).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------
# G models as one computation
# --------------------------------------------------------------------------------------

_SUPPORTED = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.ReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    GlobalAvgPool,
    nn.Flatten,
    nn.Linear,
    nn.Dropout,
)


def _signature(module: nn.Module) -> tuple[Any, ...]:
    """What must agree between the G copies of one layer."""
    if isinstance(module, nn.Conv2d):
        return ("conv", module.in_channels, module.out_channels, module.kernel_size,
                module.stride, module.padding, module.dilation, module.groups,
                module.bias is not None, module.padding_mode)
    if isinstance(module, nn.BatchNorm2d):
        return ("bn", module.num_features, module.eps, module.momentum, module.affine,
                module.track_running_stats)
    if isinstance(module, nn.Linear):
        has_bias = module.bias is not None
        return ("linear", module.in_features, module.out_features, has_bias)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return (type(module).__name__, repr(module))
    if isinstance(module, nn.Flatten):
        return ("flatten", module.start_dim, module.end_dim)
    if isinstance(module, nn.Dropout):
        return ("dropout", module.p)
    return (type(module).__name__,)


class GroupedNet:
    """G copies of one :class:`torch.nn.Sequential` architecture as one computation.

    The parameters of the G models are stacked along a new leading axis (model
    ``j`` of the stack is ``models[j]``); BatchNorm running statistics likewise. A
    forward pass runs the models ``lo, ..., hi-1`` of the stack on their own batches,
    all of the same size B:

    * convolutions are grouped convolutions over ``(B, g*C, H, W)`` tensors, model
      ``j``'s channels forming group ``j``;
    * BatchNorm normalises each of the ``g*C`` channels with its own batch statistics
      and updates its own running averages, so every model has its own BatchNorm;
      with a ``mask`` (rows that are padding) the statistics use the real rows only;
    * linear layers are batched matrix products over ``(g, B, F)`` tensors.

    Serves :mod:`ldcbook.ensemble` and the experiment chapters.
    Supported layers: Conv2d (``groups=1``, zero padding), BatchNorm2d (affine, with
    running statistics), ReLU, MaxPool2d, AvgPool2d, :class:`GlobalAvgPool`, Flatten
    (from dimension 1), Linear and Dropout (whose masks the caller draws, each model
    from its own generator: ``forward``'s ``dropout``).

    Parameters
    ----------
    models : sequence of torch.nn.Sequential
        G >= 1 models of one architecture; their parameters are copied.

    Attributes
    ----------
    template : torch.nn.Sequential
        A copy of ``models[0]``, used by :meth:`export`.
    params : list of torch.Tensor
        Contiguous ``(G, *shape)`` stacks, in the order of ``template.parameters()``;
        linear weights are transposed, ``(G, in, out)``. A range of models
        ``params[p][lo:hi]`` is a contiguous view, which an optimiser updates in
        place.
    buffers : list of torch.Tensor
        Stacked BatchNorm running means and variances, ``(G, C)`` each.
    input_layout : {"grouped", "batched"}
        The layout :meth:`forward` takes: ``(B, g, C, H, W)`` for networks that start
        with a convolution, ``(g, B, C, H, W)`` for those that start by flattening.
    """

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        ok = isinstance(models, Sequence) and not isinstance(models, nn.Module)
        if not ok or not models:
            raise TypeError(
                "models must be a non-empty sequence of torch.nn.Sequential"
            )
        template = models[0]
        for j, m in enumerate(models):
            if not isinstance(m, nn.Sequential):
                raise TypeError(
                    f"models[{j}] must be a torch.nn.Sequential, got {type(m)}"
                )
            if len(m) != len(template) or any(
                _signature(a) != _signature(b) for a, b in zip(m, template)
            ):
                raise ValueError(f"models[{j}] has another architecture than models[0]")
        self.layers: list[tuple[str, nn.Module, list[int], list[int]]] = []
        stacks: list[torch.Tensor] = []
        self.buffers: list[torch.Tensor] = []
        for i, layer in enumerate(template):
            if not isinstance(layer, _SUPPORTED):
                raise TypeError(f"layer {i} ({type(layer).__name__}) is not supported")
            p_idx: list[int] = []
            b_idx: list[int] = []
            if isinstance(layer, nn.Conv2d):
                if layer.groups != 1 or layer.padding_mode != "zeros":
                    raise ValueError(
                        f"layer {i}: only groups=1, zero-padded convolutions"
                    )
                if isinstance(layer.padding, str):
                    raise ValueError(f"layer {i}: give the padding as integers")
                names = ["weight"] + (["bias"] if layer.bias is not None else [])
                kind = "conv"
            elif isinstance(layer, nn.BatchNorm2d):
                if not (layer.affine and layer.track_running_stats):
                    raise ValueError(
                        f"layer {i}: BatchNorm needs affine and running stats"
                    )
                if layer.momentum is None:
                    raise ValueError(
                        f"layer {i}: BatchNorm needs a momentum (not None)"
                    )
                names = ["weight", "bias"]
                kind = "bn"
                for buf in ("running_mean", "running_var"):
                    b_idx.append(len(self.buffers))
                    rows = [getattr(m[i], buf).detach() for m in models]
                    self.buffers.append(torch.stack(rows).clone())
            elif isinstance(layer, nn.Linear):
                names = ["weight"] + (["bias"] if layer.bias is not None else [])
                kind = "linear"
            else:
                names = []
                if isinstance(layer, nn.Flatten):
                    if layer.start_dim != 1 or layer.end_dim != -1:
                        raise ValueError(f"layer {i}: only Flatten(1, -1) is supported")
                    kind = "flatten"
                elif isinstance(layer, nn.Dropout):
                    if not 0 <= layer.p < 1:
                        raise ValueError(f"layer {i}: only Dropout with p < 1")
                    kind = "dropout"
                elif isinstance(layer, GlobalAvgPool):
                    kind = "gap"
                else:
                    kinds = {
                        nn.ReLU: "relu",
                        nn.MaxPool2d: "maxpool",
                        nn.AvgPool2d: "avgpool",
                    }
                    kind = kinds[type(layer)]
            for name in names:
                p_idx.append(len(stacks))
                stacked = torch.stack([getattr(m[i], name).detach() for m in models])
                if kind == "linear" and name == "weight":
                    # stored (G, in, out): the batched product then needs no transpose
                    stacked = stacked.transpose(1, 2)
                stacks.append(stacked)
            self.layers.append((kind, layer, p_idx, b_idx))
        self.size = len(models)
        self.shapes = [tuple(t.shape[1:]) for t in stacks]
        self.params = [t.contiguous() for t in stacks]
        self.template = _copy_module(template)
        self.input_layout = "batched" if self.layers[0][0] == "flatten" else "grouped"

    def select(self, models: slice) -> list[torch.Tensor]:
        """The parameters of a range of models, as (contiguous) views."""
        return [p[models] for p in self.params]

    @property
    def device(self) -> torch.device:
        """The device holding the parameters."""
        return self.params[0].device

    def to(self, device: torch.device | str) -> GroupedNet:
        """Move parameters and buffers to ``device`` (in place); return ``self``."""
        self.params = [p.to(device) for p in self.params]
        self.buffers = [b.to(device) for b in self.buffers]
        return self

    def export(self, j: int) -> nn.Sequential:
        """Model ``j`` of the stack as a standalone :class:`torch.nn.Sequential` copy.

        Parameters
        ----------
        j : int
            Position in the stack, ``0 <= j < G``.

        Returns
        -------
        torch.nn.Sequential
            On the CPU, in evaluation mode.
        """
        j = check_int("j", j, min_value=0, max_value=self.size - 1)
        model = _copy_module(self.template)
        with torch.no_grad():
            for (kind, _, p_idx, b_idx), layer in zip(self.layers, model):
                if kind in ("conv", "linear", "bn"):
                    w = self.params[p_idx[0]][j].cpu()
                    layer.weight.copy_(w.t() if kind == "linear" else w)
                    if len(p_idx) > 1:
                        layer.bias.copy_(self.params[p_idx[1]][j].cpu())
                if kind == "bn":
                    layer.running_mean.copy_(self.buffers[b_idx[0]][j].cpu())
                    layer.running_var.copy_(self.buffers[b_idx[1]][j].cpu())
        return model.eval()

    @property
    def has_batchnorm(self) -> bool:
        """Whether the architecture has BatchNorm layers (statistics over the batch)."""
        return any(kind == "bn" for kind, *_ in self.layers)

    def forward(
        self,
        x: torch.Tensor,
        models: slice | torch.Tensor | None = None,
        params: Sequence[torch.Tensor] | None = None,
        train: bool = False,
        mask: torch.Tensor | None = None,
        channels_last: bool = False,
        active: torch.Tensor | None = None,
        dropout: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run some models of the stack, each on its own batch, as one computation.

        No operation mixes two models: each acts on one model's channels or matrix.
        A kernel may still round a model's numbers differently according to its slot
        and the shapes of the call, so :mod:`ldcbook.ensemble` keeps both a function of
        model ids and the configuration (:mod:`ldcbook.ensemble.schedule`). A single
        model's convolution runs as a two-group convolution with an empty second group,
        the same kernel as for larger groups.

        Parameters
        ----------
        x : torch.Tensor
            Float inputs of shape ``(B, g, C, H, W)`` (``x[:, j]`` is the batch of the
            ``j``-th selected model), or ``(g, B, C, H, W)`` if :attr:`input_layout` is
            ``"batched"``.
        models : slice, optional
            Which models of the stack (a contiguous range: views, no copy); default
            all.
        params : sequence of torch.Tensor, optional
            Tensors ``(g, *shape)`` to use in place of the selected models' parameters
            (for example leaves that require gradients); default
            ``self.select(models)``.
        train : bool
            BatchNorm uses batch statistics and updates the running averages of these
            models (training mode); else it uses the running averages.
        mask : torch.Tensor, optional
            ``(B, g)`` with 1 for a real row and 0 for padding (training mode only):
            padding rows enter no BatchNorm statistic. The caller must also keep
            padding rows out of the loss. With a mask, BatchNorm always runs the
            masked computation, whatever the mask holds.
        channels_last : bool
            Run convolutions in the channels-last memory format (fastest for grouped
            convolutions on CPUs and GPUs).
        active : torch.Tensor, optional
            bool ``(g,)``, with ``mask``: models whose BatchNorm running averages are
            updated; the others keep theirs bit for bit (a model with no real row
            must be inactive). Default all.
        dropout : sequence of torch.Tensor, optional
            Training mode with Dropout layers: one tensor per Dropout layer, in
            order, of shape ``(g, B, *features)`` (the layer's input for one sample
            of the standalone model): the multipliers, 0 or ``1 / (1 - p)``, that
            ``torch.nn.functional.dropout`` would apply (drawn by the caller, each
            model from its own generator). Not used in evaluation mode.

        Returns
        -------
        torch.Tensor
            Logits of shape ``(g, B, num_classes)``.
        """
        if models is None:
            models = slice(0, self.size)
        if not isinstance(models, slice):
            raise TypeError(f"models must be a slice or None, got {type(models)}")
        g = len(range(*models.indices(self.size)))
        if params is None:
            params = self.select(models)
        batched = self.input_layout == "batched"
        if x.ndim < 3 or x.shape[1 - batched] != g:
            want = f"({g}, B, ...)" if batched else f"(B, {g}, ...)"
            raise ValueError(f"x must have shape {want}, got {tuple(x.shape)}")
        batch = x.shape[batched]
        mask_f = None if mask is None else mask.to(torch.float32)
        # "input": (B, g, ...); "grouped": (B, g*C, H, W); "batched": (g, B, F)
        layout = "input"
        h = x
        if batched:
            h = x.reshape(g, batch, -1)
            layout = "batched"
        prev = "input"
        drops = iter(dropout or ())
        for kind, layer, p_idx, b_idx in self.layers:
            spatial = kind in ("conv", "bn", "maxpool", "avgpool", "gap")
            if spatial and layout == "input":
                h = h.reshape(batch, -1, *h.shape[3:])
                if channels_last:
                    h = h.contiguous(memory_format=torch.channels_last)
                layout = "grouped"
            if kind == "conv":
                w = params[p_idx[0]]
                w = w.reshape(g * w.shape[1], *w.shape[2:])
                b = params[p_idx[1]].reshape(-1) if len(p_idx) > 1 else None
                h = _grouped_conv(h, w, b, layer, g, channels_last)
            elif kind == "bn":
                w = params[p_idx[0]].reshape(-1)
                b = params[p_idx[1]].reshape(-1)
                # views: the running averages are updated in place
                rm = self.buffers[b_idx[0]][models].reshape(-1)
                rv = self.buffers[b_idx[1]][models].reshape(-1)
                if train and mask_f is not None:
                    h = _masked_batch_norm(
                        h, mask_f, rm, rv, w, b, layer.momentum, layer.eps, active
                    )
                else:
                    h = F.batch_norm(h, rm, rv, w, b, train, layer.momentum, layer.eps)
            elif kind == "relu":
                # in place on a tensor this forward made (none of these layers needs its
                # output for its backward pass)
                h = F.relu(h, inplace=prev in ("conv", "bn", "linear", "dropout"))
            elif kind in ("maxpool", "avgpool"):
                h = layer(h)
            elif kind == "dropout":
                if not train:
                    continue
                m = next(drops, None)
                if m is None:
                    raise ValueError("dropout must give a mask for every Dropout "
                                     "layer in training mode")
                h = h * _to_layout(m, layout, tuple(h.shape))
            elif kind == "gap":
                # (B, g*C)
                h = F.avg_pool2d(h, kernel_size=tuple(h.shape[2:])).flatten(1)
                layout = "flat"
            elif kind == "flatten":
                if layout == "batched":
                    continue
                if channels_last and layout == "grouped":
                    h = _ToContiguous.apply(h)
                h = h.reshape(batch, g, -1).transpose(0, 1)
                layout = "batched"
            elif kind == "linear":
                if layout != "batched":
                    h = h.reshape(batch, g, -1).transpose(0, 1)
                    layout = "batched"
                w = params[p_idx[0]]  # (g, in, out)
                if len(p_idx) > 1:
                    h = torch.baddbmm(params[p_idx[1]].unsqueeze(1), h, w)
                else:
                    h = torch.bmm(h, w)
            prev = kind
        if layout != "batched":
            h = h.reshape(batch, g, -1).transpose(0, 1)
        return h



def _to_layout(m: torch.Tensor, layout: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A ``(g, B, *features)`` dropout mask in a forward pass's layout ``shape``."""
    if layout == "batched":  # (g, B, F)
        return m.reshape(shape)
    # "input" (B, g, ...), "grouped" (B, g*C, H, W), "flat" (B, g*C)
    return m.transpose(0, 1).reshape(shape)


def _grouped_conv(
    h: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    layer: nn.Conv2d,
    g: int,
    channels_last: bool,
) -> torch.Tensor:
    """Grouped convolution of g models; g = 1 runs as two groups, the second empty."""
    if g == 1:
        h = torch.cat([h, torch.zeros_like(h)], dim=1)
        w = torch.cat([w, torch.zeros_like(w)], dim=0)
        b = None if b is None else torch.cat([b, torch.zeros_like(b)])
    if channels_last:
        h = h.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    out = F.conv2d(
        h, w, b, layer.stride, layer.padding, layer.dilation, groups=max(g, 2)
    )
    if g == 1:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        out = out[:, : out.shape[1] // 2].contiguous(memory_format=fmt)
    return out


class _ToContiguous(torch.autograd.Function):
    """``x.contiguous()`` for a channels-last ``x``; its gradient is channels-last too.

    Elementwise kernels (ReLU's backward) are many times slower when their operands
    have different memory formats; a plain ``contiguous()`` would hand the layers below
    a gradient in the default format.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.contiguous()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad.contiguous(memory_format=torch.channels_last)


def _masked_batch_norm(
    x: torch.Tensor,
    mask: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    momentum: float,
    eps: float,
    active: torch.Tensor | None = None,
) -> torch.Tensor:
    """Training-mode BatchNorm of ``(B, g*C, H, W)``, its statistics without padding.

    ``mask`` is ``(B, g)``; channel ``j*C + c`` uses the rows where ``mask[:, j]`` is 1.
    Same formulas as :func:`torch.nn.functional.batch_norm`: biased variance for the
    normalisation, unbiased variance for the running average. Computed in float32; the
    gradient of every padding row is exactly zero. The running averages of the models
    ``active`` (bool ``(g,)``, default all) are updated, the others kept; a model with
    no real row gets finite values (its count is taken as 1).
    """
    per_model = x.shape[1] // mask.shape[1]
    mc = mask.repeat_interleave(per_model, dim=1)  # (B, g*C)
    count = mc.sum(0).clamp_min(1) * (x.shape[2] * x.shape[3])  # (g*C,)
    y, mean, var = _MaskedBatchNorm.apply(x.float(), mc, count, weight, bias, eps)
    with torch.no_grad():
        new_mean = running_mean * (1 - momentum) + mean * momentum
        unbiased = var * count / (count - 1).clamp_min(1)
        new_var = running_var * (1 - momentum) + unbiased * momentum
        if active is None:
            running_mean.copy_(new_mean)
            running_var.copy_(new_var)
        else:
            keep = active.repeat_interleave(per_model)
            running_mean.copy_(torch.where(keep, new_mean, running_mean))
            running_var.copy_(torch.where(keep, new_var, running_var))
    return y


class _MaskedBatchNorm(torch.autograd.Function):
    """BatchNorm's forward and backward with per-row weights 0/1 in every statistic.

    Per channel: ``y = x * scale + shift`` with ``scale = w / sqrt(var + eps)`` and
    ``shift = b - mean * scale`` (one pass); the backward pass folds the row mask into
    per-(row, channel) coefficients, so ``dx = dy * K1 + x * K2 + K3`` is zero on the
    padding rows exactly. Statistics are sums over each row first, then masked sums
    over the rows, so padding rows never enter them.
    """

    @staticmethod
    def forward(  # noqa: D102
        ctx: Any,
        x: torch.Tensor,
        mc: torch.Tensor,
        count: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean = (x.sum(dim=(2, 3)) * mc).sum(0) / count
        centred = x - mean[None, :, None, None]
        var = ((centred * centred).sum(dim=(2, 3)) * mc).sum(0) / count
        invstd = torch.rsqrt(var + eps)
        scale = invstd * weight
        shift = bias - mean * scale
        y = torch.addcmul(shift[None, :, None, None], x, scale[None, :, None, None])
        ctx.save_for_backward(x, mc, count, mean, invstd, weight)
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    def backward(  # noqa: D102
        ctx: Any, dy: torch.Tensor, _dmean: Any, _dvar: Any
    ) -> tuple[Any, ...]:
        x, mc, count, mean, invstd, weight = ctx.saved_tensors
        # sums over the real rows of dy and of dy * (x - mean)
        sum_dy = (dy.sum(dim=(2, 3)) * mc).sum(0)
        sum_dy_x = ((dy * x).sum(dim=(2, 3)) * mc).sum(0)
        sum_dy_xc = sum_dy_x - mean * sum_dy
        dbias = sum_dy
        dweight = sum_dy_xc * invstd
        # dx = coef * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * xc)) on real
        # rows, 0 on padding: dy * K1 + x * K2 + K3 with K = mask * per-channel terms
        coef = weight * invstd
        b = sum_dy_xc * invstd * invstd / count
        k1 = mc * coef  # (B, gC)
        k2 = mc * (-coef * b)
        k3 = mc * (coef * (mean * b - sum_dy / count))
        dx = dy * k1[:, :, None, None]
        dx.addcmul_(x, k2[:, :, None, None]).add_(k3[:, :, None, None])
        return dx, None, None, dweight, dbias, None


def _copy_module(module: nn.Sequential) -> nn.Sequential:
    import copy

    return copy.deepcopy(module).cpu()
