"""DPA and FA experiment runs: the same runs from the book and from the command line.

Serves the chapter "DPA and FA on real digits" (``book/07_dpa_experiments.py``), which
reproduces Section 7 of the Lethal Dose Conjecture paper. A run is described by an
*experiment spec*, the dict that ``python -m ldcbook train`` stores as the
configuration of its run directory (dataset, ``k``, ``d``, FA shifts, learner, seed,
scale, schedule and the full :class:`ldcbook.ensemble.TrainConfig`). Because the
chapter builds the very same spec (:func:`experiment_spec`) and trains through the
same driver (:func:`ldcbook.store.run_training`), a run started by the CLI, for instance
as the shards of a SLURM job array (:func:`cli_args` writes the command), is picked up
by the chapter and vice versa; a run directory of any other configuration, data or
partition is refused by the store.

Layer: below :mod:`ldcbook.cli`, which imports it (it imports ensemble, store and
certify): the lists of datasets, learners and methods, and the certificate dispatch,
live here so that the command line and the chapters share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldcbook._checks import check_int
from ldcbook.config import SCALES
from ldcbook.config import scale as current_scale

DATASETS: tuple[str, ...] = ("digits", "mnist5k", "mnist", "cifar10", "gtsrb")
"""Datasets a run can use (those of :func:`ldcbook.data.load`)."""

NEURAL_LEARNERS: tuple[str, ...] = ("cnn", "mlp", "nin")
"""Learners with score vectors, trained by :mod:`ldcbook.ensemble`."""

LEARNER_CHOICES: tuple[str, ...] = NEURAL_LEARNERS + ("rnn",)
"""Every learner of ``python -m ldcbook train``: the neural ones and radius nearest
neighbours (:func:`rnn_train_fn`)."""

METHODS: tuple[str, ...] = ("dpa", "fa", "roe")
"""Certificates of :func:`certify_scores`."""

_OVERRIDES = ("augment", "epochs", "batch_size", "lr", "group_size", "precision",
              "deterministic", "eval_batch_size")


def experiment_spec(
    dataset: str,
    k: int,
    d: int = 1,
    learner: str = "cnn",
    schedule: str = "baseline",
    scale: str | None = None,
    seed: int = 0,
    *,
    augment: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    group_size: int | None = None,
    precision: str | None = None,
    deterministic: bool | None = None,
    eval_batch_size: int | None = None,
) -> dict[str, Any]:
    """The configuration ``python -m ldcbook train`` stores for these options.

    Serves the DPA/FA experiment chapter: the chapter and the CLI describe a run by
    the same dict, so that either can resume the other's run directory. The training
    schedule is :func:`ldcbook.ensemble.preset` ``(schedule, dataset, learner, scale,
    seed)`` with the given overrides (the CLI's ``--augment``, ``--epochs``,
    ``--batch-size`` and ``--lr``); FA shifts are
    :func:`ldcbook.certify.fa_shifts` ``(k, d)``, ``[0]`` for DPA.

    Parameters
    ----------
    dataset : str
        One of :data:`ldcbook.data.DATASETS`.
    k : int
        Partitions (DPA) or FA's ``k``, ``>= 1``.
    d : int
        FA spread, ``>= 1`` (1: DPA).
    learner : {"cnn", "mlp", "nin"}
        The base learner.
    schedule : {"baseline", "ldc"}
        The paper's baseline schedule or the LDC augmented learners.
    scale : {"smoke", "default", "full"}, optional
        Default: :func:`ldcbook.config.scale`.
    seed : int
        The run seed (model ``i`` draws from ``(seed, i)``).
    augment, epochs, batch_size, lr, group_size, precision, deterministic : optional
        Overrides of the schedule, as on the command line.
    eval_batch_size : int, optional
        Test images per evaluation pass (the last pass is padded to it): an override
        of the schedule that the command line does not offer, for the shrunk runs of
        the end-to-end tests (:func:`shrink_grid`), whose few test points would
        otherwise be padded to the schedule's 1,000.

    Returns
    -------
    dict
        JSON-ready: ``dataset``, ``k``, ``d``, ``shifts``, ``learner``, ``seed``,
        ``scale``, ``schedule`` and ``train`` (``TrainConfig.to_dict()``, with
        ``device`` left ``None``: it does not change the experiment; ``group_size``
        ``None`` unless given, filled in by :func:`prepare_spec` when a run starts).

    Raises
    ------
    TypeError, ValueError
        On an unknown dataset, learner, schedule or scale, or invalid numbers.
    """
    from ldcbook.certify import fa_shifts
    from ldcbook.ensemble import preset

    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    if learner not in NEURAL_LEARNERS:
        raise ValueError(f"learner must be one of {NEURAL_LEARNERS}, got {learner!r}")
    seed = check_int("seed", seed, min_value=0)
    if scale is None:
        scale = current_scale()
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    values = dict(zip(_OVERRIDES, (augment, epochs, batch_size, lr, group_size,
                                   precision, deterministic, eval_batch_size)))
    overrides = {name: v for name, v in values.items() if v is not None}
    config = preset(schedule, dataset, learner, scale=scale, seed=seed, **overrides)
    shifts = [0] if d == 1 else [int(s) for s in fa_shifts(k, d)]
    return {
        "dataset": dataset, "k": k, "d": d, "shifts": shifts, "learner": learner,
        "seed": seed, "scale": scale, "schedule": schedule,
        "train": config.to_dict(),
    }


def _check_spec(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise TypeError(f"spec must be a dict from experiment_spec, got {type(spec)}")
    missing = [key for key in ("dataset", "k", "d", "shifts", "learner", "seed",
                               "scale", "schedule", "train") if key not in spec]
    if missing:
        raise ValueError(f"spec lacks {missing}: build it with experiment_spec")
    return spec


def prepare_spec(
    path: str | Path, spec: dict[str, Any], dataset: Any, device: str | None = None
) -> dict[str, Any]:
    """The spec with its group size fixed: the stored one when the run exists.

    Which models share a kernel call is part of a run (it decides the shapes of every
    call, :mod:`ldcbook.ensemble.schedule`), so the manifest records it. A run directory
    that already holds this experiment keeps its recorded group size, whatever device
    resumes it; a new run gets ``spec["train"]["group_size"]`` if set, else
    :func:`ldcbook.ensemble.resolve_group_size` for the dataset's images and the
    device's kind.

    Parameters
    ----------
    path : str or path-like
        The run directory (it may not exist yet).
    spec : dict
        From :func:`experiment_spec`.
    dataset : ldcbook.data.Dataset
        The data (its image shape sizes the groups).
    device : str, optional
        The training device (default: CUDA when available).

    Returns
    -------
    dict
        A copy of ``spec``.
    """
    import copy

    import torch

    from ldcbook import store
    from ldcbook.ensemble import TrainConfig, resolve_group_size

    spec = copy.deepcopy(_check_spec(spec))
    manifest = Path(path) / store.MANIFEST
    if manifest.exists():
        stored = store.RunDir.open(path).config
        loose = {**stored, "train": {**stored.get("train", {}), "group_size": None}}
        mine = {**spec, "train": {**spec["train"], "group_size": None}}
        if loose == mine and spec["train"]["group_size"] is None:
            spec["train"]["group_size"] = stored["train"]["group_size"]
            return spec
    if spec["train"]["group_size"] is None:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        config = TrainConfig.from_dict(spec["train"])
        spec["train"]["group_size"] = resolve_group_size(
            config, tuple(dataset.x_train.shape[1:]), spec["k"] * spec["d"], device
        )
    return spec


def run_name(spec: dict[str, Any]) -> str:
    """A directory name for a run: dataset, learner, schedule, augmentation, k, d, seed.

    Serves the DPA/FA experiment chapter, which keeps one run directory per spec.
    Epochs and learning rate are not in the name: a directory holding another
    configuration under the same name is refused by :func:`ldcbook.store.run_training`.

    Parameters
    ----------
    spec : dict
        From :func:`experiment_spec`.

    Returns
    -------
    str
        E.g. ``"mnist5k-cnn-baseline-crop-k50-d1-s0"``.
    """
    spec = _check_spec(spec)
    name = (f"{spec['dataset']}-{spec['learner']}-{spec['schedule']}-"
            f"{spec['train']['augment']}-k{spec['k']}-d{spec['d']}-s{spec['seed']}")
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def cli_args(
    spec: dict[str, Any],
    out: str | Path,
    *,
    shard: str | None = None,
    chunk: int | None = None,
) -> list[str]:
    """The arguments of ``python -m ldcbook`` that train the run ``spec`` into ``out``.

    Serves the DPA/FA experiment chapter's instructions for running it at full scale
    on a cluster. Every option that the spec fixes is written out (schedule, scale,
    seed, and the augmentation, epochs, batch size and learning rate), so the command
    trains the same experiment whatever the environment's ``LDCBOOK_SCALE``.

    Parameters
    ----------
    spec : dict
        From :func:`experiment_spec`.
    out : str or path-like
        The run directory.
    shard : str, optional
        ``"I/N"`` (e.g. ``"$SLURM_ARRAY_TASK_ID/8"``): train every N-th chunk.
    chunk : int, optional
        Models trained together per chunk.

    Returns
    -------
    list of str
        Starting with ``"train"``; join with :func:`shlex.join` to print.
    """
    spec = _check_spec(spec)
    train = spec["train"]
    args = ["train", "--dataset", spec["dataset"], "--k", str(spec["k"]),
            "--d", str(spec["d"]), "--learner", spec["learner"],
            "--schedule", spec["schedule"], "--scale", spec["scale"],
            "--augment", train["augment"], "--epochs", str(train["epochs"]),
            "--batch-size", str(train["batch_size"]), "--lr", repr(train["lr"]),
            "--seed", str(spec["seed"]), "--out", str(out)]
    if train.get("precision") is not None:
        args += ["--precision", train["precision"]]
    if train.get("deterministic") is False:
        args += ["--no-deterministic"]
    if train.get("group_size") is not None:
        args += ["--group-size", str(train["group_size"])]
    if chunk is not None:
        args += ["--chunk", str(check_int("chunk", chunk, min_value=1))]
    if shard is not None:
        if not isinstance(shard, str):
            raise TypeError(f"shard must be a str such as '0/8', got {shard!r}")
        args += ["--shard", shard]
    return args


@dataclass(frozen=True, eq=False)
class Run:
    """The test scores of a finished run, with its spec.

    Attributes
    ----------
    spec : dict
        From :func:`experiment_spec`.
    scores : numpy.ndarray
        float32 ``(n_test, k*d, C)``, columns in model-id order.
    sizes : numpy.ndarray
        int64 ``(k*d,)``: the number of training samples of each model.
    path : pathlib.Path
        The run directory.
    """

    spec: dict[str, Any]
    scores: np.ndarray
    sizes: np.ndarray
    path: Path

    @property
    def k(self) -> int:
        """Partitions (DPA) or FA's ``k``."""
        return int(self.spec["k"])

    @property
    def d(self) -> int:
        """FA spread (1 for DPA)."""
        return int(self.spec["d"])

    @property
    def num_models(self) -> int:
        """Base models trained: ``k * d``."""
        return self.k * self.d

    @property
    def sample_epochs(self) -> int:
        """Training cost: samples seen by all models together, ``epochs * sum(sizes)``.

        ``d`` times that of DPA with the same ``k`` for FA.
        """
        return int(self.spec["train"]["epochs"]) * int(self.sizes.sum())


