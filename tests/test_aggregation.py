"""Tests for ldcbook.theory.aggregation (DPA on the theory tasks, Chapter 6).

Expected values are derived independently: SplitMix64 by a pure-Python implementation
and its published first outputs, copy indices and partitions by counting in Python,
base-model predictions by per-partition loops written from the docstrings, the
certificate by :func:`ldcbook.certify.dpa` on the same votes, soundness by brute force
over every single and double edit of tiny training sets, and accuracies by the exact
formulas of Chapter 2. The brute-force certificate check is compared with another
enumeration (tests/certify_brute.py, over subsets of models) and with the DPA radius.
Monte Carlo estimates must lie within Z = 4 standard errors.
"""

from __future__ import annotations

import itertools
from collections import Counter
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from certify_brute import dpa_point, vote_attack_exists
from hypothesis import strategies as st

from ldcbook.certify import count_votes, dpa
from ldcbook.theory import aggregation as ag
from ldcbook.theory import bijection as bij
from ldcbook.theory import gaussian as ga

Z = 4  # Monte Carlo tolerance in standard errors
MASK = (1 << 64) - 1

X0 = np.zeros(2)
ANGLES = np.deg2rad([0.0, 120.0, 240.0, 60.0])
RADII = np.array([1.0, 1.5, 2.5, 3.0])
MU = np.stack([RADII * np.cos(ANGLES), RADII * np.sin(ANGLES)], axis=1)


def splitmix64(z: int) -> int:
    """The SplitMix64 output function on Python ints (Steele, Lea & Flood 2014)."""
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


# --------------------------------------------------------------------------------------
# hashing and partitioning
# --------------------------------------------------------------------------------------
def test_mix64_gives_the_published_splitmix64_stream():
    # a SplitMix64 generator seeded with 0 outputs mix(0), mix(gamma), mix(2 gamma)...
    gamma = 0x9E3779B97F4A7C15
    states = np.array([0, gamma, (2 * gamma) & MASK], dtype=np.uint64)
    out = ag.mix64(states)
    assert out.dtype == np.uint64
    assert [int(v) for v in out] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F
    ]


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_mix64_matches_a_pure_python_implementation(values):
    out = ag.mix64(np.array(values, dtype=np.int64))
    assert [int(v) for v in out] == [splitmix64(v & MASK) for v in values]


@given(st.lists(st.lists(st.integers(0, 4), min_size=0, max_size=12), min_size=1,
                max_size=4).filter(lambda rows: len({len(r) for r in rows}) == 1))
@settings(max_examples=60, deadline=None)
def test_copy_index_counts_earlier_equal_samples(rows):
    arr = np.array(rows, dtype=np.int64).reshape(len(rows), -1)
    expected = [[row[:i].count(v) for i, v in enumerate(row)] for row in rows]
    assert ag.copy_index(arr).tolist() == expected


def test_content_hash_puts_every_copy_in_one_partition():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, size=(3, 200))
    parts = ag.partition_ids(codes, 7, "content")
    for row_codes, row_parts in zip(codes, parts):
        for c in np.unique(row_codes):
            assert np.unique(row_parts[row_codes == c]).size == 1


@pytest.mark.parametrize("K", [1, 3, 8, 50])
def test_copy_hash_spreads_copies_round_robin_exactly(K):
    rng = np.random.default_rng(K)
    codes = rng.integers(0, 5, size=(4, 120))
    parts = ag.partition_ids(codes, K, "copy")
    base = ag.partition_ids(codes, K, "content")
    index = ag.copy_index(codes)
    assert np.array_equal(parts, (base + index) % K)
    for row_codes, row_parts in zip(codes, parts):
        for c in np.unique(row_codes):
            m = int((row_codes == c).sum())
            per_part = np.bincount(row_parts[row_codes == c], minlength=K)
            # m copies over K partitions: floor(m/K) or ceil(m/K) each, min(m, K) used
            assert per_part.min() == m // K and per_part.max() == -(-m // K)
            assert (per_part > 0).sum() == min(m, K)


@pytest.mark.parametrize("hashing", ag.HASHINGS)
def test_partition_is_a_function_of_the_multiset(hashing):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=40)
    shuffled = rng.permutation(codes)
    pairs = Counter(zip(codes, ag.partition_ids(codes[None], 5, hashing)[0]))
    pairs_shuffled = Counter(zip(shuffled, ag.partition_ids(shuffled[None], 5,
                                                             hashing)[0]))
    assert pairs == pairs_shuffled


