"""Tests for ldcbook.certify.fa: reference shifts, exact cases, brute force, d = 1."""

from __future__ import annotations

import random

import numpy as np
import pytest
from certify_brute import fa_groups, vote_attack_exists
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.certify import count_votes, dpa, fa, fa_shifts


def fa_point(votes, num_classes, k, d, shifts):
    """FA certificate for one point, by the sorted-weights definition (plain Python)."""
    counts = [sum(v == c for v in votes) for c in range(num_classes)]
    pred = min(range(num_classes), key=lambda c: (-counts[c], c))
    groups = fa_groups(k, d, shifts)
    radius = None
    for c in range(num_classes):
        if c == pred:
            continue
        gap = counts[pred] - counts[c] - (c < pred)
        w = sorted(
            (sum(1 + (votes[i] == pred) - (votes[i] == c) for i in g) for g in groups),
            reverse=True,
        )
        r = 0
        while r < len(w) and gap - w[r] >= 0:
            gap -= w[r]
            r += 1
        radius = r if radius is None else min(radius, r)
    return pred, radius


def test_fa_shifts_follow_the_reference_recipe():
    state = random.getstate()
    try:
        for k, d in [(50, 16), (250, 8), (10, 1), (3, 3)]:
            random.seed(999999999 + 208)  # what the reference scripts do
            expected = random.sample(range(k * d), d)
            assert fa_shifts(k, d).tolist() == expected
        # fa_shifts must not touch the global random state.
        random.seed(1)
        before = random.random()
        random.seed(1)
        fa_shifts(50, 16)
        assert random.random() == before
    finally:
        random.setstate(state)


def test_fa_hand_worked():
    # k=2, d=2, shifts (0, 1): bucket h feeds models h, h+1 (mod 4). Votes (0,0,0,1):
    # N = (3, 1), gap for c=1 is 2; per-model weights (2,2,2,0) give bucket weights
    # (4, 4, 2, 2): not one bucket fits, r = 0 (DPA on 4 models would say 1).
    assert [a.tolist() for a in fa([[0, 0, 0, 1]], 2, 2, [0, 1])] == [[0], [0]]
    # k=3, d=2: six models all voting 1, C=2. c=0 < ŷ: gap = 6 - 0 - 1 = 5; every
    # bucket weighs 4, one fits (4 <= 5), two do not: r = 1.
    assert [a.tolist() for a in fa([[1] * 6], 2, 2, [0, 3])] == [[1], [1]]
    # Abstentions weigh 1: votes (0,0,0,0,⊥,⊥), shifts (0,1). N_0 = 4, gap 4; model
    # weights (2,2,2,2,1,1), bucket weights (4,4,4,3,2,3): one bucket fits, r = 1.
    assert [a.tolist() for a in fa([[0, 0, 0, 0, -1, -1]], 2, 2, [0, 1])] == [[0], [1]]
    # Plurality tie: votes (0,1,0,1): ŷ = 0, gap for c=1 is 0, r = 0.
    assert [a.tolist() for a in fa([[0, 1, 0, 1]], 2, 2, [0, 1])] == [[0], [0]]
    # All models abstain: ŷ = 0 with radius 0 (one bucket can create a vote for 1).
    assert [a.tolist() for a in fa([[-1] * 4], 3, 2, [1, 2])] == [[0], [0]]


def test_fa_hand_worked_cases_are_exact_by_brute_force():
    cases = [
        ([0, 0, 0, 1], 2, 2, 2, [0, 1], 0),
        ([1] * 6, 2, 3, 2, [0, 3], 1),
        ([0, 0, 0, 0, -1, -1], 2, 3, 2, [0, 1], 1),
    ]
    for votes, num_classes, k, d, shifts, radius in cases:
        groups = fa_groups(k, d, shifts)
        assert not vote_attack_exists(votes, num_classes, groups, radius)
        assert vote_attack_exists(votes, num_classes, groups, radius + 1)


def test_fa_model_id_order_pitfall():
    """Columns in directory-listing order give a certificate that an attack breaks."""
    k, d, shifts = 4, 3, [0, 1, 2]
    votes = np.array([0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0])  # column i = model i
    listing = sorted(range(k * d), key=str)  # model_0, model_1, model_10, model_11, ...
    right = int(fa([votes], 2, d, shifts)[1][0])
    wrong = int(fa([votes[listing]], 2, d, shifts)[1][0])
    groups = fa_groups(k, d, shifts)
    assert not vote_attack_exists(votes, 2, groups, right)  # model-id order: sound
    assert wrong > right
    assert vote_attack_exists(votes, 2, groups, wrong)  # listing order: unsound