def train_run(
    root: str | Path,
    dataset: Any,
    spec: dict[str, Any],
    *,
    chunk: int | None = None,
    device: str | None = None,
    progress: bool = False,
) -> Run:
    """Train (or resume, or just load) the run ``spec`` under ``root`` and load it.

    Serves the DPA/FA experiment chapter. The run directory is
    ``root / run_name(spec)``; models already stored there (by an earlier call or by
    ``python -m ldcbook train`` with the same spec) are not retrained. Training goes
    through :func:`ldcbook.store.run_training` with
    :func:`ldcbook.ensemble.fit_scores`, exactly as the CLI does.

    Parameters
    ----------
    root : str or path-like
        Directory of run directories.
    dataset : ldcbook.data.Dataset
        The data named by ``spec["dataset"]``.
    spec : dict
        From :func:`experiment_spec`.
    chunk : int, optional
        Models trained together per call (default: all ``k*d``); a killed run
        resumes at chunk granularity.
    device : str, optional
        Training device (default: CUDA when available); not part of the experiment.
    progress : bool
        Progress bars (tqdm) over chunks and steps.

    Returns
    -------
    Run

    Raises
    ------
    ValueError
        If the dataset is not the one the spec names, or the run directory holds
        another run.
    """
    from ldcbook import store
    from ldcbook.ensemble import TrainConfig
    from ldcbook.partition import partitions

    spec = _check_spec(spec)
    if getattr(dataset, "name", None) != spec["dataset"]:
        raise ValueError(
            f"dataset must be the {spec['dataset']!r} data of the spec, "
            f"got {getattr(dataset, 'name', type(dataset).__name__)!r}"
        )
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    parts = partitions(dataset, spec["k"], spec["d"], spec["shifts"])
    path = Path(root) / run_name(spec)
    spec = prepare_spec(path, spec, dataset, device)
    runtime = TrainConfig.from_dict(spec["train"]).replace(device=device)

    train_fn = fit_and_keep(runtime, progress, path)
    chunk = len(parts) if chunk is None else check_int("chunk", chunk, min_value=1)
    run = store.run_training(path, dataset, parts, spec, chunk_size=chunk,
                             train_fn=train_fn, progress=progress)
    from ldcbook.own import clear_checkpoints

    clear_checkpoints(run)
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    return Run(spec=spec, scores=run.load_scores(), sizes=sizes, path=run.path)


