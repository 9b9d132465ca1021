"""Brute-force references for the certificate tests (tests/test_certify_*.py).

Written from ALGORITHMS.md independently of :mod:`ldcbook.certify`: the aggregation
rules are re-implemented here (plurality by sorting on ``(-N_c, c)``, the run-off by
its definition), and attacks are enumerated exhaustively. The threat model is the one
the certificates assume: each poisoned sample lands in one partition (DPA) or one
bucket (FA); corrupting a bucket hands the attacker all models it feeds, and a
corrupted model may output anything: any class or ⊥ (vote attacks), or any weak order
of the classes as its scores (run-off attacks; the order with every class tied is ⊥).
A model whose scores are all equal has no preference and abstains in both rounds of the
run-off, as in DPA's and FA's votes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def plurality_batch(votes: np.ndarray, num_classes: int) -> np.ndarray:
    """Plurality over the last axis of ``votes`` (``-1`` abstains), ties to smaller."""
    counts = np.stack([(votes == c).sum(axis=-1) for c in range(num_classes)], axis=-1)
    # Sort key (-N_c, c): larger count first, then smaller index.
    key = counts * num_classes + (num_classes - 1 - np.arange(num_classes))
    return np.argmax(key, axis=-1)


def runoff_batch(scores: np.ndarray) -> np.ndarray:
    """Run-Off Election prediction for scores of shape ``(..., models, C)``.

    A model whose scores are all equal abstains in round 1 (and ties, so abstains, in
    round 2).
    """
    num_classes = scores.shape[-1]
    votes = np.argmax(scores, axis=-1)  # first maximum: ties to the smaller index
    votes = np.where(scores.max(axis=-1) == scores.min(axis=-1), -1, votes)
    counts = np.stack([(votes == c).sum(axis=-1) for c in range(num_classes)], axis=-1)
    key = counts * num_classes + (num_classes - 1 - np.arange(num_classes))
    order = np.argsort(-key, axis=-1)
    m1, m2 = order[..., 0], order[..., 1]
    s1 = np.take_along_axis(scores, m1[..., None, None], axis=-1)[..., 0]
    s2 = np.take_along_axis(scores, m2[..., None, None], axis=-1)[..., 0]
    head = (s1 > s2).sum(axis=-1) - (s1 < s2).sum(axis=-1)
    return np.where(head > 0, m1, np.where(head < 0, m2, np.minimum(m1, m2)))


def weak_orders(num_classes: int) -> np.ndarray:
    """Every weak order (ranking with ties) of the classes, as score vectors."""
    patterns = set()
    for t in itertools.product(range(num_classes), repeat=num_classes):
        levels = sorted(set(t))
        patterns.add(tuple(levels.index(x) for x in t))
    return np.array(sorted(patterns), dtype=float)


def fa_groups(k: int, d: int, shifts: Sequence[int]) -> list[list[int]]:
    """Models fed by each bucket: bucket ``h`` feeds ``(h + s_j) mod (k d)``."""
    b = k * d
    return [sorted({(h + int(s)) % b for s in shifts}) for h in range(b)]


def _assignments(options: np.ndarray, q: int) -> np.ndarray:
    """All ``len(options) ** q`` ways to give ``q`` models one option each."""
    if q == 0:
        return options[np.zeros((1, 0), dtype=np.int64)]
    idx = np.indices((len(options),) * q).reshape(q, -1).T
    return options[idx]


def vote_attack_exists(
    votes: Sequence[int], num_classes: int, groups: list[list[int]], size: int
) -> bool:
    """Can corrupting some ``size`` groups (models voting anything) change the vote?"""
    votes = np.asarray(votes)
    base = plurality_batch(votes, num_classes)
    options = np.arange(-1, num_classes)
    for chosen in itertools.combinations(range(len(groups)), size):
        models = sorted(set().union(*(groups[g] for g in chosen)))
        trial = _assignments(options, len(models))
        batch = np.broadcast_to(votes, (len(trial), len(votes))).copy()
        batch[:, models] = trial
        if (plurality_batch(batch, num_classes) != base).any():
            return True
    return False


def score_attack_exists(
    scores: np.ndarray, groups: list[list[int]], size: int
) -> bool:
    """Can corrupting some ``size`` groups (models scoring in any order) change ROE?"""
    scores = np.asarray(scores, dtype=float)
    base = runoff_batch(scores)
    options = weak_orders(scores.shape[1])
    for chosen in itertools.combinations(range(len(groups)), size):
        models = sorted(set().union(*(groups[g] for g in chosen)))
        trial = _assignments(options, len(models))
        batch = np.broadcast_to(scores, (len(trial), *scores.shape)).copy()
        batch[:, models, :] = trial
        if (runoff_batch(batch) != base).any():
            return True
    return False


def dpa_point(counts: Sequence[int]) -> tuple[int, int]:
    """DPA certificate for one point, straight from the formula (plain Python)."""
    pred = min(range(len(counts)), key=lambda c: (-counts[c], c))
    others = [c for c in range(len(counts)) if c != pred]
    radius = min((counts[pred] - counts[c] - (c < pred)) // 2 for c in others)
    return pred, radius
