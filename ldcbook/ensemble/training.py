"""Train the base models of a DPA/FA run, batched by groups or one at a time.

DPA needs k base classifiers and FA k*d, each trained on its own partition only (the
book's DPA and FA chapters; ``ALGORITHMS.md``). :func:`train_ensemble` trains them in
the groups of :mod:`ldcbook.ensemble.schedule`: the parameters of a group are stacked
(:class:`ldcbook.models.GroupedNet`) and every step runs the whole group as grouped
convolutions and batched matrix products. Each model nevertheless sees exactly what
it would see if trained on its own:

* its own partition, in content order, normalised by its own per-channel mean and
  standard deviation (also applied to its test inputs; or by fixed statistics from
  outside the training set, ``TrainConfig.norm_stats``);
* its own random stream: a :class:`torch.Generator` seeded from ``(seed, model id)``
  draws its initial weights, its per-epoch shuffle and its augmentations;
* its own BatchNorm statistics and running averages, and its own SGD momentum;
* its own loss: the per-model mean losses are *summed* over models, so each model's
  gradient is the one it would have alone;
* its own number of steps, ``ceil(n_i / batch_size)`` per epoch, the last batch
  padded and the padding masked out of BatchNorm and the loss; at the steps where it
  has no batch it is masked: no update of its parameters, momentum or running
  averages.

And the schedule of kernel calls (which models share a call, in which slot, with which
shapes) depends on model ids and the configuration only (the module docstring of
:mod:`ldcbook.ensemble.schedule`), so a model's bits cannot depend on another
partition, on any CPU or GPU.

:func:`train_one_at_a_time` trains the same models one after another with standard
``torch.nn`` modules and :class:`torch.optim.SGD`, as the reference implementations do;
it draws the same random numbers, so the two ensembles agree up to floating-point
rounding (compare their votes).
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ldcbook import augment as aug
from ldcbook._checks import check_array, check_int
from ldcbook.ensemble.recipes import TrainConfig, resolve_group_size
from ldcbook.ensemble.schedule import GroupLayout, StepPlan, group_call
from ldcbook.models import GroupedNet, build_model
from ldcbook.partition import channel_stats

STD_FLOOR = 1e-3
"""Per-partition standard deviations are clamped to at least this (flat channels)."""

_STREAM_INIT = 0
_STREAM_DATA = 1


# --------------------------------------------------------------------------------------
# Seeds, initialisation, normalisation
# --------------------------------------------------------------------------------------


def model_seed(seed: int, model_id: int, stream: int = _STREAM_DATA) -> int:
    """A 63-bit seed for one model's random stream, from ``(seed, model_id, stream)``.

    "The training seed may depend on the partition index" (``ALGORITHMS.md``,
    "Partitioning"): it depends on nothing else, so no other partition can move it.

    Mixed with :class:`numpy.random.SeedSequence`, so nearby run seeds and model ids
    give unrelated streams. Stream 0 draws the initial weights, stream 1 the
    shuffles and augmentations.

    Parameters
    ----------
    seed, model_id, stream : int
        Non-negative integers.

    Returns
    -------
    int
    """
    seed = check_int("seed", seed, min_value=0)
    model_id = check_int("model_id", model_id, min_value=0)
    stream = check_int("stream", stream, min_value=0)
    sequence = np.random.SeedSequence([seed, model_id, stream])
    state = sequence.generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def init_models(
    config: TrainConfig,
    model_ids: Sequence[int],
    in_channels: int,
    num_classes: int,
    image_size: int,
) -> list[nn.Sequential]:
    """Initial weights of each model, drawn from its own seed (stream 0).

    Serves :func:`train_ensemble` and :func:`train_one_at_a_time`, which thus start
    from the same weights.

    Each model is built by :func:`ldcbook.models.build_model` under
    :func:`torch.random.fork_rng` with torch's CPU generator seeded by
    ``model_seed(config.seed, model_id, 0)``; the global generator is left unchanged.

    Parameters
    ----------
    config : TrainConfig
        Gives the learner and the run seed.
    model_ids : sequence of int
        The models.
    in_channels, num_classes, image_size : int
        As for :func:`ldcbook.models.build_model`.

    Returns
    -------
    list of torch.nn.Sequential
        On the CPU, in the order of ``model_ids``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    models = []
    for i in model_ids:
        with torch.random.fork_rng(devices=[]):
            seed = model_seed(config.seed, int(i), _STREAM_INIT)
            torch.default_generator.manual_seed(seed)
            model = build_model(config.model, in_channels, num_classes, image_size)
            models.append(model)
    return models


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel: uint8 images to a model's float inputs.

    ``mean`` and ``std`` (in [0, 1] units) broadcast against ``x``'s channel axis: they
    are the statistics of the model's own partition
    (:func:`ldcbook.partition.channel_stats`). Computed as ``x * (1 / (255 std))``
    followed by ``+ (-mean / std)``, two correctly rounded operations, so every entry
    gets the same bits wherever and in whatever batch it is computed. Serves the
    per-partition normalisation of ``ALGORITHMS.md`` ("Partitioning").

    Parameters
    ----------
    x : torch.Tensor
        Images ``(..., C, H, W)`` (uint8 or float).
    mean, std : torch.Tensor
        ``(..., C)`` statistics in [0, 1] units.

    Returns
    -------
    torch.Tensor
        float32, the broadcast shape of ``x``.
    """
    if not all(isinstance(t, torch.Tensor) for t in (x, mean, std)):
        raise TypeError("x, mean and std must be torch tensors")
    if x.ndim < 3:
        raise ValueError(f"x must have shape (..., C, H, W), got {tuple(x.shape)}")
    scale, shift = _affine(mean, std)
    return _apply_affine(x, scale, shift)


def _affine(mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return 1 / (255 * std), -mean / std


def _apply_affine(
    x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    return x.float() * scale[..., None, None] + shift[..., None, None]


class _Images:
    """Training images of one model or of a stack of models, with their augmentation.

    Each image is normalised by its own model's statistics (``scale``, ``shift`` per
    image). For crops, flips and no augmentation the images are padded with zeros,
    normalised once, and cropped by indexing a :class:`ldcbook.augment.CropSource`
    on the training device (normalising then cropping gives the same numbers as
    cropping then normalising). AutoAugment works on uint8 images, on the CPU, so
    those are normalised after it, at every step. The batched and the one-at-a-time
    trainers both go through here, so they see bit-identical inputs.
    """

    def __init__(
        self,
        x: torch.Tensor,
        scale: torch.Tensor,
        shift: torch.Tensor,
        kind: str,
        padding: int,
        device: torch.device,
        pool: aug.AutoAugmentPool | None = None,
    ) -> None:
        self.kind = kind
        self.device = device
        self.crop = None
        self.pool = pool
        if kind in ("crop", "flip", "cropflip", "none"):
            p = padding if kind in ("crop", "cropflip") else 0
            xf = _apply_affine(aug.pad(x, p), scale, shift)
            self.crop = aug.CropSource(xf, p, flip=kind in ("flip", "cropflip"),
                                       prepadded=True).to(device)
        else:
            self.scale, self.shift = scale.to(device), shift.to(device)
            self.pool = pool or aug.AutoAugmentPool(kind, 0)
            # no workers: AutoAugment runs batched on the training device
            self.x = x.cpu() if self.pool.workers else x.to(device)

    def submit(
        self,
        rows: torch.Tensor,
        params: aug.AugmentParams,
        valid: torch.Tensor | None = None,
    ) -> Any:
        """Start preparing the images ``rows``; :meth:`finish` returns them.

        AutoAugment runs in the pool (on the valid rows only, with ``valid``; the
        others, padding masked by the caller, are zeros), so the work can overlap
        the training of the previous step.
        """
        if self.crop is not None:
            return self.crop.take(rows, params.offsets, params.flips)
        assert params.seeds is not None and self.pool is not None
        rows_cpu, seeds = rows.cpu(), params.seeds.cpu()
        keep = None if valid is None else valid.cpu()
        if keep is not None:
            rows_cpu, seeds = rows_cpu[keep], seeds[keep]
        return rows, keep, self.pool.submit(self.x[rows_cpu], seeds)

    def finish(self, handle: Any) -> torch.Tensor:
        """Normalised float ``(M, C, H, W)`` images from :meth:`submit`."""
        if self.crop is not None:
            return handle
        rows, keep, pending = handle
        x = pending.result()
        if keep is not None:
            full = torch.zeros((len(rows), *self.x.shape[1:]), dtype=self.x.dtype,
                               device=x.device)
            full[keep] = x
            x = full
        rows = rows.to(self.device)
        x = x.to(self.device, non_blocking=True)
        return _apply_affine(x, self.scale[rows], self.shift[rows])

    def take(
        self,
        rows: torch.Tensor,
        params: aug.AugmentParams,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Normalised float ``(M, C, H, W)`` augmented images ``rows`` on the device."""
        return self.finish(self.submit(rows, params, valid))