def fit_and_keep(
    config: Any,
    progress: bool = False,
    path: str | Path | None = None,
    on_epoch: Any = None,
    checkpoint_every: float = 60.0,
) -> Any:
    """The ``train_fn`` of the built-in neural learners: scores and the models.

    ``(dataset, parts, model_ids, spec) -> (scores, weights)``: the scores are
    exactly those of :func:`ldcbook.ensemble.fit_scores` (the same training and
    evaluation calls); ``weights`` holds each model as a standalone module's
    ``state_dict`` with its partition's statistics
    (:func:`ldcbook.own.ensemble_weights`),
    which :func:`ldcbook.store.run_training` stores beside the scores, so that
    ``python -m ldcbook predict`` can run them on new inputs.

    With ``path`` (the run directory), each chunk's state is checkpointed there at
    the end of an epoch (``ckpt-chunk-*.npz``,
    :class:`ldcbook.ensemble.training.Checkpoint`) once ``checkpoint_every`` seconds
    have passed since the chunk started or was last checkpointed, so a killed run
    resumes from the last checkpointed epoch of the chunk it was in, with the bits of
    an uninterrupted run. (Epochs of a few seconds, as on the CPU scales, would spend
    more time writing checkpoints than a resume could save.)

    Parameters
    ----------
    config : ldcbook.ensemble.TrainConfig
        The runtime configuration (with the device).
    progress : bool
    path : str or path-like, optional
        The run directory, for the per-epoch checkpoints.
    on_epoch : callable, optional
        ``on_epoch(model_ids, epochs_done)`` after each checkpoint (tests stop a run
        there).
    checkpoint_every : float
        Seconds between checkpoints, ``>= 0``; 0 checkpoints every epoch.
    """
    import math

    if isinstance(checkpoint_every, bool) or not isinstance(
        checkpoint_every, (int, float)
    ) or not (math.isfinite(checkpoint_every) and checkpoint_every >= 0):
        raise ValueError("checkpoint_every must be a number of seconds >= 0, got "
                         f"{checkpoint_every!r}")
    from ldcbook.ensemble import predict_scores, train_ensemble
    from ldcbook.own import ensemble_weights

    def train_fn(ds: Any, parts: Any, ids: Any, _spec: Any) -> Any:
        checkpoint = None if path is None else _RunCheckpoint(
            path, ids, on_epoch, checkpoint_every)
        state = train_ensemble(ds, parts, ids, config, progress=progress,
                               checkpoint=checkpoint)
        return predict_scores(state, ds.x_test), ensemble_weights(state)

    return train_fn