def partition_multisets(codes, K, hashing):
    parts = ag.partition_ids(np.array(codes, dtype=np.int64)[None], K, hashing)[0]
    return [Counter(c for c, p in zip(codes, parts) if p == q) for q in range(K)]


@pytest.mark.parametrize("hashing", ag.HASHINGS)
def test_one_insertion_or_removal_changes_exactly_one_partition(hashing):
    rng = np.random.default_rng(2)
    codes = [int(c) for c in rng.integers(0, 4, size=15)]
    K = 4
    before = partition_multisets(codes, K, hashing)
    edits = [codes + [c] for c in range(5)]
    edits += [codes[:i] + codes[i + 1:] for i in range(len(codes))]
    for edited in edits:
        after = partition_multisets(edited, K, hashing)
        assert sum(a != b for a, b in zip(before, after)) == 1


def test_content_codes_identify_samples():
    X = np.array([[[0.0, 1.5], [-0.0, 1.5], [0.0, 1.5], [0.0, 2.5]]])
    y = np.array([[1, 1, 2, 1]])
    codes = ag.content_codes(X, y)
    assert codes.shape == (1, 4) and codes.dtype == np.int64
    assert codes[0, 0] == codes[0, 1]  # -0.0 and 0.0 are the same sample
    assert len({int(c) for c in codes[0, [0, 2, 3]]}) == 3  # label or value differs
    rng = np.random.default_rng(3)
    Xr = rng.normal(size=(2, 500, 3))
    assert np.unique(ag.content_codes(Xr, np.zeros((2, 500), int))).size == 1000


# --------------------------------------------------------------------------------------
# DPA's certificate by brute force (the paper's Theorem 3), and its tightest attack
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("models, C", [(1, 2), (3, 3), (5, 2), (4, 4)])
def test_vote_profiles_list_every_count_vector_once(models, C):
    profiles = ag.vote_profiles(models, C)
    assert profiles.shape == (comb(models + C, C), models)
    assert (np.diff(profiles, axis=1) >= 0).all()  # ascending votes
    counts = {tuple(np.bincount(row + 1, minlength=C + 1)) for row in profiles}
    every = {c for c in itertools.product(range(models + 1), repeat=C + 1)
             if sum(c) == models}
    assert counts == every


def votes_strategy(max_models=5, max_classes=3):
    return st.integers(2, max_classes).flatmap(lambda C: st.tuples(
        st.just(C), st.lists(st.integers(-1, C - 1), min_size=1, max_size=max_models)))


@given(votes_strategy())
@settings(max_examples=80, deadline=None)
def test_fewest_flipping_models_is_the_smallest_attack_over_model_subsets(case):
    # certify_brute enumerates subsets of models and their new votes: another method
    C, votes = case
    fewest = int(ag.fewest_flipping_models([votes], C)[0])
    groups = [[i] for i in range(len(votes))]
    assert vote_attack_exists(votes, C, groups, fewest)
    assert not vote_attack_exists(votes, C, groups, fewest - 1)


@pytest.mark.parametrize("C", [2, 3, 4])
def test_dpa_radius_is_valid_and_tight_for_every_small_ensemble(C):
    for models in range(1, 7 if C < 4 else 6):
        profiles = ag.vote_profiles(models, C)
        fewest = ag.fewest_flipping_models(profiles, C)
        _, radius = dpa(count_votes(profiles, C))
        assert np.array_equal(fewest, radius + 1)


def test_fewest_flipping_models_known_values():
    # unanimous K voters for class 1 of 3: floor((K - 1) / 2) + 1 models (class 0 wins
    # ties); for class 0: floor(K / 2) + 1
    for K in range(1, 7):
        assert ag.fewest_flipping_models([[1] * K], 3)[0] == (K - 1) // 2 + 1
        assert ag.fewest_flipping_models([[0] * K], 3)[0] == K // 2 + 1
    assert ag.fewest_flipping_models([[-1, -1, -1]], 2)[0] == 1  # all abstain: class 0


@given(st.integers(2, 5).flatmap(lambda C: st.lists(
    st.integers(0, 6), min_size=C, max_size=C)))
@settings(max_examples=150, deadline=None)
def test_runner_up_attains_the_radius_and_r_plus_one_moves_flip(counts):
    pred, radius = dpa_point(counts)
    c = int(ag.dpa_runner_up([counts])[0])
    assert c != pred
    assert (counts[pred] - counts[c] - (c < pred)) // 2 == radius
    if counts[pred] >= radius + 1:
        moved = list(counts)
        moved[pred] -= radius + 1
        moved[c] += radius + 1
        assert dpa_point(moved)[0] != pred


