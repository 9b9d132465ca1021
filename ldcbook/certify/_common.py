"""Internals shared by the certificates of :mod:`ldcbook.certify`.

Three vectorised building blocks carry every certificate in the package:

* :func:`votes_from_scores_unchecked`, :func:`plurality` and
  :func:`count_votes_unchecked`: votes (a model whose scores are all equal abstains) and
  the plurality winner, ties to the smaller class index;
* :func:`bucket_sums`: for each Finite Aggregation bucket ``h``, the sum of a per-model
  quantity over the ``d`` models ``(h + s_j) mod (k d)`` that the bucket feeds;
* :func:`fit_count` and :func:`need_count`: the greedy "largest weights first" counts of
  the FA certificate, computed from a per-point histogram of the bucket weights
  (weights are small integers, at most ``3 d``), so no per-point sort is needed.

Everything here trusts its callers; the public functions validate their inputs.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

INF = np.iinfo(np.int64).max // 4
"""A count larger than any attack: marks a route that cannot change the prediction."""

CHUNK_BYTES = 1 << 20
"""Target size of one ``(rows, models)`` uint8 work array: about 1 MiB keeps the
bucket sums in cache while numpy calls stay long enough to amortise their overhead."""


def ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    """Return ``ceil(a / b)`` for integer arrays ``a`` and a positive int ``b``."""
    return -(-a // b)


def votes_from_scores_unchecked(x: np.ndarray, axis: int) -> np.ndarray:
    """Each model's vote from its scores along ``axis``; ``-1`` (⊥) where all are equal.

    The one place of the vote rule (ALGORITHMS.md, "Run-Off Election"): a model votes
    for its first maximum (ties to the smaller class index), and a model with no
    preference (all its scores equal) abstains, so it is counted by neither DPA, FA nor
    either round of ROE.

    For a non-contiguous axis, ``numpy.argmax`` copies the array; here the maximum is
    a vectorised reduction and the smallest maximising index is recovered as
    ``C - max(weight)``, with weight ``C - c`` on the maxima and 0 elsewhere.
    ``x`` must hold no NaN and have at least one entry along ``axis``.

    Returns
    -------
    numpy.ndarray
        ``x``'s shape without ``axis``; the smallest signed dtype holding
        ``-1..C-1`` among int8, int16 and int64 (compact votes count faster).
    """
    size = x.shape[axis]
    dtype = np.int8 if size <= 127 else np.int16 if size <= 32767 else np.int64
    shape = [1] * x.ndim
    shape[axis] = size
    weight = (size - np.arange(size, dtype=dtype)).reshape(shape)
    top = x.max(axis=axis, keepdims=True)
    at_max = x == top
    key = np.multiply(at_max.view(np.int8), weight, dtype=dtype)
    votes = (size - key.max(axis=axis)).astype(dtype, copy=False)
    votes[np.squeeze(top, axis=axis) == x.min(axis=axis)] = -1
    return votes


def plurality(votes: np.ndarray) -> np.ndarray:
    """Return the class with the most votes per row, ties to the smaller index."""
    return np.argmax(votes, axis=1).astype(np.int64)


def count_votes_unchecked(predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Count, per row, the models predicting each class; ``-1`` (abstain) is ignored.

    Counting is memory-bound. For few classes one comparison per class over a
    cache-sized block of rows is fastest; for many, one ``bincount`` over row-offset
    labels (whose cost does not grow with the number of classes).

    Parameters
    ----------
    predictions : numpy.ndarray
        Integers in ``[-1, num_classes)``, shape ``(n, models)``.
    num_classes : int
        Number of classes ``C``.

    Returns
    -------
    numpy.ndarray
        int64 counts of shape ``(n, C)``.
    """
    n, models = predictions.shape
    counts = np.empty((n, num_classes), dtype=np.int64)
    if num_classes <= 24:
        acc = np.uint16 if models <= np.iinfo(np.uint16).max else np.int64
        for block in row_chunks(n, models * predictions.itemsize):
            part = predictions[block]
            for c in range(num_classes):
                hits = (part == c).view(np.uint8)
                counts[block, c] = np.add.reduce(hits, axis=1, dtype=acc)
        return counts
    width = num_classes + 1
    for block in row_chunks(n, models * 8, budget=4 * CHUNK_BYTES):
        rows = block.stop - block.start
        # Shift by one so that abstentions land in column 0, which is then dropped.
        offsets = (np.arange(rows, dtype=np.intp) * width + 1)[:, None]
        flat = np.add(predictions[block], offsets, dtype=np.intp)
        found = np.bincount(flat.ravel(), minlength=rows * width)
        counts[block] = found.reshape(rows, width)[:, 1:]
    return counts