class _RunCheckpoint:
    """A chunk's per-epoch state in its run directory (checksummed, atomic): the
    :class:`ldcbook.ensemble.training.Checkpoint` of :func:`fit_and_keep`."""

    def __init__(
        self, path: str | Path, ids: Any, on_epoch: Any, every: float = 0.0
    ) -> None:
        import hashlib
        import time

        self.ids = np.asarray(ids, dtype=np.int64)
        digest = hashlib.sha256(self.ids.astype("<i8").tobytes()).hexdigest()[:12]
        self.name = f"ckpt-chunk-{int(self.ids.min()):06d}-{digest}"
        self.path = Path(path)
        self.on_epoch = on_epoch
        self.every = float(every)
        self.last = time.monotonic()

    def load(self) -> dict[str, np.ndarray] | None:
        from ldcbook import store

        return store.RunDir.open(self.path).load_arrays(self.name)

    def due(self) -> bool:
        import time

        return time.monotonic() - self.last >= self.every

    def save(self, arrays: dict[str, np.ndarray]) -> None:
        import time

        from ldcbook import store

        self.last = time.monotonic()
        store.RunDir.open(self.path).save_arrays(
            self.name, {**arrays, "model_ids": self.ids})
        if self.on_epoch is not None:
            self.on_epoch(self.ids.tolist(), int(arrays["epoch"]))


