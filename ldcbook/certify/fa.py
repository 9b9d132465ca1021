"""Finite Aggregation (FA): DPA with each sample spread over ``d`` of ``k d`` models.

Wang, Levine & Feizi (ICML 2022); Chapter 6 of the book. A training sample's bucket
is its pixel sum modulo ``k d``; bucket ``h`` feeds the ``d`` models
``(h + s_j) mod (k d)`` for ``d`` distinct shifts ``s_j``, so each of the ``k d``
models is trained on ``d`` buckets (about ``N / k`` samples). The ensemble predicts by
plurality over all ``k d`` models, ties to the smaller class index.

Radius unit (ALGORITHMS.md): symmetric difference, one inserted or removed sample costs
1 and lands in exactly one bucket, so ``r`` is both the number of poisoned samples and
the number of buckets whose ``d`` models the attacker may corrupt arbitrarily without
changing the prediction.

Model-id order pitfall: column ``i`` of ``predictions`` must be the model with id ``i``,
the one trained on buckets ``(i - s_j) mod (k d)``. A reference evaluation script filled
columns in directory-listing order (``model_10`` before ``model_2``), which silently
pairs buckets with the wrong models and can make the certificate unsound. Nothing in the
votes reveals such a permutation, so it cannot be checked here.
"""

from __future__ import annotations

import random

import numpy as np
from numpy.typing import ArrayLike

from ldcbook._checks import check_array, check_int
from ldcbook.certify._common import (
    INF,
    bucket_sums,
    count_votes_unchecked,
    fit_count,
    plurality,
    row_chunks,
    row_histogram,
    small_uint,
)
from ldcbook.certify.dpa import check_predictions

REFERENCE_SEED = 999999999 + 208
"""The seed the FA reference code gives ``random.seed`` before drawing the shifts."""


def fa_shifts(k: int, d: int) -> np.ndarray:
    """The ``d`` shifts of the FA reference implementation, for comparable certificates.

    Serves Chapter 6 (ALGORITHMS.md, "Finite Aggregation"). The reference code calls
    ``random.seed(999999999 + 208)`` and then ``random.sample(range(k * d), d)``; this
    function does the same with a private :class:`random.Random`, so Python's global
    random state is left untouched.

    Parameters
    ----------
    k : int
        Inverse sensitivity (number of models per bucket spread), ``k >= 1``.
    d : int
        Spread: number of models each bucket feeds, ``d >= 1``.

    Returns
    -------
    numpy.ndarray
        int64 array of ``d`` distinct shifts in ``range(k * d)``, in reference order.

    Raises
    ------
    TypeError
        If ``k`` or ``d`` is not an int.
    ValueError
        If either is below 1.

    Examples
    --------
    >>> shifts = fa_shifts(50, 16)
    >>> shifts.tolist() == random.Random(999999999 + 208).sample(range(800), 16)
    True
    """
    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    rng = random.Random(REFERENCE_SEED)
    return np.asarray(rng.sample(range(k * d), d), dtype=np.int64)


def check_shifts(shifts: ArrayLike, k: int, d: int) -> np.ndarray:
    """Validate ``d`` distinct integer shifts in ``range(k * d)``."""
    arr = check_array("shifts", shifts, ndim=1, kind="i")
    if arr.shape[0] != d:
        raise ValueError(f"shifts must hold d = {d} values, got {arr.shape[0]}")
    if arr.size and (arr.min() < 0 or arr.max() >= k * d):
        raise ValueError(
            f"shifts must lie in range(k * d) = range({k * d}), "
            f"found values in [{arr.min()}, {arr.max()}]"
        )
    if np.unique(arr).size != arr.size:
        raise ValueError(f"shifts must be distinct, got {arr.tolist()}")
    return arr.astype(np.int64)


def check_spread(name: str, models: int, d: int) -> int:
    """Return ``k = models / d`` after checking that ``d`` divides the model count."""
    if models % d:
        raise ValueError(
            f"{name} has {models} models (columns), which is not k * d for d = {d}"
        )
    return models // d


