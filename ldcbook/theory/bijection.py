"""Bijection Uncovering: Lemmas 1 and 2 of the paper, exactly and by simulation.

The task (Section 4.2.1 of the paper, Chapter 2 of the book): ``k`` inputs
``x_0, ..., x_{k-1}`` and ``k`` labels; the labelling ``g`` is a bijection, fixed and
unknown to the learner; a training set holds ``n`` samples ``(x, g(x))`` with ``x``
uniform over the inputs; the learner ``f`` is judged at the fixed input ``x_0`` (index 0
here).

A learner is *plausible* when relabelling the training set by a permutation ``sigma`` of
the labels relabels its prediction: ``f_{sigma(D)}(x_0)`` has the law of
``sigma(f_D(x_0))``. A plausible learner has the same accuracy under every bijection
(:func:`accuracy_for_bijection` checks this by enumeration), so the simulations may draw
the bijection at random. The best plausible learner answers the label of ``x_0`` when it
was seen and otherwise a uniformly random label *not seen* in the training set; its
accuracy

    A*(k, n) = 1 - (1 - 1/k)^n + (1 - C_k(n)) / k,

with ``C_k(n)`` the probability that all ``k`` inputs were seen, is computed exactly by
:func:`optimal_accuracy`. Lemma 1 of the paper bounds it by ``1 - (1 - 2/k)^n / 2``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from ldcbook._checks import check_array, check_int, check_seed
from ldcbook.theory._common import (
    check_learner,
    first_reaching,
    log_fraction,
    monte_carlo,
    seen_label,
)
from ldcbook.theory.memorization import check_tau, min_power_at_most, multiset_distance

LEARNERS: tuple[str, ...] = ("optimal", "memorise")
"""Plausible learners :func:`simulate_learner` and :func:`swap_attack` can run.

``"optimal"``
    the label of ``x_0`` if seen, else a uniformly random label not seen in the training
    set (the best plausible learner);
``"memorise"``
    the label of ``x_0`` if seen, else a uniformly random label among all ``k``.
"""

EXACT_LEARNERS: tuple[str, ...] = LEARNERS + ("first_unseen",)
"""Learners :func:`prediction_distribution` and :func:`accuracy_for_bijection` know.

