"""The intuition behind the Lethal Dose Conjecture (Chapter 1 of the book).

A learner that needs ``n`` clean samples to be accurate uses, in effect, ``n`` of the
``N`` training samples. If ``N / n`` of the ``N`` samples are poisoned, a uniformly
random subset of ``n`` samples contains at least one poison with probability close to
``1 - 1/e``: a constant, whatever the size of the problem.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable

import numpy as np
from scipy import stats

from ldcbook._checks import check_int, check_seed
from ldcbook.theory._common import binomial_se


def _check_draw(N: int, n: int, poisons: int) -> tuple[int, int, int]:
    N = check_int("N", N, min_value=1)
    n = check_int("n", n, min_value=0, max_value=N)
    poisons = check_int("poisons", poisons, min_value=0, max_value=N)
    return N, n, poisons


def hit_probability(N: int, n: int, poisons: int) -> float:
    """Probability that ``n`` of ``N`` samples drawn without replacement hold a poison.

    This is ``1 - C(N - poisons, n) / C(N, n)``, the complement of the hypergeometric
    probability of drawing no poison (Chapter 1, the intuition of the conjecture).

    Parameters
    ----------
    N : int
        Training-set size, ``N >= 1``.
    n : int
        Samples drawn, ``0 <= n <= N``.
    poisons : int
        Poisoned samples among the ``N``, ``0 <= poisons <= N``.

    Returns
    -------
    float
        The probability, in ``[0, 1]``.
    """
    N, n, poisons = _check_draw(N, n, poisons)
    return float(stats.hypergeom(N, poisons, n).sf(0))


def simulate_hits(
    N: int, n: int, poisons: int, trials: int, seed: int | np.random.Generator
) -> tuple[float, float]:
    """Monte Carlo estimate of :func:`hit_probability` with its standard error.

    Each trial draws ``n`` of ``N`` samples without replacement and records whether one
    of the ``poisons`` poisoned samples is among them (Chapter 1).

    Parameters
    ----------
    N, n, poisons : int
        As in :func:`hit_probability`.
    trials : int
        Number of independent draws, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    estimate, standard_error : float
        The fraction of trials that drew a poison, and ``sqrt(p (1 - p) / trials)``.
    """
    N, n, poisons = _check_draw(N, n, poisons)
    trials = check_int("trials", trials, min_value=1)
    rng = check_seed("seed", seed)
    drawn = rng.hypergeometric(poisons, N - poisons, n, size=trials) if n else np.zeros(
        trials, dtype=np.int64
    )
    hits = drawn > 0
    estimate = float(hits.mean())
    return estimate, float(binomial_se(estimate, trials))


def limit_hit_probability() -> float:
    """The limit ``1 - 1/e`` of :func:`hit_probability`.

    It is reached with ``poisons = N / n`` as ``N, n -> inf`` (Chapter 1).
    """
    return float(1 - np.exp(-1))


def attack_size(clean: Iterable[Hashable], poisoned: Iterable[Hashable]) -> int:
    """Size of the symmetric difference ``|D ⊖ D'|`` of two training multisets.

    This is how the paper counts an attack (Chapter 1): every insertion and every
    removal costs 1, so changing one sample's image or label costs 2.

    Parameters
    ----------
    clean, poisoned : iterable of hashable
        The clean training set ``D`` and the poisoned one ``D'``, as multisets
        (repeated samples count with their multiplicity).

    Returns
    -------
    int
        ``sum over samples of |count in D - count in D'|``.
    """
    for name, value in (("clean", clean), ("poisoned", poisoned)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            kind = type(value).__name__
            raise TypeError(f"{name} must be an iterable of samples, got {kind}")
    a, b = Counter(clean), Counter(poisoned)
    return sum(((a - b) + (b - a)).values())
