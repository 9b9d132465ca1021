"""Tests for ldcbook.certify.nn: kNN and rNN certificates and their conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ldcbook.certify import dpa, knn, rnn

counts_arrays = hnp.arrays(
    np.int64,
    st.tuples(st.integers(1, 15), st.integers(2, 6)),
    elements=st.integers(0, 25),
)


@settings(max_examples=150, deadline=None)
@given(counts_arrays)
def test_knn_equals_dpa_on_the_same_counts(counts):
    for convention in ("symmetric", "modification"):
        pred, radius = knn(counts, convention=convention)
        dpa_pred, dpa_radius = dpa(counts)
        assert pred.tolist() == dpa_pred.tolist()
        assert radius.tolist() == dpa_radius.tolist()


def _rnn_insertion_attack(counts, pred):
    """Fewest single insertions/removals making another class win (plain search).

    An insertion adds one vote to a class; a removal takes one from a class; a class
    ``b`` beats ``a`` when ``s_b > s_a`` or they tie and ``b < a``. Each operation
    closes ``s_a - s_b`` by 1, so the fewest is ``min_b (s_a - s_b - [b < a]) + 1``;
    here it is found by breadth-first search over count vectors instead.
    """
    start = tuple(counts)
    frontier, seen, steps = {start}, {start}, 0
    while True:
        for state in frontier:
            total = sum(state)
            # An emptied ball predicts ⊥, which differs from any class.
            if not total or min(range(len(state)), key=lambda c: (-state[c], c)) != pred:
                return steps
        steps += 1
        nxt = set()
        for state in frontier:
            for c in range(len(state)):
                for delta in (1, -1):
                    new = list(state)
                    new[c] += delta
                    if new[c] >= 0 and tuple(new) not in seen:
                        seen.add(tuple(new))
                        nxt.add(tuple(new))
        frontier = nxt


@pytest.mark.parametrize(
    "counts",
    [[3, 1, 0], [2, 2, 0], [0, 4, 4], [1, 5, 2], [0, 1], [6, 0, 0, 2], [3, 0, 0], [1, 0]],
)
def test_rnn_symmetric_radius_is_exact_by_search(counts):
    pred, radius = rnn([counts])
    assert radius[0] + 1 == _rnn_insertion_attack(counts, int(pred[0]))


def test_rnn_hand_worked_and_conventions():
    # a = 1 with 6 votes: b = 0 gives 6 - 1 - 1 = 4, b = 2 gives 6 - 2 = 4.
    pred, radius = rnn([[1, 6, 2]])
    assert (pred.tolist(), radius.tolist()) == ([1], [4])
    assert rnn([[1, 6, 2]], convention="modification")[1].tolist() == [2]
    # Ties: (2, 2) predicts 0, radius 0 under both conventions.
    assert [a.tolist() for a in rnn([[2, 2]])] == [[0], [0]]
    # c < a costs one more vote: (1, 3) -> gap 3 - 1 - 1 = 1.
    assert rnn([[1, 3]])[1].tolist() == [1]
    assert rnn([[1, 3]], convention="modification")[1].tolist() == [0]


def test_rnn_empty_ball_is_abstention():
    pred, radius = rnn([[0, 0, 0], [0, 2, 0]])
    assert pred.tolist() == [-1, 1]
    assert radius.tolist() == [-1, 1]  # b = 0 < a: 2 - 0 - 1


@settings(max_examples=100, deadline=None)
@given(counts_arrays)
def test_rnn_conventions_relate_by_halving(counts):
    pred_s, radius_s = rnn(counts)
    pred_m, radius_m = rnn(counts, convention="modification")
    assert pred_s.tolist() == pred_m.tolist()
    ok = pred_s >= 0
    # A ball of class 0 alone is emptied by sum(s) removals before any class wins.
    alone = ok & (counts[:, 0] == counts.sum(axis=1))
    assert (radius_s[alone] == counts[alone, 0] - 1).all()
    assert (radius_m[ok & ~alone] == radius_s[ok & ~alone] // 2).all()
    # With the same counts, the symmetric rNN radius is the DPA/kNN gap, not its half.
    assert (radius_s[ok] >= knn(counts)[1][ok]).all()


@pytest.mark.parametrize("fn", [knn, rnn])
def test_nn_rejects_bad_input(fn):
    with pytest.raises(ValueError, match="counts must be non-negative"):
        fn([[1, -1]])
    with pytest.raises(TypeError, match="counts must have an integer dtype"):
        fn([[1.5, 2.0]])
    with pytest.raises(ValueError, match="counts must have 2"):
        fn([1, 2])
    with pytest.raises(ValueError, match="convention must be one of"):
        fn([[1, 2]], convention="jia")
