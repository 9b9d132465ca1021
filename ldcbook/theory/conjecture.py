"""The intuition behind the Lethal Dose Conjecture (Chapter 1 of the book).

A learner that needs ``n`` clean samples to be accurate uses, in effect, ``n`` of the
``N`` training samples. If ``N / n`` of the ``N`` samples are poisoned, a uniformly
random subset of ``n`` samples contains at least one poison with probability close to
``1 - 1/e``: a constant, whatever the size of the problem.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
from scipy import stats

from ldcbook._checks import check_array, check_int, check_seed
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


def simulate_draws(
    N: int, n: int, poisons: int, trials: int, seed: int | np.random.Generator
) -> np.ndarray:
    """Poisoned and clean samples among ``n`` of ``N`` drawn without replacement.

    Each trial is a learner's draw of ``n`` of the ``N`` training samples, of which
    ``poisons`` are poisoned (Chapter 1, the intuition of the conjecture). The two
    counts are returned separately: the number of poisons drawn alone cannot tell the
    learner's ``n`` from the attacker's ``poisons`` (its law is symmetric in the two),
    while the clean count can (see :func:`draw_z_scores`).

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
    numpy.ndarray
        int64, shape ``(trials, 2)``: column 0 the poisoned samples drawn, column 1
        the clean ones; each row sums to ``n``.
    """
    N, n, poisons = _check_draw(N, n, poisons)
    trials = check_int("trials", trials, min_value=1)
    rng = check_seed("seed", seed)
    colours = np.array([poisons, N - poisons], dtype=np.int64)
    return rng.multivariate_hypergeometric(colours, n, size=trials).astype(np.int64)


def simulate_hits(
    N: int, n: int, poisons: int, trials: int, seed: int | np.random.Generator
) -> tuple[float, float]:
    """Monte Carlo estimate of :func:`hit_probability` with its standard error.

    Each trial draws ``n`` of ``N`` samples without replacement
    (:func:`simulate_draws`) and records whether one of the ``poisons`` poisoned
    samples is among them (Chapter 1).

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
    hits = simulate_draws(N, n, poisons, trials, seed)[:, 0] > 0
    estimate = float(hits.mean())
    return estimate, float(binomial_se(estimate, len(hits)))


def _z(estimate: float, exact: float, se: float) -> float:
    if se > 0:
        return float((estimate - exact) / se)
    return 0.0 if np.isclose(estimate, exact) else math.copysign(math.inf,
                                                                 estimate - exact)


def draw_z_scores(draws: Any, N: int, n: int, poisons: int) -> dict[str, float]:
    """Compare simulated draws with the exact laws for ``(N, n, poisons)``.

    Two statistics of the draws of :func:`simulate_draws` are set beside their exact
    values, computed with scipy's hypergeometric law (Chapter 1):

    * the probability of drawing at least one poison, :func:`hit_probability`. It is
      symmetric in ``n`` and ``poisons``, ``C(N - p, n) / C(N, n) = C(N - n, p) /
      C(N, p)``, so draws made with the two swapped agree with it too;
    * the mean number of clean samples drawn, ``n (N - poisons) / N`` (scipy's law
      with the clean samples as successes). It is not symmetric: draws with ``n`` and
      ``poisons`` swapped miss it by ``n - poisons`` on average.

    Each z-score is ``(simulated - exact) / se`` with the standard error of the exact
    law (``sqrt(p (1 - p) / trials)``, and the exact standard deviation of the clean
    count over ``sqrt(trials)``); when that is 0 the z-score is 0 if the simulation
    matches and infinite otherwise.

    Parameters
    ----------
    draws : array_like of int, shape (trials, 2)
        Poisoned and clean samples drawn per trial, as returned by
        :func:`simulate_draws`.
    N, n, poisons : int
        The setting the draws are meant to follow, as in :func:`hit_probability`.

    Returns
    -------
    dict of str to float
        ``"P[hit] exact"``, ``"P[hit] simulated"``, ``"z (hit)"``,
        ``"E[clean] exact"``, ``"E[clean] simulated"``, ``"z (clean)"``.

    Raises
    ------
    TypeError
        If ``draws`` is not an integer array or a size not an int.
    ValueError
        If ``draws`` is not ``(trials, 2)`` with ``trials >= 1`` or holds negative
        counts, or the sizes are out of range.
    """
    N, n, poisons = _check_draw(N, n, poisons)
    arr = check_array("draws", draws, ndim=2, kind="i", nonnegative=True)
    if arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(
            f"draws must have shape (trials, 2) with trials >= 1, got {arr.shape}"
        )
    trials = arr.shape[0]
    p_exact = hit_probability(N, n, poisons)
    p_sim = float((arr[:, 0] > 0).mean())
    with np.errstate(divide="ignore", invalid="ignore"):  # scipy's unused kurtosis
        mean, var = stats.hypergeom.stats(N, N - poisons, n, moments="mv")
    c_exact, c_sim = float(mean), float(arr[:, 1].mean())
    return {
        "P[hit] exact": p_exact,
        "P[hit] simulated": p_sim,
        "z (hit)": _z(p_sim, p_exact, float(binomial_se(p_exact, trials))),
        "E[clean] exact": c_exact,
        "E[clean] simulated": c_sim,
        "z (clean)": _z(c_sim, c_exact, float(np.sqrt(var / trials))),
    }


def limit_hit_probability() -> float:
    """The limit ``1 - 1/e`` of :func:`hit_probability`.

    It is reached with ``poisons = N / n`` as ``N, n -> inf`` (Chapter 1).
    """
    return float(1 - np.exp(-1))


def attack_size(clean: Iterable[Hashable], poisoned: Iterable[Hashable]) -> int:
    """Size of the symmetric difference ``|D ⊖ D'|`` of two training multisets.

    This is how the paper counts the edits of one attack (Chapter 1): every insertion
    and every removal costs 1, so changing one sample's image or label costs 2. The
    paper's *attack size* of a transform ``T`` is the expectation of this count over
    the clean training set, ``E |T(D) ⊖ D|``, not its worst case.

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