def _partition_stats(
    x: torch.Tensor, config: TrainConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    if config is not None and config.norm_stats is not None:  # fixed from outside
        mean, std = (torch.tensor(v, dtype=torch.float32) for v in config.norm_stats)
        if len(mean) != x.shape[1]:
            raise ValueError(f"config.norm_stats must hold {x.shape[1]} values per "
                             f"statistic (the images' channels), got {len(mean)}")
        return mean, std.clamp_min(STD_FLOOR)
    if len(x) == 0:  # an empty partition: its model is never trained
        c = x.shape[1]
        return torch.zeros(c), torch.ones(c)
    mean, std = channel_stats(x)
    return torch.from_numpy(mean), torch.from_numpy(std).clamp_min(STD_FLOOR)


def _resolve_device(config: TrainConfig) -> torch.device:
    if config.device is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"config.device is {config.device!r} but CUDA is not available"
        )
    if config.precision == "bf16" and device.type != "cuda":
        raise ValueError(
            "config.precision 'bf16' needs a CUDA device; use 'fp32' on the CPU"
        )
    return device


@contextlib.contextmanager
def numerics(device: torch.device, config: TrainConfig) -> Iterator[None]:
    """Precision and determinism settings of ``config`` on ``device``, for a block.

    On CUDA: TF32 matrix products and convolutions only with ``precision="tf32"``
    (cuDNN allows them by default: ``"fp32"`` turns them off), and with
    ``deterministic`` torch's deterministic algorithms and cuDNN's deterministic,
    non-benchmarking mode (``CUBLAS_WORKSPACE_CONFIG`` set if unset). The previous
    settings are restored afterwards. On the CPU nothing changes: its kernels are
    deterministic and float32.
    """
    if device.type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    mode = "tf32" if config.precision == "tf32" else "ieee"
    saved = (
        torch.backends.cuda.matmul.fp32_precision,
        torch.backends.cudnn.conv.fp32_precision,
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.backends.cuda.matmul.fp32_precision = mode
    torch.backends.cudnn.conv.fp32_precision = mode
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.fp32_precision = saved[0]
        torch.backends.cudnn.conv.fp32_precision = saved[1]
        torch.use_deterministic_algorithms(saved[2])
        torch.backends.cudnn.deterministic = saved[3]
        torch.backends.cudnn.benchmark = saved[4]


def _crop_padding(config: TrainConfig, image_size: int) -> int:
    if config.crop_padding is not None:
        return config.crop_padding
    return aug.crop_padding(image_size)


def _epoch_plan(
    gen: torch.Generator, n: int, kind: str, padding: int
) -> tuple[torch.Tensor, aug.AugmentParams]:
    """One model's shuffle and augmentation draws for one epoch (always this order)."""
    perm = torch.randperm(n, generator=gen)
    return perm, aug.draw(n, kind, padding, gen)


def _autocast(device: torch.device, config: TrainConfig) -> Any:
    return torch.autocast(
        device_type=device.type,
        dtype=torch.bfloat16,
        enabled=device.type == "cuda" and config.precision == "bf16",
    )


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


def _check_inputs(
    dataset: Any, parts: Any, model_ids: Any, config: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    for attr in ("x_train", "y_train", "x_test", "num_classes"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have {attr} (an ldcbook.data.Dataset)")
    x = dataset.x_train
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        raise TypeError("dataset.x_train must be a uint8 tensor (N, C, H, W)")
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"images must be square, got {tuple(x.shape[2:])}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence):
        raise TypeError(f"parts must be a sequence of index arrays, got {type(parts)}")
    ids = check_array("model_ids", np.asarray(model_ids), ndim=1, kind="i")
    ids = ids.astype(np.int64)
    if ids.size == 0:
        raise ValueError("model_ids must name at least one model")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("model_ids must be distinct")
    if ids.min() < 0 or ids.max() >= len(parts):
        raise ValueError(
            f"model_ids must lie in range(len(parts)) = range({len(parts)})"
        )
    n_train = len(x)
    chosen = []
    for i in ids.tolist():
        part = parts[i]
        if isinstance(part, torch.Tensor):
            part = part.cpu().numpy()
        idx = check_array(f"parts[{i}]", np.asarray(part), ndim=1, kind="i")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n_train):
            raise ValueError(
                f"parts[{i}] must index range({n_train}) (the training set)"
            )
        chosen.append(idx)
    return chosen, ids


# --------------------------------------------------------------------------------------
# Batched training
# --------------------------------------------------------------------------------------


@dataclass
class EnsembleState:
    """Trained base models, ready for :func:`ldcbook.ensemble.predict_scores`.

    Attributes
    ----------
    config : TrainConfig
        How they were trained.
    model_ids : numpy.ndarray
        The models trained, in the order of the score columns.
    num_classes : int
        Number of classes.
    mean, std : torch.Tensor
        ``(len(model_ids), C)`` normalisation statistics of each model's partition.
    nets : list of GroupedNet or None
        Batched training: one per group that was run, its members stacked in slot
        order, in tensors of its own; members that were not trained keep their
        initial weights and are never reported.
    groups : list of numpy.ndarray or None
        Batched training: the member ids of each net.
    modules : list of torch.nn.Sequential or None
        The models one by one (:func:`train_one_at_a_time`), in ``model_ids`` order.
    sizes : numpy.ndarray
        Partition size of each model.
    """

    config: TrainConfig
    model_ids: np.ndarray
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    nets: list[GroupedNet] | None = None
    groups: list[np.ndarray] | None = None
    modules: list[nn.Sequential] | None = None
    sizes: np.ndarray | None = None

    def locate(self, model_id: int) -> tuple[int, int]:
        """``(net, slot)`` of a trained model (batched training)."""
        assert self.groups is not None
        for q, members in enumerate(self.groups):
            where = np.flatnonzero(members == model_id)
            if where.size:
                return q, int(where[0])
        raise ValueError(f"model {model_id} is not in this state")

    def module(self, j: int) -> nn.Sequential:
        """Model ``model_ids[j]`` as a standalone module (a copy, evaluation mode)."""
        j = check_int("j", j, min_value=0, max_value=len(self.model_ids) - 1)
        if self.modules is not None:
            return copy.deepcopy(self.modules[j]).cpu().eval()
        assert self.nets is not None
        q, slot = self.locate(int(self.model_ids[j]))
        return self.nets[q].export(slot)


class _Chunk:
    """The members of the groups being run, their data stacked on the device.

    Members are the models of every group that holds one of ``model_ids``, in id
    order; those not in ``model_ids`` run with an empty partition (masked at every
    step). Their images are followed by one zero image, the padding row.
    """

    def __init__(
        self,
        dataset: Any,
        parts: dict[int, np.ndarray],
        model_ids: np.ndarray,
        layout: GroupLayout,
        config: TrainConfig,
        device: torch.device,
        pool: aug.AutoAugmentPool | None = None,
    ) -> None:
        groups = layout.cover(model_ids.tolist())
        self.members = np.concatenate([layout.members(q) for q in groups])
        bounds = np.cumsum([0] + [len(layout.members(q)) for q in groups])
        self.group_slices = [slice(int(a), int(b)) for a, b in zip(bounds, bounds[1:])]
        empty = np.zeros(0, dtype=np.int64)
        idx = [parts.get(i, empty) for i in self.members.tolist()]
        self.plan = StepPlan(
            np.array([len(p) for p in idx]), config.batch_size, self.group_slices
        )
        _, c, h, _ = dataset.x_train.shape
        self.padding = _crop_padding(config, h)
        xs, ys, means, stds = [], [], [], []
        for p in idx:
            xp = dataset.x_train[torch.from_numpy(p)]
            m, s = _partition_stats(xp, config)
            means.append(m)
            stds.append(s)
            xs.append(xp)
            ys.append(dataset.y_train[torch.from_numpy(p)])
        xs.append(torch.zeros((1, *dataset.x_train.shape[1:]), dtype=torch.uint8))
        ys.append(torch.zeros(1, dtype=dataset.y_train.dtype))
        self.pad_row = int(self.plan.sizes.sum())
        counts = torch.as_tensor(np.append(self.plan.sizes, 1))
        scale, shift = _affine(torch.stack(means), torch.stack(stds))
        zero = torch.zeros((1, c))
        self.images = _Images(
            torch.cat(xs),
            torch.cat([scale, zero]).repeat_interleave(counts, dim=0),
            torch.cat([shift, zero]).repeat_interleave(counts, dim=0),
            config.augment,
            self.padding,
            device,
            pool,
        )
        self.y = torch.cat(ys).to(device)
        self.mean = torch.stack(means)  # (M, C), member order
        self.std = torch.stack(stds)
        self.gens = {
            m: torch.Generator().manual_seed(model_seed(config.seed, int(i)))
            for m, i in enumerate(self.members.tolist()) if len(idx[m])
        }

    def epoch_tables(
        self, config: TrainConfig
    ) -> tuple[torch.Tensor, aug.AugmentParams]:
        """Row indices ``(S, M, B)`` and augmentation draws for one epoch.

        Each member's shuffle and draws come from its own generator (members in id
        order, which matters for nothing: the generators are independent); placing
        them in the tables is one vectorised write. Padding entries index the zero
        image.
        """
        plan = self.plan
        perms, draws = [], []
        for m, gen in self.gens.items():
            n = int(plan.sizes[m])
            perm, params = _epoch_plan(gen, n, config.augment, self.padding)
            perms.append(perm + int(plan.starts[m]))
            draws.append(params)
        index = torch.full(plan.table_shape, self.pad_row, dtype=torch.int64)
        if not perms:
            return index, aug.AugmentParams()
        index.view(-1)[plan.table_pos] = torch.cat(perms)

        def table(name: str, dtype: torch.dtype, extra: tuple[int, ...]) -> Any:
            if getattr(draws[0], name) is None:
                return None
            out = torch.zeros(plan.table_shape + extra, dtype=dtype)
            values = torch.cat([getattr(d, name) for d in draws])
            out.view(-1, *extra)[plan.table_pos] = values
            return out

        params = aug.AugmentParams(
            table("offsets", torch.int64, (2,)),
            table("flips", torch.bool, ()),
            table("seeds", torch.int64, ()),
        )
        return index, params

    def prepare(
        self,
        index: torch.Tensor,
        params: aug.AugmentParams,
        valid: torch.Tensor,
        sel: slice,
        layout: str,
    ) -> Any:
        """Start assembling the inputs and labels of the members ``sel`` at one step.

        ``index`` and ``valid`` are ``(M, B)``: every member's rows at this step.
        :meth:`batch` returns the inputs, ``(B, g, C, H, W)`` for the ``"grouped"``
        layout and ``(g, B, C, H, W)`` for ``"batched"``, and the labels ``(g, B)``.
        """
        grouped = layout == "grouped"

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            t = t[sel]
            return t.transpose(0, 1) if grouped else t

        idx = pick(index)
        shape = idx.shape
        flat = idx.reshape(-1)

        def flat_pick(t: torch.Tensor | None) -> torch.Tensor | None:
            t = pick(t)
            return None if t is None else t.reshape(-1, *t.shape[2:])

        draws = aug.AugmentParams(
            flat_pick(params.offsets), flat_pick(params.flips), flat_pick(params.seeds)
        )
        handle = self.images.submit(flat, draws, flat_pick(valid))
        y = self.y[flat.to(self.y.device)].view(shape)
        return handle, shape, (y.t() if grouped else y)

    def batch(self, prepared: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs and labels started by :meth:`prepare`."""
        handle, shape, y = prepared
        x = self.images.finish(handle)
        return x.view(*shape, *x.shape[1:]), y


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row, ``-log softmax(logits)[y]``, unreduced.

    Written with ``gather`` rather than ``F.cross_entropy``: CUDA's NLL loss is on
    torch's list of operations without a deterministic implementation, gather (and
    its backward) have one.
    """
    return -torch.log_softmax(logits, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)


_FUSED_SGD = hasattr(torch, "_fused_sgd_")


def _sgd_step(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    moms: list[torch.Tensor],
    lr: float,
    config: TrainConfig,
) -> None:
    """One step of SGD as :class:`torch.optim.SGD` (dampening 0) on stacks ``(g, ...)``.

    Every operation is elementwise, so each model's update depends on its own
    parameters, gradient and momentum only. The momentum starts at zero, which gives
    torch's first step (``buf = grad``) exactly. Uses torch's fused kernel (one pass
    over memory, as ``SGD(fused=True)``) when there is one, else elementwise
    operations.
    """
    if _FUSED_SGD and config.momentum:
        torch._fused_sgd_(
            params, grads, moms, weight_decay=config.weight_decay,
            momentum=config.momentum, lr=lr, dampening=0.0, nesterov=config.nesterov,
            maximize=False, is_first_step=False,
        )
        return
    for p, grad, mom in zip(params, grads, moms):
        if config.weight_decay:
            grad = grad.add(p, alpha=config.weight_decay)
        if config.momentum:
            mom.mul_(config.momentum).add_(grad)
            grad = grad.add(mom, alpha=config.momentum) if config.nesterov else mom
        p.add_(grad, alpha=-lr)


def _train_group(
    net: GroupedNet,
    mom: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    active: torch.Tensor,
    lr: float,
    config: TrainConfig,
    device: torch.device,
    dropout: Sequence[torch.Tensor] | None = None,
) -> None:
    """One SGD step of a group's members; the same operators at every step.

    ``mask`` ``(B, g)`` marks real rows, ``active`` ``(g,)`` the members with a batch.
    Inactive members compute like the others (no operator here depends on which
    members are active); their BatchNorm running averages are selected back
    unchanged here, their parameters and momentum by :func:`_keep_rows` around the
    call. ``dropout``: the masks of the net's Dropout layers
    (:meth:`ldcbook.models.GroupedNet.forward`), if it has any.
    """
    params, moms = net.params, mom  # the group's own tensors, updated in place
    leaves = [p.detach().requires_grad_() for p in params]
    with _autocast(device, config):
        logits = net.forward(
            x, None, leaves, train=True, mask=mask, active=active,
            channels_last=config.channels_last, dropout=dropout,
        )
    ce = _cross_entropy(logits.float(), y)  # (g, B)
    # the sum over models of each model's mean loss over its real rows: every entry's
    # gradient is its own weight, 1/r for r real rows, whatever the other models
    w = mask.t().to(ce.dtype)
    loss = (ce * (w / w.sum(dim=1, keepdim=True).clamp_min(1))).sum()
    grads = torch.autograd.grad(loss, leaves)
    with torch.no_grad():
        # the fused kernel pairs entries by position: gradients in the parameters'
        # (contiguous) layout; channels-last convolutions return theirs permuted
        _sgd_step(params, [grad.contiguous() for grad in grads], moms, lr, config)


@contextlib.contextmanager
def _keep_rows(tensors: Sequence[torch.Tensor], rows: torch.Tensor) -> Iterator[None]:
    """Restore the ``rows`` of each tensor after the block, bit for bit.

    Undoes a masked model's SGD step (weight decay and momentum would move it even
    with a zero gradient). It reads and writes the rows of inactive models only, so
    it is not part of any active model's computation.
    """
    if rows.numel() == 0:
        yield
        return
    saved = [t.index_select(0, rows) for t in tensors]
    yield
    for t, old in zip(tensors, saved):
        t.index_copy_(0, rows, old)


class Checkpoint:
    """Where :func:`train_ensemble` keeps a chunk's state after every epoch.

    The base class keeps nothing. A subclass stores the arrays given to :meth:`save`
    (atomically, e.g. in a run directory: :func:`ldcbook.experiments.fit_and_keep`)
    and returns the last of them from :meth:`load`; training then goes on after that
    epoch and ends with the bits of an uninterrupted run.
    """

    def load(self) -> dict[str, np.ndarray] | None:
        """The arrays of the last :meth:`save`, or ``None``."""
        return None

    def due(self) -> bool:
        """Whether to save at the end of this epoch (optional; default always)."""
        return True

    def save(self, arrays: dict[str, np.ndarray]) -> None:
        """Keep ``arrays`` (numeric numpy arrays, ``"epoch"`` among them)."""


def _snapshot(
    epoch: int, members: np.ndarray, nets: list[GroupedNet],
    moms: list[list[torch.Tensor]], gens: dict[int, torch.Generator],
) -> dict[str, np.ndarray]:
    """Everything that carries over from one epoch to the next, as numpy arrays."""
    out = {"epoch": np.array(epoch, dtype=np.int64), "members": members.copy()}
    for q, (net, mom) in enumerate(zip(nets, moms)):
        for kind, tensors in (("p", net.params), ("b", net.buffers), ("m", mom)):
            for j, t in enumerate(tensors):
                out[f"{kind}{q}.{j}"] = t.detach().cpu().numpy().copy()
    for m, gen in gens.items():
        out[f"g{m}"] = gen.get_state().numpy().copy()
    return out


def _restore(
    saved: dict[str, np.ndarray], nets: list[GroupedNet],
    moms: list[list[torch.Tensor]], gens: dict[int, torch.Generator],
) -> None:
    """Copy a :func:`_snapshot` back into the tensors, in place, bit for bit."""
    with torch.no_grad():
        for q, (net, mom) in enumerate(zip(nets, moms)):
            for kind, tensors in (("p", net.params), ("b", net.buffers), ("m", mom)):
                for j, t in enumerate(tensors):
                    t.copy_(torch.from_numpy(np.array(saved[f"{kind}{q}.{j}"])))
    for m, gen in gens.items():
        gen.set_state(torch.from_numpy(np.array(saved[f"g{m}"])))


def _usable(saved: Any, members: np.ndarray, epochs: int) -> bool:
    return (isinstance(saved, dict) and "members" in saved and "epoch" in saved
            and np.array_equal(saved["members"], members)
            and 0 < int(saved["epoch"]) <= epochs)


def train_ensemble(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = True,
    checkpoint: Any = None,
) -> EnsembleState:
    """Train the base models ``model_ids`` in their groups, each on its own partition.

    Serves the DPA/FA experiment chapters and the CLI; the module docstring lists
    what stays per model, and :mod:`ldcbook.ensemble.schedule` how the kernel calls
    are scheduled. The groups are those of ``GroupLayout(len(parts), G)`` with ``G``
    from :func:`ldcbook.ensemble.resolve_group_size`; members of these groups that
    are not in ``model_ids`` hold their slots with an empty partition. A model whose
    partition is empty is never updated: it keeps its initial weights (drawn from its
    own seed), which depend on no training data.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        Anything with ``x_train`` (uint8 ``(N, C, H, W)``, square images),
        ``y_train``, ``x_test`` and ``num_classes``.
    parts : sequence of array_like of int
        Training indices of every model of the run, in model-id order (from
        :func:`ldcbook.partition.assign`; content order inside each).
    model_ids : sequence of int
        The models to train now (distinct, in ``range(len(parts))``).
    config : TrainConfig
        The schedule.
    progress : bool
        Show a progress bar over steps (tqdm).
    checkpoint : Checkpoint, optional
        Anything with the methods of :class:`Checkpoint`. Saves the chunk's state
        (parameters, BatchNorm running averages, momentum, every member's random
        generator) after each epoch; if it holds the state of these very members,
        training starts after its epoch: a killed chunk resumes from its last
        finished epoch, bit for bit. Saving only reads the tensors, so it changes no
        number of the training.

    Returns
    -------
    EnsembleState
    """
    chosen, ids = _check_inputs(dataset, parts, model_ids, config)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    if checkpoint is not None and not all(
        callable(getattr(checkpoint, f, None)) for f in ("load", "save")
    ):
        raise TypeError("checkpoint must have load() and save(arrays) (see "
                        f"Checkpoint), got {type(checkpoint).__name__}")
    device = _resolve_device(config)
    _, c, h, _ = dataset.x_train.shape
    num_classes = int(dataset.num_classes)
    layout = GroupLayout(
        len(parts), resolve_group_size(config, (c, h, h), len(parts), device)
    )
    pool = (aug.AutoAugmentPool(config.augment, config.augment_workers)
            if config.augment.startswith("autoaugment") else None)
    try:
        return _train_chunk(dataset, chosen, ids, layout, config, device, pool,
                            num_classes, progress, checkpoint)
    finally:
        if pool is not None:
            pool.close()


def _train_chunk(
    dataset: Any,
    chosen: list[np.ndarray],
    ids: np.ndarray,
    layout: GroupLayout,
    config: TrainConfig,
    device: torch.device,
    pool: aug.AutoAugmentPool | None,
    num_classes: int,
    progress: bool,
    checkpoint: Any = None,
) -> EnsembleState:
    _, c, h, _ = dataset.x_train.shape
    chunk = _Chunk(dataset, dict(zip(ids.tolist(), chosen)), ids, layout, config,
                   device, pool)
    plan = chunk.plan
    groups = [chunk.members[sel] for sel in chunk.group_slices]
    # one stack per group, in tensors of its own: where a group's numbers sit in
    # memory does not depend on which other groups run
    nets = [
        GroupedNet(init_models(config, members, c, num_classes, h)).to(device)
        for members in groups
    ]
    moms = [[torch.zeros_like(p) for p in net.params] for net in nets]
    from tqdm.auto import tqdm

    bar = tqdm(
        total=config.epochs * sum(plan.group_steps),
        disable=not progress,
        desc=f"{len(ids)} x {config.model}",
        unit="step",
    )
    # per step and group: real rows (B, g), members with a batch (g,), and the
    # positions of those without one; fresh tensors of the group's own shapes
    masks = [[plan.valid[t, sel].t().contiguous().to(device)
              for sel in chunk.group_slices] for t in range(plan.num_steps)]
    active = [[plan.active[t, sel].clone().to(device)
               for sel in chunk.group_slices] for t in range(plan.num_steps)]
    idle = [[torch.nonzero(~a).flatten() for a in row] for row in active]
    layout_kind = nets[0].input_layout
    # the group calls of every epoch, in order: a group runs until its last member's
    # last step
    calls = [(t, q) for t in range(plan.num_steps)
             for q, steps in enumerate(plan.group_steps) if t < steps]
    start = 0
    saved = None if checkpoint is None else checkpoint.load()
    if _usable(saved, chunk.members, config.epochs):
        assert saved is not None
        _restore(saved, nets, moms, chunk.gens)
        start = int(saved["epoch"])
        bar.update(start * len(calls))
    with numerics(device, config):
        for epoch in range(start, config.epochs):
            lr = config.lr_at(epoch)
            index, params = chunk.epoch_tables(config)
            index = index.to(device)

            def prepare(i: int) -> Any:
                t, q = calls[i]
                return chunk.prepare(index[t], _step_params(params, t),
                                     plan.valid[t], chunk.group_slices[q], layout_kind)

            ahead = prepare(0) if calls else None
            for i, (t, q) in enumerate(calls):
                x, y = chunk.batch(ahead)
                # the next call's images are prepared (AutoAugment in the pool's
                # workers) while this one trains
                ahead = prepare(i + 1) if i + 1 < len(calls) else None
                net, mom = nets[q], moms[q]
                with _keep_rows(net.params + mom, idle[t][q]), group_call(
                    "train", epoch, t, groups[q], active[t][q]
                ):
                    _train_group(net, mom, x, y, masks[t][q], active[t][q], lr,
                                 config, device)
                bar.update(1)
            if checkpoint is not None and getattr(checkpoint, "due", lambda: True)():
                checkpoint.save(_snapshot(epoch + 1, chunk.members, nets, moms,
                                          chunk.gens))
    bar.close()
    pos = np.searchsorted(chunk.members, ids)
    return EnsembleState(
        config=config,
        model_ids=ids,
        num_classes=num_classes,
        mean=chunk.mean[torch.as_tensor(pos)],
        std=chunk.std[torch.as_tensor(pos)],
        nets=nets,
        groups=groups,
        sizes=np.array([len(p) for p in chosen], dtype=np.int64),
    )


def _step_params(params: aug.AugmentParams, t: int) -> aug.AugmentParams:
    def pick(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x[t]

    return aug.AugmentParams(
        pick(params.offsets), pick(params.flips), pick(params.seeds)
    )


# --------------------------------------------------------------------------------------
# One model at a time (the reference)
# --------------------------------------------------------------------------------------


def train_one_at_a_time(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = True,
) -> EnsembleState:
    """Train the same models one after another, as the reference implementations do.

    Standard :class:`torch.nn.Sequential` modules and :class:`torch.optim.SGD`, one
    model at a time, batches of ``config.batch_size`` (the last one smaller). The
    random numbers are those of :func:`train_ensemble` (same seeds, same order), so
    the two ensembles differ only by floating-point rounding; this is the baseline of
    ``bench/ensemble.py`` and of the tests. Serves the experiment chapters.

    Parameters
    ----------
    dataset, parts, model_ids, config, progress
        As in :func:`train_ensemble`.

    Returns
    -------
    EnsembleState
        With ``modules`` set.
    """
    chosen, ids = _check_inputs(dataset, parts, model_ids, config)
    device = _resolve_device(config)
    _, c, h, _ = dataset.x_train.shape
    num_classes = int(dataset.num_classes)
    kind = config.augment
    padding = _crop_padding(config, h)
    b = config.batch_size
    modules, means, stds = [], [], []
    steps = sum(config.epochs * -(-len(p) // b) for p in chosen)
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc="one at a time", unit="step")
    settings = contextlib.ExitStack()
    settings.enter_context(numerics(device, config))
    # channels-last helps grouped kernels; a single small model on the CPU is faster
    # in the default format
    channels_last = device.type == "cuda" and config.channels_last
    for model_id, part in zip(ids.tolist(), chosen):
        (model,) = init_models(config, [model_id], c, num_classes, h)
        model = model.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        idx = torch.from_numpy(part)
        x_raw = dataset.x_train[idx]
        mean, std = _partition_stats(x_raw, config)
        means.append(mean)
        stds.append(std)
        n = len(part)
        scale, shift = _affine(mean, std)
        images = _Images(
            x_raw, scale.expand(n, -1), shift.expand(n, -1), kind, padding, device
        )
        y_all = dataset.y_train[idx].to(device)
        opt = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay, nesterov=config.nesterov,
        )
        gen = torch.Generator().manual_seed(model_seed(config.seed, model_id))
        model.train()
        for epoch in range(config.epochs if n else 0):
            for group in opt.param_groups:
                group["lr"] = config.lr_at(epoch)
            perm, params = _epoch_plan(gen, n, kind, padding)
            for q0 in range(0, n, b):
                sl = slice(q0, min(q0 + b, n))
                rows = perm[sl]
                sel = aug.AugmentParams(*(None if t is None else t[sl] for t in (
                    params.offsets, params.flips, params.seeds)))
                xb = images.take(rows, sel)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with _autocast(device, config):
                    logits = model(xb)
                loss = _cross_entropy(logits.float(), y_all[rows.to(device)]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
        modules.append(model.eval())
    settings.close()
    bar.close()
    return EnsembleState(
        config=config,
        model_ids=ids,
        num_classes=num_classes,
        mean=torch.stack(means),
        std=torch.stack(stds),
        modules=modules, sizes=np.array([len(p) for p in chosen], dtype=np.int64),
    )


__all__ = [
    "STD_FLOOR",
    "Checkpoint",
    "EnsembleState",
    "init_models",
    "model_seed",
    "normalise",
    "numerics",
    "train_ensemble",
    "train_one_at_a_time",
]
