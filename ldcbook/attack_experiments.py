"""Attacking trained DPA/FA runs: planning attacks on test points, and the search.

Serves the chapter on real poisoning attacks and ``python -m ldcbook attack``. The
attacks themselves and the packed retraining are :mod:`ldcbook.attacks`; this module
decides *where* an attacker of a given budget puts its samples against one test
point (:func:`plan_attack`), runs many such attacks (:func:`run_attacks`), and
searches the smallest attack that changes a prediction (:func:`flip_search`).

Every planned attack aims at one test point ``t`` with prediction ``y`` and
runner-up ``c`` (the class the certificate's minimum is attained at): each poisoned
partition should move one vote from ``y`` to ``c``, the most a poisoned sample can do
to the DPA votes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ldcbook._checks import check_array, check_int
from ldcbook.attacks import (
    Attack,
    near_copies,
    nearest_training,
    relabel,
    removal,
    retrain_attacks,
)

FAMILIES: tuple[str, ...] = ("near-copies", "relabel", "removal")
"""Attack families of :func:`plan_attack`."""


def runner_up(votes: np.ndarray, prediction: int) -> int:
    """The class that needs the fewest flipped votes to win, ties to the smaller index.

    ``argmin`` over ``c != prediction`` of ``N_pred - N_c - [c < pred]``: the class at
    which the DPA certificate's minimum is attained.

    Parameters
    ----------
    votes : numpy.ndarray
        int ``(C,)`` vote counts.
    prediction : int

    Returns
    -------
    int
    """
    v = check_array("votes", np.asarray(votes), ndim=1, kind="i").astype(np.int64)
    y = check_int("prediction", prediction, min_value=0, max_value=len(v) - 1)
    gap = v[y] - v - (np.arange(len(v)) < y)
    gap[y] = np.iinfo(np.int64).max
    return int(np.argmin(gap))


@dataclasses.dataclass(frozen=True)
class Target:
    """A test point under attack.

    Attributes
    ----------
    index : int
        Its test index.
    prediction, runner_up, radius : int
        The clean ensemble's prediction, runner-up class and DPA radius.
    voters : numpy.ndarray
        int64 model ids voting for the prediction, the most vulnerable first
        (smallest score margin between prediction and runner-up).
    """

    index: int
    prediction: int
    runner_up: int
    radius: int
    voters: np.ndarray


def targets(scores: np.ndarray, indices: Sequence[int]) -> list[Target]:
    """The :class:`Target` of each test point ``indices`` of a DPA run's scores.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, k, C)`` of the clean run, model-id order.
    indices : sequence of int
        Test indices.

    Returns
    -------
    list of Target
    """
    from ldcbook.certify import count_votes, dpa, votes_from_scores

    s = np.asarray(scores)
    if s.ndim != 3:
        raise ValueError(f"scores must be (n_test, models, C), got shape {s.shape}")
    idx = check_array("indices", np.asarray(indices, dtype=np.int64), ndim=1, kind="i")
    if idx.size and (idx.min() < 0 or idx.max() >= len(s)):
        raise ValueError(f"indices must index range({len(s)})")
    votes = votes_from_scores(s[idx])
    counts = count_votes(votes, s.shape[2])
    pred, radius = dpa(counts)
    out = []
    for row, t in enumerate(idx.tolist()):
        y, c = int(pred[row]), runner_up(counts[row], int(pred[row]))
        voters = np.flatnonzero(votes[row] == y)
        margin = s[t, voters, y] - s[t, voters, c]
        out.append(Target(t, y, c, int(radius[row]),
                          voters[np.lexsort((voters, margin))].astype(np.int64)))
    return out


def plan_attack(
    family: str, dataset: Any, parts: Sequence[Any], target: Target,
    models: Sequence[int], copies: int = 1,
) -> Attack:
    """An attack of one family on ``target`` that poisons the partitions ``models``.

    ``"near-copies"``: ``copies`` near-copies of the target labelled with its runner-up,
    steered into each partition (size ``copies * len(models)``). ``"relabel"``: in each
    partition, the ``copies`` training samples of the predicted class nearest to the
    target get the runner-up label (size ``2 * copies * len(models)``).
    ``"removal"``: in each partition, the ``copies`` nearest samples of the predicted
    class are removed (size ``copies * len(models)``). DPA partitions (``modulus =
    len(parts)``).

    Returns
    -------
    Attack
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    ids = check_array("models", np.asarray(models, dtype=np.int64), ndim=1, kind="i")
    copies = check_int("copies", copies, min_value=1)
    x = dataset.x_test[target.index]
    if family == "near-copies":
        return near_copies(x, target.runner_up, ids, len(parts), copies)
    picked = [nearest_training(dataset, x, copies, among=parts[i],
                               label=target.prediction) for i in ids.tolist()]
    idx = np.concatenate(picked) if picked else np.zeros(0, np.int64)
    if family == "relabel":
        return relabel(dataset, idx, target.runner_up)
    return removal(idx, tuple(dataset.x_train.shape[1:]))


