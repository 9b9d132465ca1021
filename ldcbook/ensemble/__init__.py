"""The training engine: every base model of a DPA/FA run, each on its own partition.

Four modules, in the order a reader meets them:

:mod:`ldcbook.ensemble.recipes`
    :class:`TrainConfig` and the paper's schedules (:func:`baseline`, :func:`ldc`,
    :func:`preset`), and :func:`resolve_group_size`.
:mod:`ldcbook.ensemble.schedule`
    Which models share a kernel call, in which slot, at which step: a function of
    model ids and the configuration only (why, and how it is tested:
    :func:`ldcbook.ensemble.schedule.record_calls`).
:mod:`ldcbook.ensemble.training`
    :func:`train_ensemble` (batched, by groups) and :func:`train_one_at_a_time`
    (standard modules, the reference).
:mod:`ldcbook.ensemble.evaluation`
    :func:`predict_scores` in fixed shapes, :func:`fit_scores`, :func:`votes` and
    :func:`accuracy`.
"""

from ldcbook.ensemble.evaluation import accuracy, fit_scores, predict_scores, votes
from ldcbook.ensemble.recipes import (
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    baseline,
    ldc,
    preset,
    resolve_group_size,
)
from ldcbook.ensemble.schedule import GroupLayout, record_calls
from ldcbook.ensemble.training import (
    STD_FLOOR,
    EnsembleState,
    init_models,
    model_seed,
    normalise,
    numerics,
    train_ensemble,
    train_one_at_a_time,
)

__all__ = [
    "PRECISIONS",
    "SCHEDULES",
    "STD_FLOOR",
    "EnsembleState",
    "GroupLayout",
    "TrainConfig",
    "accuracy",
    "baseline",
    "fit_scores",
    "init_models",
    "ldc",
    "model_seed",
    "normalise",
    "numerics",
    "predict_scores",
    "preset",
    "record_calls",
    "resolve_group_size",
    "train_ensemble",
    "train_one_at_a_time",
    "votes",
]
