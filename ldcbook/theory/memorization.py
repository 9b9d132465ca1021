"""Instance Memorization: Lemmas 3 and 4 of the paper, exactly and by simulation.

The task (Section 4.2.2 of the paper, Chapter 3 of the book): there are ``m`` inputs
``x_0, ..., x_{m-1}`` and ``k`` classes; a labelling ``g`` (fixed, unknown to the
learner) gives each input its class; a training set holds ``n`` samples ``(x, g(x))``
with ``x`` uniform over the ``m`` inputs; the learner is judged at the fixed input
``x_0`` (index 0 here).

The paper restricts the learner to a class ``F``; the book takes it to be the
*swap-equivariant* learners, whose prediction at ``x_0`` follows any relabelling of the
samples of ``x_0`` and ignores relabellings of the samples of any other input. Such a
learner has the same accuracy under every labelling, and when ``x_0`` is unseen it
guesses uniformly. So its accuracy is at most that of the memorising learner,
``1 - (1 - 1/m)^n (1 - 1/k)``, which is Lemma 3's bound, attained (the bound is tight).
The same bound holds for *every* learner on average over a uniformly random labelling,
which is what the simulations here draw unless a ``labelling`` is given; under one fixed
labelling a learner outside ``F`` can do better (:func:`accuracy_for_labelling`).

Lemma 4's attack removes every copy of ``(x_0, y_0)``; afterwards a learner in ``F`` is
right with probability exactly ``1/k`` under every labelling, and every learner is on
average over a random labelling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from ldcbook._checks import check_array, check_int, check_seed, to_fraction
from ldcbook.theory._common import check_learner, log_fraction, monte_carlo, seen_label

LEARNERS: tuple[str, ...] = ("memorise", "frequent")
"""Learners :func:`simulate_learner` and :func:`removal_attack` can run.

``"memorise"``
    the label of ``x_0`` if seen, else a uniformly random class (swap-equivariant and
    optimal under every labelling, Lemma 3);
``"frequent"``
    the label of ``x_0`` if seen, else the most frequent label in the training set
    (ties to the smaller class index); deterministic and not swap-equivariant. It is
    optimal on average over a random labelling, but its accuracy depends on the
    labelling: under a constant one it is right whenever the training set is not empty.
