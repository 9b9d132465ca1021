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
3. **Training.** One model at a time: ``factory(input_shape, num_classes)`` built
   with torch's generator seeded from ``(seed, model id)``, its partition in content
   order, standardised by its own partition's statistics (per channel: axis 1 of the
   feature samples), SGD with momentum for a fixed number of epochs, shuffles from a
   generator of its own, and dropout (or any other draw from torch's global
   generator) from a seed of its own. Nothing is fitted on the whole training set.
4. **Kept models.** The chunk's models (``state_dict`` and statistics) are stored
   beside the scores, checksummed (:meth:`ldcbook.store.RunDir.save_chunk`); after
   every finished epoch the model in training is checkpointed atomically (weights,
   momentum, both random generators), so a killed run resumes from the last
   finished epoch, bit for bit as if it had not been stopped (on the CPU).

The learner factory's import path and a SHA-256 of its module's source are part of
the run's configuration: resuming with a changed factory is refused.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
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
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_int(name, getattr(self, name), min_value=1)
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
    return {
        "dataset": data.name, "k": k, "d": d, "shifts": shifts, "hash": hash,
        "learner": learner, "learner_sha256": learner_sha,
        "features": features, "features_sha256": features_sha,
        "seed": seed, "sample_shape": list(data.sample_shape),
        "num_classes": int(data.num_classes), "train": asdict(config),
    }


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
    models are trained one at a time (:func:`train_model`); each chunk's scores and
    models are stored together when it finishes, and the model in training is
    checkpointed after every epoch, so a killed run resumes from the last finished
    epoch with the bits of an uninterrupted run. The test labels are stored in the
    run, so ``python -m ldcbook certify`` needs no data.

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
        run there).

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
    "is_own",
    "load_inputs",
    "own_spec",
    "partition_sizes",
    "partition_stats",
    "predict_scores",
    "resolve",
    "save_result",
    "scores",
    "train_model",
    "train_own",
]
