"""Tests for ldcbook.theory.bijection (Bijection Uncovering, Lemmas 1 and 2).

Expected values are derived independently of the inclusion-exclusion formula the module
uses: by hand, by an exact Markov chain over the number of distinct inputs seen, and by
brute force over every bijection and every training sequence. Monte Carlo estimates must
lie within Z = 4 standard errors of the exact value.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter, defaultdict
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.theory import bijection as bij

Z = 4  # Monte Carlo tolerance in standard errors
TAU_RANGE = r"tau must lie in the open interval \(0, 1\)"


def markov_accuracy(k: int, n: int, learner: str = "optimal") -> Fraction:
    """Accuracy from a Markov chain on (x_0 seen?, number d of other inputs seen)."""
    dist = {(False, 0): Fraction(1)}
    for _ in range(n):
        nxt: dict[tuple[bool, int], Fraction] = defaultdict(Fraction)
        for (s, d), p in dist.items():
            nxt[(True, d)] += p / k  # draw x_0
            if d < k - 1:
                nxt[(s, d + 1)] += p * Fraction(k - 1 - d, k)  # a new other input
            nxt[(s, d)] += p * Fraction(d, k)  # an other input already seen
        dist = nxt
    acc = Fraction(0)
    for (s, d), p in dist.items():
        # unseen x_0: the unseen labels are those of the k - d unseen inputs
        guess = Fraction(1, k - d) if learner == "optimal" else Fraction(1, k)
        acc += p if s else p * guess
    return acc


def brute_force(k: int, n: int) -> tuple[Fraction, Fraction]:
    """(accuracy of the optimal learner, best accuracy of *any* learner) by enumerating
    all k! bijections and all k**n training sequences."""
    learner_total = Fraction(0)
    posterior: dict[tuple, Counter] = defaultdict(Counter)
    for f in itertools.permutations(range(k)):
        for seq in itertools.product(range(k), repeat=n):
            train = tuple((x, f[x]) for x in seq)
            dist = bij.prediction_distribution(train, range(k), 0)
            learner_total += dist.get(f[0], Fraction(0))
            posterior[train][f[0]] += 1
    total = math.factorial(k) * k**n
    bayes = Fraction(sum(max(c.values()) for c in posterior.values()), total)
    return learner_total / total, bayes


# -- exact accuracy --------------------------------------------------------------------


def test_optimal_accuracy_by_hand() -> None:
    assert bij.optimal_accuracy(3, 0) == Fraction(1, 3)  # a guess among three labels
    # one sample: x_0 seen (1/3), else one of the two unseen labels is right
    assert bij.optimal_accuracy(3, 1) == Fraction(1, 3) + Fraction(2, 3) / 2
    # two samples: unseen with probability 4/9; then one other input seen (1/2, u = 2)
    # or both (1/2, u = 1)
    expected = Fraction(5, 9) + Fraction(4, 9) * Fraction(3, 4)
    assert bij.optimal_accuracy(3, 2) == expected


@pytest.mark.parametrize("k", range(3, 9))
def test_optimal_accuracy_matches_markov_chain(k: int) -> None:
    for n in range(0, 14):
        assert bij.optimal_accuracy(k, n) == markov_accuracy(k, n)
        assert bij.memorising_accuracy(k, n) == markov_accuracy(k, n, "memorise")


@pytest.mark.parametrize(
    "k,n", [(3, 0), (3, 1), (3, 2), (3, 4), (4, 1), (4, 3), (5, 2)]
)
def test_optimal_accuracy_brute_force_and_bayes(k: int, n: int) -> None:
    learner, bayes = brute_force(k, n)
    assert learner == bij.optimal_accuracy(k, n)
    # no learner at all, plausible or not, does better than the optimal plausible one
    assert bayes == bij.optimal_accuracy(k, n)


def test_all_seen_probability() -> None:
    assert bij.all_seen_probability(3, 2) == 0
    assert bij.all_seen_probability(3, 3) == Fraction(6, 27)
    assert bij.all_seen_probability(4, 4) == Fraction(24, 256)


@pytest.mark.parametrize("k", [3, 4, 7, 20, 60])
def test_accuracies_monotone_and_ordered(k: int) -> None:
    opt = [bij.optimal_accuracy(k, n) for n in range(4 * k)]
    assert all(a < b for a, b in zip(opt, opt[1:])), "optimal_accuracy must increase"
    for n, a in enumerate(opt):
        assert bij.memorising_accuracy(k, n) <= a <= bij.paper_bound(k, n)
        assert a < 1


def test_paper_bound_by_hand() -> None:
    assert bij.paper_bound(4, 1) == Fraction(3, 4)
    assert bij.paper_bound(3, 2) == 1 - Fraction(1, 9) / 2
    assert bij.paper_bound(10, 0) == Fraction(1, 2)


# -- sample counts ---------------------------------------------------------------------


def scan(accuracy, k: int, tau: Fraction) -> int:
    n = 0
    while accuracy(k, n) < tau:
        n += 1
    return n


@pytest.mark.parametrize("k", [3, 4, 5, 10, 17])
@pytest.mark.parametrize("tau", ["0.1", "0.3", "0.5", "0.75", "0.9", "0.99"])
def test_sample_counts_match_scan(k: int, tau: str) -> None:
    t = Fraction(tau)
    assert bij.min_samples(k, tau) == scan(bij.optimal_accuracy, k, t)
    assert bij.paper_min_samples(k, tau) == scan(bij.paper_bound, k, t)
    assert bij.memorising_min_samples(k, tau) == scan(bij.memorising_accuracy, k, t)


def test_min_samples_tau_forms_agree() -> None:
    assert bij.min_samples(20, "0.9") == bij.min_samples(20, 0.9)
    assert bij.min_samples(20, 0.9) == bij.min_samples(20, Fraction(9, 10))


def test_min_samples_fast_up_to_k_100() -> None:
    start = time.perf_counter()
    counts = [bij.min_samples(k, "0.99") for k in range(3, 101)]
    assert time.perf_counter() - start < 5
    assert all(a <= b for a, b in zip(counts, counts[1:]))


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(3, 100),
    tau=st.fractions(min_value=Fraction(1, 100), max_value=Fraction(99, 100)),
)
def test_sample_counts_ordered_and_minimal(k: int, tau: Fraction) -> None:
    n = bij.min_samples(k, tau)
    assert bij.optimal_accuracy(k, n) >= tau
    assert n == 0 or bij.optimal_accuracy(k, n - 1) < tau
    assert bij.paper_min_samples(k, tau) <= n <= bij.memorising_min_samples(k, tau)
    # the memorising learner's count is below k log(1 / (1 - tau)) + 1
    assert bij.memorising_min_samples(k, tau) <= k * math.log(1 / (1 - tau)) + 1
    bound = bij.lemma1_samples(k, tau)
    if abs(bound - round(bound)) > 1e-9:
        assert bij.paper_min_samples(k, tau) == max(0, math.ceil(bound))


# -- plausibility ----------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    k=st.integers(3, 7),
    data=st.data(),
    learner=st.sampled_from(bij.LEARNERS),
)
def test_learners_are_plausible(k: int, data, learner: str) -> None:
    f = data.draw(st.permutations(range(k)))
    seq = data.draw(st.lists(st.integers(0, k - 1), max_size=2 * k))
    sigma = data.draw(st.permutations(range(k)))
    train = [(x, f[x]) for x in seq]
    before = bij.prediction_distribution(train, range(k), 0, learner)
    after = bij.prediction_distribution([(x, sigma[y]) for x, y in train], range(k), 0,
                                        learner)
    assert after == {sigma[y]: p for y, p in before.items()}
    assert sum(before.values()) == 1


def test_prediction_distribution_named_labels() -> None:
    labels = ["cat", "dog", "fish", "bird"]
    train = [("img1", "cat"), ("img2", "dog")]
    assert bij.prediction_distribution(train, labels, "img0") == {
        "fish": Fraction(1, 2), "bird": Fraction(1, 2)}
    assert bij.prediction_distribution(train + [("img0", "bird")], labels, "img0") == {
        "bird": 1}
    memo = bij.prediction_distribution(train, labels, "img0", "memorise")
    assert memo == {y: Fraction(1, 4) for y in labels}


def brute_force_for_bijection(g: tuple[int, ...], n: int, learner: str) -> Fraction:
    """Accuracy under the fixed bijection g: the learner's own definition
    (prediction_distribution) applied to every one of the k**n training sequences."""
    k = len(g)
    total = Fraction(0)
    for seq in itertools.product(range(k), repeat=n):
        train = [(x, g[x]) for x in seq]
        dist = bij.prediction_distribution(train, range(k), 0, learner)
        total += dist.get(g[0], Fraction(0))
    return total / k**n


@pytest.mark.parametrize("learner", bij.EXACT_LEARNERS)
@pytest.mark.parametrize("k,n", [(3, 0), (3, 2), (4, 1), (4, 3)])
def test_accuracy_for_bijection_matches_brute_force(
    learner: str, k: int, n: int
) -> None:
    for g in itertools.permutations(range(k)):
        assert bij.accuracy_for_bijection(g, n, learner) == brute_force_for_bijection(
            g, n, learner)


@pytest.mark.parametrize("k,n", [(3, 1), (4, 3), (5, 4), (6, 2)])
def test_plausible_learners_same_accuracy_under_every_bijection(k: int, n: int) -> None:
    # the lemma of Chapter 2: plausible => the accuracy does not depend on g
    for g in itertools.permutations(range(k)):
        assert bij.accuracy_for_bijection(g, n, "optimal") == bij.optimal_accuracy(k, n)
        assert bij.accuracy_for_bijection(g, n, "memorise") == bij.memorising_accuracy(
            k, n)


@pytest.mark.parametrize("k,n", [(4, 3), (5, 4)])
def test_first_unseen_depends_on_the_bijection(k: int, n: int) -> None:
    values = [bij.accuracy_for_bijection(g, n, "first_unseen")
              for g in itertools.permutations(range(k))]
    # not plausible: under some bijections it beats the best plausible learner ...
    assert min(values) < bij.optimal_accuracy(k, n) < max(values)
    # ... but on average over a uniformly random bijection it is Bayes-optimal too
    assert sum(values, Fraction(0)) / len(values) == bij.optimal_accuracy(k, n)


def test_first_unseen_is_not_plausible() -> None:
    labels = ["cat", "dog", "fish", "bird"]
    train = [("img1", "cat"), ("img2", "dog")]
    swap = {"cat": "cat", "dog": "dog", "fish": "bird", "bird": "fish"}
    before = bij.prediction_distribution(train, labels, "img0", "first_unseen")
    swapped = [(x, swap[y]) for x, y in train]
    after = bij.prediction_distribution(swapped, labels, "img0", "first_unseen")
    assert before == after == {"fish": 1}  # the swap fixes train but not the answer
    assert {swap[y]: p for y, p in before.items()} != after


# -- simulation ------------------------------------------------------------------------


@pytest.mark.parametrize("k,n", [(3, 0), (3, 2), (10, 16), (25, 40)])
def test_simulate_learner_matches_exact(k: int, n: int) -> None:
    est, se = bij.simulate_learner(k, n, 40_000, seed=7)
    assert abs(est - float(bij.optimal_accuracy(k, n))) < Z * se
    est, se = bij.simulate_learner(k, n, 40_000, seed=8, learner="memorise")
    assert abs(est - float(bij.memorising_accuracy(k, n))) < Z * se


def test_simulate_learner_reproducible() -> None:
    a = bij.simulate_learner(5, 4, 1_000, seed=3)
    assert a == bij.simulate_learner(5, 4, 1_000, seed=3)
    assert a == bij.simulate_learner(5, 4, 1_000, seed=np.random.default_rng(3))


@pytest.mark.parametrize("learner", bij.LEARNERS)
@pytest.mark.parametrize("k,N", [(3, 4), (10, 30)])
def test_swap_attack(learner: str, k: int, N: int) -> None:
    r = bij.swap_attack(k, N, 40_000, seed=11, learner=learner)
    clean = bij.optimal_accuracy if learner == "optimal" else bij.memorising_accuracy
    A = float(clean(k, N))
    assert abs(r.clean_accuracy - A) < Z * r.clean_accuracy_se
    # plausible: after the swap it predicts y_0 as often as it predicted y_1 before
    assert abs(r.accuracy - (1 - A) / (k - 1)) < Z * r.accuracy_se
    assert abs(r.relabelled - 2 * N / k) < Z * r.relabelled_se
    assert abs(r.symmetric_difference - 4 * N / k) < Z * r.symmetric_difference_se
    assert r.symmetric_difference == pytest.approx(2 * r.relabelled)


def test_swap_attack_empty_training_set() -> None:
    r = bij.swap_attack(4, 0, 1_000, seed=0)
    assert r.relabelled == 0 and r.symmetric_difference == 0
    assert abs(r.accuracy - 1 / 4) < Z * r.accuracy_se  # (1 - 1/4) / 3


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bij.optimal_accuracy(2, 3), "k must be >= 3"),
        (lambda: bij.optimal_accuracy(3, -1), "n must be >= 0"),
        (lambda: bij.paper_bound(2, 3), "k must be >= 3"),
        (lambda: bij.memorising_accuracy(1, 3), "k must be >= 3"),
        (lambda: bij.all_seen_probability(3, -2), "n must be >= 0"),
        (lambda: bij.min_samples(10, 1), TAU_RANGE),
        (lambda: bij.min_samples(10, "0"), TAU_RANGE),
        (lambda: bij.min_samples(10, -0.5), r"tau must lie"),
        (lambda: bij.min_samples(2, "0.9"), "k must be >= 3"),
        (lambda: bij.paper_min_samples(10, "1"), r"tau must lie"),
        (lambda: bij.memorising_min_samples(10, "2"), r"tau must lie"),
        (lambda: bij.lemma1_samples(10, "1"), r"tau must lie"),
        (lambda: bij.simulate_learner(10, 5, 0, 0), "trials must be >= 1"),
        (lambda: bij.simulate_learner(10, -5, 10, 0), "n must be >= 0"),
        (lambda: bij.simulate_learner(10, 5, 10, 0, learner="x"), "learner must be"),
        (lambda: bij.swap_attack(10, -1, 10, 0), "N must be >= 0"),
        (lambda: bij.swap_attack(2, 5, 10, 0), "k must be >= 3"),
        (lambda: bij.swap_attack(10, 5, -3, 0), "trials must be >= 1"),
        (lambda: bij.prediction_distribution([], ["a", "b"], "x"), "labels must be"),
        (lambda: bij.prediction_distribution([("x", "z")], "abc", "x"), "every label"),
        (lambda: bij.prediction_distribution([("x", "a"), ("x", "b")], "abc", "x"),
         "several labels"),
        (lambda: bij.accuracy_for_bijection([0, 1], 1), "g must be a permutation"),
        (lambda: bij.accuracy_for_bijection([0, 1, 1], 1), "g must be a permutation"),
        (lambda: bij.accuracy_for_bijection([0, 2, 1], -1), "n must be >= 0"),
        (lambda: bij.accuracy_for_bijection(list(range(10)), 7), "too many"),
        (lambda: bij.accuracy_for_bijection([0, 2, 1], 1, "x"), "learner must be"),
    ],
)
def test_bad_inputs_raise_value_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="k must be an int"):
        bij.optimal_accuracy(3.0, 2)
    with pytest.raises(TypeError, match="n must be an int"):
        bij.simulate_learner(3, True, 10, 0)
    with pytest.raises(TypeError, match="tau must be"):
        bij.min_samples(5, [0.5])
    with pytest.raises(TypeError, match="pairs"):
        bij.prediction_distribution(["x"], "abc", "x")