The plausible ones of :data:`LEARNERS`, and ``"first_unseen"``: the label of ``x_0`` if
seen, else the *first* label (in the order of the label list, or the smallest index) not
seen in the training set. It is deterministic and not plausible: its accuracy depends
on the bijection.
"""


class SwapAttackResult(NamedTuple):
    """What :func:`swap_attack` measured: means over trials, with standard errors."""

    clean_accuracy: float
    """Fraction of trials in which the learner trained on ``D`` predicted ``y_0``."""
    clean_accuracy_se: float
    accuracy: float
    """Fraction of trials in which the learner trained on ``T(D)`` predicted ``y_0``."""
    accuracy_se: float
    relabelled: float
    """Mean number of samples whose label the swap changed (the paper's count)."""
    relabelled_se: float
    symmetric_difference: float
    """Mean attack size ``|T(D) ⊖ D|`` of multisets (insertions plus removals)."""
    symmetric_difference_se: float


def _check_k(k: Any) -> int:
    return check_int("k", k, min_value=3)


def _surjections(k: int, n: int) -> int:
    """Number of sequences of length ``n`` over ``k`` symbols that use every symbol."""
    return sum((-1) ** j * math.comb(k, j) * (k - j) ** n for j in range(k + 1))


def all_seen_probability(k: int, n: int) -> Fraction:
    """Exact probability ``C_k(n)`` that ``n`` uniform draws see all ``k`` inputs.

    ``C_k(n) = sum_j (-1)^j C(k, j) (1 - j/k)^n`` by inclusion-exclusion; it enters the
    optimal accuracy of Bijection Uncovering (Chapter 2).

    Parameters
    ----------
    k : int
        Number of inputs, ``k >= 3``.
    n : int
        Number of draws, ``n >= 0``.

    Returns
    -------
    Fraction
    """
    k, n = _check_k(k), check_int("n", n, min_value=0)
    return Fraction(_surjections(k, n), k**n)


def optimal_accuracy(k: int, n: int) -> Fraction:
    """Exact accuracy at ``x_0`` of the best plausible learner given ``n`` samples.

    ``A*(k, n) = 1 - (1 - 1/k)^n + (1 - C_k(n)) / k`` (Chapter 2, the exact form of
    Lemma 1): ``x_0`` is seen with probability ``1 - (1 - 1/k)^n``; otherwise the
    learner guesses among the ``u`` unseen labels, right with probability ``1/u``, and
    by symmetry over the inputs ``E[1{x_0 unseen} / u] = P[some input unseen] / k``.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    n : int
        Number of clean training samples, ``n >= 0``.

    Returns
    -------
    Fraction
        Strictly increasing in ``n``.
    """
    k, n = _check_k(k), check_int("n", n, min_value=0)
    den = k ** (n + 1)
    num = den - k * (k - 1) ** n + k**n - _surjections(k, n)
    return Fraction(num, den)


def memorising_accuracy(k: int, n: int) -> Fraction:
    """Exact accuracy of the memorising learner: ``1 - (1 - 1/k)^(n + 1)``.

    It answers the label of ``x_0`` when seen and a uniformly random label among all
    ``k`` otherwise; it is plausible, so its sample count is an *upper* bound on the
    optimal one (Chapter 2, the logical direction of the conjecture).

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    n : int
        Number of clean training samples, ``n >= 0``.

    Returns
    -------
    Fraction
    """
    k, n = _check_k(k), check_int("n", n, min_value=0)
    return 1 - Fraction(k - 1, k) ** (n + 1)


def paper_bound(k: int, n: int) -> Fraction:
    """Lemma 1's upper bound ``1 - (1 - 2/k)^n / 2`` on a plausible learner's accuracy.

    With probability ``(1 - 2/k)^n`` neither ``x_0`` nor a second input ``x_1`` is seen;
    then swapping their labels leaves the training set unchanged, and a plausible
    learner is right at most half the time (Chapter 2).

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    n : int
        Number of clean training samples, ``n >= 0``.

    Returns
    -------
    Fraction
    """
    k, n = _check_k(k), check_int("n", n, min_value=0)
    return 1 - Fraction(k - 2, k) ** n / 2


def lemma1_samples(k: int, tau: Any) -> float:
    """Lemma 1's lower bound ``log(2 - 2 tau) / log(1 - 2/k)`` on the sample count.

    Any plausible learner right at ``x_0`` with probability at least ``tau`` needs at
    least this many samples (Chapter 2); the bound is non-positive for ``tau <= 1/2``.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    tau : Fraction, str or float
        Target accuracy in (0, 1).

    Returns
    -------
    float
    """
    k, tau = _check_k(k), check_tau(tau)
    return log_fraction(2 - 2 * tau) / math.log1p(-2 / k)


def paper_min_samples(k: int, tau: Any) -> int:
    """Smallest ``n`` with ``paper_bound(k, n) >= tau``: Lemma 1's bound, rounded up.

    Equals ``max(0, ceil(lemma1_samples(k, tau)))``, computed without rounding error
    (Chapter 2). It never exceeds :func:`min_samples`.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    tau : Fraction, str or float
        Target accuracy in (0, 1).

    Returns
    -------
    int
    """
    k, tau = _check_k(k), check_tau(tau)
    return min_power_at_most(Fraction(k - 2, k), 2 - 2 * tau)


def memorising_min_samples(k: int, tau: Any) -> int:
    """Smallest ``n`` with ``memorising_accuracy(k, n) >= tau``, exactly.

    An upper bound on :func:`min_samples`, below ``k log(1 / (1 - tau))`` (Chapter 2).

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    tau : Fraction, str or float
        Target accuracy in (0, 1).

    Returns
    -------
    int
    """
    k, tau = _check_k(k), check_tau(tau)
    return max(0, min_power_at_most(Fraction(k - 1, k), 1 - tau) - 1)


def min_samples(k: int, tau: Any) -> int:
    """Exact smallest ``n`` with ``optimal_accuracy(k, n) >= tau`` (Chapter 2).

    :func:`optimal_accuracy` is increasing in ``n`` and lies between
    ``memorising_accuracy`` and ``1 - (1 - 1/k)^n + 1/k``; both have exact closed-form
    thresholds, and a binary search on exact values closes the gap between them.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    tau : Fraction, str or float
        Target accuracy in (0, 1); ``"0.9"`` and ``0.9`` both mean exactly 9/10.

    Returns
    -------
    int
    """
    k, tau = _check_k(k), check_tau(tau)
    lo = min_power_at_most(Fraction(k - 1, k), 1 - tau + Fraction(1, k))
    hi = memorising_min_samples(k, tau)  # the answer lies in [lo, hi]
    return first_reaching(lambda n: optimal_accuracy(k, n) >= tau, lo - 1, hi)


def prediction_distribution(
    train: Iterable[tuple[Hashable, Hashable]],
    labels: Sequence[Hashable],
    x0: Hashable,
    learner: str = "optimal",
) -> dict[Hashable, Fraction]:
    """Exact law of a plausible learner's prediction at ``x0`` for one training set.

    Works with any names for inputs and labels, as in the paper's cat/dog example of
    plausibility (Chapter 2): relabelling ``train`` by a permutation of ``labels``
    relabels the returned distribution.

    Parameters
    ----------
    train : iterable of (input, label) pairs
        The training set; each input must carry a single label.
    labels : sequence of hashable
        The ``k >= 3`` distinct labels.
    x0 : hashable
        The test input.
    learner : {"optimal", "memorise", "first_unseen"}
        ``"optimal"`` guesses among the labels not seen in ``train`` when ``x0`` is
        unseen (among all labels if every label was seen, which a bijection excludes);
        ``"memorise"`` guesses among all labels; ``"first_unseen"`` answers the first
        label of ``labels`` not seen in ``train`` (not plausible).

    Returns
    -------
    dict
        Label -> probability, for the labels with positive probability.
    """
    check_learner(learner, EXACT_LEARNERS)
    labels = list(labels)
    if len(set(labels)) != len(labels) or len(labels) < 3:
        raise ValueError(f"labels must be at least 3 distinct labels, got {labels!r}")
    pairs = list(train)
    if any(not isinstance(p, tuple) or len(p) != 2 for p in pairs):
        raise TypeError("train must hold (input, label) pairs")
    if any(y not in labels for _, y in pairs):
        raise ValueError("every label in train must be one of labels")
    own = {y for x, y in pairs if x == x0}
    if len(own) > 1:
        raise ValueError(f"x0 carries several labels in train: {sorted(map(str, own))}")
    if own:
        return {own.pop(): Fraction(1)}
    seen = {y for _, y in pairs}
    pool = [y for y in labels if y not in seen] if learner != "memorise" else labels
    pool = pool or labels
    if learner == "first_unseen":
        return {pool[0]: Fraction(1)}
    return {y: Fraction(1, len(pool)) for y in pool}


def accuracy_for_bijection(
    g: Sequence[int] | np.ndarray, n: int, learner: str = "optimal"
) -> Fraction:
    """Exact accuracy at ``x_0`` under one fixed bijection, by enumeration.

    Every one of the ``k**n`` training sequences is listed, each of probability
    ``k**-n``, and the learner's chance of answering ``g[0]`` is added up exactly
    (Chapter 2). A plausible learner gets the same value under every bijection
    (:func:`optimal_accuracy` for ``"optimal"``, :func:`memorising_accuracy` for
    ``"memorise"``); ``"first_unseen"``, which is not plausible, does not.

    Parameters
    ----------
    g : array_like of int
        The bijection: ``g[x]`` is the label of input ``x``; a permutation of
        ``0, ..., k - 1`` with ``k >= 3``.
    n : int
        Number of training samples, ``>= 0``, with ``k**n <= 2**20``.
    learner : {"optimal", "memorise", "first_unseen"}
        The learner, as in :func:`prediction_distribution`.

    Returns
    -------
    Fraction

    Raises
    ------
    ValueError
        If ``g`` is not a permutation of ``0..k-1`` with ``k >= 3``, or the enumeration
        would exceed ``2**20`` sequences.
    """
    g = check_array("g", g, ndim=1, kind="i")
    k = g.size
    if k < 3 or not np.array_equal(np.sort(g), np.arange(k)):
        raise ValueError(f"g must be a permutation of 0..k-1 with k >= 3, got {g}")
    n = check_int("n", n, min_value=0)
    learner = check_learner(learner, EXACT_LEARNERS)
    if k**n > 2**20:
        raise ValueError(f"k**n = {k}**{n} sequences are too many to list (> 2**20)")
    X = np.indices((k,) * n).reshape(n, k**n).T  # every training sequence, one per row
    t = X.shape[0]
    present = np.zeros((t, k), dtype=bool)  # inputs seen, i.e. labels g[x] seen
    present[np.arange(t)[:, None], X] = True
    seen = present[:, 0]
    unseen_labels = np.ones((t, k), dtype=bool)
    unseen_labels[:, g] = ~present  # label g[x] is unseen when input x is
    if learner == "first_unseen":
        right = seen | (unseen_labels.argmax(axis=1) == g[0])
        return Fraction(int(right.sum()), t)
    if learner == "memorise":
        return Fraction(int(seen.sum()), t) + Fraction(int((~seen).sum()), t * k)
    u = unseen_labels.sum(axis=1)[~seen]  # x_0 unseen: a guess among u >= 1 labels
    values, counts = np.unique(u, return_counts=True)
    guessed = sum(Fraction(int(c), int(v)) for v, c in zip(values, counts))
    return (Fraction(int(seen.sum())) + guessed) / t


def _draw(
    rng: np.random.Generator, k: int, n: int, t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``t`` bijections ``g`` and training sets (inputs ``X``, labels ``Y``)."""
    g = rng.permuted(np.tile(np.arange(k), (t, 1)), axis=1)
    X = rng.integers(0, k, size=(t, n))
    return X, np.take_along_axis(g, X, axis=1), g


def _predict(
    X: np.ndarray, Y: np.ndarray, k: int, learner: str, rng: np.random.Generator
) -> np.ndarray:
    """Predictions at ``x_0`` (input 0) of ``learner`` on training sets ``(X, Y)``."""
    seen, memorised = seen_label(X, Y)
    t = X.shape[0]
    if learner == "memorise":
        guess = rng.integers(0, k, size=t)
    else:  # a uniformly random label among those not seen
        unseen = np.ones((t, k), dtype=bool)
        unseen[np.arange(t)[:, None], Y] = False
        pick = np.floor(rng.random(t) * unseen.sum(axis=1))
        guess = (np.cumsum(unseen, axis=1) > pick[:, None]).argmax(axis=1)
    return np.where(seen, memorised, guess)


def _check_common(
    k: Any, size_name: str, size: Any, trials: Any, learner: Any
) -> tuple[int, int, int, str]:
    k = _check_k(k)
    size = check_int(size_name, size, min_value=0)
    trials = check_int("trials", trials, min_value=1)
    return k, size, trials, check_learner(learner, LEARNERS)


def simulate_learner(
    k: int,
    n: int,
    trials: int,
    seed: int | np.random.Generator,
    learner: str = "optimal",
) -> tuple[float, float]:
    """Monte Carlo accuracy at ``x_0`` of a plausible learner on sampled training sets.

    Each trial draws a random bijection and ``n`` training samples, trains ``learner``
    and checks its prediction at ``x_0`` (Chapter 2). Both learners are plausible, so
    their accuracy is the same under every bijection and the random draw changes
    nothing on average. The estimate should match :func:`optimal_accuracy` for
    ``"optimal"`` and :func:`memorising_accuracy` for ``"memorise"``.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    n : int
        Training samples per trial, ``>= 0``.
    trials : int
        Number of independent trials, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.
    learner : {"optimal", "memorise"}
        Which plausible learner to run.

    Returns
    -------
    estimate, standard_error : float
        Fraction of correct predictions and ``sqrt(p (1 - p) / trials)``.
    """
    k, n, trials, learner = _check_common(k, "n", n, trials, learner)
    rng = check_seed("seed", seed)

    def correct(t: int) -> list[np.ndarray]:
        X, Y, g = _draw(rng, k, n, t)
        return [_predict(X, Y, k, learner, rng) == g[:, 0]]

    estimate, standard_error = monte_carlo(trials, max(n, k), correct)
    return estimate, standard_error


def swap_attack(
    k: int,
    N: int,
    trials: int,
    seed: int | np.random.Generator,
    learner: str = "optimal",
) -> SwapAttackResult:
    """Lemma 2's attack, simulated: swap the labels of ``x_0`` and another input.

    For each sampled training set of size ``N``, the attacker picks ``x_1`` uniformly
    among the other inputs and exchanges the labels ``y_0`` and ``y_1`` in every sample.
    A plausible learner trained on the swapped set predicts ``y_0`` with the probability
    with which it predicted ``y_1`` before: ``(1 - A) / (k - 1)`` on average, where
    ``A`` is its clean accuracy. The expected number of relabelled samples is ``2N/k``;
    as a symmetric difference of multisets the attack costs ``4N/k`` (Chapter 2).

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``k >= 3``.
    N : int
        Size of the training set, ``>= 0``.
    trials : int
        Number of independent trials, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.
    learner : {"optimal", "memorise"}
        The plausible learner attacked.

    Returns
    -------
    SwapAttackResult
        Clean and attacked accuracies, relabelled samples and symmetric difference, each
        with its standard error.
    """
    k, N, trials, learner = _check_common(k, "N", N, trials, learner)
    rng = check_seed("seed", seed)

    def attack(t: int) -> list[np.ndarray]:  # clean, attacked, relabelled, size
        X, Y, g = _draw(rng, k, N, t)
        y0 = g[:, :1]
        y1 = g[np.arange(t), rng.integers(1, k, size=t)][:, None]
        Y_att = np.where(Y == y0, y1, np.where(Y == y1, y0, Y))
        return [
            _predict(X, Y, k, learner, rng) == y0[:, 0],
            _predict(X, Y_att, k, learner, rng) == y0[:, 0],
            (Y_att != Y).sum(axis=1),
            multiset_distance(X * k + Y, X * k + Y_att, k * k),
        ]

    return SwapAttackResult(*monte_carlo(trials, max(N, k * k), attack))