def cost(family: str, copies: int = 1) -> int:
    """Attack size per poisoned partition of :func:`plan_attack`."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return check_int("copies", copies, min_value=1) * (2 if family == "relabel" else 1)


def attacked_votes(
    clean_scores: np.ndarray, target: Target, changed: dict[int, np.ndarray]
) -> np.ndarray:
    """Votes on ``target`` after an attack: the clean models, with those in
    ``changed`` (model id -> its retrained ``(C,)`` scores on the target) replaced.

    Returns
    -------
    numpy.ndarray
        int64 ``(models,)`` votes (-1 abstains).
    """
    from ldcbook.certify import votes_from_scores

    s = np.array(clean_scores[target.index], copy=True)
    for i, v in changed.items():
        s[i] = v
    return votes_from_scores(s[None])[0]


def certify_votes(votes: np.ndarray, num_classes: int) -> tuple[int, int]:
    """DPA prediction and radius of one point's votes."""
    from ldcbook.certify import count_votes, dpa

    pred, radius = dpa(count_votes(np.asarray(votes)[None], num_classes))
    return int(pred[0]), int(radius[0])


def balanced_models(
    tlist: Sequence[Target], counts: Sequence[int], num_models: int
) -> list[np.ndarray]:
    """Choose ``counts[j]`` voters of each target so that model ids are used evenly.

    Packed retraining needs one pass per use of the busiest model id; among each
    target's voters, the least used so far are taken first, the most vulnerable
    (smallest margin) first among equals.

    Returns
    -------
    list of numpy.ndarray
        The chosen model ids per target.
    """
    use = np.zeros(check_int("num_models", num_models, min_value=1), np.int64)
    out = []
    for tgt, q in zip(tlist, counts):
        q = check_int("counts", q, min_value=0)
        rank = np.arange(len(tgt.voters))
        order = np.lexsort((rank, use[tgt.voters]))
        chosen = tgt.voters[order[:q]]
        use[chosen] += 1
        out.append(np.sort(chosen))
    return out


def run_attacks(
    dataset: Any, parts: Sequence[Any], config: Any, clean_scores: np.ndarray,
    tlist: Sequence[Target], plans: Sequence[Sequence[tuple[int, int]]],
    family: str = "near-copies", **retrain: Any,
) -> list[dict[tuple[int, int], np.ndarray]]:
    """Retrain the per-partition poisonings of many targets in packed passes.

    ``plans[j]`` lists ``(model id, copies)`` pairs for target ``j``: the attack on
    ``tlist[j]`` that poisons those partitions. Each pair is retrained once, as the
    one-partition attack :func:`plan_attack` builds; a model depends on its own
    partition alone, so the attacked ensemble's votes on a target are the clean
    votes with the retrained models swapped in (:func:`attacked_votes`), bit for bit
    what retraining the whole poisoned dataset gives.

    Returns
    -------
    list of dict
        Per target, ``(model id, copies) -> (C,)`` retrained scores on the target.
    """
    jobs, owners = [], []
    for j, (tgt, plan) in enumerate(zip(tlist, plans)):
        for i, m in plan:
            jobs.append(plan_attack(family, dataset, parts, tgt, [i], m))
            owners.append((j, int(i), int(m)))
    rows = np.unique([t.index for t in tlist]).astype(np.int64)
    results = retrain_attacks(dataset, parts, config, jobs,
                              budgets=[a.size for a in jobs], rows=rows, **retrain)
    out: list[dict[tuple[int, int], np.ndarray]] = [{} for _ in tlist]
    for (j, i, m), res in zip(owners, results):
        if res.affected.tolist() != [i]:
            raise RuntimeError(f"the attack on model {i} changed models "
                               f"{res.affected.tolist()}")
        row = int(np.searchsorted(rows, tlist[j].index))
        out[j][(i, m)] = res.scores[row, 0]
    return out


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """The smallest attack found on one target by :func:`flip_search`.

    Attributes
    ----------
    target : Target
    plan : tuple of (int, int)
        ``(model id, copies)`` of the final attack.
    size : int
        Its size (``-1`` when nothing found within the search's limits).
    flipped : bool
        Whether it changes the prediction.
    confirm_votes : numpy.ndarray
        The votes on the target under the budget-``radius`` attack: one near-copy in
        each of the first ``radius`` partitions of the first round.
    copies_to_flip : dict
        Model id -> the fewest copies found that flip its vote to the runner-up
        (absent when none within ``max_copies``).
    """

    target: Target
    plan: tuple[tuple[int, int], ...]
    size: int
    flipped: bool
    confirm_votes: np.ndarray
    copies_to_flip: dict[int, int]