"""


class RemovalAttackResult(NamedTuple):
    """What :func:`removal_attack` measured: means over trials, with standard errors."""

    clean_accuracy: float
    """Fraction of trials in which the learner trained on ``D`` predicted ``y_0``."""
    clean_accuracy_se: float
    accuracy: float
    """Fraction of trials in which the learner trained on ``T(D)`` predicted ``y_0``."""
    accuracy_se: float
    removed: float
    """Mean number of copies of ``(x_0, y_0)`` removed."""
    removed_se: float
    symmetric_difference: float
    """Mean attack size ``|T(D) ⊖ D|`` of multisets (insertions plus removals)."""
    symmetric_difference_se: float


def check_tau(tau: Any) -> Fraction:
    """Read a target accuracy ``tau`` exactly and check ``0 < tau < 1``.

    Parameters
    ----------
    tau : Fraction, int, str or float
        A decimal string is read exactly (``"0.9"`` is 9/10); so is a float, through its
        shortest decimal representation.

    Returns
    -------
    Fraction

    Raises
    ------
    TypeError
        If ``tau`` is not a number or a decimal string.
    ValueError
        If ``tau`` does not lie in the open interval (0, 1): no number of samples
        reaches accuracy 1 in either task of Section 4.2, and accuracy 0 needs none.
    """
    value = to_fraction("tau", tau)
    if not 0 < value < 1:
        raise ValueError(f"tau must lie in the open interval (0, 1), got {tau!r}")
    return value


def min_power_at_most(ratio: Fraction, target: Fraction) -> int:
    """Smallest integer ``n >= 0`` with ``ratio**n <= target``, computed exactly.

    A float estimate of ``log(target) / log(ratio)`` is corrected by exact rational
    comparisons, so the answer is right even when the logarithm ratio is an integer.
    Used for the closed-form sample counts of Lemmas 1 and 3 (Chapters 2 and 3).

    Parameters
    ----------
    ratio : Fraction
        Base, ``0 < ratio < 1``.
    target : Fraction
        Threshold, ``target > 0``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``ratio`` is not in (0, 1) or ``target`` is not positive.
    """
    ratio, target = to_fraction("ratio", ratio), to_fraction("target", target)
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must lie in (0, 1), got {ratio}")
    if target <= 0:
        raise ValueError(f"target must be > 0, got {target}")
    if target >= 1:
        return 0
    n = max(0, math.ceil(log_fraction(target) / log_fraction(ratio)))
    while n > 0 and ratio ** (n - 1) <= target:
        n -= 1
    while ratio**n > target:
        n += 1
    return n


def _check_mk(m: Any, k: Any) -> tuple[int, int]:
    return check_int("m", m, min_value=2), check_int("k", k, min_value=2)


def optimal_accuracy(m: int, k: int, n: int) -> Fraction:
    """Exact accuracy at ``x_0`` of the best learner given ``n`` samples (Lemma 3).

    The memorising learner is right when ``x_0`` was seen (probability
    ``1 - (1 - 1/m)^n``) and right with probability ``1/k`` otherwise, whatever it
    guesses; no learner does better, because the label of an unseen ``x_0`` is uniform
    and independent of the training set (Chapter 3).

    Parameters
    ----------
    m : int
        Number of inputs, ``m >= 2``.
    k : int
        Number of classes, ``k >= 2``.
    n : int
        Number of clean training samples, ``n >= 0``.

    Returns
    -------
    Fraction
        ``1 - (1 - 1/m)^n (1 - 1/k)``.
    """
    m, k = _check_mk(m, k)
    n = check_int("n", n, min_value=0)
    return 1 - Fraction(m - 1, m) ** n * Fraction(k - 1, k)


def lemma3_samples(m: int, k: int, tau: Any) -> float:
    """Lemma 3's lower bound ``log((1 - tau) k / (k - 1)) / log(1 - 1/m)`` on ``n``.

    Any learner that is right at ``x_0`` with probability at least ``tau`` needs at
    least this many samples (Chapter 3). It is non-positive for ``tau <= 1/k``.

    Parameters
    ----------
    m, k : int
        Numbers of inputs (``>= 2``) and classes (``>= 2``).
    tau : Fraction, str or float
        Target accuracy in (0, 1).

    Returns
    -------
    float
    """
    m, k = _check_mk(m, k)
    target = (1 - check_tau(tau)) * Fraction(k, k - 1)
    return log_fraction(target) / math.log1p(-1 / m)


def min_samples(m: int, k: int, tau: Any) -> int:
    """Exact smallest ``n`` with ``optimal_accuracy(m, k, n) >= tau`` (Lemma 3, tight).

    This is the ceiling of :func:`lemma3_samples` (and 0 when ``tau <= 1/k``), computed
    with exact rational arithmetic (Chapter 3).

    Parameters
    ----------
    m, k : int
        Numbers of inputs (``>= 2``) and classes (``>= 2``).
    tau : Fraction, str or float
        Target accuracy in (0, 1); ``"0.9"`` and ``0.9`` both mean exactly 9/10.

    Returns
    -------
    int
    """
    m, k = _check_mk(m, k)
    target = (1 - check_tau(tau)) * Fraction(k, k - 1)
    return min_power_at_most(Fraction(m - 1, m), target)


def _row_counts(codes: np.ndarray, size: int) -> np.ndarray:
    """Per-row histogram of non-negative integer codes (negative codes are ignored)."""
    t = codes.shape[0]
    valid = codes >= 0
    flat = (codes + size * np.arange(t)[:, None])[valid]
    return np.bincount(flat, minlength=t * size).reshape(t, size)


def multiset_distance(before: np.ndarray, after: np.ndarray, size: int) -> np.ndarray:
    """Row-wise symmetric difference ``|A ⊖ B|`` of multisets of integer codes.

    Each row of ``before`` and ``after`` is one multiset of codes in ``range(size)``;
    negative entries are padding (absent samples). This is the attack size of the paper
    (Chapters 1-3): an insertion or a removal costs 1.

    Parameters
    ----------
    before, after : numpy.ndarray
        Integer arrays with the same number of rows.
    size : int
        Codes lie in ``range(size)``.

    Returns
    -------
    numpy.ndarray
        One non-negative integer per row.
    """
    size = check_int("size", size, min_value=1)
    before, after = np.asarray(before), np.asarray(after)
    if before.ndim != 2 or after.ndim != 2 or before.shape[0] != after.shape[0]:
        raise ValueError(
            "before and after must be 2-d arrays with the same number of rows, got "
            f"shapes {before.shape} and {after.shape}"
        )
    if before.dtype.kind not in "iu" or after.dtype.kind not in "iu":
        raise TypeError("before and after must have an integer dtype")
    if before.size and before.max() >= size or after.size and after.max() >= size:
        raise ValueError(f"codes must be < size = {size}")
    diff = _row_counts(before, size) - _row_counts(after, size)
    return np.abs(diff).sum(axis=1)


def _check_labelling(labelling: Any, m: int, k: int) -> np.ndarray | None:
    """``None``, or ``labelling`` as an int array of ``m`` classes in ``0..k-1``."""
    if labelling is None:
        return None
    g = check_array("labelling", labelling, ndim=1, kind="i")
    if g.size != m:
        raise ValueError(f"labelling must give a class to each of the m = {m} inputs, "
                         f"got {g.size} entries")
    if g.min() < 0 or g.max() >= k:
        raise ValueError(f"labelling must hold classes in 0..{k - 1}")
    return g


def _draw(
    rng: np.random.Generator, m: int, k: int, n: int, t: int,
    labelling: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``t`` label tables (or repeat ``labelling``) and training sets ``X, Y``."""
    if labelling is None:
        table = rng.integers(0, k, size=(t, m))
    else:
        table = np.broadcast_to(labelling, (t, m))
    X = rng.integers(0, m, size=(t, n))
    return X, np.take_along_axis(table, X, axis=1), table