def certify_run(run: Run, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Prediction and certified radius of every test point, as the CLI computes them.

    Serves the DPA/FA experiment chapter: ``"dpa"`` (plurality vote, ``d = 1``),
    ``"fa"`` (Finite Aggregation; equals DPA for ``d = 1``) or ``"roe"`` (Run-Off
    Election on DPA or FA), through :func:`certify_scores`, as ``python -m ldcbook
    certify`` does, so both report the same numbers. A model whose scores all tie
    abstains.

    Parameters
    ----------
    run : Run
        From :func:`train_run`.
    method : {"dpa", "fa", "roe"}

    Returns
    -------
    prediction, radius : numpy.ndarray
        int64 ``(n_test,)``; the radius counts insertions plus removals.
    """
    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run from train_run, got {type(run).__name__}")
    return certify_scores(run.scores, run.spec, method)


def certify_scores(
    scores: np.ndarray, spec: dict[str, Any], method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Prediction and certified radius of every test point of a run.

    DPA, FA or ROE as defined in ``ALGORITHMS.md``, through :mod:`ldcbook.certify`.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, k*d, C)`` in model-id order.
    spec : dict
        The run's configuration (``k``, ``d``, ``shifts``, ``learner``).
    method : {"dpa", "fa", "roe"}

    Returns
    -------
    prediction, radius : numpy.ndarray
    """
    from ldcbook import certify

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    num_classes = scores.shape[2]
    d = int(spec["d"])
    if method == "roe":
        if spec["learner"] == "rnn":
            raise ValueError("roe needs score vectors; an rnn run stores votes only")
        return certify.roe(scores, d=d, shifts=spec["shifts"] if d > 1 else None)
    preds = certify.votes_from_scores(scores)
    if method == "fa":
        return certify.fa(preds, num_classes, d, spec["shifts"])
    if d > 1:
        raise ValueError(
            f"this run has d = {d}: use --method fa (or roe); dpa needs d = 1"
        )
    return certify.dpa(certify.count_votes(preds, num_classes))


def rnn_features(x: Any, features: str) -> np.ndarray:
    """Features of the CLI's rNN runs: HOG (the paper's setting) or raw pixels.

    HOG with 9 orientations, 8x8-pixel cells and 3x3-cell blocks (324 values on 32x32
    RGB); images under 24 pixels (the digits) get cells of a quarter of their side.
    ``"pixels"``: the uint8 values over 255, flattened.
    """
    from ldcbook.neighbors import hog_features

    if features == "hog":
        side = min(x.shape[2:])
        cell = 8 if side >= 24 else max(1, side // 4)
        return hog_features(x, pixels_per_cell=cell)
    if features != "pixels":
        raise ValueError(f"features must be 'hog' or 'pixels', got {features!r}")
    arr = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
    return arr.reshape(len(arr), -1).astype(np.float32) / 255


def rnn_train_fn(
    dataset: Any, features: str, radius: float, train_feats: Any = None
) -> Any:
    """The ``train_fn`` of the CLI's rNN runs (:func:`ldcbook.store.run_training`).

    Each model is the rNN of its own partition, ``radius`` its ball; its scores are
    one-hot rows (:func:`one_hot_scores`), zero where its ball is empty.
    ``train_feats`` may pass the training features already computed.
    """
    from ldcbook.neighbors import rnn_predictions

    cache: dict[str, np.ndarray] = {}
    if train_feats is not None:
        cache["train"] = np.asarray(train_feats)

    def train_fn(ds: Any, parts: Any, ids: Any, _spec: Any) -> np.ndarray:
        if "train" not in cache:
            cache["train"] = rnn_features(ds.x_train, features)
        if "test" not in cache:
            cache["test"] = rnn_features(ds.x_test, features)
        preds = rnn_predictions(cache["train"], ds.y_train.numpy(),
                                [parts[i] for i in np.asarray(ids)], cache["test"],
                                radius, ds.num_classes)
        return one_hot_scores(preds, ds.num_classes)

    return train_fn


def one_hot_scores(predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Score rows for vote-only learners: 1 for the predicted class, 0 elsewhere.

    How ``train --learner rnn`` stores the rNN base learners of LDC Section 7.3 in a
    run directory made for score arrays.

    An abstention (``-1``, an empty rNN ball) becomes a row of zeros, which
    :func:`ldcbook.ensemble.votes` reads back as ``-1``.

    Parameters
    ----------
    predictions : numpy.ndarray
        int ``(n_test, models)`` with values in ``[-1, num_classes)``.
    num_classes : int

    Returns
    -------
    numpy.ndarray
        float32 ``(n_test, models, num_classes)``.
    """
    predictions = np.asarray(predictions)
    out = np.zeros(predictions.shape + (num_classes,), dtype=np.float32)
    voted = predictions >= 0
    out[voted, predictions[voted]] = 1.0
    return out


def dpa_summary(run: Run, labels: Any) -> dict[str, float]:
    """The three numbers Chapter 7 tracks for a DPA run, named as its seed reference.

    ``"base accuracy"`` (mean over the base models), ``"DPA accuracy"`` (the
    plurality vote's clean accuracy) and ``"median radius"``
    (:func:`ldcbook.certify.median_radius` of the DPA certificate). Serves the chapter
    and ``tools/seed_spread.py``, which must compute them the same way.

    Parameters
    ----------
    run : Run
        A DPA run (``d = 1``).
    labels : array_like of int
        Test labels.

    Returns
    -------
    dict
    """
    from ldcbook.certify import median_radius
    from ldcbook.ensemble import accuracy

    labels = np.asarray(labels)
    ensemble, per_model = accuracy(run.scores, labels)
    pred, radius = certify_run(run, "dpa")
    return {"base accuracy": float(per_model.mean()), "DPA accuracy": float(ensemble),
            "median radius": float(median_radius(pred, radius, labels))}


def matched_pairs(
    plain: dict[int, Run],
    rich: dict[int, Run],
    labels: Any,
    *,
    tolerance: float,
    levels: tuple[float, ...] = (0.9, 0.8, 0.7, 0.5),
) -> tuple[Any, dict[int, tuple[Any, Any]]]:
    """The paper's Figure 2: each plain ``k`` against the rich ``k'`` that matches it.

    Serves Chapter 7. For every ``k`` of ``plain``, ``k'`` is the key of ``rich``
    whose mean base accuracy is closest to plain ``k``'s; the pair is kept when
    ``k' > k`` and the accuracies differ by at most ``tolerance``. For each pair the
    table gives ``k'``, the base-accuracy and clean-accuracy gaps (rich minus plain),
    the ratio of the radii at which the two DPA certified-accuracy curves still reach
    each level (:func:`ldcbook.certify.radius_at_level`; blank where the plain curve
    holds the level only at size 0), and the radius-per-partition parity
    ``(r'/k') / (r/k)`` at the median.

    Parameters
    ----------
    plain, rich : dict of int to Run
        DPA runs by ``k`` (from :func:`train_run`).
    labels : array_like of int
        Test labels.
    tolerance : float
        Largest base-accuracy gap of a matched pair.
    levels : tuple of float
        Certified-accuracy levels.

    Returns
    -------
    table : pandas.DataFrame
        One row per kept ``k``.
    certs : dict
        ``k -> ((prediction, radius) plain, (prediction, radius) rich)``.
    """
    import pandas as pd

    from ldcbook.certify import radius_at_level
    from ldcbook.ensemble import accuracy

    labels = np.asarray(labels)
    acc = {name: {k: float(accuracy(r.scores, labels)[1].mean())
                  for k, r in runs.items()}
           for name, runs in (("plain", plain), ("rich", rich))}
    rows, certs = {}, {}
    for k in sorted(plain):
        k_aug = min(rich, key=lambda j: (abs(acc["rich"][j] - acc["plain"][k]), j))
        gap = acc["rich"][k_aug] - acc["plain"][k]
        if k_aug <= k or abs(gap) > tolerance:
            continue
        certs[k] = (certify_run(plain[k], "dpa"), certify_run(rich[k_aug], "dpa"))
        (p0, _), (p1, _) = certs[k]
        row: dict[str, float] = {
            "k'": k_aug, "base accuracy gap": gap,
            "clean gap": float(np.mean(p1 == labels) - np.mean(p0 == labels))}
        radii = {}
        for level in levels:
            a, b = (radius_at_level(p, r, labels, level) for p, r in certs[k])
            radii[level] = (a, b)
            row[f"ratio at {level}"] = b / a if a > 0 else np.nan
        a, b = radii[0.5] if 0.5 in radii else (np.nan, np.nan)
        row["radius/k parity"] = (b / k_aug) / (a / k) if a > 0 else np.nan
        rows[k] = row
    columns = ["k'", "base accuracy gap", "clean gap",
               *(f"ratio at {level}" for level in levels), "radius/k parity"]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    return table.rename_axis("k"), certs


def seed_comparison(
    values: dict[str, float], reference: dict[str, Any], *, family_alpha: float = 0.01
) -> tuple[Any, float]:
    """This run's numbers against other training seeds: a table and the threshold.

    Serves Chapter 7 ("How much of this is the seed?"). ``reference`` maps each
    number's name (``"learner/k=K/quantity"``) to ``{"values": [...]}`` over seeds
    other than this run's (``tools/seed_spread.py``). The standard deviation of each
    quantity at each ``k`` is pooled over the learners (more degrees of freedom than
    six seeds give one number; the spread depends on ``k`` far more than on the
    learner), floored at 0.001 for accuracies (one test point in a thousand) and 0.5
    for radii (integers); ``z`` is this run's distance from the seed mean in those
    units. The threshold is the two-sided
    quantile of Student's t (pooled degrees of freedom) at ``family_alpha`` divided by
    the number of comparisons (Bonferroni), times ``sqrt(1 + 1/n)`` for a new run
    against the mean of ``n`` seeds: an independent run exceeds it somewhere with
    probability at most ``family_alpha``.

    Parameters
    ----------
    values : dict of str to float
        This run's numbers.
    reference : dict
        The ``"numbers"`` of the reference file.
    family_alpha : float
        Family-wise false-alarm rate.

    Returns
    -------
    table : pandas.DataFrame
        ``this run``, ``seed mean``, ``seed sd`` (pooled), ``z``; sorted by ``|z|``,
        largest first. Empty if no name is in ``reference``.
    threshold : float
        The largest ``|z|`` an independent run reaches with probability
        ``1 - family_alpha``; ``nan`` for an empty table.
    """
    import pandas as pd
    from scipy import stats

    keys = [key for key in values if key in reference]
    columns = ["this run", "seed mean", "seed sd", "z"]
    if not keys:
        return pd.DataFrame(columns=columns), float("nan")
    groups: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        _, k, quantity = key.split("/", 2)
        groups.setdefault((k, quantity), []).append(key)
    rows, dof = {}, 0
    n_seeds = min(len(reference[key]["values"]) for key in keys)
    for (_, quantity), members in groups.items():
        samples = [np.asarray(reference[key]["values"], dtype=float) for key in members]
        pooled = float(np.sqrt(np.mean([np.var(v, ddof=1) for v in samples])))
        dof += sum(len(v) - 1 for v in samples)
        floor = 0.5 if quantity.endswith("radius") else 0.001
        sd = max(pooled, floor)
        for key, v in zip(members, samples):
            rows[key] = {"this run": float(values[key]), "seed mean": float(v.mean()),
                         "seed sd": sd}
    table = pd.DataFrame.from_dict(rows, orient="index")[columns[:3]]
    table["z"] = (table["this run"] - table["seed mean"]) / table["seed sd"]
    table = table.reindex(table["z"].abs().sort_values(ascending=False).index)
    alpha = family_alpha / len(table)
    threshold = float(stats.t.ppf(1 - alpha / 2, dof / len(groups))
                      * np.sqrt(1 + 1 / n_seeds))
    return table, threshold


# ----------------------------------------------------------------------------------
# The paper's grid (Section 7), and its shrunk copy for the end-to-end tests

FULL_DATASET_VAR = "LDCBOOK_FULL_DATASET"
"""Environment variable naming the dataset of Chapter 7's full scale: ``cifar10``
(the default) or ``gtsrb``; the two halves of the paper's grid are separate runs."""

FULL_DATASETS: tuple[str, ...] = ("cifar10", "gtsrb")
"""Datasets of the paper's Section 7 grid (:func:`paper_grid`)."""

# Section 7 of Wang, Levine & Feizi (NeurIPS 2022) and its abstract: the augmented
# learners "double and triple the certified robustness of DPA on CIFAR-10 and GTSRB"
# by matching the baseline's base accuracy with about a half (CIFAR-10) and a third
# (GTSRB) of the data, so DPA runs with about 2x (CIFAR-10) and 3x (GTSRB) the
# baseline's k: baseline k in {50, 100, 250} against DPA_aug0 (AutoAugment, CIFAR-10
# policy) and DPA_aug1 (ImageNet policy) at k in {100, 200, 500} on CIFAR-10; baseline
# k in {50, 100} against the SVHN policy at k in {150, 300} on GTSRB (the reference
# scripts FiniteAggregation_train_{cifar_nin_autoaug_cifar, cifar_nin_autoaug_imagenet,
# gtsrb_nin_autoaug_svhn}.py of github.com/wangwenxiao/FiniteAggregation take k as an
# argument and fix no grid). Each augmented learner is also trained at the baseline's
# k = aug_k (100), where the two learners are compared at the same partition size.
# FA: k = 50, d = 16, the FA paper's largest spread on CIFAR-10 and GTSRB.
_PAPER_GRID: dict[str, dict[str, Any]] = {
    "cifar10": dict(
        ks=[50, 100, 250], fa=(50, 16), aug_k=100, aug_ks=[100, 200, 500],
        augmented={"aug0": "autoaugment-cifar10", "aug1": "autoaugment-imagenet"},
        sizes=[5, 10, 25, 50, 100],
    ),
    "gtsrb": dict(
        ks=[50, 100], fa=(50, 16), aug_k=100, aug_ks=[100, 150, 300],
        augmented={"aug": "autoaugment-svhn"}, sizes=[5, 10, 20, 30, 50],
    ),
}


def full_dataset() -> str:
    """The dataset of Chapter 7's full scale, read from ``LDCBOOK_FULL_DATASET``.

    Returns
    -------
    str
        ``"cifar10"`` when the variable is unset or empty, else its value.

    Raises
    ------
    ValueError
        If the variable names anything other than ``cifar10`` or ``gtsrb``.
    """
    from ldcbook.config import env_choice

    return env_choice(FULL_DATASET_VAR, FULL_DATASETS, "cifar10")


def paper_grid(dataset: str) -> dict[str, Any]:
    """The runs of the paper's Section 7 on one dataset (Chapter 7's full scale).

    Parameters
    ----------
    dataset : {"cifar10", "gtsrb"}

    Returns
    -------
    dict
        ``dataset``; ``learner`` (``"nin"``); ``ks``, the baseline's numbers of
        partitions; ``fa``, FA's ``(k, d)``; ``baseline``, the baseline's schedule
        (keyword arguments of :func:`experiment_spec`); ``augmented``, the LDC
        augmented learners by the paper's name (``"aug0"``, ``"aug1"`` on CIFAR-10,
        ``"aug"`` on GTSRB), each a schedule; ``aug_ks``, their numbers of partitions
        (the baseline's ``aug_k`` and the paper's about 2x or 3x the baseline's);
        ``aug_k``; ``sizes``, attack sizes of the certified-accuracy tables. A fresh
        copy: callers may change it.

    Raises
    ------
    ValueError
        If ``dataset`` is not part of the paper's grid.
    """
    import copy

    if dataset not in _PAPER_GRID:
        raise ValueError(f"dataset must be one of {FULL_DATASETS}, got {dataset!r}")
    grid = copy.deepcopy(_PAPER_GRID[dataset])
    grid["augmented"] = {name: dict(schedule="ldc", augment=policy)
                         for name, policy in grid["augmented"].items()}
    return dict(dataset=dataset, learner="nin", baseline=dict(schedule="baseline"),
                **grid)


def shrink_grid(grid: dict[str, Any], *, n_test: int = 24) -> dict[str, Any]:
    """A grid of the same shape at a tiny size: the code path of the full scale in
    about a minute on a CPU (``LDCBOOK_SHRINK=1``, :func:`ldcbook.config.shrunk`).

    The distinct numbers of partitions of the grid (baseline, augmented and FA's),
    sorted, become 2, 3, 4, ... in the same order, so that every relation between them
    is kept (the augmented learners' ``k`` larger than the baseline's, ``aug_k`` in
    both lists); each attack size ``B`` becomes ``max(1, round(B * 2 / k_min))``
    (``k_min``, the grid's smallest ``k``, becomes 2), duplicates merged. FA's spread
    is 2; every schedule trains 1 epoch in batches of 16 (the baseline's 128 would
    pad each model's few samples to 128: ensembles train in fixed shapes) and
    evaluates ``n_test`` test points per pass; ``n_test`` test points are kept.
    Nothing else changes: the learner, the augmentations, the schedules' other
    settings.

    Parameters
    ----------
    grid : dict
        From :func:`paper_grid` (or of its shape).
    n_test : int
        ``>= 1``: the test points kept (``grid["n_test"]`` of the result).

    Returns
    -------
    dict
        A new grid; ``n_test`` added.
    """
    import copy

    n_test = check_int("n_test", n_test, min_value=1)
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict from paper_grid, got {type(grid)}")
    missing = [key for key in ("ks", "fa", "aug_ks", "aug_k", "sizes", "baseline",
                               "augmented") if key not in grid]
    if missing:
        raise ValueError(f"grid lacks {missing}: build it with paper_grid")
    every = sorted({*grid["ks"], *grid["aug_ks"], grid["aug_k"], grid["fa"][0]})
    rank = {k: 2 + i for i, k in enumerate(every)}
    out = copy.deepcopy(grid)
    out["ks"] = [rank[k] for k in grid["ks"]]
    out["aug_ks"] = [rank[k] for k in grid["aug_ks"]]
    out["aug_k"] = rank[grid["aug_k"]]
    out["fa"] = (rank[grid["fa"][0]], 2)
    out["sizes"] = sorted({max(1, round(b * 2 / every[0])) for b in grid["sizes"]})
    tiny = dict(epochs=1, batch_size=16, eval_batch_size=n_test)
    out["baseline"] = dict(grid["baseline"], **tiny)
    out["augmented"] = {name: dict(schedule, **tiny)
                        for name, schedule in grid["augmented"].items()}
    out["n_test"] = n_test
    return out

__all__ = [
    "DATASETS",
    "FULL_DATASETS",
    "FULL_DATASET_VAR",
    "LEARNER_CHOICES",
    "METHODS",
    "NEURAL_LEARNERS",
    "Run",
    "certify_run",
    "certify_scores",
    "cli_args",
    "dpa_summary",
    "experiment_spec",
    "fit_and_keep",
    "full_dataset",
    "matched_pairs",
    "one_hot_scores",
    "paper_grid",
    "prepare_spec",
    "rnn_features",
    "rnn_train_fn",
    "run_name",
    "seed_comparison",
    "shrink_grid",
    "train_run",
]