def flip_search(
    dataset: Any, parts: Sequence[Any], config: Any, clean_scores: np.ndarray,
    tlist: Sequence[Target], *, max_copies: int = 8, rounds: int = 4, **retrain: Any,
) -> list[SearchResult]:
    """The smallest near-copy attack found that changes each target's prediction.

    Round 1 poisons ``radius + 1`` of the target's voters with one near-copy each
    (labelled with the runner-up): if each flips its vote, the prediction changes,
    since the certificate's gap closes by 2 per flipped vote. A partition whose model
    did not flip gets twice the copies in the next round (up to ``max_copies``, then
    it is replaced by another voter); ``rounds`` rounds at most. All retraining of a
    round is packed into shared passes (:func:`run_attacks`). The first ``radius``
    partitions of round 1 form the budget-``radius`` attack that checks the
    certificate (:attr:`SearchResult.confirm_votes`).

    Returns
    -------
    list of SearchResult
    """
    max_copies = check_int("max_copies", max_copies, min_value=1)
    rounds = check_int("rounds", rounds, min_value=1)
    nc = int(dataset.num_classes)
    tlist = list(tlist)
    chosen = balanced_models(tlist, [t.radius + 1 for t in tlist], len(parts))
    plans = [[(int(i), 1) for i in ids] for ids in chosen]
    seen: list[dict[tuple[int, int], np.ndarray]] = [{} for _ in tlist]
    done = [False] * len(tlist)
    used = [set(int(i) for i in ids) for ids in chosen]
    confirm = [np.zeros(0)] * len(tlist)
    for rnd in range(rounds):
        todo = [j for j in range(len(tlist)) if not done[j]]
        if not todo:
            break
        new = [[p for p in plans[j] if p not in seen[j]] for j in todo]
        got = run_attacks(dataset, parts, config, clean_scores,
                          [tlist[j] for j in todo], new, **retrain)
        for j, g in zip(todo, got):
            seen[j].update(g)
            tgt = tlist[j]
            if rnd == 0:
                first = chosen[j][: tgt.radius]
                confirm[j] = attacked_votes(clean_scores, tgt,
                                            {i: seen[j][(int(i), 1)] for i in first})
            changed = {i: seen[j][(i, m)] for i, m in plans[j]}
            votes = attacked_votes(clean_scores, tgt, changed)
            if certify_votes(votes, nc)[0] != tgt.prediction:
                done[j] = True
                continue
            nxt = []
            for i, m in plans[j]:
                if int(np.argmax(seen[j][(i, m)])) == tgt.runner_up:
                    nxt.append((i, m))
                elif 2 * m <= max_copies:
                    nxt.append((i, 2 * m))
                else:
                    spare = [int(v) for v in tgt.voters if int(v) not in used[j]]
                    if spare:
                        used[j].add(spare[0])
                        nxt.append((spare[0], 1))
            plans[j] = nxt
    out = []
    for j, tgt in enumerate(tlist):
        flips: dict[int, int] = {}
        for (i, m), s in sorted(seen[j].items()):
            if int(np.argmax(s)) == tgt.runner_up and i not in flips:
                flips[i] = m
        size = sum(m for _, m in plans[j]) if done[j] else -1
        out.append(SearchResult(tgt, tuple(plans[j]), size, done[j], confirm[j], flips))
    return out


