"""Nearest-neighbour certificates: kNN and rNN (Jia, Liu, Cao & Gong, AAAI 2022).

Section 7.3 of the Lethal Dose Conjecture paper; Chapter 6 of the book; ALGORITHMS.md,
"Nearest neighbours". ``s_l`` is the number of votes for class ``l`` among the ``K``
nearest training points (kNN) or among all training points within distance ``rho``
(rNN), in a fixed feature space, distance ties broken by training index. The prediction
``a`` is the class with the most votes, ties to the smaller index.

Two ways of counting an attack appear in the literature; a comparison must say which:

``"symmetric"`` (the book's, ALGORITHMS.md)
    the symmetric difference ``|D ⊖ D'|``: an insertion or a removal costs 1.
    For kNN one insertion (which also pushes the ``K``-th neighbour out) or one removal
    (which also pulls the ``(K+1)``-th in) closes ``s_a - s_b`` by at most 2, so
    ``r = min_b floor((s_a - s_b - [b < a]) / 2)``. For rNN the ball has no fixed size:
    an insertion or a removal closes the gap by at most 1, so
    ``r = min_b (s_a - s_b - [b < a])``.
``"modification"`` (Jia et al.)
    a modified training point (its features or label changed) costs 1 and closes the
    gap by at most 2 for both kNN and rNN: ``r = min_b floor((s_a - s_b - [b < a])/2)``.
    For kNN this is the same number as the symmetric count; for rNN it is half of it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ldcbook.certify.dpa import check_votes, dpa_unchecked

CONVENTIONS: tuple[str, ...] = ("symmetric", "modification")
"""Attack-size conventions accepted by :func:`knn` and :func:`rnn`."""

Convention = Literal["symmetric", "modification"]


def _check_convention(convention: str) -> str:
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be one of {', '.join(repr(c) for c in CONVENTIONS)}, "
            f"got {convention!r}"
        )
    return convention


def knn(
    counts: ArrayLike, convention: Convention = "symmetric"
) -> tuple[np.ndarray, np.ndarray]:
    """kNN prediction and certified radius from the neighbours' label counts.

    Serves Chapter 6 (ALGORITHMS.md, "Nearest neighbours"):
    ``r = min_b floor((s_a - s_b - [b < a]) / 2)``, the same formula as
    :func:`ldcbook.certify.dpa` on the same counts, under either convention (see the
    module docstring for why they agree for kNN).

    Parameters
    ----------
    counts : array_like of int, shape (n, C)
        Votes per class among the ``K`` nearest training points, ``C >= 2``.
    convention : {"symmetric", "modification"}, default "symmetric"
        How an attack is counted; both give the same kNN radius.

    Returns
    -------
    prediction, radius : numpy.ndarray
        int64, shape ``(n,)``; ``radius >= 0``.

    Raises
    ------
    TypeError
        If ``counts`` is not an integer array.
    ValueError
        If ``counts`` is not 2-D with at least 2 columns or holds negative values, or
        ``convention`` is unknown.

    Examples
    --------
    >>> pred, radius = knn([[1, 6, 2]])
    >>> pred.tolist(), radius.tolist()
    ([1], [2])
    """
    _check_convention(convention)
    return dpa_unchecked(check_votes("counts", counts))


def rnn(
    counts: ArrayLike, convention: Convention = "symmetric"
) -> tuple[np.ndarray, np.ndarray]:
    """rNN prediction and certified radius from the label counts inside the ball.

    Serves Chapter 6 (ALGORITHMS.md, "Nearest neighbours"). With the symmetric
    difference, ``r = min(min_b (s_a - s_b - [b < a]), sum_c s_c - 1)``: the second
    term is the route that empties the ball (binding only for a ball of class 0
    alone). With Jia et al.'s count of modifications, ``floor(min_b (...) / 2)``, as
    emptying the ball then always costs more. An empty ball gives ⊥: prediction ``-1``
    and radius ``-1`` (no prediction, never certified; as a DPA base learner, ⊥ does
    not vote).

    Parameters
    ----------
    counts : array_like of int, shape (n, C)
        Votes per class among the training points within distance ``rho``.
    convention : {"symmetric", "modification"}, default "symmetric"
        How an attack is counted (module docstring).

    Returns
    -------
    prediction, radius : numpy.ndarray
        int64, shape ``(n,)``; ``-1`` for both where the ball is empty.

    Raises
    ------
    TypeError
        If ``counts`` is not an integer array.
    ValueError
        If ``counts`` is not 2-D with at least 2 columns or holds negative values, or
        ``convention`` is unknown.

    Examples
    --------
    >>> pred, radius = rnn([[1, 6, 2], [0, 0, 0]])
    >>> pred.tolist(), radius.tolist()
    ([1, -1], [4, -1])
    >>> rnn([[1, 6, 2]], convention="modification")[1].tolist()
    [2]
    """
    convention = _check_convention(convention)
    arr = check_votes("counts", counts)
    n, num_classes = arr.shape
    pred = np.argmax(arr, axis=1).astype(np.int64)
    top = arr[np.arange(n), pred]
    gap = top[:, None] - arr - (np.arange(num_classes)[None, :] < pred[:, None])
    gap[np.arange(n), pred] = np.iinfo(np.int64).max
    radius = gap.min(axis=1) if n else np.zeros(0, dtype=np.int64)
    total = arr.sum(axis=1)
    if convention == "modification":
        radius = radius // 2
    else:
        # Removing every point of the ball turns the prediction into ⊥: with a ball of
        # class 0 alone that route (sum(s) removals) is cheaper than any class route.
        radius = np.minimum(radius, total - 1)
    empty = total == 0
    return np.where(empty, -1, pred), np.where(empty, -1, radius).astype(np.int64)
