"""Deep Partition Aggregation on the theory tasks: Section 7.1 of the paper, Chapter 6.

DPA (Levine & Feizi, 2021) splits the ``N`` training samples into ``k`` partitions by a
hash, trains one deterministic base model per partition and predicts by plurality vote;
:func:`ldcbook.certify.dpa` turns the votes into a certified radius. This module runs
DPA on two tasks of the paper, with the learners of Chapters 2 and 5 as base learners:

* **Bijection Uncovering** (Chapter 2): ``k`` inputs, ``k`` labels, a random bijection;
  the test input is ``x_0`` (index 0). Many samples are exact copies of each other, so
  *how* the hash treats copies matters. :func:`partition_ids` offers

  ``"content"``
      the partition is a hash of the sample's content ``(x, y)`` modulo ``k``: every
      copy of a sample lands in the same partition (the pixel-sum hash of DPA behaves
      this way on duplicated images);
  ``"copy"``
      the ``j``-th copy of a content ``c`` (``j = 0, 1, ...``, its rank among the equal
      samples of the multiset) goes to ``(hash(c) + j) mod k``: copies go round-robin,
      so ``m`` copies occupy ``min(m, k)`` partitions. An insertion adds the copy with
      the next index and a removal deletes the copy with the last index, so each still
      changes exactly one partition, as the DPA certificate requires.

* **Isotropic Gaussians** (Chapter 5): samples are real vectors, distinct with
  probability one, so both hashings spread them uniformly; the base learner is the
  nearest class mean.

DPA needs a deterministic base learner (a certificate bounds how many partitions can
change; a learner that tosses coins could change its vote with no poison at all),
while the best plausible learner of Chapter 2 answers a *random* unseen label. The
deterministic variants of :data:`LEARNERS` replace the coin by a hash of the
partition's content or by the smallest unseen label.

The certificate itself (DPA's, the paper's Theorem 3) is checked here by brute force:
:func:`vote_profiles` lists every vote-count vector of a small ensemble and
:func:`fewest_flipping_models` enumerates every vote vector an attacker could leave, with
a plurality rule written independently of :mod:`ldcbook.certify`. Its tightest attack,
``r + 1`` corrupted partitions voting for the class :func:`dpa_runner_up` names, is
built by :func:`corrupt_models`.

Hashes are SplitMix64 finalisers (:func:`mix64`) on 64-bit codes, so everything is
vectorised numpy with no Python loop over samples, partitions or trials.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ldcbook._checks import check_array, check_int, check_seed
from ldcbook.certify import count_votes, dpa
from ldcbook.theory import gaussian as ga
from ldcbook.theory._common import check_learner

HASHINGS: tuple[str, ...] = ("content", "copy")
"""Partitioning rules of :func:`partition_ids` (see the module docstring)."""

LEARNERS: tuple[str, ...] = ("hashed_unseen", "smallest_unseen")
"""Deterministic Bijection Uncovering base learners of :func:`bijection_votes`.

Both answer the label of ``x_0`` when it is in the partition (the smallest such label if
a poisoned partition gives it several). Otherwise

