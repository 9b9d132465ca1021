"""Run-Off Election (ROE) on DPA or FA: a two-round vote over the base models' scores.

Rezaei, Banihashem, Chegini & Feizi (ICML 2023); Chapter 6 of the book; ALGORITHMS.md,
"Run-Off Election". Each base model ``i`` gives a score vector ``s_i`` (logits) and
votes for its top class (ties to the smaller index). A model whose scores are all equal
has no preference and abstains (⊥) in both rounds, as in DPA's and FA's votes
(:func:`ldcbook.certify.votes_from_scores`), so adding such models changes neither a
prediction nor a radius; on FA it weighs 1 in every bucket weight, like any ⊥ voter.

* Round 1: ``N_c`` = votes for ``c``; the finalists ``m1, m2`` are the top two classes
  in the order ``(-N_c, c)``.
* Round 2: ``M_a[b] = #{i: s_i[a] > s_i[b]} - #{i: s_i[b] > s_i[a]}``, a model with a
  score tie abstaining. ``m1`` wins if ``M_m1[m2] > 0``, the smaller index if it is 0,
  else ``m2``. The winner is ``c_pred``, the other finalist ``c_sec``.

The certificate lower-bounds the number of corrupted partitions (DPA) or buckets (FA)
that any change of the prediction needs, along two routes:

* CertR1, ``c_pred`` misses the final: two classes ``c1, c2`` must both overtake it in
  round 1. With ``g(a, c) = max(0, N_a - N_c + [c > a])`` (the votes ``c`` needs to
  overtake ``a``) this needs at least ``D(g1, g2) = max(ceil(g1/2), ceil(g2/2),
  ceil((g1 + g2)/3))`` partitions: one corrupted model lowers ``(g1, g2)`` by at most
  ``(2, 1)`` or ``(1, 2)``.
* CertR2, another class ``c`` reaches the final and wins it: ``c`` must overtake
  ``c_sec`` (``ceil(g(c_sec, c)/2)``, 0 for ``c = c_sec``) and swing the head-to-head
  (``ceil(max(0, M_cpred[c] + [c > c_pred])/2)``: one model moves ``M`` by at most 2).

The radius is ``min(CertR1, CertR2) - 1``. On FA each ``ceil(gap/q)`` becomes the
greedy bucket count: the fewest buckets whose largest weights reach the gap, with the
weights of ALGORITHMS.md.

Two precisions of the published rules, both sound (and checked by brute force in the
tests):

* Score ties abstain in round 2. The reference code counts a tie against *both*
  finalists (``E_a[b] = 2 #{s_i[a] > s_i[b]} - m``), which can give a correct
  prediction the radius -1; with abstention the radius is never negative.
* The ``(g1 + g2)`` term of CertR1 is used only when both classes rank below
  ``c_pred`` (``g1, g2 > 0``). When ``c_pred`` is the runner-up of round 1, one class
  overtaking it already knocks it out, and that case is counted by the single terms
  alone, as in the FA+ROE reference code. (For DPA this changes nothing; for FA the
  clipped sum ``0 + g2`` would demand more of the pair weights, in which a
  ``c1``-voter weighs 0 although moving it to ``c2`` does lower ``g2``.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from ldcbook._checks import check_array, check_int
from ldcbook.certify._common import (
    INF,
    bucket_sums,
    ceil_div,
    count_votes_unchecked,
    need_count,
    row_chunks,
    row_histogram,
    small_uint,
    top_sum,
    votes_from_scores_unchecked,
)
from ldcbook.certify.fa import check_shifts, check_spread, fa_shifts


def check_scores(name: str, scores: ArrayLike) -> np.ndarray:
    """Validate an ``(n, models, C)`` real array with ``C >= 2``.

    Finiteness is checked block by block while certifying
    (:func:`check_finite_block`), which avoids a full-size boolean temporary.
    """
    arr = check_array(name, scores, ndim=3, kind="f", finite=False)
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one model (axis 1), got shape {arr.shape}"
        )
    if arr.shape[2] < 2:
        raise ValueError(
            f"{name} must have at least 2 classes (axis 2), got shape {arr.shape}"
        )
    return arr


def check_finite_block(name: str, block: np.ndarray) -> None:
    """Raise ``ValueError`` if a block of scores holds NaN or an infinity.

    ``min`` and ``max`` propagate NaN and expose infinities, so two reductions of a
    cache-resident block replace a full-size boolean temporary.
    """
    if block.dtype.kind == "f" and block.size:
        if not (np.isfinite(block.min()) and np.isfinite(block.max())):
            raise ValueError(f"{name} must hold finite values (no NaN or infinity)")


def _prefers(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``+1`` where ``a > b``, ``-1`` where ``a < b``, ``0`` on a tie (int8)."""
    return (a > b).view(np.int8) - (a < b).view(np.int8)