def row_chunks(n: int, row_bytes: int, budget: int = CHUNK_BYTES) -> Iterator[slice]:
    """Yield slices of at least 64 rows, about ``budget / row_bytes`` rows each.

    The certificates loop over these blocks of test points (never over single
    points) to bound their working memory and keep it in cache.
    """
    rows = max(64, budget // max(1, row_bytes))
    for start in range(0, n, rows):
        yield slice(start, min(n, start + rows))


def small_uint(max_value: int) -> type[np.unsignedinteger]:
    """Return the smallest unsigned dtype that holds ``0..max_value``."""
    if max_value <= np.iinfo(np.uint8).max:
        return np.uint8
    if max_value <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.uint32


def bucket_sums(x: np.ndarray, shifts: np.ndarray, dtype: type) -> np.ndarray:
    """Sum a per-model array over the models each bucket feeds.

    Bucket ``h`` feeds the models ``(h + s_j) mod B`` for the shifts ``s_j``
    (ALGORITHMS.md, Finite Aggregation), so ``out[:, h] = sum_j x[:, (h + s_j) % B]``.
    Each shift is two contiguous slice additions, not a gather.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(rows, B)``, one column per model in model-id order.
    shifts : numpy.ndarray
        The ``d`` distinct shifts, each in ``range(B)``.
    dtype : type
        Accumulator dtype, wide enough for ``d * x.max()``.

    Returns
    -------
    numpy.ndarray
        Shape ``(rows, B)``, one column per bucket.
    """
    x = x.astype(dtype, copy=False)
    width = x.shape[1]
    out = np.zeros(x.shape, dtype=dtype)
    for s in shifts:
        s = int(s)
        if s == 0:
            out += x
        else:
            out[:, : width - s] += x[:, s:]
            out[:, width - s :] += x[:, :s]
    return out


def row_histogram(w: np.ndarray, n_values: int) -> np.ndarray:
    """Count, per row, how many entries of ``w`` take each value ``0..n_values-1``."""
    rows = w.shape[0]
    flat = w + (np.arange(rows, dtype=np.int64) * n_values)[:, None]
    return np.bincount(flat.ravel(), minlength=rows * n_values).reshape(rows, n_values)


def fit_count(hist: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Largest ``r`` such that the ``r`` largest weights sum to at most ``budget``.

    This is step 3 of the FA certificate (ALGORITHMS.md): sort the bucket weights in
    descending order and count the prefixes whose sum stays within the budget. The
    weights are read from a histogram: the items of weight ``v`` occupy consecutive
    positions whose prefix sums are ``S_{>v} + j v`` for ``j = 1..hist[v]``, where
    ``S_{>v}`` is the total weight of the heavier items, so the number of them that fit
    is ``clip(floor((budget - S_{>v}) / v), 0, hist[v])``. Prefix sums increase, so the
    fitting positions form a prefix and these counts add up to ``r``.

    Parameters
    ----------
    hist : numpy.ndarray
        Shape ``(rows, V)``: ``hist[i, v]`` = number of weights equal to ``v``.
    budget : numpy.ndarray
        Shape ``(rows,)``, integers; a negative budget fits nothing.

    Returns
    -------
    numpy.ndarray
        int64 counts of shape ``(rows,)``.
    """
    n_values = hist.shape[1]
    values = np.arange(n_values, dtype=np.int64)
    weight = hist * values
    heavier = np.cumsum(weight[:, ::-1], axis=1)[:, ::-1] - weight  # S_{>v}
    room = budget.astype(np.int64)[:, None] - heavier
    take = np.clip(room // np.maximum(values, 1), 0, hist)
    # Weight-0 items fit exactly when everything heavier fits.
    take[:, 0] = np.where(room[:, 0] >= 0, hist[:, 0], 0)
    return take.sum(axis=1)


def top_sum(hist: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Sum of the ``count`` largest weights per row (all of them if fewer exist).

    Parameters
    ----------
    hist : numpy.ndarray
        Shape ``(rows, V)``, as for :func:`fit_count`.
    count : numpy.ndarray
        Shape ``(rows,)``, integers; non-positive counts give 0.

    Returns
    -------
    numpy.ndarray
        int64 sums of shape ``(rows,)``.
    """
    n_values = hist.shape[1]
    values = np.arange(n_values, dtype=np.int64)
    above = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1] - hist  # items heavier than v
    take = np.clip(count.astype(np.int64)[:, None] - above, 0, hist)
    return (take * values).sum(axis=1)


def need_count(hist: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Fewest buckets whose largest weights sum to at least ``target``.

    ``0`` when ``target <= 0``; :data:`INF` when even all buckets together fall short
    (the route cannot change the prediction). For a positive target this is
    ``fit_count(hist, target - 1) + 1``.
    """
    target = target.astype(np.int64)
    count = fit_count(hist, target - 1) + 1
    total_items = hist.sum(axis=1)
    count = np.where(count > total_items, INF, count)
    return np.where(target <= 0, 0, count)
