"""Tests for ldcbook.neighbor_experiments: block distances, kNN counts, rNN sweeps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook import neighbor_experiments as ne
from ldcbook.neighbor_experiments import knn_counts, nearest_distances, rnn_sweep
from ldcbook.neighbors import rnn_counts, rnn_predictions


def _l1(a, b):
    return sum(abs(float(u) - float(v)) for u, v in zip(a, b))


def _instance(seed, n=30, m=12, f=3, num_classes=4, grid=True):
    rng = np.random.default_rng(seed)
    if grid:  # small integers: many exact distance ties
        train = rng.integers(0, 4, (n, f)).astype(float)
        test = rng.integers(0, 4, (m, f)).astype(float)
    else:
        train, test = rng.random((n, f)), rng.random((m, f))
    labels = rng.integers(0, num_classes, n)
    return train, labels, test


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Force blocks of a few query points, so block boundaries are exercised."""
    monkeypatch.setattr(ne, "BLOCK_ELEMENTS", 64)


# ---------------------------------------------------------------------------------
# nearest_distances


def _brute_nearest(train, parts, query, exclude):
    out = np.full((len(query), len(parts)), np.inf)
    for i, q in enumerate(query):
        for j, part in enumerate(parts):
            for t in part:
                if t != exclude[i]:
                    out[i, j] = min(out[i, j], _l1(q, train[t]))
    return out


@pytest.mark.parametrize("blocks", [False, True])
def test_nearest_distances_matches_brute_force(blocks, request):
    if blocks:
        request.getfixturevalue("tiny_blocks")
    train, _, query = _instance(0)
    parts = [np.arange(0, 10), np.array([], dtype=int), np.arange(5, 30, 3), [7]]
    exclude = np.array([-1] * len(query))
    got = nearest_distances(train, parts, query)
    np.testing.assert_array_equal(got, _brute_nearest(train, parts, query, exclude))
    assert np.all(np.isinf(got[:, 1]))  # an empty part: no point, infinite distance


def test_nearest_distances_leave_one_out():
    train, _, _ = _instance(1, n=20)
    query_idx = np.array([0, 7, 7, 19])
    parts = [np.arange(20), np.arange(0, 20, 2), [7]]
    got = nearest_distances(train, parts, train[query_idx], exclude=query_idx)
    want = _brute_nearest(train, parts, train[query_idx], query_idx)
    np.testing.assert_array_equal(got, want)
    assert np.isinf(got[1, 2]) and np.isinf(got[2, 2])  # part [7] without point 7
    # without the exclusion a training point is at distance 0 from its own part
    assert np.all(nearest_distances(train, parts[:1], train[query_idx]) == 0)


def test_nearest_distances_validates():
    train, _, query = _instance(2)
    with pytest.raises(ValueError, match="same number of features"):
        nearest_distances(train, [[0]], query[:, :2])
    with pytest.raises(ValueError, match=r"parts\[0\] must index"):
        nearest_distances(train, [[len(train)]], query)
    with pytest.raises(TypeError, match="sequence of index arrays"):
        nearest_distances(train, np.arange(3), query)
    with pytest.raises(ValueError, match="at least one"):
        nearest_distances(train, [], query)
    with pytest.raises(ValueError, match="one entry per query"):
        nearest_distances(train, [[0]], query, exclude=[0])
    with pytest.raises(ValueError, match=r"exclude must lie in \[-1"):
        nearest_distances(train, [[0]], query[:1], exclude=[-2])
    with pytest.raises(TypeError, match="integer"):
        nearest_distances(train, [[0.5]], query)


# ---------------------------------------------------------------------------------
# knn_counts


def _brute_knn(train, labels, test, kappa, num_classes):
    out = np.zeros((len(test), num_classes), dtype=np.int64)
    for i, q in enumerate(test):
        order = sorted(range(len(train)), key=lambda t: (_l1(q, train[t]), t))
        for t in order[:kappa]:
            out[i, labels[t]] += 1
    return out


@pytest.mark.parametrize("kappa", [1, 2, 5, 13, 30])
@pytest.mark.parametrize("blocks", [False, True])
def test_knn_counts_match_brute_force_with_index_tie_break(kappa, blocks, request):
    if blocks:
        request.getfixturevalue("tiny_blocks")
    train, labels, test = _instance(3)
    got = knn_counts(train, labels, test, kappa, 4)
    np.testing.assert_array_equal(got, _brute_knn(train, labels, test, kappa, 4))
    assert np.all(got.sum(axis=1) == kappa)


def test_knn_counts_tie_goes_to_smaller_index():
    train = np.array([[2.0], [1.0], [-1.0], [1.0]])  # 1, 2, 3 tie at distance 1
    labels = np.array([0, 1, 2, 3])
    assert knn_counts(train, labels, [[0.0]], 2, 4).tolist() == [[0, 1, 1, 0]]
    assert knn_counts(train, labels, [[0.0]], 3, 4).tolist() == [[0, 1, 1, 1]]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kappa=st.integers(1, 15))
def test_knn_counts_property(seed, kappa):
    train, labels, test = _instance(seed, n=15, m=4, f=2, num_classes=3)
    np.testing.assert_array_equal(
        knn_counts(train, labels, test, kappa, 3),
        _brute_knn(train, labels, test, kappa, 3),
    )