``"hashed_unseen"``
    a label not seen in the partition, chosen by a hash of the partition's content and
    index (a deterministic stand-in for the optimal learner's uniform choice);
``"smallest_unseen"``
    the smallest label not seen in the partition.

If every label was seen (impossible for clean data with ``x_0`` unseen), the choice is
among all ``k`` labels. Averaged over the random bijection, both have exactly the
optimal accuracy ``A*(k, n)`` on ``n`` samples: given the data, the label of an unseen
``x_0`` is uniform over the ``u`` unseen labels, so *any* fixed choice among them is
right with probability ``1/u``.
"""

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SALT = np.uint64(0xD1B54A32D192ED03)  # separates the learner's hash from the split


class DPAResult(NamedTuple):
    """Votes and certificate of DPA at the test input, one row per trial."""

    votes: np.ndarray
    """int64, ``(trials, C)``: base models voting for each class."""
    label: np.ndarray
    """int64, ``(trials,)``: the true label ``y_0`` at the test input."""
    prediction: np.ndarray
    """int64, ``(trials,)``: DPA's plurality vote, ties to the smaller class."""
    radius: np.ndarray
    """int64, ``(trials,)``: the radius of :func:`ldcbook.certify.dpa` (``>= 0``)."""
    certified: np.ndarray
    """int64, ``(trials,)``: ``radius`` where the prediction is right, else ``-1``."""


# --------------------------------------------------------------------------------------
# hashing and partitioning
# --------------------------------------------------------------------------------------
def mix64(codes: Any) -> np.ndarray:
    """SplitMix64 hash of 64-bit codes: ``finalise(code + 0x9E3779B97F4A7C15)``.

    The hash behind every partition of this module (Chapter 6). ``mix64(0)`` is the
    first output of a SplitMix64 generator seeded with 0, ``0xE220A8397B1DCDAF``.

    Parameters
    ----------
    codes : array_like of int
        Integer codes of any shape; negative codes are read modulo ``2**64``.

    Returns
    -------
    numpy.ndarray
        ``uint64`` hashes, of the shape of ``codes``.

    Raises
    ------
    TypeError
        If ``codes`` is not an integer array.
    """
    arr = check_array("codes", codes, kind="i")
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        z = arr.astype(np.uint64) + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def copy_index(codes: Any) -> np.ndarray:
    """Rank of each sample among the equal samples of its row (0 for the first copy).

    A training set is a multiset; ``copy_index`` numbers the copies of each content
    ``0, 1, ..., m - 1``, so the pairs ``(content, copy index)`` are all distinct and
    depend on the multiset only, not on the order of the samples (Chapter 6,
    ``"copy"`` hashing). Copies are numbered in order of appearance.

    Parameters
    ----------
    codes : array_like of int, shape (..., N)
        Content codes; each row along the last axis is one training set.

    Returns
    -------
    numpy.ndarray
        int64 of the shape of ``codes``.

    Raises
    ------
    TypeError
        If ``codes`` is not an integer array.
    ValueError
        If ``codes`` is 0-dimensional.

    Examples
    --------
    >>> copy_index([[7, 3, 7, 7, 3]]).tolist()
    [[0, 0, 1, 2, 1]]
    """
    arr = check_array("codes", codes, kind="i")
    if arr.ndim == 0:
        raise ValueError("codes must have at least 1 dimension (..., N), got a scalar")
    n = arr.shape[-1]
    order = np.argsort(arr, axis=-1, kind="stable")
    ranked = np.take_along_axis(arr, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), arr.shape)
    starts = np.ones(arr.shape, dtype=bool)
    starts[..., 1:] = ranked[..., 1:] != ranked[..., :-1]
    run_start = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
    out = np.empty(arr.shape, dtype=np.int64)
    np.put_along_axis(out, order, pos - run_start, axis=-1)
    return out


def _check_hashing(hashing: Any) -> str:
    if hashing not in HASHINGS:
        raise ValueError(f"hashing must be one of {HASHINGS}, got {hashing!r}")
    return hashing


def partition_ids(codes: Any, k: int, hashing: str = "copy") -> np.ndarray:
    """DPA partition of each sample: a hash of its content, or of content and copy.

    Serves Section 7.1 of the paper and Chapter 6. ``"content"``:
    ``mix64(code) mod k``, so equal samples share a partition. ``"copy"``:
    ``(mix64(code) + copy_index) mod k``, so the copies of a content go round-robin
    over the partitions, starting at its hash. Either rule is a function of the
    multiset and changes one partition per inserted or removed sample.

    Parameters
    ----------
    codes : array_like of int, shape (..., N)
        Content codes of the samples (e.g. ``x * k + y`` for a finite task, or
        :func:`content_codes` for real-valued samples); one training set per row.
    k : int
        Number of partitions, ``>= 1``.
    hashing : {"content", "copy"}
        The rule.

    Returns
    -------
    numpy.ndarray
        int64 partition indices in ``[0, k)``, of the shape of ``codes``.

    Raises
    ------
    TypeError
        If ``codes`` is not an integer array or ``k`` not an int.
    ValueError
        If ``k < 1``, ``hashing`` is unknown or ``codes`` is 0-dimensional.

    Examples
    --------
    Five copies of one sample over three partitions: all in one, or two-two-one.

    >>> same = np.full((1, 5), 42)
    >>> np.unique(partition_ids(same, 3, "content")).size
    1
    >>> np.bincount(partition_ids(same, 3, "copy")[0], minlength=3).tolist()
    [1, 2, 2]
    """
    k = check_int("k", k, min_value=1)
    hashing = _check_hashing(hashing)
    arr = check_array("codes", codes, kind="i")
    if arr.ndim == 0:
        raise ValueError("codes must have at least 1 dimension (..., N), got a scalar")
    base = (mix64(arr) % np.uint64(k)).astype(np.int64)
    if hashing == "content":
        return base
    return (base + copy_index(arr)) % k


