"""Certify your own model: any array data, any torch learner, kept models, predictions.

Serves the appendix "Certify your own model" and ``python -m ldcbook train --data``,
``--learner package.module:factory``, ``--features`` and ``python -m ldcbook
predict``. A run of this module is a run directory of :mod:`ldcbook.store`, like
those of the built-in learners, so ``certify``, ``plot`` and ``merge`` read it too.

What a run does, and why its certificates hold (``ALGORITHMS.md``, "Partitioning"):

1. **Keys.** Each training sample gets a key from its own bytes
   (:func:`ldcbook.partition.sample_keys`): ``"pixel_sum"`` (the paper's, uint8
   samples only) or ``"sha256"`` (little-endian, C-order bytes of the sample after a
   ``dtype``/shape header; the label is not hashed). Model ``i`` of DPA takes the
   samples with ``key % k == i``; FA as in :func:`ldcbook.partition.assign`.
2. **Features.** An optional fixed feature map (``"hog"``, or an importable
   ``package.module:function``) is applied to every sample on its own. It keeps the
   certificate valid only if it is fixed before the training set is seen: written by
   hand, or trained on *other* data (a frozen encoder, as in the self-supervised DPA
   variant). Fitted on the training set being certified (a PCA, a scaler, an
   encoder fine-tuned on it) it would make every model depend on every partition,
   and the certificate would be void.
3. **Training.** Each model: ``factory(input_shape, num_classes)`` built with
   torch's generator seeded from ``(seed, model id)``, its partition in content
   order, standardised by its own partition's statistics (per channel: axis 1 of the
   feature samples), SGD with momentum for a fixed number of epochs, shuffles from a
   generator of its own, and dropout (or any other draw from torch's global
   generator) from a seed of its own. Nothing is fitted on the whole training set.
   *In groups* when the module allows it (:func:`grouped_support`: a plain
   ``nn.Sequential`` of the layers :class:`ldcbook.models.GroupedNet` stacks, whose
   grouped forward pass matches its own): :func:`train_group` runs the engine's
   schedule (:mod:`ldcbook.ensemble.schedule`: model ``i`` in group ``i // G`` at
   slot ``i % G``, every step one call of fixed shape, padding rows and models
   without a batch masked), so which models share a call, their slots and the shapes
   depend on model ids and the configuration only; each model keeps its own initial
   weights, batches, shuffles and dropout masks (those of the one-at-a-time path),
   its own loss, momentum and BatchNorm statistics. *One at a time*
   (:func:`train_model`) otherwise (BatchNorm1d, other layers, a Python
   ``forward``), or when ``OwnConfig.one_at_a_time`` (the CLI's
   ``--one-at-a-time``) asks for it. The two paths agree up to float rounding; the
   run's configuration records which one trained it (and ``G``), so a resume never
   switches path.
4. **Kept models.** The chunk's models (``state_dict`` and statistics) are stored
   beside the scores, checksummed (:meth:`ldcbook.store.RunDir.save_chunk`); after
   every finished epoch the model in training (weights, momentum, both random
   generators) or the whole group in training (weights, BatchNorm averages,
   momentum, every member's shuffle and dropout generators) is checkpointed
   atomically, so a killed run resumes from the last finished epoch, bit for bit
   as if it had not been stopped (on the CPU). A grouped model is stored as the
   standalone module of the factory (:meth:`ldcbook.models.GroupedNet.export`) and
   scored on its own, so ``predict`` gives its stored scores exactly.

The learner factory's import path and a SHA-256 of its module's source are part of
the run's configuration: resuming with a changed factory is refused.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import io
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ldcbook._checks import check_int
from ldcbook.data import ArrayData
from ldcbook.ensemble.training import STD_FLOOR, model_seed
from ldcbook.partition import HASHES, assign, sample_keys

_LOG = logging.getLogger(__name__)

BUILTIN_FEATURES: tuple[str, ...] = ("hog",)
"""Feature maps named without a module: HOG of uint8 images ``(N, C, H, W)``."""

_STREAM_GLOBAL = 2  # the seed of torch's global generator while a model trains


# --------------------------------------------------------------------------------------
# Import paths
# --------------------------------------------------------------------------------------


def resolve(
    path: str, argument: str = "learner"
) -> tuple[Callable[..., Any], str | None]:
    """Import ``package.module:function`` and hash its module's source.

    Parameters
    ----------
    path : str
        ``"package.module:function"`` (attributes may be dotted).
    argument : str
        The option's name, for messages.

    Returns
    -------
    function : callable
    source_sha256 : str or None
        SHA-256 of the module's source file (``None`` if it has none).

    Raises
    ------
    ValueError
        If ``path`` is malformed or cannot be imported.
    TypeError
        If it does not name a callable.
    """
    if not isinstance(path, str) or path.count(":") != 1:
        raise ValueError(
            f"{argument} must be 'package.module:function', got {path!r}"
        )
    module_name, attr = path.split(":")
    if not module_name or not attr:
        raise ValueError(f"{argument} must be 'package.module:function', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"{argument} {path!r}: cannot import {module_name}: {err}"
        ) from err
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{argument} {path!r}: {module_name} has no {attr}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{argument} {path!r} must name a callable, got {type(obj)}")
    try:
        source = Path(inspect.getsourcefile(module) or "").read_bytes()
        digest: str | None = hashlib.sha256(source).hexdigest()
    except (TypeError, OSError):
        digest = None
    return obj, digest


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnConfig:
    """The training schedule of a run with one's own learner.

    Attributes
    ----------
    epochs : int
        Passes over each partition.
    batch_size : int
        Samples per SGD step (a last batch of one sample joins the one before it, so
        that BatchNorm layers always see two).
    lr, momentum, weight_decay : float
        Of :class:`torch.optim.SGD` (constant learning rate).
    eval_batch_size : int
        Test samples per forward pass (the last pass padded to this size).
    one_at_a_time : bool
        Train one model at a time (:func:`train_model`) even when the learner could
        be trained in groups (:func:`grouped_support`). :func:`own_spec` sets it when
        the learner cannot be grouped, so a run's configuration records its path.
    group_size : int, optional
        Models per group of the grouped path (model ``i`` in group ``i // G``, slot
        ``i % G``); default from a memory budget (:func:`resolve_own_group_size`).
        :func:`own_spec` records the value used (``None`` one at a time).
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    eval_batch_size: int = 256
    one_at_a_time: bool = False
    group_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_int(name, getattr(self, name), min_value=1)
        if not isinstance(self.one_at_a_time, bool):
            raise TypeError("one_at_a_time must be a bool, got "
                            f"{type(self.one_at_a_time).__name__}")
        if self.group_size is not None:
            check_int("group_size", self.group_size, min_value=1)
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not (math.isfinite(value) and value >= 0) or (
                name == "lr" and value == 0
            ):
                raise ValueError(
                    f"{name} must be finite and >= 0 (lr > 0), got {value}"
                )


