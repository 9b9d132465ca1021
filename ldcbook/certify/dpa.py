"""Deep Partition Aggregation (DPA): the plurality vote and its certificate.

Levine & Feizi (ICLR 2021); Section 7.1 of the Lethal Dose Conjecture paper; Chapter 6
of the book. The training set is split by a content hash into ``k`` partitions, one base
model is trained on each, and the ensemble predicts the class with the most votes, ties
to the smaller class index.

Threat model and unit of the radius (ALGORITHMS.md). The attack size is the symmetric
difference ``|D ⊖ D'|``: each inserted or removed training sample costs 1. A sample
lands in exactly one partition, so an attack of size ``r`` changes at most ``r``
partitions, and a changed partition's model can vote for anything (or abstain). Moving
one vote from the prediction ``ŷ`` to a class ``c`` closes the gap ``N_ŷ - N_c`` by 2,
hence

    r = min over c != ŷ of floor((N_ŷ - N_c - [c < ŷ]) / 2),

which is simultaneously the number of poisoned samples and the number of corrupted
partitions the prediction provably survives. It is tight at the partition level: some
way of changing ``r + 1`` partitions changes the prediction.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ldcbook._checks import check_array, check_int
from ldcbook.certify._common import (
    count_votes_unchecked,
    row_chunks,
    votes_from_scores_unchecked,
)


def check_votes(name: str, votes: ArrayLike) -> np.ndarray:
    """Validate an ``(n, C)`` array of non-negative integer vote counts, ``C >= 2``."""
    arr = check_array(name, votes, ndim=2, kind="i", nonnegative=True)
    if arr.shape[1] < 2:
        raise ValueError(
            f"{name} must have at least 2 columns (classes), got shape {arr.shape}"
        )
    return arr.astype(np.int64, copy=False)


def check_predictions(
    name: str, predictions: ArrayLike, num_classes: int
) -> np.ndarray:
    """Validate an ``(n, models)`` integer array of labels in ``[-1, num_classes)``."""
    arr = check_array(name, predictions, ndim=2, kind="i")
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one column (model), got shape {arr.shape}"
        )
    if arr.size and (arr.min() < -1 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must hold class indices in [0, {num_classes}) or -1 (abstain), "
            f"found values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def count_votes(predictions: ArrayLike, num_classes: int) -> np.ndarray:
    """Count the base models voting for each class; ``-1`` (⊥, abstain) is not counted.

    Serves the DPA and FA certificates (Chapter 6), whose first step is ``N_c``.

    Parameters
    ----------
    predictions : array_like of int, shape (n, models)
        Each model's predicted class per test point, ``-1`` for an abstention.
    num_classes : int
        Number of classes ``C`` (at least 2).

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``(n, C)``: ``N_c`` per test point.

    Raises
    ------
    TypeError
        If ``predictions`` is not integer or ``num_classes`` not an int.
    ValueError
        If ``predictions`` is not 2-D or holds values outside ``[-1, num_classes)``.

    Examples
    --------
    >>> count_votes([[0, 2, 2, -1]], 3).tolist()
    [[1, 0, 2]]
    """
    num_classes = check_int("num_classes", num_classes, min_value=2)
    arr = check_predictions("predictions", predictions, num_classes)
    return count_votes_unchecked(arr, num_classes)


def votes_from_scores(scores: ArrayLike) -> np.ndarray:
    """Each base model's vote from its scores; ``-1`` (⊥) if all its scores are equal.

    The vote rule of DPA, FA and ROE (ALGORITHMS.md, "Run-Off Election"): a model votes
    for the smallest class with its largest score, and a model with no preference (all
    scores equal, e.g. the zero rows stored for an empty rNN ball) abstains: it counts
    for no class, and weighs as ⊥ in FA's buckets.

    Parameters
    ----------
    scores : array_like of float, shape (n, models, C)
        Each base model's score vector per test point, ``C >= 1``. Infinities are
        allowed; NaN is rejected.

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``(n, models)`` with values in ``[-1, C)``, ready for
        :func:`count_votes`.

    Raises
    ------
    TypeError
        If ``scores`` is not numeric.
    ValueError
        If ``scores`` is not 3-D, has no class, or holds NaN.

    Examples
    --------
    >>> s = [[[0.1, 0.7, 0.7], [2.0, 2.0, 2.0], [0.0, 0.0, 1.0]]]
    >>> votes_from_scores(s).tolist()
    [[1, -1, 2]]
    """
    arr = check_array("scores", scores, ndim=3, kind="f", finite=False)
    n, models, num_classes = arr.shape
    if num_classes == 0:
        raise ValueError(
            f"scores must have at least 1 class (axis 2), got shape {arr.shape}"
        )
    out = np.empty((n, models), dtype=np.int64)
    for block in row_chunks(n, models * num_classes * arr.dtype.itemsize, 4 << 20):
        part = arr[block]
        # min propagates NaN: one reduction instead of a full-size isnan array.
        if arr.dtype.kind == "f" and part.size and np.isnan(part.min()):
            raise ValueError("scores must not hold NaN")
        out[block] = votes_from_scores_unchecked(part, axis=2)
    return out


def _dpa_block(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, num_classes = votes.shape
    by_class = np.ascontiguousarray(votes.T)  # (C, n)
    top = by_class.max(axis=0)
    pred = np.argmax(by_class == top, axis=0)  # first maximum: ties to smaller index
    rival = by_class + (np.arange(num_classes)[:, None] < pred)
    rival[pred, np.arange(n)] = -1
    return pred, (top - rival.max(axis=0)) // 2


def dpa_unchecked(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dpa` without input checks, for callers that validated already.

    Uses ``min_c floor((N_ŷ - N_c - [c < ŷ]) / 2) = floor((N_ŷ - R) / 2)`` with the
    rival score ``R = max over c != ŷ of N_c + [c < ŷ]``, computed on transposed
    cache-sized blocks, where reductions over classes run along contiguous rows.
    """
    n, num_classes = votes.shape
    pred = np.empty(n, dtype=np.int64)
    radius = np.empty(n, dtype=np.int64)
    for block in row_chunks(n, 32 * num_classes):
        pred[block], radius[block] = _dpa_block(votes[block])
    return pred, radius


