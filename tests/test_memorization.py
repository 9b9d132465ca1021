"""Tests for ldcbook.theory.memorization (Instance Memorization, Lemmas 3 and 4).

Expected values are derived independently: by hand, by brute force over every label
table and every training sequence, or from the definition by a linear scan. Monte Carlo
estimates must lie within Z = 4 standard errors of the exact value.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.theory import memorization as mem

Z = 4  # Monte Carlo tolerance in standard errors
TAU_RANGE = r"tau must lie in the open interval \(0, 1\)"


def brute_force_bayes(m: int, k: int, n: int) -> Fraction:
    """Best accuracy of *any* learner: the sum over training sequences of the largest
    posterior count of the label of x_0, over all k**m label tables and m**n
    sequences."""
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for table in itertools.product(range(k), repeat=m):
        for seq in itertools.product(range(m), repeat=n):
            counts[tuple((x, table[x]) for x in seq)][table[0]] += 1
    best = sum(max(c.values()) for c in counts.values())
    return Fraction(best, k**m * m**n)


# -- optimal_accuracy ------------------------------------------------------------------


def test_optimal_accuracy_by_hand() -> None:
    # m = k = 2, one sample: x_0 seen with probability 1/2, else a coin flip.
    assert mem.optimal_accuracy(2, 2, 1) == Fraction(3, 4)
    # no sample: a guess among k classes
    assert mem.optimal_accuracy(5, 7, 0) == Fraction(1, 7)
    # m = 3, k = 4, n = 2: unseen with probability 4/9, then right with probability 1/4
    assert mem.optimal_accuracy(3, 4, 2) == Fraction(5, 9) + Fraction(4, 9) / 4


@pytest.mark.parametrize(
    "m,k,n", [(2, 2, 0), (2, 2, 3), (2, 3, 2), (3, 2, 3), (3, 3, 2)]
)
def test_optimal_accuracy_is_bayes_optimal(m: int, k: int, n: int) -> None:
    assert mem.optimal_accuracy(m, k, n) == brute_force_bayes(m, k, n)


def test_optimal_accuracy_increasing_and_below_one() -> None:
    for m, k in [(2, 2), (3, 10), (50, 4)]:
        values = [mem.optimal_accuracy(m, k, n) for n in range(200)]
        assert all(a < b for a, b in zip(values, values[1:]))
        assert values[-1] < 1


# -- Lemma 3: the bound and the exact sample count -------------------------------------


def scan_min_samples(m: int, k: int, tau: Fraction) -> int:
    n = 0
    while mem.optimal_accuracy(m, k, n) < tau:
        n += 1
    return n


@pytest.mark.parametrize("m", [2, 3, 10, 40])
@pytest.mark.parametrize("k", [2, 5, 10])
@pytest.mark.parametrize("tau", ["0.05", "0.3", "0.5", "0.75", "0.9", "0.99"])
def test_min_samples_matches_scan(m: int, k: int, tau: str) -> None:
    assert mem.min_samples(m, k, tau) == scan_min_samples(m, k, Fraction(tau))


def test_min_samples_tau_forms_agree() -> None:
    assert mem.min_samples(30, 10, "0.9") == mem.min_samples(30, 10, 0.9)
    assert mem.min_samples(30, 10, 0.9) == mem.min_samples(30, 10, Fraction(9, 10))


def test_lemma3_tight_on_an_integer_bound() -> None:
    # m = k = 2, tau = 3/4: the bound log(1/2)/log(1/2) is exactly 1, and one sample
    # reaches accuracy 3/4 exactly.
    assert mem.lemma3_samples(2, 2, Fraction(3, 4)) == pytest.approx(1.0)
    assert mem.min_samples(2, 2, Fraction(3, 4)) == 1
    assert mem.optimal_accuracy(2, 2, 1) == Fraction(3, 4)


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(2, 500),
    k=st.integers(2, 50),
    tau=st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(999, 1000)),
)
def test_min_samples_is_ceiling_of_lemma3(m: int, k: int, tau: Fraction) -> None:
    n = mem.min_samples(m, k, tau)
    assert mem.optimal_accuracy(m, k, n) >= tau
    assert n == 0 or mem.optimal_accuracy(m, k, n - 1) < tau
    bound = mem.lemma3_samples(m, k, tau)
    if abs(bound - round(bound)) > 1e-9:  # away from integers float rounding is safe
        assert n == max(0, math.ceil(bound))


def test_min_power_at_most() -> None:
    assert mem.min_power_at_most(Fraction(1, 2), Fraction(1, 8)) == 3
    assert mem.min_power_at_most(Fraction(1, 2), Fraction(1, 7)) == 3
    assert mem.min_power_at_most(Fraction(1, 2), Fraction(1, 9)) == 4
    assert mem.min_power_at_most(Fraction(9, 10), Fraction(2)) == 0
    with pytest.raises(ValueError, match="ratio"):
        mem.min_power_at_most(Fraction(1), Fraction(1, 2))
    with pytest.raises(ValueError, match="target"):
        mem.min_power_at_most(Fraction(1, 2), Fraction(0))


# -- simulation ------------------------------------------------------------------------


@pytest.mark.parametrize("learner", mem.LEARNERS)
@pytest.mark.parametrize("m,k,n", [(2, 2, 0), (10, 3, 5), (50, 10, 60)])
def test_simulate_learner_matches_exact(learner: str, m: int, k: int, n: int) -> None:
    est, se = mem.simulate_learner(m, k, n, 40_000, seed=1, learner=learner)
    exact = float(mem.optimal_accuracy(m, k, n))
    assert abs(est - exact) < Z * se


def test_simulate_learner_reproducible() -> None:
    a = mem.simulate_learner(7, 3, 4, 1_000, seed=5)
    assert a == mem.simulate_learner(7, 3, 4, 1_000, seed=5)
    assert a == mem.simulate_learner(7, 3, 4, 1_000, seed=np.random.default_rng(5))


# -- a fixed labelling: the class F of swap-equivariant learners ----------------------


def brute_force_for_labelling(g: tuple[int, ...], k: int, n: int, learner: str):
    """Accuracy under the fixed labelling g, by running the learner's definition on
    each of the m**n training sequences (Python loops, no shared code)."""
    m = len(g)
    total = Fraction(0)
    for seq in itertools.product(range(m), repeat=n):
        if 0 in seq:
            total += 1
        elif learner == "memorise":
            total += Fraction(1, k)
        else:
            counts = Counter(g[x] for x in seq)
            best = max(counts.values(), default=0)
            answer = min((c for c in range(k) if counts[c] == best), default=0)
            total += answer == g[0]
    return total / m**n


@pytest.mark.parametrize("learner", mem.LEARNERS)
@pytest.mark.parametrize("m,k,n", [(2, 2, 0), (2, 3, 2), (3, 2, 3), (4, 3, 2)])
def test_accuracy_for_labelling_matches_brute_force(
    learner: str, m: int, k: int, n: int
) -> None:
    for g in itertools.product(range(k), repeat=m):
        exact = mem.accuracy_for_labelling(g, k, n, learner)
        assert exact == brute_force_for_labelling(g, k, n, learner)


@pytest.mark.parametrize("m,k,n", [(2, 2, 3), (3, 3, 2), (4, 3, 3), (5, 2, 4)])
def test_swap_equivariant_learner_same_accuracy_under_every_labelling(
    m: int, k: int, n: int
) -> None:
    exact = mem.optimal_accuracy(m, k, n)
    values = [mem.accuracy_for_labelling(g, k, n, "frequent")
              for g in itertools.product(range(k), repeat=m)]
    for g in itertools.product(range(k), repeat=m):
        assert mem.accuracy_for_labelling(g, k, n, "memorise") == exact
    # "frequent" is not swap-equivariant: it depends on the labelling, beats the bound
    # under some, and is optimal only on average over all k**m labellings
    assert min(values) < exact < max(values) == 1
    assert sum(values, Fraction(0)) / len(values) == exact


def test_frequent_under_a_constant_labelling() -> None:
    # the counterexample of Chapter 3: m = 100, k = 10, one sample
    g = np.full(100, 9)
    assert mem.accuracy_for_labelling(g, 10, 1, "frequent") == 1
    assert mem.optimal_accuracy(100, 10, 1) == Fraction(109, 1000)
    est, se = mem.simulate_learner(100, 10, 1, 2_000, seed=0, learner="frequent",
                                   labelling=g)
    assert est == 1 and se == 0
    # Lemma 4's removal leaves it right unless every sample was a copy of x_0
    m, k, N = 4, 10, 3
    r = mem.removal_attack(m, k, N, 40_000, seed=2, learner="frequent",
                           labelling=np.full(m, 9))
    assert r.clean_accuracy == 1
    assert abs(r.accuracy - (1 - m**-N)) < Z * max(r.accuracy_se, 1e-3)
    r = mem.removal_attack(m, k, N, 40_000, seed=2, learner="memorise",
                           labelling=np.full(m, 9))
    assert abs(r.accuracy - 1 / k) < Z * r.accuracy_se


@pytest.mark.parametrize("learner", mem.LEARNERS)
def test_simulate_learner_fixed_labelling_matches_enumeration(learner: str) -> None:
    g = np.array([2, 0, 0, 1, 2])
    est, se = mem.simulate_learner(5, 3, 4, 40_000, seed=4, learner=learner,
                                   labelling=g)
    assert abs(est - float(mem.accuracy_for_labelling(g, 3, 4, learner))) < Z * se


# -- Lemma 4: the removal attack -------------------------------------------------------


@pytest.mark.parametrize("learner", mem.LEARNERS)
@pytest.mark.parametrize("preserve_size", [False, True])
def test_removal_attack(learner: str, preserve_size: bool) -> None:
    m, k, N, trials = 8, 4, 40, 40_000
    r = mem.removal_attack(m, k, N, trials, seed=3, preserve_size=preserve_size,
                           learner=learner)
    exact = float(mem.optimal_accuracy(m, k, N))
    assert abs(r.clean_accuracy - exact) < Z * r.clean_accuracy_se
    assert abs(r.accuracy - 1 / k) < Z * r.accuracy_se
    assert abs(r.removed - N / m) < Z * r.removed_se
    cost = 2 if preserve_size else 1
    assert abs(r.symmetric_difference - cost * N / m) < Z * r.symmetric_difference_se
    # each removal costs 1, each replacement 2: exactly, trial by trial
    assert r.symmetric_difference == pytest.approx(cost * r.removed)


def test_removal_attack_empty_training_set() -> None:
    r = mem.removal_attack(3, 2, 0, 100, seed=0)
    assert r.removed == 0 and r.symmetric_difference == 0


def test_multiset_distance() -> None:
    before = np.array([[0, 1, 1, 2], [3, 3, 3, 3]])
    after = np.array([[1, 1, 2, -1], [3, 3, 0, 0]])
    assert mem.multiset_distance(before, after, 4).tolist() == [1, 4]
    with pytest.raises(ValueError, match="rows"):
        mem.multiset_distance(before, after[:1], 4)
    with pytest.raises(ValueError, match="size"):
        mem.multiset_distance(before, after, 3)


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mem.optimal_accuracy(1, 2, 3), "m must be >= 2"),
        (lambda: mem.optimal_accuracy(3, 1, 3), "k must be >= 2"),
        (lambda: mem.optimal_accuracy(3, 2, -1), "n must be >= 0"),
        (lambda: mem.min_samples(3, 2, 1), TAU_RANGE),
        (lambda: mem.min_samples(3, 2, "0"), TAU_RANGE),
        (lambda: mem.min_samples(3, 2, "1.5"), r"tau must lie"),
        (lambda: mem.min_samples(3, 2, "abc"), "tau must be a decimal string"),
        (lambda: mem.lemma3_samples(1, 2, "0.9"), "m must be >= 2"),
        (lambda: mem.simulate_learner(3, 2, 1, 0, 0), "trials must be >= 1"),
        (lambda: mem.simulate_learner(3, 2, 1, 10, -1), "seed must be >= 0"),
        (lambda: mem.simulate_learner(3, 2, 1, 10, 0, learner="x"), "learner must be"),
        (lambda: mem.removal_attack(3, 2, -1, 10, 0), "N must be >= 0"),
        (lambda: mem.removal_attack(3, 2, 5, 0, 0), "trials must be >= 1"),
        (lambda: mem.accuracy_for_labelling([0], 2, 1), "m >= 2 inputs"),
        (lambda: mem.accuracy_for_labelling([0, 2], 2, 1), r"classes in 0\.\.1"),
        (lambda: mem.accuracy_for_labelling([0, -1], 2, 1), r"classes in 0\.\.1"),
        (lambda: mem.accuracy_for_labelling([0, 1], 2, 21), "too many"),
        (lambda: mem.accuracy_for_labelling([0, 1], 2, 1, "x"), "learner must be"),
        (lambda: mem.simulate_learner(3, 2, 1, 10, 0, labelling=[0, 1]),
         "each of the m = 3 inputs"),
        (lambda: mem.removal_attack(3, 2, 1, 10, 0, labelling=[0, 1, 2]),
         r"classes in 0\.\.1"),
    ],
)
def test_bad_inputs_raise_value_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="m must be an int"):
        mem.optimal_accuracy(2.5, 2, 1)
    with pytest.raises(TypeError, match="preserve_size must be a bool"):
        mem.removal_attack(3, 2, 5, 10, 0, preserve_size=1)
    with pytest.raises(TypeError, match="tau must be"):
        mem.min_samples(3, 2, None)
    with pytest.raises(TypeError, match="labelling must have an integer dtype"):
        mem.simulate_learner(3, 2, 1, 10, 0, labelling=[0.5, 1.0, 0.0])