def own_spec(
    data: ArrayData,
    k: int,
    d: int = 1,
    *,
    learner: str,
    features: str | None = None,
    hash: str | None = None,  # noqa: A002
    seed: int = 0,
    config: OwnConfig | None = None,
) -> dict[str, Any]:
    """The configuration of a run with one's own data, learner and features.

    Parameters
    ----------
    data : ArrayData
        The data (:func:`ldcbook.data.load_arrays` or :func:`ldcbook.data.as_arrays`).
    k, d : int
        Partitions (DPA) or FA's ``k`` and spread.
    learner : str
        ``"package.module:factory"`` (see :mod:`ldcbook.examples`).
    features : str, optional
        ``"hog"`` or ``"package.module:function"``; default: the raw samples.
    hash : {"pixel_sum", "sha256"}, optional
        Default ``"pixel_sum"`` for uint8 samples, ``"sha256"`` otherwise.
    seed : int
    config : OwnConfig, optional

    Returns
    -------
    dict
        JSON-ready; stored as the run's configuration.

    Raises
    ------
    TypeError, ValueError
        On a malformed argument, an import path that cannot be imported, or
        ``"pixel_sum"`` with float samples.
    """
    from ldcbook.certify import fa_shifts

    if not isinstance(data, ArrayData):
        raise TypeError(
            f"data must be an ldcbook.data.ArrayData, got {type(data).__name__}"
        )
    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    seed = check_int("seed", seed, min_value=0)
    config = OwnConfig() if config is None else config
    if not isinstance(config, OwnConfig):
        raise TypeError(f"config must be an OwnConfig, got {type(config).__name__}")
    if hash is None:
        hash = "pixel_sum" if data.x_train.dtype == np.uint8 else "sha256"
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, got {hash!r}")
    if hash == "pixel_sum" and data.x_train.dtype != np.uint8:
        raise TypeError(
            f"hash 'pixel_sum' needs uint8 samples, got dtype {data.x_train.dtype}; "
            "use hash 'sha256'"
        )
    _, learner_sha = resolve(learner, "learner")
    features_sha = None
    if features is not None and features not in BUILTIN_FEATURES:
        _, features_sha = resolve(features, "features")
    shifts = [0] if d == 1 else [int(s) for s in fa_shifts(k, d)]
    spec = {
        "dataset": data.name, "k": k, "d": d, "shifts": shifts, "hash": hash,
        "learner": learner, "learner_sha256": learner_sha,
        "features": features, "features_sha256": features_sha,
        "seed": seed, "sample_shape": list(data.sample_shape),
        "num_classes": int(data.num_classes), "train": asdict(config),
    }
    # the training path is part of the configuration: a run trained in groups is
    # never resumed one at a time, nor the other way round
    if config.one_at_a_time:
        reason: str | None = "one_at_a_time was asked for"
    else:
        input_shape = _input_shape(data, features)
        module = build(spec, 0, input_shape)
        reason = grouped_support(module, input_shape, spec["num_classes"])
    if reason is None:
        group_size = resolve_own_group_size(module, input_shape, k * d, config)
        spec["train"].update(one_at_a_time=False, group_size=group_size)
        _LOG.info("learner %s: trained in groups of %d models", learner, group_size)
    else:
        spec["train"].update(one_at_a_time=True, group_size=None)
        _LOG.info("learner %s: trained one model at a time (%s)", learner, reason)
    return spec


def _input_shape(data: ArrayData, features: str | None) -> tuple[int, ...]:
    x = data.x_train if len(data.x_train) else data.x_test
    return tuple(apply_features(x[:1], features).shape[1:])


def grouped_reason(spec: dict[str, Any], data: ArrayData) -> str | None:
    """Why a run's learner cannot be trained in groups (``None`` if it can).

    :func:`grouped_support` of model 0's module, on the run's feature shape.
    """
    if not is_own(spec):
        raise TypeError("spec must come from ldcbook.own.own_spec")
    input_shape = _input_shape(data, spec["features"])
    return grouped_support(build(spec, 0, input_shape), input_shape,
                           int(spec["num_classes"]))


def training_path(spec: dict[str, Any]) -> str:
    """How a run's models are trained: ``"grouped"`` or ``"one at a time"``.

    Read from the run's configuration (:func:`own_spec` records it); runs made
    before the grouped path existed were trained one at a time.
    """
    train = spec.get("train", {}) if isinstance(spec, dict) else {}
    if train.get("one_at_a_time", True) or train.get("group_size") is None:
        return "one at a time"
    return "grouped"


def is_own(spec: dict[str, Any]) -> bool:
    """Whether a run's configuration is one of :func:`own_spec`."""
    return isinstance(spec, dict) and "learner_sha256" in spec


# --------------------------------------------------------------------------------------
# Features and standardisation
# --------------------------------------------------------------------------------------


