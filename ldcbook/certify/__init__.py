"""Certified defences against data poisoning: DPA, FA, ROE and nearest neighbours.

Chapter 6 of the book; ALGORITHMS.md defines every certificate exactly. Each
certificate is vectorised over test points and returns ``(prediction, radius)``,
integer arrays of shape ``(n,)``; ``radius`` is the largest attack size (symmetric
difference ``|D ⊖ D'|``: insertions plus removals) under which the prediction provably
stays the same. Correctness against labels is applied by :func:`certified_accuracy`.

Modules: :mod:`~ldcbook.certify.dpa` (Deep Partition Aggregation),
:mod:`~ldcbook.certify.fa` (Finite Aggregation), :mod:`~ldcbook.certify.roe`
(Run-Off Election on DPA or FA), :mod:`~ldcbook.certify.nn` (kNN and rNN),
:mod:`~ldcbook.certify.metrics` (certified accuracy, median radius). numpy only.
"""

from ldcbook.certify.dpa import count_votes, dpa, votes_from_scores
from ldcbook.certify.fa import fa, fa_shifts
from ldcbook.certify.metrics import (
    certified_accuracy,
    certified_radii,
    median_radius,
    radius_at_level,
)
from ldcbook.certify.nn import knn, rnn
from ldcbook.certify.roe import roe

__all__ = [
    "certified_accuracy",
    "certified_radii",
    "count_votes",
    "dpa",
    "fa",
    "fa_shifts",
    "knn",
    "median_radius",
    "radius_at_level",
    "rnn",
    "roe",
    "votes_from_scores",
]