def dpa(votes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Deep Partition Aggregation: plurality prediction and certified radius.

    Serves Section 7.1 of the paper and Chapter 6 of the book (ALGORITHMS.md, "DPA
    certificate"). The prediction is the smallest class maximising ``N_c``; the radius
    is

        r = min over c != ŷ of floor((N_ŷ - N_c - [c < ŷ]) / 2).

    Unit: ``r`` counts poisoned training samples under the symmetric-difference attack
    size (one insertion or one removal costs 1; changing a sample costs 2). Each such
    sample reaches one partition, so ``r`` is also the number of partitions an attacker
    may corrupt arbitrarily (any vote, or ⊥) without changing the prediction. It is
    tight at that level: some corruption of ``r + 1`` partitions changes it.

    Parameters
    ----------
    votes : array_like of int, shape (n, C)
        Vote counts per test point and class (abstentions not counted), ``C >= 2``;
        build them with :func:`count_votes`.

    Returns
    -------
    prediction : numpy.ndarray
        int64, shape ``(n,)``.
    radius : numpy.ndarray
        int64, shape ``(n,)``, always ``>= 0``. Correctness against labels is not
        applied here (see :func:`ldcbook.certify.certified_accuracy`).

    Raises
    ------
    TypeError
        If ``votes`` is not an integer array.
    ValueError
        If it is not 2-D, has fewer than 2 columns, or holds negative counts.

    Examples
    --------
    Two poisoned samples turn ``(5, 2, 0)`` into ``(3, 4, 0)``; one does not:

    >>> pred, radius = dpa([[5, 2, 0], [2, 2, 1]])
    >>> pred.tolist(), radius.tolist()
    ([0, 0], [1, 0])
    """
    return dpa_unchecked(check_votes("votes", votes))
