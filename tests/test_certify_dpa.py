"""Tests for ldcbook.certify.dpa: exact cases, brute-force soundness and tightness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from certify_brute import dpa_point, vote_attack_exists
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.certify import count_votes, dpa, fa, votes_from_scores


# Hand-worked: r = min over c != ŷ of floor((N_ŷ - N_c - [c < ŷ]) / 2).
@pytest.mark.parametrize(
    ("votes", "pred", "radius"),
    [
        ([5, 2, 0], 0, 1),  # c=1: floor(3/2) = 1; c=2: floor(5/2) = 2
        ([3, 3, 0], 0, 0),  # tie goes to class 0; class 1 needs nothing more
        ([2, 4, 0], 1, 0),  # c=0 < ŷ: floor((4-2-1)/2) = 0: one move ties, 0 wins
        ([2, 5, 0], 1, 1),  # c=0: floor((5-2-1)/2) = 1
        ([4, 1, 2], 0, 1),  # c=2: floor(2/2) = 1, c=1: floor(3/2) = 1
        ([0, 6], 1, 2),  # c=0 < ŷ: floor(5/2) = 2 (three moves give 3-3, 0 wins)
        ([0, 0, 0], 0, 0),  # every model abstains: one vote for 1 flips it
        ([7, 0, 0, 0], 0, 3),
    ],
)
def test_dpa_hand_worked(votes, pred, radius):
    p, r = dpa([votes])
    assert (int(p[0]), int(r[0])) == (pred, radius)
    # The same numbers, found by enumerating corrupted partitions: the hand-worked
    # radius is exactly the largest attack the vote survives.
    models = [c for c, n in enumerate(votes) for _ in range(n)]
    models += [-1] * 1  # one abstaining model as well, to exercise ⊥
    groups = [[i] for i in range(len(models))]
    counts = count_votes([models], len(votes))
    assert dpa(counts)[1][0] == radius
    assert not vote_attack_exists(models, len(votes), groups, radius)
    assert vote_attack_exists(models, len(votes), groups, radius + 1)


def test_dpa_shapes_and_dtypes():
    votes = np.array([[1, 2], [3, 0], [0, 0]], dtype=np.uint8)
    pred, radius = dpa(votes)
    assert pred.dtype == np.int64 and radius.dtype == np.int64
    assert pred.shape == radius.shape == (3,)
    empty_pred, empty_radius = dpa(np.zeros((0, 3), dtype=int))
    assert empty_pred.shape == empty_radius.shape == (0,)


def test_count_votes_ignores_abstentions():
    preds = np.array([[0, 2, 2, -1, 1], [-1, -1, -1, -1, -1]])
    assert count_votes(preds, 3).tolist() == [[1, 1, 2], [0, 0, 0]]


@pytest.mark.parametrize("num_classes", [1, 2, 5, 127, 128, 300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_votes_from_scores_first_maximum_or_abstain(num_classes, dtype):
    rng = np.random.default_rng(num_classes)
    scores = rng.integers(0, 3, size=(70, 9, num_classes)).astype(dtype)
    scores[:, 4] = 2  # one model with no preference everywhere
    scores[5] = -7  # a point where every model has none
    votes = votes_from_scores(scores)
    tie = scores.max(axis=2) == scores.min(axis=2)
    assert votes.dtype == np.int64 and votes.shape == (70, 9)
    assert votes.tolist() == np.where(tie, -1, scores.argmax(axis=2)).tolist()
    assert (votes[:, 4] == -1).all() and (votes[5] == -1).all()
    # Non-contiguous input gives the same votes.
    assert votes_from_scores(scores.transpose(1, 0, 2)).tolist() == votes.T.tolist()


def test_votes_from_scores_edge_cases():
    inf = np.inf
    s = [[[inf, 1.0], [inf, inf], [-inf, -inf], [-inf, 0.0], [0.0, 0.0]]]
    assert votes_from_scores(s).tolist() == [[0, -1, -1, 1, -1]]
    assert votes_from_scores(np.zeros((0, 3, 2))).shape == (0, 3)
    assert votes_from_scores(np.zeros((2, 0, 2))).shape == (2, 0)
    with pytest.raises(ValueError, match="must not hold NaN"):
        votes_from_scores([[[0.0, np.nan]]])
    with pytest.raises(ValueError, match="at least 1 class"):
        votes_from_scores(np.zeros((1, 2, 0)))
    with pytest.raises(ValueError, match="3 dimension"):
        votes_from_scores(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="real numeric"):
        votes_from_scores([[["a", "b"]]])


def test_models_without_preference_do_not_vote_in_dpa_or_fa():
    # Two models for class 1, one for 0; adding all-equal models (zero rows, 3.7 rows)
    # changes neither DPA nor FA, which see them as -1 (weight 1 in FA's buckets).
    scores = np.array([[[0.0, 2.0, 1.0], [0.0, 3.0, 1.0], [2.0, 1.0, 0.0]]])
    padded = np.concatenate([scores, np.zeros((1, 2, 3)), np.full((1, 1, 3), 3.7)], 1)
    votes = votes_from_scores(padded)
    assert votes.tolist() == [[1, 1, 0, -1, -1, -1]]
    assert count_votes(votes, 3).tolist() == [[1, 2, 0]]
    expected = dpa(count_votes(votes_from_scores(scores), 3))
    assert [a.tolist() for a in dpa(count_votes(votes, 3))] == [
        a.tolist() for a in expected
    ]
    # FA with d = 2 over six models: the blanks weigh like any ⊥ voter.
    as_bottom = np.array([[1, 1, 0, -1, -1, -1]])
    assert [a.tolist() for a in fa(votes, 3, 2, [0, 1])] == [
        a.tolist() for a in fa(as_bottom, 3, 2, [0, 1])
    ]


@pytest.mark.parametrize("num_classes", [2, 10, 24, 25, 43, 200])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_count_votes_both_paths(num_classes, dtype):
    """Few classes use per-class comparisons, many use bincount: same counts."""
    if num_classes > np.iinfo(dtype).max:
        return
    rng = np.random.default_rng(num_classes)
    preds = rng.integers(-1, num_classes, size=(3000, 37)).astype(dtype)
    expected = np.array([[list(row).count(c) for c in range(num_classes)]
                         for row in preds.tolist()])
    assert (count_votes(preds, num_classes) == expected).all()


@pytest.mark.parametrize(
    ("votes", "error", "match"),
    [
        ([1, 2], ValueError, "votes must have 2"),
        ([[1.0, 2.0]], TypeError, "votes must have an integer dtype"),
        ([[1, -2]], ValueError, "votes must be non-negative"),
        ([[3]], ValueError, "votes must have at least 2 columns"),
        ([["a", "b"]], TypeError, "votes"),
    ],
)
def test_dpa_rejects_bad_votes(votes, error, match):
    with pytest.raises(error, match=match):
        dpa(votes)


def test_count_votes_rejects_bad_input():
    with pytest.raises(ValueError, match="predictions must hold class indices"):
        count_votes([[0, 3]], 3)
    with pytest.raises(ValueError, match="predictions must hold class indices"):
        count_votes([[0, -2]], 3)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        count_votes([[0, 1]], 2.0)
    with pytest.raises(ValueError, match="predictions must have 2"):
        count_votes([0, 1], 2)


def test_dpa_exhaustive_small_ensembles():
    """Every vote vector of up to 4 models over 3 classes (and ⊥): sound and tight."""
    num_classes = 3
    for k in range(1, 5):
        groups = [[i] for i in range(k)]
        for models in itertools.product(range(-1, num_classes), repeat=k):
            counts = count_votes([models], num_classes)
            pred, radius = dpa(counts)
            assert (int(pred[0]), int(radius[0])) == dpa_point(counts[0].tolist())
            r = int(radius[0])
            assert not vote_attack_exists(models, num_classes, groups, r)
            assert vote_attack_exists(models, num_classes, groups, r + 1)


@st.composite
def vote_matrices(draw):
    num_classes = draw(st.integers(2, 6))
    rows = draw(st.integers(1, 20))
    cells = st.integers(0, 30)
    votes = draw(st.lists(st.lists(cells, min_size=num_classes, max_size=num_classes),
                          min_size=rows, max_size=rows))
    return np.array(votes, dtype=np.int64)


@settings(max_examples=150, deadline=None)
@given(vote_matrices())
def test_dpa_matches_per_point_formula(votes):
    pred, radius = dpa(votes)
    expected = [dpa_point(row) for row in votes.tolist()]
    assert pred.tolist() == [p for p, _ in expected]
    assert radius.tolist() == [r for _, r in expected]
    assert (radius >= 0).all()
    # The prediction has the most votes and ties go to the smaller index.
    top = votes[np.arange(len(votes)), pred]
    assert (votes.max(axis=1) == top).all()
    assert all((row[:p] < row[p]).all() for row, p in zip(votes, pred))


@settings(max_examples=100, deadline=None)
@given(vote_matrices(), st.data())
def test_dpa_radius_monotone_in_votes(votes, data):
    """One more vote for ŷ never lowers the radius; one for a rival never raises it."""
    pred, radius = dpa(votes)
    more = votes.copy()
    more[np.arange(len(votes)), pred] += 1
    assert (dpa(more)[1] >= radius).all()
    rival = data.draw(st.integers(0, votes.shape[1] - 1))
    worse = votes.copy()
    worse[:, rival] += 1
    p2, r2 = dpa(worse)
    same = (p2 == pred) & (pred != rival)
    assert (r2[same] <= radius[same]).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(2, 3), st.data())
def test_dpa_brute_force_random(k, num_classes, data):
    labels = st.integers(-1, num_classes - 1)
    models = data.draw(st.lists(labels, min_size=k, max_size=k))
    groups = [[i] for i in range(k)]
    r = int(dpa(count_votes([models], num_classes))[1][0])
    assert not vote_attack_exists(models, num_classes, groups, r)
    assert vote_attack_exists(models, num_classes, groups, r + 1)