def content_codes(X: Any, y: Any) -> np.ndarray:
    """64-bit content codes of real-valued labelled samples, for :func:`partition_ids`.

    The bytes of each ``float64`` feature vector and its label are folded through
    :func:`mix64`, so equal samples get equal codes and distinct ones (with probability
    ``1 - 2**-64`` per pair) different codes: the analogue of DPA's pixel-sum hash key
    for the Gaussian task (Chapter 6). Returned as ``int64`` (the same 64 bits).

    Parameters
    ----------
    X : array_like of float, shape (..., N, d)
        Features.
    y : array_like of int, shape (..., N)
        Labels.

    Returns
    -------
    numpy.ndarray
        int64 of shape ``(..., N)``.

    Raises
    ------
    TypeError
        If ``X`` is not numeric or ``y`` not integer.
    ValueError
        If the shapes do not match or ``X`` holds NaN or infinities.
    """
    X = check_array("X", X, kind="f").astype(np.float64)
    y = check_array("y", y, kind="i")
    if X.ndim < 2 or y.shape != X.shape[:-1]:
        raise ValueError(
            f"X must have shape (..., N, d) and y (..., N); got {X.shape}, {y.shape}"
        )
    words = np.ascontiguousarray(X + 0.0).view(np.uint64)  # + 0.0 merges -0.0 and 0.0
    h = mix64(y.astype(np.int64))
    for j in range(X.shape[-1]):  # a loop over features, not over samples
        h = mix64((h ^ words[..., j]).view(np.int64))
    return h.view(np.int64)


# --------------------------------------------------------------------------------------
# the certificate, checked by brute force, and its tightest attack
# --------------------------------------------------------------------------------------
MAX_STATES = 1 << 18
"""Largest number ``(C + 1) ** models`` of vote vectors :func:`fewest_flipping_models`
enumerates per call."""