def _fa_chunk(
    votes_by_model: np.ndarray,
    counts: np.ndarray,
    pred: np.ndarray,
    shifts: np.ndarray,
    num_classes: int,
) -> np.ndarray:
    """FA radius for one block of test points (see :func:`fa`)."""
    rows, _ = votes_by_model.shape
    d = len(shifts)
    dtype = small_uint(2 * d)
    top_in_bucket = bucket_sums(votes_by_model == pred[:, None], shifts, dtype)
    top_in_bucket += dtype(d)  # d + #(ŷ-voters): the weight before subtracting c-voters
    top = counts[np.arange(rows), pred]
    radius = np.full(rows, INF, dtype=np.int64)
    for c in range(num_classes):
        others = pred != c
        if not others.any():
            continue
        weights = top_in_bucket - bucket_sums(votes_by_model == c, shifts, dtype)
        gap = top - counts[:, c] - (c < pred)
        r_c = fit_count(row_histogram(weights, 2 * d + 1), gap)
        radius = np.where(others, np.minimum(radius, r_c), radius)
    return radius


def fa(
    predictions: ArrayLike, num_classes: int, d: int, shifts: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Finite Aggregation: plurality prediction over ``k d`` models and its radius.

    Serves Chapter 6 of the book (ALGORITHMS.md, "Finite Aggregation"). With votes
    ``v_i`` and ``ŷ`` the plurality class, for each class ``c != ŷ``:

    1. ``gap = N_ŷ - N_c - [c < ŷ]``;
    2. bucket ``h`` weighs ``w_h``, the sum over its ``d`` models ``i`` of
       ``1 + [v_i = ŷ] - [v_i = c]`` (the most that corrupting it can lower the gap);
    3. ``r_c`` is the largest ``r`` with ``gap - (sum of the r largest w_h) >= 0``;

    and ``r = min_c r_c``. Weights are integers in ``0..2d``, so step 3 reads a
    per-point histogram of the weights instead of sorting them. With ``d = 1`` this is
    exactly :func:`ldcbook.certify.dpa`.

    Unit: ``r`` counts poisoned samples under the symmetric-difference attack size; each
    sample reaches one bucket, so ``r`` is also the number of buckets whose models may
    be corrupted arbitrarily. Unlike DPA's, the FA radius need not be tight.

    Parameters
    ----------
    predictions : array_like of int, shape (n, k * d)
        Each model's predicted class, ``-1`` for ⊥ (abstain, weight 1 in a bucket).
        **Column ``i`` must be the model with id ``i``** (see the module docstring).
    num_classes : int
        Number of classes ``C >= 2``; predictions must lie in ``[-1, C)``.
    d : int
        Spread, ``d >= 1``; the number of columns must be a multiple ``k d``.
    shifts : array_like of int, shape (d,)
        Distinct shifts in ``range(k * d)``; :func:`fa_shifts` gives the reference ones.

    Returns
    -------
    prediction : numpy.ndarray
        int64, shape ``(n,)``.
    radius : numpy.ndarray
        int64, shape ``(n,)``, ``>= 0``.

    Raises
    ------
    TypeError
        If an argument has the wrong type (e.g. non-integer predictions).
    ValueError
        If ``predictions`` is not 2-D, holds labels outside ``[-1, C)`` or has a column
        count that is not a multiple of ``d``, or if ``shifts`` are not ``d`` distinct
        values in ``range(k * d)``.

    Examples
    --------
    Four models (``k = 2``, ``d = 2``, shifts ``(0, 1)``): bucket ``h`` feeds models
    ``h`` and ``h + 1 mod 4``. Votes ``(0, 0, 0, 1)``: for ``c = 1`` the gap is 2 and
    the bucket weights are ``(4, 4, 2, 2)``, so not even one bucket fits.

    >>> pred, radius = fa([[0, 0, 0, 1]], num_classes=2, d=2, shifts=[0, 1])
    >>> pred.tolist(), radius.tolist()
    ([0], [0])
    """
    num_classes = check_int("num_classes", num_classes, min_value=2)
    d = check_int("d", d, min_value=1)
    arr = check_predictions("predictions", predictions, num_classes)
    n, models = arr.shape
    k = check_spread("predictions", models, d)
    shift_arr = check_shifts(shifts, k, d)
    compact = arr.astype(np.int8 if num_classes <= 127 else np.int32)
    counts = count_votes_unchecked(compact, num_classes)
    pred = plurality(counts)
    radius = np.empty(n, dtype=np.int64)
    for block in row_chunks(n, models):  # about 1 MiB of uint8 work array per block
        radius[block] = _fa_chunk(
            compact[block], counts[block], pred[block], shift_arr, num_classes
        )
    return pred, radius
