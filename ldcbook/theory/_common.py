"""Internals shared by the modules of :mod:`ldcbook.theory`.

* :func:`monte_carlo` (with :func:`chunks` and :func:`mean_se`): run a simulation in
  memory-bounded batches of trials and return the mean of each per-trial statistic
  with its standard error (Chapters 2 and 3);
* :func:`binomial_se`: the standard error ``sqrt(p (1 - p) / trials)`` of a simulated
  probability (Chapters 1 and 5);
* :func:`seen_label`: whether ``x_0`` occurs in each sampled training set, and the label
  it carries there, for the learners that memorise it (Chapters 2 and 3);
* :func:`log_fraction` and :func:`first_reaching`: exact sample counts, by logarithms
  of fractions that do not underflow and by bisection on a monotone criterion
  (Chapters 2 to 5);
* :func:`check_learner` and :func:`check_target`: checks of a ``learner`` argument
  against a module's list, and of a target accuracy or advantage in ``(low, 1)``.

Everything here trusts its callers; the public functions validate their inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ldcbook._checks import check_real

CHUNK_CELLS = 1 << 21
"""Trials per Monte Carlo batch times the widest per-trial array."""


def check_learner(learner: Any, allowed: tuple[str, ...]) -> str:
    """Return ``learner`` if it is one of ``allowed``, else raise ``ValueError``."""
    if learner not in allowed:
        raise ValueError(f"learner must be one of {allowed}, got {learner!r}")
    return learner


def check_target(name: str, value: Any, low: float = 0.0) -> float:
    """Return ``value`` as a float in the open interval ``(low, 1)``, else raise."""
    return check_real(name, value, low=low, high=1.0, low_open=True, high_open=True)


def chunks(trials: int, width: int) -> list[int]:
    """Batch sizes summing to ``trials``, each at most ``CHUNK_CELLS // width``."""
    size = max(1, CHUNK_CELLS // max(width, 1))
    return [min(size, trials - start) for start in range(0, trials, size)]


def mean_se(total: float, total_sq: float, trials: int) -> tuple[float, float]:
    """Mean and its standard error from the sum and the sum of squares of a sample."""
    mean = total / trials
    var = max(total_sq / trials - mean * mean, 0.0)
    return float(mean), float(math.sqrt(var / trials))


def monte_carlo(
    trials: int, width: int, batch: Callable[[int], Sequence[np.ndarray]]
) -> tuple[float, ...]:
    """Means over ``trials`` of per-trial statistics, each with its standard error.

    ``batch(t)`` simulates ``t`` independent trials and returns one array of ``t``
    values per statistic. It is called on consecutive batches of at most
    ``CHUNK_CELLS // width`` trials, which bounds the memory of a batch. Integer-valued
    statistics (counts, indicators) are summed exactly.

    Returns
    -------
    tuple of float
        ``(mean_0, se_0, mean_1, se_1, ...)``, in the order of the statistics.
    """
    sums: Any = 0.0  # then one row per statistic: its sum and its sum of squares
    for t in chunks(trials, width):
        v = np.array(batch(t), dtype=np.float64)  # one row per statistic
        sums = sums + np.stack([v.sum(axis=1), (v * v).sum(axis=1)], axis=1)
    return tuple(x for row in sums for x in mean_se(row[0], row[1], trials))


def binomial_se(p: Any, trials: int) -> Any:
    """Standard error ``sqrt(p (1 - p) / trials)`` of a frequency ``p`` (or array)."""
    return np.sqrt(p * (1 - p) / trials)


def seen_label(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether input 0 occurs in each training set, and its first label there.

    ``X`` and ``Y`` hold ``t`` training sets of ``n`` samples, shape ``(t, n)``; where
    input 0 does not occur, the label returned is meaningless (0 when ``n == 0``).
    """
    t, n = X.shape
    hit = X == 0
    label = Y[np.arange(t), hit.argmax(axis=1)] if n else np.zeros(t, dtype=np.int64)
    return hit.any(axis=1), label


def log_fraction(q: Fraction) -> float:
    """``log(q)`` of a positive fraction, without float underflow for tiny ``q``."""
    return math.log(q.numerator) - math.log(q.denominator)


def first_reaching(reaches: Callable[[int], bool], lo: int, hi: int) -> int:
    """Smallest ``n`` in ``(lo, hi]`` with ``reaches(n)``, by bisection.

    ``reaches(hi)`` is taken to hold and no ``n <= lo`` to qualify: ``reaches`` is
    evaluated only strictly between ``lo`` and ``hi``, at the successive midpoints.
    """
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reaches(mid):
            hi = mid
        else:
            lo = mid
    return hi