def _predict(
    X: np.ndarray, Y: np.ndarray, k: int, learner: str, rng: np.random.Generator
) -> np.ndarray:
    """Predictions at ``x_0`` (input 0); entries with ``X < 0`` are absent samples."""
    seen, memorised = seen_label(X, Y)
    if learner == "memorise":
        fallback = rng.integers(0, k, size=X.shape[0])
    else:  # most frequent label among the samples present, ties to the smaller index
        fallback = _row_counts(np.where(X >= 0, Y, -1), k).argmax(axis=1)
    return np.where(seen, memorised, fallback)


def accuracy_for_labelling(
    labelling: Sequence[int] | np.ndarray, k: int, n: int, learner: str = "memorise"
) -> Fraction:
    """Exact accuracy at ``x_0`` under one fixed labelling, by enumeration.

    Every one of the ``m**n`` training sequences is listed, each of probability
    ``m**-n``, and the learner's chance of answering ``labelling[0]`` is added up
    exactly (Chapter 3). The swap-equivariant ``"memorise"`` gets :func:`optimal_accuracy` under
    every labelling; ``"frequent"`` does not (under a constant labelling it is right
    whenever ``n >= 1``), although its average over all ``k**m`` labellings is optimal.

    Parameters
    ----------
    labelling : array_like of int
        The classes, in ``0..k-1``, of the ``m >= 2`` inputs.
    k : int
        Number of classes, ``>= 2``.
    n : int
        Number of training samples, ``>= 0``, with ``m**n <= 2**20``.
    learner : {"memorise", "frequent"}
        The learner, as in :data:`LEARNERS`.

    Returns
    -------
    Fraction

    Raises
    ------
    ValueError
        If ``labelling`` is not a 1-d array of ``m >= 2`` classes in ``0..k-1``, or the
        enumeration would exceed ``2**20`` sequences.
    """
    k = check_int("k", k, min_value=2)
    g = check_array("labelling", labelling, ndim=1, kind="i")
    if g.size < 2:
        raise ValueError(f"labelling must give a class to m >= 2 inputs, got {g.size}")
    m = g.size
    g = _check_labelling(g, m, k)
    n = check_int("n", n, min_value=0)
    learner = check_learner(learner, LEARNERS)
    if m**n > 2**20:
        raise ValueError(f"m**n = {m}**{n} sequences are too many to list (> 2**20)")
    X = np.indices((m,) * n).reshape(n, m**n).T  # every training sequence, one per row
    seen = (X == 0).any(axis=1)
    t = X.shape[0]
    if learner == "memorise":
        return Fraction(int(seen.sum()), t) + Fraction(int((~seen).sum()), t * k)
    frequent = _row_counts(g[X], k).argmax(axis=1)  # ties to the smaller class
    right = seen | (frequent == g[0])
    return Fraction(int(right.sum()), t)


