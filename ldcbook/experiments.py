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

Layer: beside :mod:`ldcbook.cli`, at the top (it imports ensemble, store, certify and
the CLI's certificate dispatch).
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

NEURAL_LEARNERS: tuple[str, ...] = ("cnn", "mlp", "nin")
"""Learners with score vectors (the CLI's ``rnn`` runs are not covered here)."""

_OVERRIDES = ("augment", "epochs", "batch_size", "lr")


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
    augment, epochs, batch_size, lr : optional
        Overrides of the schedule, as on the command line.

    Returns
    -------
    dict
        JSON-ready: ``dataset``, ``k``, ``d``, ``shifts``, ``learner``, ``seed``,
        ``scale``, ``schedule`` and ``train`` (``TrainConfig.to_dict()``, with
        ``device`` and ``group_size`` left ``None``: they do not change the
        experiment).

    Raises
    ------
    TypeError, ValueError
        On an unknown dataset, learner, schedule or scale, or invalid numbers.
    """
    from ldcbook.certify import fa_shifts
    from ldcbook.data import DATASETS
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
    values = dict(zip(_OVERRIDES, (augment, epochs, batch_size, lr)))
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
    from ldcbook.ensemble import TrainConfig, fit_scores
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
    runtime = TrainConfig.from_dict(spec["train"]).replace(device=device)

    def train_fn(ds: Any, parts_: Any, ids: Any, _spec: Any) -> np.ndarray:
        return fit_scores(ds, parts_, ids, runtime, progress=progress)

    chunk = len(parts) if chunk is None else check_int("chunk", chunk, min_value=1)
    path = Path(root) / run_name(spec)
    run = store.run_training(path, dataset, parts, spec, chunk_size=chunk,
                             train_fn=train_fn, progress=progress)
    sizes = np.array([len(p) for p in parts], dtype=np.int64)
    return Run(spec=spec, scores=run.load_scores(), sizes=sizes, path=run.path)


def certify_run(run: Run, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Prediction and certified radius of every test point, as the CLI computes them.

    Serves the DPA/FA experiment chapter: ``"dpa"`` (plurality vote, ``d = 1``),
    ``"fa"`` (Finite Aggregation; equals DPA for ``d = 1``) or ``"roe"`` (Run-Off
    Election on DPA or FA), through :func:`ldcbook.cli.certify_run`, so the chapter
    and ``python -m ldcbook certify`` report the same numbers. A model whose scores
    all tie abstains.

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
    from ldcbook import cli

    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run from train_run, got {type(run).__name__}")
    if method not in cli.METHODS:
        raise ValueError(f"method must be one of {cli.METHODS}, got {method!r}")
    return cli.certify_run(run.scores, run.spec, method)


__all__ = [
    "NEURAL_LEARNERS",
    "Run",
    "certify_run",
    "cli_args",
    "experiment_spec",
    "run_name",
    "train_run",
]