@st.composite
def fa_instances(draw, max_models=8, max_classes=4, rows=1):
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, max(1, max_models // d)))
    num_classes = draw(st.integers(2, max_classes))
    shifts = draw(st.permutations(range(k * d)))[:d]
    p_abstain = draw(st.sampled_from([0.0, 0.2]))
    p_favourite = draw(st.sampled_from([0.6, 0.9, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Skewed votes so that large radii appear, with some abstentions.
    favourite = rng.integers(0, num_classes, size=(rows, 1))
    anything = rng.integers(0, num_classes, (rows, k * d))
    votes = np.where(rng.random((rows, k * d)) < p_favourite, favourite, anything)
    votes = np.where(rng.random((rows, k * d)) < p_abstain, -1, votes)
    return votes, num_classes, k, d, list(shifts)


@settings(max_examples=150, deadline=None)
@given(fa_instances(max_models=40, max_classes=6, rows=12))
def test_fa_matches_sorted_definition(instance):
    votes, num_classes, k, d, shifts = instance
    pred, radius = fa(votes, num_classes, d, shifts)
    for i, row in enumerate(votes.tolist()):
        expected = fa_point(row, num_classes, k, d, shifts)
        assert (int(pred[i]), int(radius[i])) == expected
    assert (radius >= 0).all()


@settings(max_examples=150, deadline=None)
@given(fa_instances(max_models=12, max_classes=5, rows=15), st.data())
def test_fa_with_d_1_equals_dpa(instance, data):
    votes, num_classes, _, _, _ = instance
    k = votes.shape[1]
    shift = data.draw(st.integers(0, k - 1))
    pred, radius = fa(votes, num_classes, 1, [shift])
    dpa_pred, dpa_radius = dpa(count_votes(votes, num_classes))
    assert pred.tolist() == dpa_pred.tolist()
    assert radius.tolist() == dpa_radius.tolist()


@settings(max_examples=80, deadline=None)
@given(fa_instances(max_models=8, max_classes=3))
def test_fa_brute_force_sound(instance):
    """No corruption of r buckets (their models voting anything) changes ŷ."""
    votes, num_classes, k, d, shifts = instance
    row = votes[0].tolist()
    r = int(fa(votes, num_classes, d, shifts)[1][0])
    groups = fa_groups(k, d, shifts)
    assert r < len(groups)
    assert not vote_attack_exists(row, num_classes, groups, r)


def test_fa_brute_force_exhaustive_tiny():
    """Every vote vector of k=2, d=2 (4 models), 2 classes and ⊥: sound and tight."""
    import itertools

    groups = fa_groups(2, 2, [0, 1])
    for row in itertools.product(range(-1, 2), repeat=4):
        r = int(fa([row], 2, 2, [0, 1])[1][0])
        assert not vote_attack_exists(row, 2, groups, r)
        # With two classes each bucket holds two adjacent models, and the greedy count
        # is attained: the certificate is exact on this family.
        assert vote_attack_exists(row, 2, groups, r + 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"predictions": [0, 1, 0, 1]}, ValueError, "predictions must have 2"),
        ({"predictions": [[0.0, 1.0, 0.0, 1.0]]}, TypeError, "predictions must have"),
        ({"predictions": [[0, 1, 0, 2]]}, ValueError, "predictions must hold class"),
        ({"predictions": [[0, 1, 0]]}, ValueError, "not k \\* d for d = 2"),
        ({"shifts": [0, 0]}, ValueError, "shifts must be distinct"),
        ({"shifts": [0, 4]}, ValueError, "shifts must lie in range"),
        ({"shifts": [0, -1]}, ValueError, "shifts must lie in range"),
        ({"shifts": [0]}, ValueError, "shifts must hold d = 2"),
        ({"shifts": [0.0, 1.0]}, TypeError, "shifts must have an integer dtype"),
        ({"d": 0}, ValueError, "d must be >= 1"),
        ({"d": 2.0}, TypeError, "d must be an int"),
        ({"num_classes": 1}, ValueError, "num_classes must be >= 2"),
    ],
)
def test_fa_rejects_bad_input(kwargs, error, match):
    args = {"predictions": [[0, 1, 0, 1]], "num_classes": 2, "d": 2, "shifts": [0, 1]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fa(**args)


def test_fa_shifts_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be >= 1"):
        fa_shifts(0, 2)
    with pytest.raises(TypeError, match="d must be an int"):
        fa_shifts(5, "2")


def test_fa_brute_force_sound_larger_radii():
    """Seeded instances with d = 2, 3 and radii up to 2 buckets: all sound."""
    rng = np.random.default_rng(20220704)
    radii = []
    for k, d in [(4, 2), (3, 2), (3, 3), (2, 3), (5, 2)] * 8:
        shifts = rng.permutation(k * d)[:d].tolist()
        votes = np.where(rng.random(k * d) < 0.9, 0, rng.integers(-1, 3, k * d))
        r = int(fa([votes], 3, d, shifts)[1][0])
        radii.append(r)
        assert not vote_attack_exists(votes.tolist(), 3, fa_groups(k, d, shifts), r)
    assert max(radii) >= 2 and np.mean(np.array(radii) >= 1) > 0.5


def test_fa_many_classes_and_empty_input():
    rng = np.random.default_rng(9)
    votes = rng.integers(-1, 130, size=(5, 8))
    votes[:, :5] = 129
    pred, radius = fa(votes, 130, 2, [1, 6])
    for i, row in enumerate(votes.tolist()):
        assert (int(pred[i]), int(radius[i])) == fa_point(row, 130, 4, 2, [1, 6])
    empty = fa(np.zeros((0, 8), dtype=int), 3, 2, [1, 6])
    assert empty[0].shape == empty[1].shape == (0,)