def attack_points(
    dataset: Any, parts: Sequence[Any], config: Any, clean_scores: np.ndarray,
    points: Sequence[int], family: str, budget: int, **retrain: Any,
) -> dict[str, np.ndarray]:
    """Attack each test point with its own budget-``budget`` attack of one family.

    The attack poisons the most vulnerable voters of the point (one sample each;
    ``budget // 2`` partitions for ``"relabel"``, whose samples cost 2), is checked
    against its budget, retrained in packed passes, and the point re-certified: the
    computation of ``python -m ldcbook attack``.

    Returns
    -------
    dict of numpy.ndarray
        ``points``, ``prediction``, ``radius`` (clean), ``attacked_prediction``,
        ``attacked_radius``, ``size``, ``models`` (poisoned partitions), all int64.
    """
    budget = check_int("budget", budget, min_value=0)
    tlist = targets(clean_scores, points)
    per = cost(family)
    plans = [[(int(i), 1) for i in t.voters[: budget // per]] for t in tlist]
    got = run_attacks(dataset, parts, config, clean_scores, tlist, plans, family,
                      **retrain)
    nc = int(dataset.num_classes)
    rows = []
    for t, plan, g in zip(tlist, plans, got):
        votes = attacked_votes(clean_scores, t, {i: g[(i, m)] for i, m in plan})
        rows.append((t.index, t.prediction, t.radius, *certify_votes(votes, nc),
                     per * len(plan), len(plan)))
    names = ("points", "prediction", "radius", "attacked_prediction",
             "attacked_radius", "size", "models")
    arr = np.array(rows, dtype=np.int64).reshape(len(rows), len(names))
    return {n: arr[:, c] for c, n in enumerate(names)}


def fa_plan(
    votes: np.ndarray, num_classes: int, k: int, d: int, shifts: Sequence[int],
    load: np.ndarray | None = None,
) -> tuple[int, int, int, np.ndarray]:
    """Where an attacker poisons one point of an FA run: the heaviest buckets.

    For the FA certificate (:func:`ldcbook.certify.fa`) of one point with plurality
    ``y``: for each class ``c``, bucket ``h`` weighs ``w_h``, the sum over its ``d``
    models of ``1 + [v = y] - [v = c]`` (what switching them all to ``c`` takes off
    the gap ``N_y - N_c - [c < y]``), and ``r_c`` is the largest ``r`` whose ``r``
    heaviest buckets fit in the gap. The radius is ``min_c r_c``, attained at the
    class ``c`` returned here (the smallest such); an attack that switches the
    models of the ``r + 1`` heaviest buckets of ``c`` to ``c`` changes the prediction.

    Parameters
    ----------
    votes : numpy.ndarray
        int ``(k*d,)`` votes of the point's models, model-id order (-1 abstains).
    num_classes, k, d : int
    shifts : sequence of int
        The run's FA shifts.
    load : numpy.ndarray, optional
        int ``(k*d,)``: how many attacks already retrain each model. Among buckets of
        equal weight, those whose models are least loaded come first, so that many
        attacks pack into few retraining passes.

    Returns
    -------
    prediction, radius, target_class : int
    buckets : numpy.ndarray
        int64 bucket ids, heaviest for ``target_class`` first (ties: least loaded,
        then smaller id).
    """
    from ldcbook.certify import fa

    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    nc = check_int("num_classes", num_classes, min_value=2)
    v = check_array("votes", np.asarray(votes), ndim=1, kind="i").astype(np.int64)
    if len(v) != k * d:
        raise ValueError(f"votes must hold k*d = {k * d} votes, got {len(v)}")
    s = np.asarray(shifts, dtype=np.int64)
    pred, radius = (int(a[0]) for a in fa(v[None], nc, d, s))
    counts = np.bincount(v[v >= 0], minlength=nc)
    feeds = (np.arange(k * d)[:, None] + s[None, :]) % (k * d)  # (buckets, d)
    if load is None:
        load = np.zeros(k * d, np.int64)
    load = check_array("load", np.asarray(load), ndim=1, kind="i")
    if len(load) != k * d:
        raise ValueError(f"load must hold k*d = {k * d} counts, got {len(load)}")
    busy = load[feeds].sum(axis=1)
    best: tuple[int, int, np.ndarray] | None = None
    for c in range(nc):
        if c == pred:
            continue
        w = (1 + (v[feeds] == pred) - (v[feeds] == c)).sum(axis=1)
        order = np.lexsort((np.arange(k * d), busy, -w))
        gap = counts[pred] - counts[c] - int(c < pred)
        r_c = int(np.searchsorted(np.cumsum(w[order]), gap, side="right"))
        if best is None or r_c < best[0]:
            best = (r_c, c, order)
    if best is None or best[0] != radius:  # the certificate's own computation
        raise RuntimeError(f"bucket weights give radius {best and best[0]}, "
                           f"ldcbook.certify.fa gives {radius}")
    return pred, radius, best[1], best[2].astype(np.int64)


def fa_attack_points(
    dataset: Any, config: Any, clean_scores: np.ndarray, points: Sequence[int],
    k: int, d: int, shifts: Sequence[int], extras: Sequence[int] = (0,),
    budget: int | None = None, **retrain: Any,
) -> dict[str, np.ndarray]:
    """Attack points of an FA run: near-copies in the ``radius + e`` heaviest buckets.

    For each point and each ``e`` of ``extras``, one near-copy of the point labelled
    with the class at which its FA radius is attained goes into each of the
    ``radius + e`` heaviest buckets (:func:`fa_plan`): an attack of size
    ``radius + e`` reaching at most ``(radius + e) * d`` models. ``e = 0`` is the
    attack the certificate's worst case describes, which it rules out; ``e = 1`` the
    least that could break it. With ``budget``, each point instead gets one attack
    on its ``budget`` heaviest buckets (``python -m ldcbook attack`` on an FA run).
    All attacks are retrained in packed passes
    (:func:`ldcbook.attacks.retrain_attacks`, with the FA partitioning and its budget
    check) and the points re-certified by FA.

    Returns
    -------
    dict of numpy.ndarray
        ``points``, ``prediction``, ``radius``, ``target_class`` (int64 ``(n,)``);
        ``size``, ``models``, ``attacked_prediction``, ``attacked_radius`` (int64
        ``(n, len(extras))``).
    """
    from ldcbook.certify import fa, votes_from_scores
    from ldcbook.partition import partitions

    pts = check_array("points", np.asarray(points, dtype=np.int64), ndim=1, kind="i")
    ext = check_array("extras", np.asarray(extras, dtype=np.int64), ndim=1, kind="i")
    if ext.size and ext.min() < 0:
        raise ValueError("extras must be >= 0")
    if budget is not None:
        budget = check_int("budget", budget, min_value=0)
        ext = np.zeros(1, np.int64)
    s = np.asarray(shifts, dtype=np.int64)
    nc = int(dataset.num_classes)
    scores = np.asarray(clean_scores)
    if scores.ndim != 3 or scores.shape[1] != k * d:
        raise ValueError(f"clean_scores must be (n_test, k*d = {k * d}, C), got "
                         f"shape {scores.shape}")
    feeds = (np.arange(k * d)[:, None] + s[None, :]) % (k * d)
    load = np.zeros(k * d, np.int64)
    plans, jobs, budgets = [], [], []
    for t, v in zip(pts.tolist(), votes_from_scores(scores[pts])):
        plans.append(fa_plan(v, nc, k, d, s, load))
        _, r, c, order = plans[-1]
        for e in ext.tolist():
            buckets = order[: r + e] if budget is None else order[:budget]
            jobs.append(near_copies(dataset.x_test[t], c, buckets, k * d))
            budgets.append(len(buckets))
        most = r + int(ext.max(initial=0)) if budget is None else budget
        np.add.at(load, feeds[order[:most]].ravel(), 1)
    rows = np.unique(pts)
    results = retrain_attacks(
        dataset, partitions(dataset, k, d, s), config, jobs, budgets=budgets, d=d,
        rows=rows, partition_fn=lambda ds: partitions(ds, k, d, s), **retrain)
    shape = (len(pts), len(ext))
    out = {name: np.zeros(shape, np.int64) for name in
           ("size", "models", "attacked_prediction", "attacked_radius")}
    for j, (res, b) in enumerate(zip(results, budgets)):
        p, q = divmod(j, len(ext))
        row = int(np.searchsorted(rows, pts[p]))
        votes = votes_from_scores(res.patch(scores)[row][None])
        pred, radius = fa(votes, nc, d, s)
        out["size"][p, q], out["models"][p, q] = b, len(res.affected)
        out["attacked_prediction"][p, q] = int(pred[0])
        out["attacked_radius"][p, q] = int(radius[0])
    out["points"] = pts
    for c, name in enumerate(("prediction", "radius", "target_class")):
        out[name] = np.array([plan[c] for plan in plans], dtype=np.int64)
    return out


def median_slope(
    frame: Any, column: str, by: str = "k", draws: int = 200
) -> tuple[float, float]:
    """Log-log slope of the per-group median of ``column`` against ``by``, with a
    bootstrap standard error: the growth of the lethal dose's bracket with ``k``.

    The slope is the least-squares fit of ``log(median)`` on ``log(by)``; groups whose
    median is infinite (more than half the points without an attack found) or not
    positive drop out. The bootstrap resamples the rows within each group, with the
    seeds ``0 .. draws-1``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per point, with the columns ``by`` and ``column``.
    column, by : str
    draws : int
        Bootstrap resamples, ``>= 2``.

    Returns
    -------
    slope, standard_error : float
        ``nan`` where fewer than two groups remain.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas.DataFrame, got {type(frame).__name__}")
    for name in (column, by):
        if name not in frame.columns:
            raise ValueError(f"frame has no column {name!r}")
    draws = check_int("draws", draws, min_value=2)

    def fit(f: Any) -> float:
        med = f.groupby(by)[column].median()
        med = med[np.isfinite(med) & (med > 0)]
        if len(med) < 2:
            return float("nan")
        return float(np.polyfit(np.log(med.index.to_numpy(float)),
                                np.log(med.to_numpy(float)), 1)[0])

    boot = [fit(frame.groupby(by).sample(frac=1, replace=True, random_state=b))
            for b in range(draws)]
    finite = np.isfinite(boot)
    se = float(np.std(np.asarray(boot)[finite])) if finite.sum() >= 2 else float("nan")
    return fit(frame), se


def position_partitions(dataset: Any, k: int) -> list[np.ndarray]:
    """The assumption broken on purpose: partitions by dataset position, not content.

    Model ``i`` trains on the samples at positions ``j`` with ``j % k == i``. Removing
    the sample at position ``p`` moves every later sample to the previous model, so a
    single poisoned sample reaches every model after the one it left: the DPA
    certificate, which counts one model per poison, no longer holds.
    """
    k = check_int("k", k, min_value=1)
    n = len(dataset.y_train)
    return [np.arange(i, n, k, dtype=np.int64) for i in range(k)]


def whole_set_stats(dataset: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The assumption broken on purpose: normalisation fitted on the whole training set.

    Per-channel mean and standard deviation of every training image, in ``[0, 1]``
    units, as ``TrainConfig.norm_stats`` takes them. A run normalised so has every
    base model depend on every training sample, through these two numbers: one
    inserted sample moves them and changes every model, and the DPA certificate,
    which counts one model per poison, no longer holds.
    """
    from ldcbook.partition import channel_stats

    x = getattr(dataset, "x_train", None)
    if x is None:
        raise TypeError("dataset must have x_train (uint8 images (N, C, H, W))")
    mean, std = channel_stats(x)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


__all__ = [
    "FAMILIES",
    "SearchResult",
    "Target",
    "attack_points",
    "attacked_votes",
    "balanced_models",
    "certify_votes",
    "cost",
    "fa_attack_points",
    "fa_plan",
    "flip_search",
    "median_slope",
    "plan_attack",
    "position_partitions",
    "run_attacks",
    "runner_up",
    "targets",
    "whole_set_stats",
]