@given(votes_strategy(max_models=9, max_classes=4))
@settings(max_examples=150, deadline=None)
def test_corrupting_r_models_keeps_and_r_plus_one_changes_the_prediction(case):
    C, votes = case
    pred = np.array([votes])
    y_hat, radius = dpa(count_votes(pred, C))
    rival = ag.dpa_runner_up(count_votes(pred, C))
    kept = ag.corrupt_models(pred, C, rival, radius)
    assert dpa(count_votes(kept, C))[0][0] == y_hat[0]
    flipped = ag.corrupt_models(pred, C, rival, radius + 1)
    assert dpa(count_votes(flipped, C))[0][0] != y_hat[0]
    assert (flipped != pred).sum() <= radius[0] + 1


def test_corrupt_models_takes_plurality_voters_first_then_abstainers():
    pred = np.array([[2, 0, -1, 0, 1, 0]])  # plurality 0; target 1
    out = ag.corrupt_models(pred, 3, [1], [4])
    assert out.tolist() == [[2, 1, 1, 1, 1, 1]]  # three 0-voters, then the abstainer
    assert ag.corrupt_models(pred, 3, [1], [0]).tolist() == pred.tolist()
    assert ag.corrupt_models(pred, 3, [2], [6]).tolist() == [[2] * 6]


def test_certificate_helpers_reject_bad_inputs():
    with pytest.raises(ValueError, match="models must be >= 1"):
        ag.vote_profiles(0, 3)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ag.vote_profiles(3, 1)
    with pytest.raises(ValueError, match="MAX_STATES"):
        ag.fewest_flipping_models(np.zeros((1, 12), int), 3)
    with pytest.raises(ValueError, match="votes must hold classes"):
        ag.fewest_flipping_models([[0, 3]], 3)
    with pytest.raises(TypeError, match="votes must have an integer dtype"):
        ag.fewest_flipping_models(np.zeros((1, 2)), 3)
    with pytest.raises(ValueError, match="at least 2 columns"):
        ag.dpa_runner_up([[3]])
    with pytest.raises(ValueError, match="non-negative"):
        ag.dpa_runner_up([[3, -1]])
    pred = np.zeros((2, 4), dtype=int)
    with pytest.raises(ValueError, match="target must have shape"):
        ag.corrupt_models(pred, 3, [1], [1, 1])
    with pytest.raises(ValueError, match="count must hold values in"):
        ag.corrupt_models(pred, 3, [1, 1], [1, 5])
    with pytest.raises(ValueError, match="target must hold values in"):
        ag.corrupt_models(pred, 3, [1, 3], [1, 1])


