"""Tests for ldcbook.theory.discrimination (Chapter 4: coupling, Theorems 1 and 2).

Monte Carlo checks assert agreement within 4 standard errors (seeded, so deterministic).
Expected values are derived independently: brute-force enumeration, scipy's normal cdf,
or hand computation.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ldcbook.theory import discrimination as dc

Z = 4.0  # standard errors allowed in Monte Carlo checks

P3 = np.array([0.5, 0.3, 0.2, 0.0])
Q3 = np.array([0.1, 0.3, 0.2, 0.4])


def prob_vectors(size: int):
    """Hypothesis strategy: a probability vector of the given length."""
    return st.lists(
        st.integers(0, 10), min_size=size, max_size=size
    ).filter(lambda w: sum(w) > 0).map(lambda w: np.array(w, float) / sum(w))


# --------------------------------------------------------------------------------------
# total variation
# --------------------------------------------------------------------------------------
def test_total_variation_exact_values():
    assert dc.total_variation([1, 0], [0, 1]) == 1.0
    assert dc.total_variation([0.5, 0.5], [0.5, 0.5]) == 0.0
    # by hand: |0.15| + |0.05| + |0.05| + |0.15| = 0.4, halved
    assert dc.total_variation([0.4, 0.3, 0.2, 0.1], [0.25] * 4) == pytest.approx(0.2)
    assert dc.total_variation(P3, Q3) == pytest.approx(0.4)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda m: st.tuples(prob_vectors(m), prob_vectors(m))))
def test_total_variation_is_the_largest_event_gap(pq):
    p, q = pq
    gaps = [
        abs(p[list(A)].sum() - q[list(A)].sum())
        for r in range(len(p) + 1)
        for A in itertools.combinations(range(len(p)), r)
    ]
    assert dc.total_variation(p, q) == pytest.approx(max(gaps), abs=1e-12)


@pytest.mark.parametrize(
    "p, q, word",
    [
        ([0.5, 0.5], [1.0], "q"),
        ([0.5, 0.6], [0.5, 0.5], "p"),
        ([1.5, -0.5], [0.5, 0.5], "p"),
        ([0.5, 0.5], [np.nan, 0.5], "q"),
        ([], [], "p"),
        ([[0.5, 0.5]], [[0.5, 0.5]], "p"),
    ],
)
def test_total_variation_rejects_bad_vectors(p, q, word):
    with pytest.raises(ValueError, match=word):
        dc.total_variation(p, q)


# --------------------------------------------------------------------------------------
# the coupling lemma: discrete maximal coupling
# --------------------------------------------------------------------------------------
def test_discrete_coupling_has_the_right_marginals_and_disagreement():
    size = 200_000
    x, y = dc.maximal_coupling(P3, Q3, size, seed=1)
    for sample, probs in [(x, P3), (y, Q3)]:
        freq = np.bincount(sample, minlength=4) / size
        se = np.sqrt(probs * (1 - probs) / size) + 1e-12
        assert np.all(np.abs(freq - probs) <= Z * se)
    # delta = 0.4 by hand; the coupling lemma says P[X != Y] = delta for this coupling
    rate = np.mean(x != y)
    assert abs(rate - 0.4) < Z * np.sqrt(0.4 * 0.6 / size)
    # disagreements leave where p > q and land where q > p
    assert set(x[x != y]) <= {0} and set(y[x != y]) <= {3}


def test_discrete_coupling_identical_and_disjoint_laws():
    x, y = dc.discrete_maximal_coupling([0.3, 0.7], [0.3, 0.7], 1000, seed=0)
    assert np.array_equal(x, y)
    x, y = dc.discrete_maximal_coupling([1.0, 0.0], [0.0, 1.0], 1000, seed=0)
    assert np.all(x == 0) and np.all(y == 1)


def test_no_coupling_disagrees_less_than_tv():
    # brute force over all couplings of two 2-point laws: P[X != Y] = 1 - (a + b) with
    # a <= min(p0, q0), b <= min(p1, q1); the minimum is the total variation
    p, q = np.array([0.7, 0.3]), np.array([0.4, 0.6])
    grid = np.linspace(0, 1, 1001)
    best = min(1 - a - b for a in grid for b in grid if a <= 0.4 + 1e-12 and b <= 0.3)
    assert best == pytest.approx(dc.total_variation(p, q), abs=1e-9)


def test_couple_discrete_maps_p_samples_to_q_samples():
    rng = np.random.default_rng(2)
    size = 200_000
    x = rng.choice(4, size, p=P3)
    y = dc.couple_discrete(x, P3, Q3, seed=3)
    freq = np.bincount(y, minlength=4) / size
    assert np.all(np.abs(freq - Q3) <= Z * np.sqrt(Q3 * (1 - Q3) / size) + 1e-12)
    assert abs(np.mean(x != y) - 0.4) < Z * np.sqrt(0.24 / size)


def test_couple_discrete_rejects_outcomes_outside_the_support():
    with pytest.raises(ValueError, match="support of p"):
        dc.couple_discrete([3], P3, Q3, seed=0)
    with pytest.raises(ValueError, match="x must hold outcomes"):
        dc.couple_discrete([4], P3, Q3, seed=0)
    with pytest.raises(TypeError, match="x"):
        dc.couple_discrete([0.5], P3, Q3, seed=0)


@pytest.mark.parametrize("size", [-1, 2.5, True])
def test_coupling_rejects_bad_size(size):
    with pytest.raises((TypeError, ValueError), match="size"):
        dc.maximal_coupling(P3, Q3, size, seed=0)


def test_coupling_rejects_bad_family_and_seed():
    with pytest.raises(ValueError, match="family"):
        dc.maximal_coupling(P3, Q3, 10, seed=0, family="poisson")
    with pytest.raises(ValueError, match="seed"):
        dc.maximal_coupling(P3, Q3, 10, seed=-1)


# --------------------------------------------------------------------------------------
# the Gaussian maximal coupling
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("s", [0.3, 1.0, 2.5])
def test_gaussian_coupling_is_exact_and_maximal(s):
    size = 100_000
    mu = np.array([1.0, -2.0, 0.5])
    direction = np.array([2.0, 1.0, -2.0]) / 3.0
    mu_prime = mu + s * direction
    u, v = dc.maximal_coupling(mu, mu_prime, size, seed=4, family="gaussian")
    # marginals: means within 4 standard errors (unit variances), variances near 1
    assert np.all(np.abs(u.mean(0) - mu) < Z / np.sqrt(size))
    assert np.all(np.abs(v.mean(0) - mu_prime) < Z / np.sqrt(size))
    assert np.all(np.abs(v.var(0) - 1) < Z * np.sqrt(2 / size))
    # the projection of v on the mean difference is N(<mu', e>, 1): KS against the cdf
    proj = (v - mu_prime) @ direction
    assert stats.kstest(proj, "norm").pvalue > 1e-3
    # disagreement rate equals the total variation P[|Z| <= s/2]
    delta = stats.norm.cdf(s / 2) - stats.norm.cdf(-s / 2)
    rate = np.mean(np.any(u != v, axis=1))
    assert abs(rate - delta) < Z * np.sqrt(delta * (1 - delta) / size)


def test_gaussian_coupling_moves_only_along_the_mean_difference():
    mu, mu_prime = np.zeros(2), np.array([0.0, 1.0])
    u, v = dc.gaussian_maximal_coupling(mu, mu_prime, 5_000, seed=5)
    assert np.array_equal(u[:, 0], v[:, 0])
    moved = np.any(u != v, axis=1)
    # a moved point was reflected through the bisector y = 1/2 and sat below it
    assert np.allclose(u[moved, 1] + v[moved, 1], 1.0)
    assert np.all(u[moved, 1] < 0.5)


def test_couple_gaussian_equal_means_is_identity_and_shapes_checked():
    u = np.random.default_rng(0).standard_normal((3, 4, 2))
    assert np.array_equal(dc.couple_gaussian(u, [1.0, 1.0], [1.0, 1.0], seed=0), u)
    with pytest.raises(ValueError, match="u must have shape"):
        dc.couple_gaussian(u, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], seed=0)
    with pytest.raises(ValueError, match="mu_prime"):
        dc.couple_gaussian(u, [0.0, 0.0], [1.0, 0.0, 0.0], seed=0)
    with pytest.raises(ValueError, match="finite"):
        dc.couple_gaussian(u, [np.inf, 0.0], [1.0, 0.0], seed=0)


# --------------------------------------------------------------------------------------
# Theorem 2: the transform and its attack size
# --------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 4), max_size=12),
    st.lists(st.integers(0, 4), max_size=12),
)
def test_multiset_symmetric_difference_matches_counter(a, b):
    ca, cb = Counter(a), Counter(b)
    expected = sum(((ca - cb) + (cb - ca)).values())
    got = dc.multiset_symmetric_difference(np.array(a, int), np.array(b, int))
    assert got == expected


def test_multiset_symmetric_difference_rows():
    a = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0]])
    b = np.array([[0.0, 1.0], [2.0, 3.0], [2.0, 3.0], [5.0, 5.0]])
    # a has one extra (0, 1); b has one extra (2, 3) and (5, 5): 1 + 1 + 1
    assert dc.multiset_symmetric_difference(a, b) == 3
    with pytest.raises(ValueError, match="b must have shape"):
        dc.multiset_symmetric_difference(a, np.zeros((2, 3)))


def test_discrete_transform_attack_size_is_twice_the_changes():
    reps, N = 4_000, 50
    rng = np.random.default_rng(6)
    D = rng.choice(4, (reps, N), p=P3)
    poisoned, size = dc.coupling_transform(D, P3, Q3, seed=7)
    pairs = zip(D[:50], poisoned[:50])
    exact = np.array([dc.multiset_symmetric_difference(a, b) for a, b in pairs])
    assert np.array_equal(size[:50], exact)
    assert np.array_equal(size, 2 * (poisoned != D).sum(axis=1))
    # changed samples ~ Binomial(N, delta): mean attack size 2 delta N
    delta = 0.4
    se = 2 * np.sqrt(N * delta * (1 - delta) / reps)
    assert abs(size.mean() - 2 * delta * N) < Z * se
    # the transformed sample has the law q (pooled frequencies)
    freq = np.bincount(poisoned.ravel(), minlength=4) / poisoned.size
    se = np.sqrt(Q3 * (1 - Q3) / poisoned.size)
    assert np.all(np.abs(freq - Q3) <= Z * se + 1e-12)


def test_gaussian_transform_attack_size_matches_exact_count():
    mu, mu_prime = np.zeros(2), np.array([0.6, 0.8])
    D = np.random.default_rng(8).standard_normal((300, 2))
    poisoned, size = dc.coupling_transform(D, mu, mu_prime, seed=9, family="gaussian")
    assert size.shape == ()
    assert int(size) == dc.multiset_symmetric_difference(D, poisoned)
    with pytest.raises(ValueError, match="D must have shape"):
        dc.coupling_transform(np.zeros(3), mu, mu_prime, seed=0, family="gaussian")
    with pytest.raises(ValueError, match="family"):
        dc.coupling_transform(D, mu, mu_prime, seed=0, family="other")


# --------------------------------------------------------------------------------------
# Theorem 1: products of Bernoullis
# --------------------------------------------------------------------------------------
def brute_force_product_tv(p: float, q: float, n: int) -> float:
    total = 0.0
    for bits in itertools.product([0, 1], repeat=n):
        ones = sum(bits)
        total += abs(p**ones * (1 - p) ** (n - ones) - q**ones * (1 - q) ** (n - ones))
    return total / 2


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 8))
def test_product_tv_matches_enumeration_and_theorem1(p, q, n):
    exact = brute_force_product_tv(p, q, n)
    assert dc.bernoulli_product_tv(p, q, n) == pytest.approx(exact, abs=1e-10)
    assert exact <= n * abs(p - q) + 1e-12  # Theorem 1
    assert dc.best_test(p, q, n)[0] == pytest.approx(exact, abs=1e-10)


def test_product_tv_closed_form_when_one_law_is_a_point_mass():
    delta = 0.01
    n = np.array([1, 10, 100, 1000])
    assert np.allclose(dc.bernoulli_product_tv(0.0, delta, n), 1 - (1 - delta) ** n)
    assert dc.bernoulli_product_tv(0.3, 0.3, 50) == 0.0
    assert dc.bernoulli_product_tv(0.2, 0.7, 1) == pytest.approx(0.5)


def test_product_tv_never_decreases_with_n():
    tv = dc.bernoulli_product_tv(0.5, 0.55, np.arange(200))
    assert np.all(np.diff(tv) >= -1e-12)


def test_theorem1_bound_values():
    assert dc.theorem1_bound(0.1, 5) == pytest.approx(0.5)
    assert np.allclose(dc.theorem1_bound(0.25, [0, 4, 8]), [0, 1, 2])
    with pytest.raises(ValueError, match="delta"):
        dc.theorem1_bound(1.5, 3)
    with pytest.raises(ValueError, match="n"):
        dc.theorem1_bound(0.1, -1)


def test_best_test_beats_every_count_based_test():
    p, q, n = 0.3, 0.55, 5
    pmf_p = stats.binom.pmf(range(n + 1), n, p)
    pmf_q = stats.binom.pmf(range(n + 1), n, q)
    best = max(
        pmf_q[list(A)].sum() - pmf_p[list(A)].sum()
        for r in range(n + 2)
        for A in itertools.combinations(range(n + 1), r)
    )
    advantage, accept = dc.best_test(p, q, n)
    assert advantage == pytest.approx(best)
    assert accept.dtype == bool and accept.shape == (n + 1,)


def test_simulated_advantage_agrees_with_exact():
    p, q, n = 0.5, 0.6, 40
    exact, accept = dc.best_test(p, q, n)
    est, se = dc.simulate_test_advantage(p, q, n, accept, 100_000, seed=10)
    assert abs(est - exact) < Z * se
    with pytest.raises(ValueError, match="accept"):
        dc.simulate_test_advantage(p, q, n, accept[:-1], 10, seed=0)


@pytest.mark.parametrize(
    "p, q, a", [(0.0, 0.05, 0.5), (0.5, 0.6, 0.5), (0.2, 0.3, 0.9)]
)
def test_samples_to_distinguish_matches_a_linear_scan(p, q, a):
    n = dc.samples_to_distinguish(p, q, a)
    scan = next(m for m in range(1, 10_000) if dc.bernoulli_product_tv(p, q, m) >= a)
    assert n == scan
    assert n >= a / abs(p - q) - 1e-9  # Theorem 1's lower bound


# --------------------------------------------------------------------------------------
# Hellinger distance: when Theorem 1 is sharp
# --------------------------------------------------------------------------------------
def test_hellinger_squared_exact_values():
    assert dc.hellinger_squared([1, 0], [0, 1]) == 1.0
    assert dc.hellinger_squared(P3, P3) == 0.0
    delta = 0.01  # Bern(0) vs Bern(delta): 1 - sqrt(1 - delta)
    assert dc.hellinger_squared([1, 0], [1 - delta, delta]) == pytest.approx(
        1 - np.sqrt(1 - delta), rel=1e-12)
    # by hand: (1/2)[(sqrt .5 - sqrt .1)^2 + 0 + 0 + (0 - sqrt .4)^2]
    by_hand = 0.5 * ((np.sqrt(0.5) - np.sqrt(0.1)) ** 2 + 0.4)
    assert dc.hellinger_squared(P3, Q3) == pytest.approx(by_hand)
    assert dc.hellinger_squared(Q3, P3) == pytest.approx(by_hand)


@settings(max_examples=60, deadline=None)
@given(prob_vectors(5), prob_vectors(5))
def test_hellinger_between_tv_squared_and_tv(p, q):
    h2, tv = dc.hellinger_squared(p, q), dc.total_variation(p, q)
    assert tv**2 / 2 - 1e-12 <= h2 <= tv + 1e-12
    assert tv <= np.sqrt(h2 * (2 - h2)) + 1e-12  # Le Cam: TV <= sqrt(1 - rho^2)


@pytest.mark.parametrize("p, q", [(0.2, 0.35), (0.0, 0.1), (0.5, 0.52)])
def test_hellinger_multiplies_over_products(p, q):
    # the count of ones is sufficient, so H^2(Bin(n, p), Bin(n, q)) = 1 - rho^n
    n = 30
    rho = 1 - dc.hellinger_squared([1 - p, p], [1 - q, q])
    j = np.arange(n + 1)
    binomial = dc.hellinger_squared(stats.binom.pmf(j, n, p), stats.binom.pmf(j, n, q))
    assert binomial == pytest.approx(1 - rho**n, rel=1e-9)


@pytest.mark.parametrize("a", [0.2, 0.5, 0.9])
@pytest.mark.parametrize(
    "p, q", [(0.0, 0.03), (0.03, 0.06), (0.5, 0.53), (0.1, 0.6), (0.0, 1.0)]
)
def test_hellinger_bracket_contains_the_exact_sample_count(p, q, a):
    h2 = dc.hellinger_squared([1 - p, p], [1 - q, q])
    lower, upper = dc.hellinger_sample_bounds(h2, a)
    assert lower <= dc.samples_to_distinguish(p, q, a) <= upper


def test_hellinger_sample_bounds_rejects_bad_input():
    with pytest.raises(ValueError, match="h2"):
        dc.hellinger_sample_bounds(0.0, 0.5)
    with pytest.raises(ValueError, match="h2"):
        dc.hellinger_sample_bounds(1.5, 0.5)
    with pytest.raises(ValueError, match="advantage"):
        dc.hellinger_sample_bounds(0.1, 1.0)
    with pytest.raises(TypeError, match="h2"):
        dc.hellinger_sample_bounds("0.1", 0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        dc.hellinger_squared([0.5, 0.6], [0.5, 0.5])


def test_samples_to_distinguish_rejects_bad_input():
    with pytest.raises(ValueError, match="q must differ"):
        dc.samples_to_distinguish(0.3, 0.3, 0.5)
    with pytest.raises(ValueError, match="advantage"):
        dc.samples_to_distinguish(0.3, 0.4, 1.0)
    with pytest.raises(ValueError, match="p"):
        dc.bernoulli_product_tv(-0.1, 0.4, 3)
    with pytest.raises(TypeError, match="n"):
        dc.bernoulli_product_tv(0.1, 0.4, 2.5)


# --------------------------------------------------------------------------------------
# two-sample tests
# --------------------------------------------------------------------------------------
def test_energy_statistic_matches_double_loop():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((7, 2)), rng.standard_normal((5, 2)) + 1

    def mean_dist(a, b):
        return np.mean([np.linalg.norm(u - v) for u in a for v in b])

    expected = 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
    stat, pvalue = dc.energy_test(x, y, 99, seed=12)
    assert stat == pytest.approx(expected, abs=1e-10)
    assert 0 < pvalue <= 1


def test_energy_test_rejects_shifted_and_is_valid_under_the_null():
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((60, 2)), rng.standard_normal((60, 2)) + [1.5, 0]
    assert dc.energy_test(x, y, 199, seed=14)[1] == pytest.approx(1 / 200)
    reps = 200
    draws = rng.standard_normal((reps, 2, 20, 2))
    pvals = np.array([dc.energy_test(u, v, 49, rng)[1] for u, v in draws])
    rate = np.mean(pvals <= 0.1)
    assert rate <= 0.1 + Z * np.sqrt(0.09 / reps)


def test_projected_ks_test_uses_the_direction_only():
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    stat, pvalue = dc.projected_ks_test(x, y, [0, 2.0, 0])
    ref = stats.ks_2samp(x[:, 1], y[:, 1])
    assert stat == pytest.approx(ref.statistic) and pvalue == pytest.approx(ref.pvalue)
    with pytest.raises(ValueError, match="direction must be non-zero"):
        dc.projected_ks_test(x, y, [0, 0, 0])
    with pytest.raises(ValueError, match="columns"):
        dc.projected_ks_test(x, y, [1, 0])
    with pytest.raises(ValueError, match="y must have"):
        dc.energy_test(x, y[:, :2], 9, seed=0)