def _rounds(
    counts: np.ndarray, pick: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(c_pred, c_sec)``; ``pick(c)``: each model's score for ``c[row]``."""
    rows = counts.shape[0]
    at = np.arange(rows)
    m1 = np.argmax(counts, axis=1)
    masked = counts.copy()
    masked[at, m1] = -1
    m2 = np.argmax(masked, axis=1)
    head = _prefers(pick(m1), pick(m2)).sum(axis=1, dtype=np.int64)
    c_pred = np.where(head > 0, m1, np.where(head < 0, m2, np.minimum(m1, m2)))
    return c_pred.astype(np.int64), (m1 + m2 - c_pred).astype(np.int64)


def _gaps(counts: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``g(a, c) = max(0, N_a - N_c + [c > a])`` for every class ``c``: (rows, C)."""
    rows, num_classes = counts.shape
    top = counts[np.arange(rows), a]
    raw = top[:, None] - counts + (np.arange(num_classes)[None, :] > a[:, None])
    return np.maximum(raw, 0)


def _dpa_route_costs(
    counts: np.ndarray, c_pred: np.ndarray, c_sec: np.ndarray, swing: np.ndarray
) -> np.ndarray:
    """``min(CertR1, CertR2)`` on DPA, in closed form (module docstring)."""
    num_classes = counts.shape[1]
    g_pred = _gaps(counts, c_pred)
    g_sec = _gaps(counts, c_sec)
    is_pred = np.arange(num_classes)[None, :] == c_pred[:, None]
    cert_r2 = np.maximum(ceil_div(g_sec, 2), ceil_div(swing, 2))
    cert_r2 = np.where(is_pred, INF, cert_r2).min(axis=1)
    if num_classes == 2:  # both classes are always finalists: no knock-out route
        return cert_r2
    # D(g1, g2) grows with both arguments: the two smallest gaps give the minimum.
    two = np.sort(np.where(is_pred, INF, g_pred), axis=1)[:, :2]
    g1, g2 = two[:, 0], two[:, 1]
    pair = np.where(g1 > 0, ceil_div(g1 + g2, 3), 0)
    cert_r1 = np.maximum(np.maximum(ceil_div(g1, 2), ceil_div(g2, 2)), pair)
    return np.minimum(cert_r1, cert_r2)


def _roe_dpa_chunk(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DPA+ROE prediction and radius for a block of scores ``(rows, models, C)``."""
    rows, models, num_classes = scores.shape
    # (rows, C, models): reductions over classes and models run on contiguous data.
    by_class = np.ascontiguousarray(scores.transpose(0, 2, 1))
    votes = votes_from_scores_unchecked(by_class, axis=1)  # -1: all scores equal
    counts = count_votes_unchecked(votes, num_classes)
    at = np.arange(rows)

    def pick(c: np.ndarray) -> np.ndarray:
        return by_class[at, c]

    c_pred, c_sec = _rounds(counts, pick)
    s_pred = pick(c_pred)[:, None, :]
    # M_cpred[c] for every class c at once: models preferring c_pred minus the reverse.
    acc = np.int16 if models <= np.iinfo(np.int16).max else np.int64
    head = np.add.reduce((s_pred > by_class).view(np.uint8), axis=2, dtype=acc)
    head -= np.add.reduce((s_pred < by_class).view(np.uint8), axis=2, dtype=acc)
    after = np.arange(num_classes)[None, :] > c_pred[:, None]
    swing = np.maximum(0, head.astype(np.int64) + after)
    return c_pred, _dpa_route_costs(counts, c_pred, c_sec, swing) - 1


def _roe_fa_chunk(
    by_class: np.ndarray, shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """FA+ROE prediction and radius for a block; ``by_class``: ``(C, rows, models)``."""
    num_classes, rows, _ = by_class.shape
    classes = np.arange(num_classes)
    votes = votes_from_scores_unchecked(by_class, axis=0)  # -1: all scores equal
    counts = count_votes_unchecked(votes, num_classes)

    def pick(c: np.ndarray) -> np.ndarray:
        return np.take_along_axis(by_class, c[None, :, None], axis=0)[0]

    c_pred, c_sec = _rounds(counts, pick)
    s_pred = pick(c_pred)
    g_pred = _gaps(counts, c_pred)
    g_sec = _gaps(counts, c_sec)
    is_pred = classes[None, :] == c_pred[:, None]
    d = len(shifts)
    dtype = small_uint(3 * d)
    pred_b = bucket_sums(votes == c_pred[:, None], shifts, dtype)
    sec_b = bucket_sums(votes == c_sec[:, None], shifts, dtype)
    pred_b += dtype(d)  # d + #c_pred-voters per bucket
    sec_b += dtype(d)
    voters = [bucket_sums(votes == c, shifts, dtype) for c in range(num_classes)]
    single = np.empty((rows, num_classes), dtype=np.int64)  # c overtakes c_pred
    cert_r2 = np.full(rows, INF, dtype=np.int64)
    for c in range(num_classes):
        to_c = row_histogram(pred_b - voters[c], 2 * d + 1)
        single[:, c] = need_count(to_c, g_pred[:, c])
        overtake = need_count(row_histogram(sec_b - voters[c], 2 * d + 1), g_sec[:, c])
        prefers = _prefers(s_pred, by_class[c])
        # max(0, M_cpred[c] + [c > c_pred]): what round 2 needs undone
        swing = np.maximum(0, prefers.sum(axis=1, dtype=np.int64) + (c > c_pred))
        weights = bucket_sums(prefers + np.int8(1), shifts, dtype)
        win = need_count(row_histogram(weights, 2 * d + 1), swing)
        route = np.maximum(overtake, win)
        cert_r2 = np.where(c_pred == c, cert_r2, np.minimum(cert_r2, route))
    single[is_pred] = INF
    best = _knock_out(single, g_pred, c_pred, pred_b, voters, d, cert_r2)
    return c_pred, best - 1


def _knock_out(
    single: np.ndarray,
    g_pred: np.ndarray,
    c_pred: np.ndarray,
    pred_b: np.ndarray,
    voters: list[np.ndarray],
    d: int,
    best: np.ndarray,
) -> np.ndarray:
    """``min(best, CertR1)`` on FA: the pair routes that could beat ``best``.

    ``single[:, c]`` is the bucket count for ``c`` to overtake ``c_pred`` (INF for
    ``c = c_pred``), ``pred_b`` is ``d + #c_pred-voters`` per bucket, ``voters[c]`` the
    ``c``-voters per bucket. A pair ``{c1, c2}`` costs ``max(single1, single2)`` and,
    when both rank below ``c_pred``, at least the bucket count for ``g1 + g2`` with
    weights ``d + 2 #c_pred - #c1 - #c2``. That count is at least the one with the
    larger weights ``u = d + 2 #c_pred``, which does not depend on the pair: pairs whose
    ``g1 + g2`` exceeds the sum of the ``best - 1`` largest ``u`` cannot beat ``best``
    and are skipped without building their weights.
    """
    rows, num_classes = single.shape
    first, second = np.triu_indices(num_classes, 1)
    both = np.maximum(single[:, first], single[:, second])  # (rows, pairs)
    valid = (c_pred[:, None] != first) & (c_pred[:, None] != second)
    g1, g2 = g_pred[:, first], g_pred[:, second]
    below = (g1 > 0) & (g2 > 0)
    # Pairs with a class already above c_pred: the single counts are the whole cost.
    simple = np.where(valid & ~below, both, INF).min(axis=1, initial=INF)
    best = np.minimum(best, simple)
    pair_base = pred_b + (pred_b - pred_b.dtype.type(d))  # d + 2 #c_pred-voters
    u_hist = row_histogram(pair_base, 3 * d + 1)
    reach = top_sum(u_hist, best - 1)  # what best - 1 buckets can lower g1 + g2 by
    target = g1 + g2
    todo = valid & below & (both < best[:, None]) & (target <= reach[:, None])
    for p in np.flatnonzero(todo.any(axis=0)):
        at = np.flatnonzero(todo[:, p] & (both[:, p] < best))
        if at.size == 0:
            continue
        c1, c2 = first[p], second[p]
        weights = pair_base[at] - voters[c1][at] - voters[c2][at]
        pair = need_count(row_histogram(weights, 3 * d + 1), target[at, p])
        best[at] = np.minimum(best[at], np.maximum(both[at, p], pair))
    return best


def roe(
    scores: ArrayLike, d: int = 1, shifts: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run-Off Election on DPA (``d = 1``) or on FA: prediction and certified radius.

    Serves Chapter 6 of the book (ALGORITHMS.md, "Run-Off Election"); the rounds and
    the two certificate routes are described in the module docstring.

    Unit: as for :func:`ldcbook.certify.dpa` and :func:`ldcbook.certify.fa`, the radius
    counts poisoned samples under the symmetric-difference attack size, each reaching
    one partition (DPA) or one bucket (FA), whose models may then give any scores.

    Parameters
    ----------
    scores : array_like of float, shape (n, models, C)
        Each base model's score vector (e.g. logits) per test point; axis 1 is the
        model id (for FA **in model-id order**, see :mod:`ldcbook.certify.fa`). NaN
        and infinities are rejected.
    d : int, default 1
        FA spread; ``models`` must equal ``k d``. ``d = 1`` without ``shifts`` is ROE
        on DPA with ``k = models`` partitions, computed in closed form.
    shifts : array_like of int, shape (d,), optional
        FA shifts; by default :func:`ldcbook.certify.fa_shifts` ``(k, d)`` when
        ``d > 1``. Passing shifts with ``d = 1`` runs the bucket computation, which
        equals the DPA closed form (a test of the implementation).

    Returns
    -------
    prediction : numpy.ndarray
        int64, shape ``(n,)``: the round-2 winner ``c_pred``.
    radius : numpy.ndarray
        int64, shape ``(n,)``, ``>= 0``.

    Raises
    ------
    TypeError
        If ``scores`` is not numeric or ``d`` not an int.
    ValueError
        If ``scores`` is not 3-D, has no model or fewer than 2 classes, holds NaN or
        infinities, or its model count is not a multiple of ``d``; or if ``shifts``
        are not ``d`` distinct values in ``range(models)``.

    Examples
    --------
    Three models over classes 0, 1, 2. Round 1 votes ``(2, 1, 0)``; in round 2 the
    third model prefers 1 to 0 and the second ties them, so ``M_0[1] = 1 - 1 = 0``
    and the tie goes to class 0 (the reference rule would count the tie against
    both, ``E_0[1] = 2 - 3 < 0``, and predict 1). One poisoned partition can swing
    ``M_0[1]`` to -2, so the radius is 0:

    >>> s = [[[3.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 2.0, 1.0]]]
    >>> pred, radius = roe(s)
    >>> pred.tolist(), radius.tolist()
    ([0], [0])
    """
    arr = check_scores("scores", scores)
    d = check_int("d", d, min_value=1)
    n, models, num_classes = arr.shape
    k = check_spread("scores", models, d)
    shift_arr: np.ndarray | None = None
    if shifts is not None or d > 1:
        shift_arr = check_shifts(fa_shifts(k, d) if shifts is None else shifts, k, d)
    pred = np.empty(n, dtype=np.int64)
    radius = np.empty(n, dtype=np.int64)
    if shift_arr is None:  # DPA: cache-sized blocks of the scores as they are
        for block in row_chunks(n, models * num_classes * arr.dtype.itemsize, 2 << 20):
            part = arr[block]
            check_finite_block("scores", part)
            pred[block], radius[block] = _roe_dpa_chunk(part)
        return pred, radius
    # FA, per test point: the transposed scores, C bucket-count arrays, a few more.
    row_bytes = models * (num_classes * (arr.dtype.itemsize + 1) + 16)
    for block in row_chunks(n, row_bytes, budget=32 << 20):
        by_class = np.ascontiguousarray(np.moveaxis(arr[block], 2, 0))
        check_finite_block("scores", by_class)
        pred[block], radius[block] = _roe_fa_chunk(by_class, shift_arr)
    return pred, radius