def test_knn_counts_validates():
    train, labels, test = _instance(4)
    with pytest.raises(ValueError, match="kappa must be <= 30"):
        knn_counts(train, labels, test, 31, 4)
    with pytest.raises(ValueError, match="kappa must be >= 1"):
        knn_counts(train, labels, test, 0, 4)
    with pytest.raises(ValueError, match=r"train_labels must lie in range\(3\)"):
        knn_counts(train, labels, test, 3, 3)
    with pytest.raises(ValueError, match="one label per training point"):
        knn_counts(train, labels[:-1], test, 3, 4)
    with pytest.raises(TypeError, match="kappa must be an int"):
        knn_counts(train, labels, test, 2.0, 4)


# ---------------------------------------------------------------------------------
# rnn_sweep


def _brute_rnn(train, labels, parts, test, radius, num_classes):
    votes = np.zeros((len(test), len(parts), num_classes), dtype=np.int64)
    for i, q in enumerate(test):
        for j, part in enumerate(parts):
            for t in part:
                if _l1(q, train[t]) <= radius:
                    votes[i, j, labels[t]] += 1
    preds = np.full((len(test), len(parts)), -1, dtype=np.int64)
    for i in range(len(test)):
        for j in range(len(parts)):
            if votes[i, j].sum():
                preds[i, j] = int(np.flatnonzero(votes[i, j] == votes[i, j].max())[0])
    return votes, preds


@pytest.mark.parametrize("blocks", [False, True])
def test_rnn_sweep_equals_rnn_predictions_and_brute_force(blocks, request):
    if blocks:
        request.getfixturevalue("tiny_blocks")
    train, labels, test = _instance(5)
    dpa_parts = [np.flatnonzero(np.arange(30) % 4 == j) for j in range(4)]
    fa_parts = [np.concatenate([dpa_parts[j], dpa_parts[(j + 1) % 4]])
                for j in range(4)]
    with_empty = [np.arange(30), np.array([], dtype=int), np.array([3, 3, 8])]
    settings_ = [(dpa_parts, 2.0), (fa_parts, 2.0), (with_empty, 0.0), (dpa_parts, 3.5),
                 (with_empty, 100.0)]
    got = rnn_sweep(train, labels, settings_, test, 4)
    got_counts = rnn_sweep(train, labels, settings_, test, 4, counts=True)
    for (parts, radius), pred, votes in zip(settings_, got, got_counts):
        ref = rnn_predictions(train, labels, parts, test, radius, 4)
        want_votes, want_pred = _brute_rnn(train, labels, parts, test, radius, 4)
        np.testing.assert_array_equal(pred, ref)
        np.testing.assert_array_equal(pred, want_pred)
        np.testing.assert_array_equal(votes, want_votes)
    assert np.all(got[4][:, 1] == -1)  # the empty part always abstains


def test_rnn_sweep_counts_equal_rnn_counts_on_real_valued_features():
    train, labels, test = _instance(6, n=50, m=20, f=5, grid=False)
    radii = np.quantile(np.abs(test[:, None] - train[None]).sum(axis=2), [0.05, 0.3])
    got = rnn_sweep(train, labels, [([np.arange(50)], r) for r in radii], test, 4,
                    counts=True)
    for radius, votes in zip(radii, got):
        np.testing.assert_array_equal(votes[:, 0], rnn_counts(train, labels, test,
                                                              radius, 4))


def test_rnn_sweep_no_test_points():
    train, labels, _ = _instance(7)
    out = rnn_sweep(train, labels, [([np.arange(30)], 1.0)], np.zeros((0, 3)), 4)
    assert out[0].shape == (0, 1)


def test_rnn_sweep_validates():
    train, labels, test = _instance(8)
    parts = [np.arange(30)]
    with pytest.raises(ValueError, match=r"settings\[0\] radius must lie in \[0"):
        rnn_sweep(train, labels, [(parts, -1.0)], test, 4)
    with pytest.raises(TypeError, match=r"settings\[1\] must be a \(parts, radius\)"):
        rnn_sweep(train, labels, [(parts, 1.0), parts], test, 4)
    with pytest.raises(TypeError, match="settings must be a sequence"):
        rnn_sweep(train, labels, (s for s in [(parts, 1.0)]), test, 4)
    with pytest.raises(ValueError, match=r"settings\[0\] parts\[0\] must index"):
        rnn_sweep(train, labels, [([[30]], 1.0)], test, 4)
    with pytest.raises(TypeError, match="counts must be a bool"):
        rnn_sweep(train, labels, [(parts, 1.0)], test, 4, counts=1)
    with pytest.raises(ValueError, match="same number of features"):
        rnn_sweep(train, labels, [(parts, 1.0)], test[:, :1], 4)
    with pytest.raises(ValueError, match="finite"):
        rnn_sweep(train, labels, [(parts, 1.0)], np.full((1, 3), np.nan), 4)


def test_ball_radius_leaves_the_target_fraction_of_balls_empty():
    from ldcbook.neighbor_experiments import ball_radius

    rng = np.random.default_rng(1)
    feats = rng.normal(size=(400, 5))
    parts = [np.arange(j, 400, 4) for j in range(4)]
    for empty in (0.05, 0.1, 0.3):
        rho = ball_radius(feats, parts, empty=empty, queries=400, seed=3)
        near = nearest_distances(feats, parts, feats, exclude=np.arange(400))
        assert abs(np.mean(near > rho) - empty) <= 1 / 400 + 1e-12
    assert ball_radius(feats, parts, queries=50, seed=1) != ball_radius(
        feats, parts, queries=50, seed=2)
    with pytest.raises(ValueError, match="empty"):
        ball_radius(feats, parts, empty=1.0)
    with pytest.raises(ValueError, match="queries"):
        ball_radius(feats, parts, queries=0)