def simulate_learner(
    m: int,
    k: int,
    n: int,
    trials: int,
    seed: int | np.random.Generator,
    learner: str = "memorise",
    labelling: Sequence[int] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Monte Carlo accuracy at ``x_0`` of a learner on sampled training sets.

    Each trial draws ``n`` training samples, trains ``learner`` and checks its
    prediction at ``x_0`` (Lemma 3, Chapter 3). Without ``labelling`` each trial also
    draws a fresh uniformly random labelling, and both learners in :data:`LEARNERS`
    should match :func:`optimal_accuracy`; with a fixed ``labelling`` only
    ``"memorise"`` must, and :func:`accuracy_for_labelling` gives the exact value.

    Parameters
    ----------
    m, k : int
        Numbers of inputs (``>= 2``) and classes (``>= 2``).
    n : int
        Training samples per trial, ``>= 0``.
    trials : int
        Number of independent trials, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.
    learner : {"memorise", "frequent"}
        Which learner to run.
    labelling : array_like of int, optional
        A fixed labelling: the classes (in ``0..k-1``) of the ``m`` inputs.

    Returns
    -------
    estimate, standard_error : float
        Fraction of correct predictions and ``sqrt(p (1 - p) / trials)``.
    """
    m, k = _check_mk(m, k)
    n = check_int("n", n, min_value=0)
    trials = check_int("trials", trials, min_value=1)
    learner = check_learner(learner, LEARNERS)
    fixed = _check_labelling(labelling, m, k)
    rng = check_seed("seed", seed)

    def correct(t: int) -> list[np.ndarray]:
        X, Y, table = _draw(rng, m, k, n, t, fixed)
        return [_predict(X, Y, k, learner, rng) == table[:, 0]]

    estimate, standard_error = monte_carlo(trials, max(n, m, k), correct)
    return estimate, standard_error


def removal_attack(
    m: int,
    k: int,
    N: int,
    trials: int,
    seed: int | np.random.Generator,
    preserve_size: bool = False,
    learner: str = "memorise",
    labelling: Sequence[int] | np.ndarray | None = None,
) -> RemovalAttackResult:
    """Lemma 4's attack, simulated: remove every copy of ``(x_0, y_0)``.

    With ``preserve_size=False`` the attacked set is smaller (the paper's transform,
    expected cost ``N/m``). With ``preserve_size=True`` each removed copy is replaced by
    a fresh sample drawn uniformly from the other ``m - 1`` inputs with its true label,
    so that ``T`` maps training sets of size ``N`` to size ``N`` (expected cost
    ``2N/m``). Either way the attacked set holds no copy of ``x_0``, so a
    swap-equivariant learner (``"memorise"``) is right with probability exactly ``1/k``
    under every labelling, and any learner is on average over a random labelling
    (Chapter 3). Under a fixed ``labelling`` the ``"frequent"`` learner can escape. The
    attack size is measured as the symmetric difference of the two multisets.

    Parameters
    ----------
    m, k : int
        Numbers of inputs (``>= 2``) and classes (``>= 2``).
    N : int
        Size of the clean training set, ``>= 0``.
    trials : int
        Number of independent trials, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.
    preserve_size : bool
        Replace removed copies by fresh draws instead of dropping them.
    learner : {"memorise", "frequent"}
        The learner attacked.
    labelling : array_like of int, optional
        A fixed labelling (classes of the ``m`` inputs); by default each trial draws a
        uniformly random one.

    Returns
    -------
    RemovalAttackResult
        Clean and attacked accuracies, removed copies and attack size, with standard
        errors.
    """
    m, k = _check_mk(m, k)
    N = check_int("N", N, min_value=0)
    trials = check_int("trials", trials, min_value=1)
    if not isinstance(preserve_size, bool):
        kind = type(preserve_size).__name__
        raise TypeError(f"preserve_size must be a bool, got {kind}")
    learner = check_learner(learner, LEARNERS)
    fixed = _check_labelling(labelling, m, k)
    rng = check_seed("seed", seed)

    def attack(t: int) -> list[np.ndarray]:  # clean, attacked, removed, size
        X, Y, table = _draw(rng, m, k, N, t, fixed)
        y0 = table[:, 0]
        copies = X == 0
        if preserve_size:
            X_att = np.where(copies, rng.integers(1, m, size=X.shape), X)
            Y_att = np.take_along_axis(table, X_att, axis=1)
        else:
            X_att, Y_att = np.where(copies, -1, X), np.where(copies, -1, Y)
        # every sample is (x, label(x)) before and after, so inputs identify samples
        size = multiset_distance(X, X_att, m)
        return [
            _predict(X, Y, k, learner, rng) == y0,
            _predict(X_att, Y_att, k, learner, rng) == y0,
            copies.sum(axis=1),
            size,
        ]

    return RemovalAttackResult(*monte_carlo(trials, max(N, m, k), attack))