def apply_features(x: np.ndarray, features: str | None) -> np.ndarray:
    """The inputs of the learner: features of each sample, ``float32``.

    ``None``: the samples themselves (uint8 divided by 255); ``"hog"``: HOG of uint8
    images ``(N, C, H, W)`` (:func:`ldcbook.experiments.rnn_features`' setting);
    ``"package.module:function"``: that function of the raw samples.

    Raises
    ------
    ValueError, TypeError
        If the feature map returns other than one finite numeric row per sample.
    """
    x = np.asarray(x)
    if features is None:
        out = x / np.float32(255) if x.dtype == np.uint8 else x
    elif features == "hog":
        from ldcbook.neighbors import hog_features

        if x.dtype != np.uint8 or x.ndim != 4:
            raise TypeError("features 'hog' needs uint8 images (N, C, H, W), got "
                            f"dtype {x.dtype} and shape {x.shape}")
        side = min(x.shape[2:])
        out = hog_features(x, pixels_per_cell=8 if side >= 24 else max(1, side // 4))
    else:
        fn, _ = resolve(features, "features")
        out = np.asarray(fn(x))
        if out.dtype.kind not in "iuf" or out.ndim < 2 or len(out) != len(x):
            raise ValueError(
                f"features {features!r} must return numbers of shape (N, ...) with "
                f"N = {len(x)}, got dtype {out.dtype} and shape {out.shape}"
            )
    out = np.ascontiguousarray(out, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"features {features!r} returned NaN or infinite values")
    return out


def partition_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of one partition's inputs, per channel (axis 1).

    Reduced over the samples and every axis after the first feature axis, in float64
    (numpy's pairwise sums: fixed by the data alone); the standard deviation is
    clamped to :data:`ldcbook.ensemble.STD_FLOOR`. An empty partition gets 0 and 1.

    Returns
    -------
    mean, std : numpy.ndarray
        float32 of shape ``(x.shape[1],)``.
    """
    c = x.shape[1]
    if len(x) == 0:
        return np.zeros(c, np.float32), np.ones(c, np.float32)
    axes = (0,) + tuple(range(2, x.ndim))
    v = x.astype(np.float64)
    mean = v.mean(axis=axes)
    std = np.maximum(v.std(axis=axes), STD_FLOOR)
    return mean.astype(np.float32), std.astype(np.float32)


def _standardise(
    x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.view(shape)) / std.view(shape)


# --------------------------------------------------------------------------------------
# Training one model, with per-epoch checkpoints
# --------------------------------------------------------------------------------------


def build(
    spec: dict[str, Any], model_id: int, input_shape: tuple[int, ...]
) -> nn.Module:
    """Model ``model_id``'s initial module: the factory under its own seed.

    Raises
    ------
    TypeError
        If the factory does not return a :class:`torch.nn.Module`.
    """
    factory, _ = resolve(spec["learner"], "learner")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_seed(spec["seed"], model_id, 0))
        module = factory(tuple(input_shape), int(spec["num_classes"]))
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"learner {spec['learner']!r} must return a torch.nn.Module, got "
            f"{type(module).__name__}"
        )
    return module


def _batches(n: int, b: int) -> list[slice]:
    bounds = list(range(0, n, b)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:  # no batch of one sample
        del bounds[-2]
    return [slice(s, e) for s, e in zip(bounds, bounds[1:])]


def _state_arrays(module: nn.Module) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().copy()
            for name, t in module.state_dict().items()}


def _load_state(module: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    module.load_state_dict({name: torch.from_numpy(np.array(v))
                           for name, v in arrays.items()})


def train_model(
    spec: dict[str, Any],
    model_id: int,
    x: np.ndarray,
    y: np.ndarray,
    checkpoint: Callable[[dict[str, np.ndarray]], None] | None = None,
    resume: dict[str, np.ndarray] | None = None,
) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """Train one base model on its own inputs (features of its partition, in order).

    Parameters
    ----------
    spec : dict
        From :func:`own_spec`.
    model_id : int
    x : numpy.ndarray
        float32 inputs of the model's partition, in content order.
    y : numpy.ndarray
        Their labels.
    checkpoint : callable, optional
        Called after every finished epoch with the arrays that resume it.
    resume : dict, optional
        The last checkpoint's arrays: training goes on from there.

    Returns
    -------
    module : torch.nn.Module
        In evaluation mode, on the CPU.
    mean, std : numpy.ndarray
        The partition's statistics.
    """
    config = OwnConfig(**spec["train"])
    mean, std = partition_stats(x)
    module = build(spec, model_id, tuple(x.shape[1:]))
    n = len(x)
    xt = _standardise(torch.from_numpy(x), torch.from_numpy(mean),
                      torch.from_numpy(std))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    params = list(module.parameters())
    opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(model_seed(spec["seed"], model_id, 1))
    start = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_seed(spec["seed"], model_id, _STREAM_GLOBAL))
        if resume is not None:
            start = int(resume["epoch"])
            _load_state(module, {k[6:]: v for k, v in resume.items()
                                 if k.startswith("state:")})
            for j, p in enumerate(params):
                if f"mom:{j}" in resume:
                    opt.state[p]["momentum_buffer"] = torch.from_numpy(
                        np.array(resume[f"mom:{j}"]))
            gen.set_state(torch.from_numpy(np.array(resume["gen"])))
            torch.set_rng_state(torch.from_numpy(np.array(resume["rng"])))
        for epoch in range(start, config.epochs if n else 0):
            module.train()
            perm = torch.randperm(n, generator=gen)
            for sl in _batches(n, config.batch_size):
                rows = perm[sl]
                logits = module(xt[rows])
                if logits.ndim != 2 or logits.shape[1] != spec["num_classes"]:
                    raise ValueError(
                        f"learner {spec['learner']!r} returned outputs of shape "
                        f"{tuple(logits.shape)}, expected (batch, "
                        f"{spec['num_classes']})"
                    )
                loss = nn.functional.cross_entropy(logits.float(), yt[rows])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if checkpoint is not None:
                state: dict[str, np.ndarray] = {
                    "epoch": np.array(epoch + 1, dtype=np.int64),
                    "gen": gen.get_state().numpy(),
                    "rng": torch.get_rng_state().numpy(),
                }
                state.update({f"state:{k}": v
                              for k, v in _state_arrays(module).items()})
                for j, p in enumerate(params):
                    buf = opt.state.get(p, {}).get("momentum_buffer")
                    if buf is not None:
                        state[f"mom:{j}"] = buf.detach().numpy().copy()
                checkpoint(state)
    return module.eval(), mean, std


def scores(
    module: nn.Module, x: np.ndarray, mean: np.ndarray, std: np.ndarray,
    batch_size: int = 256,
) -> np.ndarray:
    """A trained model's logits on inputs ``x`` (float32), in passes of fixed size.

    Every pass has ``batch_size`` rows (the last padded with zeros), so a test
    point's scores do not depend on how many other points are scored with it.

    Returns
    -------
    numpy.ndarray
        float32 ``(len(x), num_classes)``.
    """
    batch_size = check_int("batch_size", batch_size, min_value=1)
    xt = _standardise(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                      torch.from_numpy(mean), torch.from_numpy(std))
    out = []
    module.eval()
    with torch.inference_mode():
        for s in range(0, len(xt), batch_size):
            xb = xt[s : s + batch_size]
            rows = len(xb)
            if rows < batch_size:
                xb = torch.cat([xb, xb.new_zeros((batch_size - rows, *xb.shape[1:]))])
            out.append(module(xb).float()[:rows])
    if not out:
        return np.zeros((0, 0), np.float32)
    return torch.cat(out).numpy()


# --------------------------------------------------------------------------------------
# Training a group of models as one computation
# --------------------------------------------------------------------------------------


def grouped_support(
    module: nn.Module, input_shape: tuple[int, ...], num_classes: int
) -> str | None:
    """Whether a learner can be trained in groups (:class:`ldcbook.models.GroupedNet`).

    It can when the factory returns a plain :class:`torch.nn.Sequential` (not a
    subclass) of layers of exactly the types GroupedNet stacks (Conv2d, BatchNorm2d,
    ReLU, MaxPool2d, AvgPool2d, GlobalAvgPool, Flatten, Linear, Dropout: no subclass
    with a forward of its own, no hooks, every parameter trained) that GroupedNet
    accepts, and the grouped forward pass gives the module's outputs
    ``(B, num_classes)`` on a fixed probe batch (to within float rounding). Anything
    else (BatchNorm1d, other layers, a module with a Python ``forward``) is trained
    one model at a time.

    Parameters
    ----------
    module : torch.nn.Module
        A module the factory built (left in evaluation mode).
    input_shape : tuple of int
        The shape of one input sample.
    num_classes : int

    Returns
    -------
    str or None
        ``None`` if it can be grouped, else the reason why not.
    """
    from ldcbook.models import _SUPPORTED, GroupedNet

    if not isinstance(module, nn.Module):
        raise TypeError(
            f"module must be a torch.nn.Module, got {type(module).__name__}")
    if type(module) is not nn.Sequential:
        return f"it is a {type(module).__name__}, not a plain torch.nn.Sequential"
    if not len(module):
        return "it is an empty torch.nn.Sequential"
    for i, layer in enumerate(module):
        if type(layer) not in _SUPPORTED:
            return f"layer {i} ({type(layer).__name__}) is not one GroupedNet stacks"
        hooks = (layer._forward_hooks, layer._forward_pre_hooks,
                 layer._backward_hooks, layer._backward_pre_hooks)
        if any(hooks) or list(layer.children()):
            return f"layer {i} ({type(layer).__name__}) has hooks or submodules"
    if any(not p.requires_grad for p in module.parameters()):
        return "some of its parameters are frozen (requires_grad=False)"
    try:
        net = GroupedNet([module])
    except (TypeError, ValueError) as err:
        return f"GroupedNet refuses it: {err}"
    probe = torch.randn((3, *input_shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        try:
            want = module.eval()(probe)
            got = net.forward(_group_layout(probe[:, None], net), train=False)[0]
        except RuntimeError as err:
            return f"its grouped forward pass fails: {err}"
    if want.shape != (3, num_classes) or got.shape != want.shape:
        return (f"its outputs have shape {tuple(want.shape)[1:]}, grouped "
                f"{tuple(got.shape)[1:]}, expected ({num_classes},)")
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        return "its grouped forward pass gives other outputs than its own forward"
    return None


def _group_layout(x: torch.Tensor, net: Any) -> torch.Tensor:
    """``(B, g, ...)`` inputs in the layout of ``net.forward``."""
    return x if net.input_layout == "grouped" else x.transpose(0, 1)


def resolve_own_group_size(
    module: nn.Module, input_shape: tuple[int, ...], num_models: int,
    config: OwnConfig,
) -> int:
    """Models per group: ``config.group_size``, else from a memory budget.

    As :func:`ldcbook.ensemble.resolve_group_size` on the CPU: as many models as keep
    one training step's activations (one forward pass of ``module`` on one sample,
    4 bytes per value, three times over for saved tensors and gradients, times the
    batch) within :data:`ldcbook.ensemble.recipes.CPU_GROUP_BYTES`, at least one and
    at most ``num_models``. A function of the learner and the configuration only.
    """
    from ldcbook.ensemble.recipes import CPU_GROUP_BYTES, models_within_budget

    num_models = check_int("num_models", num_models, min_value=1)
    if not isinstance(config, OwnConfig):
        raise TypeError(f"config must be an OwnConfig, got {type(config).__name__}")
    if config.group_size is not None:
        return min(config.group_size, num_models)
    return models_within_budget(module.eval(), tuple(input_shape),
                                config.batch_size + 1, num_models, CPU_GROUP_BYTES)


def _sgd_settings(config: OwnConfig) -> Any:
    """What the engine's step functions read from a configuration."""
    from types import SimpleNamespace

    return SimpleNamespace(momentum=config.momentum, weight_decay=config.weight_decay,
                           nesterov=False, precision="fp32", channels_last=False)


def _aligned(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in memory allocated by torch (64-byte aligned), so that where a
    kernel's inputs sit does not depend on numpy's allocations (a copy by numpy, not
    a torch operator)."""
    out = torch.empty(a.shape, dtype=torch.from_numpy(a[:0].copy()).dtype).numpy()
    out[...] = a
    return out


def _group_checkpoint_name(group: int) -> str:
    return f"ckpt-group-{group:06d}"


def train_group(
    spec: dict[str, Any],
    members: np.ndarray,
    inputs: dict[int, np.ndarray],
    labels: dict[int, np.ndarray],
    checkpoint: Callable[[dict[str, np.ndarray]], None] | None = None,
    resume: dict[str, np.ndarray] | None = None,
) -> dict[int, tuple[nn.Module, np.ndarray, np.ndarray]]:
    """Train the members of one group together, each on its own partition.

    The grouped path of :func:`train_own`, with the engine's schedule
    (:mod:`ldcbook.ensemble.schedule`): the group's members are fixed by model ids
    (``members``, in slot order); every step is one call of
    :class:`ldcbook.models.GroupedNet` over all of them with ``batch_size + 1`` rows
    each (:class:`ldcbook.ensemble.schedule.StepPlan` with ``join_single``: a model's
    batches are those of :func:`train_model`); padding rows are masked out of the
    loss and the BatchNorm statistics, and a model without a batch at a step is
    masked (its parameters, momentum and running averages put back). Each model
    keeps its own initial weights (the factory under its own seed), its own
    standardisation, its own shuffles (from a generator seeded from the run seed and
    its id), its own dropout masks (drawn before each step, for its real rows only,
    from a generator of its own: those of :func:`train_model`), its own loss
    (per-model means, summed) and its own SGD momentum.

    Parameters
    ----------
    spec : dict
        From :func:`own_spec` (the grouped path).
    members : numpy.ndarray
        The group's model ids, in slot order.
    inputs, labels : dict
        Model id -> its partition's float32 inputs and labels, for the members
        trained now; the other members hold their slots with no samples.
    checkpoint : callable, optional
        Called after every finished epoch with the arrays that resume the group.
    resume : dict, optional
        The group's last checkpoint; used if it belongs to these members and these
        trained models.

    Returns
    -------
    dict
        Model id -> ``(module, mean, std)`` for the members in ``inputs``, the module
        a standalone :class:`torch.nn.Sequential` in evaluation mode.
    """
    from ldcbook.ensemble.schedule import StepPlan, group_call
    from ldcbook.ensemble.training import _keep_rows, _restore, _snapshot, _train_group
    from ldcbook.models import GroupedNet

    if not is_own(spec) or training_path(spec) != "grouped":
        raise TypeError("spec must come from ldcbook.own.own_spec, on the grouped path")
    config = OwnConfig(**spec["train"])
    members = np.asarray(members)
    if members.ndim != 1 or members.dtype.kind not in "iu" or not len(members):
        raise TypeError("members must be a non-empty 1-d array of model ids")
    members = members.astype(np.int64)
    if not isinstance(inputs, dict) or not isinstance(labels, dict):
        raise TypeError("inputs and labels must be dicts: model id -> array")
    if not inputs or set(inputs) != set(labels):
        raise ValueError("inputs and labels must hold the same members, at least one")
    trained = np.array(sorted(inputs), dtype=np.int64)
    if not set(trained.tolist()) <= set(members.tolist()):
        raise ValueError("inputs must hold members of the group only")
    shape = next(iter(inputs.values())).shape[1:]
    for i in trained.tolist():
        if inputs[i].dtype != np.float32 or inputs[i].shape[1:] != shape or (
            len(labels[i]) != len(inputs[i])
        ):
            raise ValueError(f"inputs[{i}] must be float32 of shape (n, *{shape}) "
                             f"with n labels, got {inputs[i].dtype} "
                             f"{inputs[i].shape} and {len(labels[i])} labels")
    g = len(members)
    xs, ys, stats, gens = [], [], {}, {}
    for m, i in enumerate(members.tolist()):
        x = inputs.get(i, np.zeros((0, *shape), np.float32))
        mean, std = partition_stats(x)
        stats[i] = (mean, std)
        xs.append(_standardise(torch.from_numpy(x), torch.from_numpy(mean),
                               torch.from_numpy(std)))
        ys.append(torch.from_numpy(np.asarray(labels.get(i, np.zeros(0)),
                                              dtype=np.int64)))
        if len(x):
            gens[m] = torch.Generator().manual_seed(model_seed(spec["seed"], i, 1))
    sizes = np.array([len(x) for x in xs], dtype=np.int64)
    pad_row = int(sizes.sum())  # one zero row after all samples: the padding
    x_all = torch.cat(xs + [torch.zeros((1, *shape))])
    y_all = torch.cat(ys + [torch.zeros(1, dtype=torch.int64)])
    plan = StepPlan(sizes, config.batch_size, [slice(0, g)], join_single=True)
    net = GroupedNet([build(spec, i, tuple(shape)) for i in members.tolist()])
    moms = [torch.zeros_like(p) for p in net.params]
    drops = _dropout_layers(net.template, tuple(shape))
    # dropout draws from a generator of each model's own, seeded as torch's global
    # generator is while train_model trains it, with the same shapes in the same
    # order: the same masks
    dgens = {m: torch.Generator().manual_seed(
        model_seed(spec["seed"], int(members[m]), _STREAM_GLOBAL))
        for m in gens} if drops else {}
    settings = _sgd_settings(config)
    cpu = torch.device("cpu")

    def by_id(generators: dict[int, torch.Generator]) -> dict[int, torch.Generator]:
        return {int(members[m]): gen for m, gen in generators.items()}

    start = 0
    if _group_resumable(resume, members, trained, config.epochs):
        assert resume is not None
        start = int(resume["epoch"])
        _restore(resume, [net], [moms], by_id(gens))
        for m, gen in dgens.items():
            gen.set_state(torch.from_numpy(np.array(resume[f"d{members[m]}"])))
    masks = [plan.valid[t].t().contiguous() for t in range(plan.num_steps)]
    active = [plan.active[t].clone() for t in range(plan.num_steps)]
    idle = [torch.nonzero(~a).flatten() for a in active]
    for epoch in range(start, config.epochs if plan.num_steps else 0):
        index = torch.full(plan.table_shape, pad_row, dtype=torch.int64)
        index.view(-1)[plan.table_pos] = torch.cat(
            [torch.randperm(int(sizes[m]), generator=gen) + int(plan.starts[m])
             for m, gen in gens.items()])
        for t in range(plan.num_steps):
            rows = index[t].t()  # (B + 1, g)
            x = _group_layout(x_all[rows], net).contiguous()
            y = y_all[rows].t()  # (g, B + 1)
            dropout = _dropout_masks(drops, dgens, plan.valid[t]) if drops else None
            with _keep_rows(net.params + moms, idle[t]), group_call(
                "train", epoch, t, members, active[t]
            ):
                _train_group(net, moms, x, y, masks[t], active[t], config.lr,
                             settings, cpu, dropout)
        if checkpoint is not None:  # the engine's snapshot, and the dropout streams
            state = _snapshot(epoch + 1, members, [net], [moms], by_id(gens))
            state["model_ids"] = trained.copy()
            for m, gen in dgens.items():
                state[f"d{members[m]}"] = gen.get_state().numpy().copy()
            checkpoint(state)
    slot = {i: m for m, i in enumerate(members.tolist())}
    return {i: (net.export(slot[i]), *stats[i]) for i in trained.tolist()}


def _dropout_layers(
    module: nn.Sequential, input_shape: tuple[int, ...]
) -> list[tuple[float, tuple[int, ...]]]:
    """``(p, input shape of one sample)`` of each Dropout layer, in order."""
    out = []
    with torch.no_grad():
        h = torch.zeros((1, *input_shape))
        for layer in copy.deepcopy(module).eval():
            if isinstance(layer, nn.Dropout):
                out.append((float(layer.p), tuple(h.shape[1:])))
            h = layer(h)
    return out


def _dropout_masks(
    drops: list[tuple[float, tuple[int, ...]]],
    gens: dict[int, torch.Generator],
    valid: torch.Tensor,
) -> list[torch.Tensor]:
    """One step's dropout multipliers ``(g, rows, *features)`` per Dropout layer.

    Model ``m``'s ``r`` real rows (the first ``r`` of its slot) get what
    :func:`torch.nn.functional.dropout` draws for a batch of ``r`` rows (Bernoulli
    ``1 - p`` then divided by ``1 - p``, layer after layer) from the model's own
    generator; padding rows and models without a batch get ones and draw nothing.
    """
    g, width = valid.shape
    rows = valid.sum(1).tolist()
    out = [torch.ones((g, width, *feat)) for _, feat in drops]
    for m, gen in gens.items():
        if not rows[m]:
            continue
        for mask, (p, feat) in zip(out, drops):
            if p > 0:  # dropout with p = 0 returns its input and draws nothing
                mask[m, : rows[m]] = torch.empty((rows[m], *feat)).bernoulli_(
                    1 - p, generator=gen).div_(1 - p)
    return out


def _group_resumable(saved: Any, members: np.ndarray, trained: np.ndarray,
                     epochs: int) -> bool:
    return (isinstance(saved, dict)
            and all(k in saved for k in ("members", "model_ids", "epoch"))
            and np.array_equal(saved["members"], members)
            and np.array_equal(saved["model_ids"], trained)
            and 0 < int(saved["epoch"]) <= epochs)


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Keyed:
    """What :mod:`ldcbook.store` hashes and indexes: the data with its keys."""

    name: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    train_keys: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _checkpoint_name(model_id: int) -> str:
    return f"ckpt-{model_id:06d}"


def train_own(
    path: str | Path,
    data: ArrayData,
    spec: dict[str, Any],
    *,
    chunk: int | None = None,
    shard: tuple[int, int] = (0, 1),
    keys: np.ndarray | None = None,
    progress: bool = False,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Any:
    """Train (or resume) a run with one's own data and learner into ``path``.

    Serves the appendix and ``python -m ldcbook train --data/--learner M:F``. The
    models are trained in the groups of the run's configuration (:func:`train_group`,
    the groups holding the chunk's models, one after another) or one at a time
    (:func:`train_model`), as :func:`own_spec` recorded (:func:`training_path`); each
    chunk's scores and models are stored together when it finishes, and the model
    (or group) in training is checkpointed after every epoch, so a killed run
    resumes from the last finished epoch with the bits of an uninterrupted run. The
    test labels are stored in the run, so ``python -m ldcbook certify`` needs no
    data.

    Parameters
    ----------
    path : str or path-like
        The run directory.
    data : ArrayData
    spec : dict
        From :func:`own_spec` with the same ``data``.
    chunk : int, optional
        Models per chunk (default all).
    shard : tuple of int
        ``(i, n)``: train every n-th chunk.
    keys : numpy.ndarray, optional
        Precomputed partition keys (e.g. a built-in dataset's pixel sums over its
        original images); default :func:`ldcbook.partition.sample_keys`.
    progress : bool
        Progress bar over models.
    on_epoch : callable, optional
        ``on_epoch(model_id, epochs_done)`` after each checkpoint (the tests stop a
        run there); for a group, once per member of the chunk, in id order.

    Returns
    -------
    ldcbook.store.RunDir

    Raises
    ------
    ValueError
        If ``path`` holds another run, or the learner's source changed since the
        run began (its SHA-256 is part of the configuration).
    """
    from ldcbook import store

    if not isinstance(data, ArrayData):
        raise TypeError(
            f"data must be an ldcbook.data.ArrayData, got {type(data).__name__}"
        )
    if not is_own(spec):
        raise TypeError("spec must come from ldcbook.own.own_spec")
    if list(data.sample_shape) != spec["sample_shape"] or (
        data.num_classes != spec["num_classes"]
    ):
        raise ValueError("data must be the data the spec was made for (sample shape, "
                         "number of classes)")
    m = spec["k"] * spec["d"]
    if keys is None:
        keys = sample_keys(data.x_train, spec["hash"], m)
    parts = assign(np.asarray(keys) % m, spec["k"], spec["d"], spec["shifts"],
                   x=data.x_train, y=data.y_train)
    keyed = _Keyed(data.name, data.num_classes, data.x_train, data.y_train,
                   np.asarray(keys, dtype=np.int64), data.x_test, data.y_test)
    cache: dict[str, np.ndarray] = {}
    path = Path(path)

    def inputs(split: str) -> np.ndarray:
        if split not in cache:
            cache[split] = apply_features(getattr(data, f"x_{split}"), spec["features"])
        return cache[split]

    def train_fn(ds: Any, parts_: Sequence[np.ndarray], ids: np.ndarray,
                 _spec: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        run = store.RunDir.open(path)
        x_train, x_test = inputs("train"), inputs("test")
        if grouped:
            return train_groups(run, x_train, x_test, parts_, ids)
        columns, weights = [], {}
        todo = ids.tolist()
        if progress:
            from tqdm.auto import tqdm

            todo = tqdm(todo, desc=f"{len(ids)} models", unit="model")
        for i in todo:
            idx = parts_[i]
            name = _checkpoint_name(i)

            def save(
                state: dict[str, np.ndarray], i: int = i, name: str = name
            ) -> None:
                run.save_arrays(name, {**state, "model_ids": np.array([i])})
                if on_epoch is not None:
                    on_epoch(i, int(state["epoch"]))

            module, mean, std = train_model(
                spec, i, x_train[idx], data.y_train[idx], save, run.load_arrays(name))
            columns.append(scores(module, x_test, mean, std,
                                  spec["train"]["eval_batch_size"]))
            weights.update({f"m{i}:state:{k}": v
                            for k, v in _state_arrays(module).items()})
            weights[f"m{i}:mean"], weights[f"m{i}:std"] = mean, std
        return np.stack(columns, axis=1), weights

    grouped = training_path(spec) == "grouped"

    def train_groups(run: Any, x_train: np.ndarray, x_test: np.ndarray,
                     parts_: Sequence[np.ndarray], ids: np.ndarray,
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        from ldcbook.ensemble.schedule import GroupLayout, group_call

        layout = GroupLayout(m, int(spec["train"]["group_size"]))
        chosen = set(ids.tolist())
        trained: dict[int, tuple[nn.Module, np.ndarray, np.ndarray]] = {}
        todo = layout.cover(ids.tolist())
        if progress:
            from tqdm.auto import tqdm

            todo = tqdm(todo, desc=f"{len(ids)} models in groups", unit="group")
        for q in todo:
            members = layout.members(q)
            now = [i for i in members.tolist() if i in chosen]
            name = _group_checkpoint_name(q)

            def save(state: dict[str, np.ndarray], now: list[int] = now,
                     name: str = name) -> None:
                run.save_arrays(name, state)
                if on_epoch is not None:
                    for i in now:
                        on_epoch(i, int(state["epoch"]))

            trained.update(train_group(
                spec, members, {i: x_train[parts_[i]] for i in now},
                {i: data.y_train[parts_[i]] for i in now}, save,
                run.load_arrays(name)))
        columns, weights = [], {}
        x_eval = _aligned(x_test)
        for i in ids.tolist():
            module, mean, std = trained[i]
            # each model scored on its own, as predict_scores does: the same bits
            with group_call("eval", -1, 0, np.array([i]), None):
                columns.append(scores(module, x_eval, _aligned(mean), _aligned(std),
                                      spec["train"]["eval_batch_size"]))
            weights.update({f"m{i}:state:{k}": v
                            for k, v in _state_arrays(module).items()})
            weights[f"m{i}:mean"], weights[f"m{i}:std"] = mean, std
        return np.stack(columns, axis=1), weights

    chunk = m if chunk is None else check_int("chunk", chunk, min_value=1)
    run = store.run_training(path, keyed, parts, spec, chunk_size=chunk, shard=shard,
                             train_fn=train_fn)
    if run.load_arrays("test_labels") is None:
        run.save_arrays("test_labels", {"y_test": data.y_test})
    clear_checkpoints(run)
    return run


def clear_checkpoints(run: Any) -> list[str]:
    """Delete the per-epoch checkpoints (``ckpt-*``) of models already stored.

    A checkpoint outlives its chunk when a run stops between storing the chunk and
    deleting it; it is never read again (its models are finished), and this removes
    it. One that cannot be read is removed too.

    Parameters
    ----------
    run : ldcbook.store.RunDir

    Returns
    -------
    list of str
        The names removed.
    """
    done = set(run.finished().tolist())
    removed = []
    for fname in sorted(run.manifest.get("files", {})):
        if not fname.startswith("ckpt-"):
            continue
        try:
            with np.load(run.path / fname, allow_pickle=False) as npz:
                ids = set(npz["model_ids"].tolist())
        except (OSError, ValueError, KeyError):
            ids = set()
        if ids <= done:
            run.delete_arrays(fname[: -len(".npz")])
            removed.append(fname)
    return removed


def partition_sizes(spec: dict[str, Any], data: ArrayData,
                    keys: np.ndarray | None = None) -> np.ndarray:
    """How many training samples each model of the run gets (int64, model order)."""
    m = spec["k"] * spec["d"]
    if keys is None:
        keys = sample_keys(data.x_train, spec["hash"], m)
    parts = assign(np.asarray(keys) % m, spec["k"], spec["d"], spec["shifts"])
    return np.array([len(p) for p in parts], dtype=np.int64)


# --------------------------------------------------------------------------------------
# Predictions from stored models
# --------------------------------------------------------------------------------------


def _builtin_module(spec: dict[str, Any], state: dict[str, np.ndarray],
                    sample_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    from ldcbook.models import build_model

    c, h = sample_shape[0], sample_shape[1]
    module = build_model(spec["train"]["model"], c, num_classes, h)
    _load_state(module, state)
    return module.eval()


def predict_scores(run_path: str | Path, x: np.ndarray) -> np.ndarray:
    """Scores of every stored base model of a run on new inputs.

    Works for the runs of :func:`train_own` and for those of the built-in neural
    learners (``train --learner cnn|mlp|nin``) made since models are kept. Each
    model standardises the inputs with its own partition's statistics, as in
    training. For a run of :func:`train_own` the scores of the run's own test set
    are exactly those stored; for the built-in learners (trained in groups) they
    agree up to floating-point rounding.

    Parameters
    ----------
    run_path : str or path-like
        A finished run directory.
    x : numpy.ndarray
        New samples with the run's sample shape and dtype (uint8 images for the
        built-in learners).

    Returns
    -------
    numpy.ndarray
        float32 ``(len(x), num_models, num_classes)``, model-id order.

    Raises
    ------
    ValueError
        If the run is unfinished, keeps no models (rnn runs, older runs), or ``x``
        has the wrong shape or dtype.
    """
    from ldcbook import store
    from ldcbook.ensemble.training import normalise

    run = store.RunDir.open(run_path)
    spec = run.config
    x = np.asarray(x)
    own = is_own(spec)
    if not own and (spec.get("learner") == "rnn" or "train" not in spec):
        raise ValueError(
            f"{run.path} is an rnn run: it keeps no models to predict with "
            "(its base learners are the training data themselves)"
        )
    missing = np.setdiff1d(np.arange(run.num_models), run.finished())
    if missing.size:
        raise ValueError(
            f"{run.path} has not finished {missing.size} model(s); resume it"
        )
    if own:
        _, digest = resolve(spec["learner"], "learner")
        if digest != spec["learner_sha256"]:
            raise ValueError(
                f"the source of the learner {spec['learner']!r} changed since "
                f"{run.path} was trained (SHA-256 mismatch); its stored weights may "
                "not fit it"
            )
        shape = tuple(spec["sample_shape"])
        if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
            raise ValueError(f"x must have shape (n, {', '.join(map(str, shape))}), "
                             f"got {x.shape}")
        if x.dtype != np.uint8 and x.dtype.kind != "f":
            raise TypeError(f"x must hold uint8 or float samples, got dtype {x.dtype}")
        if spec["hash"] == "pixel_sum" and x.dtype != np.uint8:
            raise TypeError(f"x must be uint8 like the run's data, got dtype {x.dtype}")
        inputs = apply_features(x, spec["features"])
    else:
        if x.dtype != np.uint8 or x.ndim != 4:
            raise TypeError(
                f"x must be uint8 images (n, C, H, W) for a {spec['learner']} run, "
                f"got dtype {x.dtype}, shape {x.shape}"
            )
    out = np.zeros((len(x), run.num_models, run.num_classes), np.float32)
    for i in range(run.num_models):
        arrays = run.load_weights(i)
        state = {k[6:]: v for k, v in arrays.items() if k.startswith("state:")}
        mean, std = arrays["mean"], arrays["std"]
        if own:
            module = build(spec, i, tuple(inputs.shape[1:]))
            _load_state(module, state)
            out[:, i] = scores(module.eval(), inputs, mean, std,
                               spec["train"]["eval_batch_size"])
        else:
            try:
                module = _builtin_module(spec, state, tuple(x.shape[1:]),
                                         run.num_classes)
            except RuntimeError as err:  # load_state_dict: other layer shapes
                raise ValueError(
                    f"x must have the image shape the run was trained on; its models "
                    f"do not fit images of shape {x.shape[1:]}"
                ) from err
            with torch.inference_mode():
                xb = normalise(torch.from_numpy(x), torch.from_numpy(mean),
                               torch.from_numpy(std))
                out[:, i] = module(xb).float().numpy()
    return out


def ensemble_weights(state: Any) -> dict[str, np.ndarray]:
    """The models of an :class:`ldcbook.ensemble.EnsembleState`, keyed for the store.

    ``m<i>:state:<name>`` (the standalone module's ``state_dict``), ``m<i>:mean`` and
    ``m<i>:std`` for each model id ``i``.
    """
    out: dict[str, np.ndarray] = {}
    for j, i in enumerate(np.asarray(state.model_ids).tolist()):
        module = state.module(j)
        out.update({f"m{i}:state:{k}": v for k, v in _state_arrays(module).items()})
        out[f"m{i}:mean"] = state.mean[j].cpu().numpy().copy()
        out[f"m{i}:std"] = state.std[j].cpu().numpy().copy()
    return out


def load_inputs(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """New inputs for ``predict``: the array ``x`` (or ``x_test``) of an ``.npz``,
    with labels ``y`` (or ``y_test``) if present.

    Raises
    ------
    FileNotFoundError, ValueError
        If the file is missing or holds neither ``x`` nor ``x_test``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = npz.files
            xname = "x" if "x" in names else "x_test" if "x_test" in names else None
            if xname is None:
                raise ValueError(f"{path} must hold an array 'x' (or 'x_test'); it has "
                                 f"{names}")
            yname = "y" if "y" in names else "y_test" if "y_test" in names else None
            x = np.ascontiguousarray(npz[xname])
            y = None if yname is None else np.asarray(npz[yname]).astype(np.int64)
    except (OSError, AttributeError) as err:
        raise ValueError(f"{path} is not a .npz file of plain arrays: {err}") from err
    if y is not None and (y.shape != (len(x),)):
        raise ValueError(
            f"the labels in {path} must have shape ({len(x)},), got {y.shape}"
        )
    return x, y


def save_result(path: str | Path, **arrays: Any) -> None:
    """Write arrays to an ``.npz`` atomically (no pickles)."""
    from ldcbook.store import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())


__all__ = [
    "BUILTIN_FEATURES",
    "OwnConfig",
    "apply_features",
    "build",
    "clear_checkpoints",
    "ensemble_weights",
    "grouped_reason",
    "grouped_support",
    "is_own",
    "load_inputs",
    "own_spec",
    "partition_sizes",
    "partition_stats",
    "predict_scores",
    "resolve",
    "resolve_own_group_size",
    "save_result",
    "scores",
    "train_group",
    "train_model",
    "train_own",
    "training_path",
]