def _check_ensemble_votes(votes: Any, num_classes: Any) -> tuple[np.ndarray, int]:
    num_classes = check_int("num_classes", num_classes, min_value=2)
    arr = check_array("votes", votes, ndim=2, kind="i")
    if arr.shape[1] == 0:
        raise ValueError(
            f"votes must have at least one column (model), got shape {arr.shape}"
        )
    if arr.size and (arr.min() < -1 or arr.max() >= num_classes):
        raise ValueError(f"votes must hold classes in [0, {num_classes}) or -1 "
                         f"(abstain), found [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64), num_classes


def _plurality(votes: np.ndarray, num_classes: int) -> np.ndarray:
    """Most votes (``-1`` abstains), ties to the smaller class, written anew here."""
    counts = (votes[..., None] == np.arange(num_classes)).sum(axis=-2)
    return np.argmax(counts == counts.max(axis=-1, keepdims=True), axis=-1)


def vote_profiles(models: int, num_classes: int) -> np.ndarray:
    """Every vote-count vector of an ensemble, each as one vector of per-model votes.

    Serves the exhaustive check of DPA's certificate in Chapter 6: with ``models``
    base models, each voting one of ``num_classes`` classes or abstaining (``-1``),
    the count vectors ``(N_abstain, N_0, ..., N_{C-1})`` are the multisets of votes;
    each is returned once, as its votes in ascending order.

    Parameters
    ----------
    models : int
        Ensemble size, ``>= 1``.
    num_classes : int
        Number of classes ``C``, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(binom(models + C, C), models)``, values in ``[-1, C)``.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If ``models < 1`` or ``num_classes < 2``.

    Examples
    --------
    >>> vote_profiles(2, 2).tolist()
    [[-1, -1], [-1, 0], [-1, 1], [0, 0], [0, 1], [1, 1]]
    """
    models = check_int("models", models, min_value=1)
    num_classes = check_int("num_classes", num_classes, min_value=2)
    combos = itertools.combinations_with_replacement(range(-1, num_classes), models)
    return np.array(list(combos), dtype=np.int64).reshape(-1, models)


def fewest_flipping_models(votes: Any, num_classes: int) -> np.ndarray:
    """Fewest base models an attacker must change to move the plurality: brute force.

    Serves Chapter 6 (the paper's Theorem 3, DPA's certificate). For each row of
    per-model votes, every one of the ``(C + 1) ** models`` vote vectors an attack
    could leave (any model voting any class or abstaining) is enumerated; among those
    whose plurality (most votes, ties to the smaller class, computed here without
    :mod:`ldcbook.certify`) differs from the row's, the smallest number of models
    that differ from the row is returned. DPA's radius ``r`` is valid at the level of
    partitions exactly when ``r`` is below this number, and tight when it equals
    ``r + 1``.

    Parameters
    ----------
    votes : array_like of int, shape (n, models)
        Each base model's vote, in ``[0, num_classes)`` or ``-1`` (abstain).
    num_classes : int
        Number of classes ``C``, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n,)``, values in ``[1, models]``.

    Raises
    ------
    TypeError
        If ``votes`` is not an integer array or ``num_classes`` not an int.
    ValueError
        If ``votes`` is not 2-D with at least one model, holds values outside
        ``[-1, num_classes)``, or ``(C + 1) ** models`` exceeds :data:`MAX_STATES`.

    Examples
    --------
    Votes ``(5, 3, 1)`` as nine models: two models moved from class 0 to class 1
    make it ``(3, 5, 1)``, and one move is not enough.

    >>> nine = [[0] * 5 + [1] * 3 + [2]]
    >>> fewest_flipping_models(nine, 3).tolist()
    [2]
    """
    arr, num_classes = _check_ensemble_votes(votes, num_classes)
    models = arr.shape[1]
    if (num_classes + 1) ** models > MAX_STATES:
        raise ValueError(
            f"votes: {num_classes + 1}**{models} vote vectors to enumerate exceed "
            f"MAX_STATES = {MAX_STATES}; use fewer models or classes"
        )
    states = np.array(list(itertools.product(range(-1, num_classes), repeat=models)),
                      dtype=np.int64).reshape(-1, models)
    state_pred = _plurality(states, num_classes)
    out = np.empty(arr.shape[0], dtype=np.int64)
    step = max(1, (1 << 22) // (len(states) * models))
    for start in range(0, arr.shape[0], step):  # memory-bounded blocks of rows
        block = arr[start:start + step]
        changed = (block[:, None, :] != states[None]).sum(axis=-1)
        flips = state_pred[None] != _plurality(block, num_classes)[:, None]
        out[start:start + step] = np.where(flips, changed, models + 1).min(axis=1)
    return out


def dpa_runner_up(votes: Any) -> np.ndarray:
    """The class that attains the minimum in DPA's radius: the cheapest one to promote.

    Serves Chapter 6: with ``ŷ`` DPA's prediction, returns the smallest class ``c !=
    ŷ`` minimising ``floor((N_ŷ - N_c - [c < ŷ]) / 2)``. Moving ``r + 1`` votes from
    ``ŷ`` to it changes the prediction, with ``r`` the certified radius.

    Parameters
    ----------
    votes : array_like of int, shape (n, C)
        Vote counts per class (abstentions not counted), ``C >= 2``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``votes`` is not an integer array.
    ValueError
        If it is not 2-D, has fewer than 2 columns, or holds negative counts.

    Examples
    --------
    >>> dpa_runner_up([[5, 3, 1], [2, 4, 4], [0, 0, 0]]).tolist()
    [1, 0, 1]
    """
    counts = check_array("votes", votes, ndim=2, kind="i", nonnegative=True)
    if counts.shape[1] < 2:
        raise ValueError(f"votes must have at least 2 columns (classes), got "
                         f"{counts.shape}")
    counts = counts.astype(np.int64)
    rows, classes = np.arange(len(counts)), np.arange(counts.shape[1])
    pred = np.argmax(counts == counts.max(axis=1, keepdims=True), axis=1)
    gap = counts[rows, pred][:, None] - counts - (classes < pred[:, None])
    half = np.where(classes == pred[:, None], np.iinfo(np.int64).max, gap // 2)
    return np.argmin(half, axis=1)


def corrupt_models(
    predictions: Any, num_classes: int, target: Any, count: Any
) -> np.ndarray:
    """Set ``count`` base models of each row to vote ``target``, plurality voters first.

    The attack on DPA's votes that the certificate counts. Serves Chapter 6, where it
    realises the smallest attack that changes DPA's
    prediction (``r + 1`` corrupted partitions). The models changed are those voting
    the row's plurality first, then abstaining ones, then other classes, then those
    already voting ``target``; within each group, in model order.

    Parameters
    ----------
    predictions : array_like of int, shape (n, models)
        Each model's vote, in ``[0, num_classes)`` or ``-1`` (abstain).
    num_classes : int
        Number of classes, ``>= 2``.
    target : array_like of int, shape (n,)
        The vote of a corrupted model, per row, in ``[-1, num_classes)``.
    count : array_like of int, shape (n,)
        Models to corrupt per row, in ``[0, models]``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n, models)``: the votes after the attack.

    Raises
    ------
    TypeError
        If an argument is not an integer array or ``num_classes`` not an int.
    ValueError
        If shapes or values are out of range.
    """
    arr, num_classes = _check_ensemble_votes(predictions, num_classes)
    n, models = arr.shape
    target = check_array("target", target, ndim=1, kind="i").astype(np.int64)
    count = check_array("count", count, ndim=1, kind="i").astype(np.int64)
    for name, vec, low, high in (("target", target, -1, num_classes - 1),
                                 ("count", count, 0, models)):
        if vec.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {vec.shape}")
        if n and (vec.min() < low or vec.max() > high):
            raise ValueError(f"{name} must hold values in [{low}, {high}], found "
                             f"[{vec.min()}, {vec.max()}]")
    pred = _plurality(arr, num_classes)[:, None]
    group = np.where(arr == pred, 0, np.where(arr == -1, 1, 2))
    group = np.where(arr == target[:, None], 3, group)
    order = np.argsort(group, axis=1, kind="stable")
    chosen = np.zeros_like(arr, dtype=bool)
    np.put_along_axis(chosen, order, np.arange(models) < count[:, None], axis=1)
    return np.where(chosen, target[:, None], arr)


# --------------------------------------------------------------------------------------
# Bijection Uncovering
# --------------------------------------------------------------------------------------
def sample_bijection(
    k: int, N: int, trials: int, seed: int | np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``trials`` Bijection Uncovering tasks and training sets of size ``N``.

    As in Chapter 2: a uniformly random bijection ``f`` of ``k`` labels, inputs drawn
    uniformly, labels ``f(x)``; the test input is ``x_0 = 0`` (Chapter 6 runs DPA on
    these sets).

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``>= 3``.
    N : int
        Training-set size, ``>= 0``.
    trials : int
        Number of tasks, ``>= 1``.
    seed : int or numpy.random.Generator

    Returns
    -------
    X, Y : numpy.ndarray
        int64 inputs and labels, shape ``(trials, N)``.
    f : numpy.ndarray
        int64 bijections, shape ``(trials, k)``; ``f[:, 0]`` is ``y_0``.
    """
    k = check_int("k", k, min_value=3)
    N = check_int("N", N, min_value=0)
    trials = check_int("trials", trials, min_value=1)
    rng = check_seed("seed", seed)
    f = rng.permuted(np.tile(np.arange(k, dtype=np.int64), (trials, 1)), axis=1)
    X = rng.integers(0, k, size=(trials, N), dtype=np.int64)
    return X, np.take_along_axis(f, X, axis=1), f


def _check_finite_sets(X: Any, Y: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    X = check_array("X", X, ndim=2, kind="i")
    Y = check_array("Y", Y, ndim=2, kind="i")
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape, got {X.shape}, {Y.shape}")
    for name, arr in (("X", X), ("Y", Y)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(f"{name} must hold values in [0, {k}), found "
                             f"[{arr.min()}, {arr.max()}]")
    return X.astype(np.int64), Y.astype(np.int64)


def bijection_predictions(
    X: Any,
    Y: Any,
    k: int,
    partitions: int,
    hashing: str = "copy",
    learner: str = "hashed_unseen",
) -> np.ndarray:
    """Each DPA base model's prediction at ``x_0`` on Bijection Uncovering data.

    Serves Section 7.1 of the paper and Chapter 6. Row ``t`` of ``(X, Y)`` is split by
    :func:`partition_ids` (content code ``x k + y``) into ``partitions`` parts; each
    part trains the deterministic learner ``learner`` (:data:`LEARNERS`). An empty
    partition is a training set too: its model answers its fallback label.

    Parameters
    ----------
    X, Y : array_like of int, shape (trials, N)
        Inputs and labels in ``[0, k)``; the data may be poisoned (a label per sample,
        not necessarily a bijection).
    k : int
        Number of inputs and of labels, ``>= 3``.
    partitions : int
        Number of DPA partitions, ``>= 1``.
    hashing : {"content", "copy"}
        Partitioning rule.
    learner : {"hashed_unseen", "smallest_unseen"}
        Base learner.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(trials, partitions)``: model ``p``'s predicted label.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If shapes or values are out of range, or ``hashing``/``learner`` unknown.
    """
    k = check_int("k", k, min_value=3)
    partitions = check_int("partitions", partitions, min_value=1)
    hashing, learner = _check_hashing(hashing), check_learner(learner, LEARNERS)
    X, Y = _check_finite_sets(X, Y, k)
    trials, _ = X.shape
    codes = X * k + Y
    group = partition_ids(codes, partitions, hashing)
    group += (np.arange(trials, dtype=np.int64) * partitions)[:, None]
    groups = trials * partitions
    seen = np.zeros((groups, k), dtype=bool)
    seen[group, Y] = True
    at_x0 = X == 0
    memorised = np.full(groups, k, dtype=np.int64)
    np.minimum.at(memorised, group[at_x0], Y[at_x0])
    pool = ~seen
    pool[~pool.any(axis=1)] = True  # every label seen: choose among all k
    if learner == "smallest_unseen":
        fallback = np.argmax(pool, axis=1)
    else:
        content = np.zeros(groups, dtype=np.uint64)
        salted = codes.ravel().astype(np.uint64) ^ _SALT
        np.add.at(content, group.ravel(), mix64(salted))  # a sum modulo 2**64
        index = np.arange(groups, dtype=np.uint64) % np.uint64(partitions)
        key = mix64((content ^ mix64(index)).view(np.int64))
        pick = (key % pool.sum(axis=1).astype(np.uint64)).astype(np.int64)
        fallback = np.argmax(np.cumsum(pool, axis=1) > pick[:, None], axis=1)
    pred = np.where(memorised < k, memorised, fallback)
    return pred.reshape(trials, partitions)


def bijection_dpa(
    k: int,
    N: int,
    partitions: int,
    trials: int,
    seed: int | np.random.Generator,
    hashing: str = "copy",
    learner: str = "hashed_unseen",
) -> DPAResult:
    """DPA at ``x_0`` on freshly drawn Bijection Uncovering training sets.

    Serves Section 7.1 of the paper and Chapter 6: draws ``trials`` tasks
    (:func:`sample_bijection`), collects the base models' votes
    (:func:`bijection_predictions`, :func:`ldcbook.certify.count_votes`) and certifies
    them with :func:`ldcbook.certify.dpa`.

    Parameters
    ----------
    k : int
        Number of inputs and of labels, ``>= 3``.
    N : int
        Training-set size, ``>= 0``.
    partitions : int
        Number of DPA partitions, ``>= 1``.
    trials : int
        Number of independent tasks and training sets, ``>= 1``.
    seed : int or numpy.random.Generator
    hashing : {"content", "copy"}
    learner : {"hashed_unseen", "smallest_unseen"}

    Returns
    -------
    DPAResult
        Votes, true labels ``y_0 = f(x_0)``, predictions and radii per trial.
    """
    X, Y, f = sample_bijection(k, N, trials, seed)
    pred = bijection_predictions(X, Y, k, partitions, hashing, learner)
    return _certify(count_votes(pred, k), f[:, 0])


def _certify(votes: np.ndarray, label: np.ndarray) -> DPAResult:
    prediction, radius = dpa(votes)
    certified = np.where(prediction == label, radius, -1)
    return DPAResult(votes, label.astype(np.int64), prediction, radius, certified)


# --------------------------------------------------------------------------------------
# isotropic Gaussians
# --------------------------------------------------------------------------------------
def gaussian_predictions(
    X: Any,
    y: Any,
    num_classes: int,
    x0: Sequence[float] | np.ndarray,
    partitions: int,
    hashing: str = "content",
) -> np.ndarray:
    """Each DPA base model's nearest-class-mean prediction at ``x0``.

    Serves Section 7.1 of the paper and Chapter 6, with the nearest-class-mean learner
    of Chapter 5 as base learner. Samples are split by :func:`partition_ids` of their
    :func:`content_codes`; in each partition the class means are estimated and the
    class whose mean is nearest to ``x0`` is predicted (ties to the smaller class; a
    class absent from the partition is never predicted). A partition with no sample
    abstains (``-1``, not counted as a vote).

    Parameters
    ----------
    X : array_like of float, shape (reps, N, d)
        Features of ``reps`` training sets.
    y : array_like of int, shape (reps, N)
        Labels in ``[0, num_classes)``.
    num_classes : int
        Number of classes, ``>= 2``.
    x0 : array_like of float, shape (d,)
        Test input.
    partitions : int
        Number of DPA partitions, ``>= 1``.
    hashing : {"content", "copy"}
        Partitioning rule (identical for samples without duplicates).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(reps, partitions)``, labels or ``-1``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If shapes or values are out of range.
    """
    num_classes = check_int("num_classes", num_classes, min_value=2)
    partitions = check_int("partitions", partitions, min_value=1)
    hashing = _check_hashing(hashing)
    X = check_array("X", X, ndim=3, kind="f").astype(np.float64)
    y = check_array("y", y, ndim=2, kind="i").astype(np.int64)
    if y.shape != X.shape[:2]:
        raise ValueError(f"y must have shape {X.shape[:2]}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"y must hold labels in [0, {num_classes})")
    x0 = check_array("x0", x0, ndim=1, kind="f").astype(np.float64)
    if x0.shape[0] != X.shape[2]:
        raise ValueError(f"x0 must have shape ({X.shape[2]},), got {x0.shape}")
    reps = X.shape[0]
    group = partition_ids(content_codes(X, y), partitions, hashing)
    group += (np.arange(reps, dtype=np.int64) * partitions)[:, None]
    cell = (group * num_classes + y).ravel()
    size = reps * partitions * num_classes
    counts = np.bincount(cell, minlength=size)
    sq_dist = np.zeros(size)
    for j in range(X.shape[2]):  # a loop over features, not over samples
        sums = np.bincount(cell, weights=X[..., j].ravel(), minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            sq_dist += (sums / counts - x0[j]) ** 2
    sq_dist = np.where(counts > 0, sq_dist, np.inf).reshape(-1, num_classes)
    pred = np.argmin(sq_dist, axis=1)
    pred = np.where(np.isfinite(sq_dist.min(axis=1)), pred, -1)
    return pred.reshape(reps, partitions)


def gaussian_dpa(
    mu: np.ndarray,
    x0: Sequence[float] | np.ndarray,
    N: int,
    partitions: int,
    reps: int,
    seed: int | np.random.Generator,
    hashing: str = "content",
) -> DPAResult:
    """DPA at ``x0`` with nearest-class-mean base models, on fresh Gaussian data.

    Serves Section 7.1 of the paper and Chapter 6: draws ``reps`` training sets of
    ``N`` samples from the equal-prior mixture of ``N(mu_i, I)``
    (:func:`ldcbook.theory.gaussian.sample_mixture`), votes with
    :func:`gaussian_predictions` and certifies with :func:`ldcbook.certify.dpa`. The
    true label is the Bayes label at ``x0`` (the nearest centre, Claim 1).

    Parameters
    ----------
    mu : numpy.ndarray
        Centres, shape ``(C, d)``.
    x0 : array_like
        Test input, shape ``(d,)``.
    N : int
        Training-set size, ``>= 1``.
    partitions : int
        Number of DPA partitions, ``>= 1``.
    reps : int
        Number of training sets, ``>= 1``.
    seed : int or numpy.random.Generator
    hashing : {"content", "copy"}

    Returns
    -------
    DPAResult
    """
    rng = check_seed("seed", seed)
    reps = check_int("reps", reps, min_value=1)
    X, y = ga.sample_mixture(mu, N, rng, reps=reps)
    num_classes = np.asarray(mu).shape[0]
    pred = gaussian_predictions(X, y, num_classes, x0, partitions, hashing)
    label = np.full(reps, ga.bayes_label(x0, mu), dtype=np.int64)
    return _certify(count_votes(pred, num_classes), label)