# --------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------
def test_bad_inputs_are_rejected_with_named_arguments():
    codes = np.zeros((2, 5), dtype=np.int64)
    with pytest.raises(TypeError, match="codes"):
        ag.mix64([0.5])
    with pytest.raises(TypeError, match="codes"):
        ag.partition_ids(np.zeros((2, 5)), 3)
    with pytest.raises(ValueError, match="codes"):
        ag.copy_index(np.int64(3))
    with pytest.raises(ValueError, match="k must be >= 1"):
        ag.partition_ids(codes, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        ag.partition_ids(codes, 2.0)
    with pytest.raises(ValueError, match="hashing"):
        ag.partition_ids(codes, 3, "pixels")
    X, Y, _ = ag.sample_bijection(5, 10, 2, seed=0)
    with pytest.raises(ValueError, match="learner"):
        ag.bijection_predictions(X, Y, 5, 3, learner="optimal")
    with pytest.raises(ValueError, match="k must be >= 3"):
        ag.bijection_predictions(X, Y, 2, 3)
    with pytest.raises(ValueError, match="Y must hold values in"):
        ag.bijection_predictions(X, Y + 5, 5, 3)
    with pytest.raises(ValueError, match="same shape"):
        ag.bijection_predictions(X, Y[:, :4], 5, 3)
    with pytest.raises(ValueError, match="partitions must be >= 1"):
        ag.bijection_dpa(5, 10, 0, 3, seed=0)
    with pytest.raises(ValueError, match="trials must be >= 1"):
        ag.bijection_dpa(5, 10, 2, 0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        ag.bijection_dpa(5, 10, 2, 3, seed=-1)
    Xg, yg = ga.sample_mixture(MU, 20, seed=0, reps=2)
    with pytest.raises(ValueError, match="x0"):
        ag.gaussian_predictions(Xg, yg, 4, np.zeros(3), 2)
    with pytest.raises(ValueError, match="y must hold labels"):
        ag.gaussian_predictions(Xg, yg + 4, 4, X0, 2)
    with pytest.raises(ValueError, match="X must have 3"):
        ag.gaussian_predictions(Xg[0], yg[0], 4, X0, 2)
    with pytest.raises(ValueError, match="finite"):
        ag.content_codes(np.full((1, 2, 2), np.nan), np.zeros((1, 2), int))
    with pytest.raises(ValueError, match="X must have shape"):
        ag.content_codes(np.zeros((1, 2, 2)), np.zeros((1, 3), int))


# --------------------------------------------------------------------------------------
# Bijection Uncovering base models, written from the docstrings
# --------------------------------------------------------------------------------------
def reference_predictions(X, Y, k, K, hashing, learner):
    """Loop over trials and partitions; 'hashed_unseen' is checked separately."""
    parts = ag.partition_ids(X * k + Y, K, hashing)
    out = np.empty((X.shape[0], K), dtype=np.int64)
    for t, p in itertools.product(range(X.shape[0]), range(K)):
        mine = parts[t] == p
        own = Y[t][mine & (X[t] == 0)]
        unseen = sorted(set(range(k)) - set(Y[t][mine].tolist())) or list(range(k))
        out[t, p] = own.min() if own.size else unseen[0]
    return out


@pytest.mark.parametrize("hashing", ag.HASHINGS)
@pytest.mark.parametrize("K", [1, 3, 7, 40])
def test_smallest_unseen_predictions_match_a_loop(hashing, K):
    X, Y, _ = ag.sample_bijection(6, 25, 30, seed=K)
    got = ag.bijection_predictions(X, Y, 6, K, hashing, "smallest_unseen")
    assert np.array_equal(got, reference_predictions(X, Y, 6, K, hashing, None))


def test_poisoned_x0_with_several_labels_answers_the_smallest():
    X = np.array([[0, 0, 0, 1]])
    Y = np.array([[4, 2, 3, 0]])
    for learner in ag.LEARNERS:
        assert ag.bijection_predictions(X, Y, 5, 1, learner=learner).tolist() == [[2]]


@pytest.mark.parametrize("hashing", ag.HASHINGS)
def test_hashed_unseen_memorises_or_answers_an_unseen_label(hashing):
    k, K = 7, 5
    X, Y, f = ag.sample_bijection(k, 12, 200, seed=4)
    pred = ag.bijection_predictions(X, Y, k, K, hashing, "hashed_unseen")
    parts = ag.partition_ids(X * k + Y, K, hashing)
    for t, p in itertools.product(range(X.shape[0]), range(K)):
        mine = parts[t] == p
        if (X[t][mine] == 0).any():
            assert pred[t, p] == f[t, 0]
        else:
            assert pred[t, p] not in set(Y[t][mine].tolist())
    # a deterministic function of the multiset: shuffling the samples changes nothing
    order = np.random.default_rng(5).permutation(X.shape[1])
    again = ag.bijection_predictions(X[:, order], Y[:, order], k, K, hashing)
    assert np.array_equal(pred, again)


def test_hashed_unseen_spreads_its_guesses_over_the_unseen_labels():
    # empty training sets: K models, each guessing among all k labels by its hash
    k, K = 5, 4000
    X = np.zeros((1, 0), dtype=np.int64)
    pred = ag.bijection_predictions(X, X, k, K, "copy", "hashed_unseen")[0]
    freq = np.bincount(pred, minlength=k) / K
    se = np.sqrt((1 / k) * (1 - 1 / k) / K)
    assert np.all(np.abs(freq - 1 / k) < Z * se)


# --------------------------------------------------------------------------------------
# the certificate: votes -> ldcbook.certify.dpa
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("hashing", ag.HASHINGS)
@pytest.mark.parametrize("learner", ag.LEARNERS)
def test_bijection_dpa_radius_is_certify_dpa_on_the_same_votes(hashing, learner):
    K = 9
    res = ag.bijection_dpa(8, 60, K, 100, seed=6, hashing=hashing, learner=learner)
    X, Y, f = ag.sample_bijection(8, 60, 100, seed=6)  # the same draws
    votes = count_votes(ag.bijection_predictions(X, Y, 8, K, hashing, learner), 8)
    assert np.array_equal(res.votes, votes)
    assert np.array_equal(res.label, f[:, 0])
    pred, radius = dpa(votes)
    assert np.array_equal(res.prediction, pred) and np.array_equal(res.radius, radius)
    assert np.array_equal(res.certified, np.where(pred == f[:, 0], radius, -1))
    assert (res.votes.sum(axis=1) == K).all()


def dpa_on(codes_xy, k, K, hashing, learner):
    X = np.array([[x for x, _ in codes_xy]], dtype=np.int64).reshape(1, -1)
    Y = np.array([[y for _, y in codes_xy]], dtype=np.int64).reshape(1, -1)
    pred = ag.bijection_predictions(X, Y, k, K, hashing, learner)
    p, r = dpa(count_votes(pred, k))
    return int(p[0]), int(r[0])


@pytest.mark.parametrize("hashing", ag.HASHINGS)
@pytest.mark.parametrize("learner", ag.LEARNERS)
def test_radius_is_sound_against_every_edit_of_size_one_and_two(hashing, learner):
    k, K = 3, 5
    samples = list(itertools.product(range(k), range(k)))
    rng = np.random.default_rng(7)
    for _ in range(6):
        f = rng.permutation(k)
        xs = rng.integers(0, k, size=10)
        data = [(int(x), int(f[x])) for x in xs]
        pred, radius = dpa_on(data, k, K, hashing, learner)
        edits = [data + [s] for s in samples] + [data[:i] + data[i + 1:]
                                                 for i in range(len(data))]
        for edited in edits:
            if radius >= 1:
                assert dpa_on(edited, k, K, hashing, learner)[0] == pred
            if radius >= 2:
                for s in samples:
                    assert dpa_on(edited + [s], k, K, hashing, learner)[0] == pred


def test_content_hash_lets_one_model_at_most_see_x0_and_copy_hash_lets_all():
    k, K = 10, 8
    X, Y, _ = ag.sample_bijection(k, 400, 50, seed=8)
    for hashing, expect in [("content", lambda m: min(m, 1)),
                            ("copy", lambda m: min(m, K))]:
        parts = ag.partition_ids(X * k + Y, K, hashing)
        for t in range(X.shape[0]):
            m = int((X[t] == 0).sum())
            assert np.unique(parts[t][X[t] == 0]).size == expect(m)


@pytest.mark.parametrize("learner", ag.LEARNERS)
def test_one_partition_has_the_optimal_accuracy(learner):
    # given the data, y0 of an unseen x0 is uniform over the unseen labels, so any
    # deterministic choice among them has accuracy A*(k, n) (Chapter 2) exactly
    k, n, trials = 10, 12, 20_000
    res = ag.bijection_dpa(k, n, 1, trials, seed=9, learner=learner)
    exact = float(bij.optimal_accuracy(k, n))
    est = float((res.prediction == res.label).mean())
    se = np.sqrt(exact * (1 - exact) / trials)
    assert abs(est - exact) < Z * se
    assert (res.radius == 0).all()  # one model: one poisoned sample changes its vote


# --------------------------------------------------------------------------------------
# Gaussian task
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("K", [1, 4, 60])
def test_gaussian_predictions_match_nearest_mean_per_partition(K):
    X, y = ga.sample_mixture(MU, 80, seed=K, reps=5)
    got = ag.gaussian_predictions(X, y, 4, X0, K)
    parts = ag.partition_ids(ag.content_codes(X, y), K, "content")
    for r, p in itertools.product(range(5), range(K)):
        mine = parts[r] == p
        if not mine.any():
            assert got[r, p] == -1
            continue
        expected = ga.fit_predict("nearest_mean", X[r][mine], y[r][mine], 4, X0)
        assert got[r, p] == int(expected)


def test_gaussian_dpa_radius_is_certify_dpa_and_label_is_bayes():
    res = ag.gaussian_dpa(MU, X0, 300, 10, 40, seed=10)
    pred, radius = dpa(res.votes)
    assert np.array_equal(res.prediction, pred) and np.array_equal(res.radius, radius)
    assert (res.label == ga.bayes_label(X0, MU)).all()
    assert (res.votes.sum(axis=1) <= 10).all()


def test_gaussian_one_partition_matches_the_plain_learner():
    n, reps = 20, 20_000
    res = ag.gaussian_dpa(MU, X0, n, 1, reps, seed=11)
    est = float((res.prediction == 0).mean())
    probs, se = ga.label_probabilities("nearest_mean", MU, X0, n, reps, seed=12)
    combined = np.sqrt(2 * est * (1 - est) / reps)  # two independent estimates
    assert abs(est - probs[0]) < Z * combined
