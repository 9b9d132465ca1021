"""Tests for ldcbook.theory.gaussian (Chapter 5: Claim 1, Lemmas 5-7, Definition 3).

Monte Carlo checks assert agreement within 4 standard errors (seeded, so deterministic).
Expected values come from scipy's normal cdf and multivariate densities, brute-force
loops over classes or training sets, or hand computation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from ldcbook.theory import gaussian as ga

Z = 4.0  # standard errors allowed in Monte Carlo checks

X0 = np.zeros(2)
ANGLES = np.deg2rad([0.0, 120.0, 240.0, 60.0])
RADII = np.array([1.0, 1.5, 2.5, 3.0])
MU = np.stack([RADII * np.cos(ANGLES), RADII * np.sin(ANGLES)], axis=1)


def tv_reference(s):
    """P[|Z| <= s/2] from scipy's normal cdf."""
    return stats.norm.cdf(np.asarray(s) / 2) - stats.norm.cdf(-np.asarray(s) / 2)


# --------------------------------------------------------------------------------------
# Lemma 5
# --------------------------------------------------------------------------------------
def test_tv_distance_matches_the_normal_cdf_and_is_vectorised():
    s = np.array([[0.0, 0.1], [1.0, 4.0]])
    out = ga.tv_distance(s)
    assert out.shape == (2, 2)
    assert np.allclose(out, tv_reference(s), atol=1e-14)
    assert isinstance(ga.tv_distance(1.0), float)
    assert ga.tv_distance(0) == 0.0
    assert ga.tv_distance(40.0) == pytest.approx(1.0)


def test_paper_delta_is_the_value_at_twice_the_distance():
    # 68-95-99.7: P[|Z| <= 1] = 0.682689...
    assert ga.paper_delta(1.0) == pytest.approx(0.6826894921370859)
    s = np.linspace(0, 3, 13)
    assert np.allclose(ga.paper_delta(s), ga.tv_distance(2 * s))
    # at s = 1 the paper's value is almost twice the true one
    assert 1.7 < ga.paper_delta(1.0) / ga.tv_distance(1.0) < 1.8


@pytest.mark.parametrize("bad", [-0.1, np.nan, np.inf, [0.5, -1.0], [np.nan]])
def test_delta_formulas_reject_bad_distances(bad):
    for fn in (ga.tv_distance, ga.paper_delta):
        with pytest.raises(ValueError, match="s"):
            fn(bad)


@pytest.mark.parametrize("s", [0.05, 0.5, 1.0, 3.0])
def test_tv_by_integration_in_one_dimension(s):
    mu = np.array([0.3, -0.2, 1.0])
    e = np.array([1.0, 2.0, 2.0]) / 3.0
    value = ga.tv_by_integration(mu, mu + s * e)
    assert value == pytest.approx(tv_reference(s), abs=1e-9)


def test_tv_by_integration_in_two_dimensions():
    value = ga.tv_by_integration([0.0, 0.0], [0.6, 0.8], method="2d")
    assert value == pytest.approx(tv_reference(1.0), abs=1e-7)
    with pytest.raises(ValueError, match="R\\^2"):
        ga.tv_by_integration([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], method="2d")
    with pytest.raises(ValueError, match="method"):
        ga.tv_by_integration([0.0], [1.0], method="3d")
    with pytest.raises(ValueError, match="mu_prime"):
        ga.tv_by_integration([0.0], [1.0, 0.0])


def test_gaussian_product_tv_against_the_best_test_by_monte_carlo():
    # the likelihood-ratio test on n samples says "V" when the sample mean exceeds s/2
    s, n, reps = 0.3, 9, 50_000
    rng = np.random.default_rng(0)
    under_u = rng.standard_normal((reps, n)).mean(axis=1) > s / 2
    under_v = (rng.standard_normal((reps, n)) + s).mean(axis=1) > s / 2
    est = under_v.mean() - under_u.mean()
    se = np.sqrt((under_v.var() + under_u.var()) / reps)
    assert abs(est - ga.gaussian_product_tv(s, n)) < Z * se
    assert ga.gaussian_product_tv(s, 1) == pytest.approx(ga.tv_distance(s))
    assert np.allclose(ga.gaussian_product_tv(s, [1, 4]), tv_reference([s, 2 * s]))


@pytest.mark.parametrize("s, a", [(0.1, 0.5), (0.5, 0.9), (2.0, 0.3), (0.05, 0.99)])
def test_gaussian_samples_to_distinguish_matches_a_scan(s, a):
    n = ga.gaussian_samples_to_distinguish(s, a)
    assert ga.gaussian_product_tv(s, n) >= a
    assert n == 1 or ga.gaussian_product_tv(s, n - 1) < a
    assert n >= a / ga.tv_distance(s) - 1e-9  # Theorem 1 is a valid lower bound


def test_gaussian_samples_to_distinguish_rejects_bad_input():
    with pytest.raises(ValueError, match="s"):
        ga.gaussian_samples_to_distinguish(0.0, 0.5)
    with pytest.raises(ValueError, match="advantage"):
        ga.gaussian_samples_to_distinguish(0.5, 0.0)


# --------------------------------------------------------------------------------------
# Claim 1 and the construction of Lemmas 6-7
# --------------------------------------------------------------------------------------
def test_bayes_label_is_the_posterior_argmax():
    rng = np.random.default_rng(1)
    points = rng.normal(scale=3.0, size=(500, 2))
    logpdf = np.stack(
        [stats.multivariate_normal(m, np.eye(2)).logpdf(points) for m in MU], axis=1
    )
    assert np.array_equal(ga.bayes_label(points, MU), np.argmax(logpdf, axis=1))
    assert ga.bayes_label(X0, MU) == 0
    # a tie goes to the smaller label
    assert ga.bayes_label([0.0, 0.0], np.array([[1.0, 0.0], [-1.0, 0.0]])) == 0


def test_nearest_two_and_its_conditions():
    assert ga.nearest_two(X0, MU) == (0, 1, pytest.approx(1.0), pytest.approx(1.5))
    with pytest.raises(ValueError, match="coincide"):
        ga.nearest_two(MU[0], MU)
    with pytest.raises(ValueError, match="d2 > d1"):
        ga.nearest_two(X0, np.array([[1.0, 0.0], [-1.0, 0.0], [3.0, 0.0]]))
    with pytest.raises(ValueError, match="second-nearest"):
        ga.nearest_two(X0, np.array([[1.0, 0.0], [2.0, 0.0], [-2.0, 0.0]]))
    with pytest.raises(ValueError, match="mu must have shape"):
        ga.nearest_two(X0, np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="x0"):
        ga.nearest_two([0.0, 0.0, 0.0], MU)


@pytest.mark.parametrize("eps", [1e-6, 0.25, 1.0])
def test_lemma6_centres_geometry(eps):
    mu_prime = ga.lemma6_centres(MU, X0, eps)
    d = np.linalg.norm(mu_prime - X0, axis=1)
    assert d[1] == pytest.approx(1.0 - eps)  # moved to distance d1 - eps
    assert np.array_equal(np.delete(mu_prime, 1, axis=0), np.delete(MU, 1, axis=0))
    # on the segment from mu_2 to x0, at distance s + eps from mu_2
    assert np.linalg.norm(mu_prime[1] - MU[1]) == pytest.approx(0.5 + eps)
    u, v = MU[1] - X0, mu_prime[1] - X0
    assert abs(u[0] * v[1] - u[1] * v[0]) < 1e-12
    if eps > 1e-3:
        assert ga.bayes_label(X0, mu_prime) == 1


@pytest.mark.parametrize("eps", [0.0, -0.1, 1.01, np.nan])
def test_lemma6_centres_rejects_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        ga.lemma6_centres(MU, X0, eps)


def test_mixture_tv_by_quadrature_over_labels():
    # labelled mixtures in 1-D: (1/2) sum_y int |p(x, y) - p'(x, y)| dx, by quad
    mu = np.array([[1.0], [2.0], [5.0]])
    mu_prime = np.array([[1.0], [0.5], [5.5]])
    total = 0.0
    for a, b in zip(mu[:, 0], mu_prime[:, 0]):
        def f(x, a=a, b=b):
            return abs(stats.norm.pdf(x - a) - stats.norm.pdf(x - b)) / 3
        total += 0.5 * integrate.quad(f, -20, 20, points=[(a + b) / 2], limit=200)[0]
    assert ga.mixture_tv(mu, mu_prime) == pytest.approx(total, abs=1e-9)
    with pytest.raises(ValueError, match="mu_prime"):
        ga.mixture_tv(mu, mu_prime[:2])


def test_clean_lower_bound_formula_and_inputs():
    s = np.array([0.0, 0.2, 1.0])
    expected = (3 * 0.9 - 1) / tv_reference(s[1:])
    out = ga.clean_lower_bound(3, 0.9, s)
    assert np.isinf(out[0]) and np.allclose(out[1:], expected)
    assert ga.clean_lower_bound(2, 0.75, 1.0) == pytest.approx(0.5 / tv_reference(1.0))
    with pytest.raises(ValueError, match="k"):
        ga.clean_lower_bound(1, 0.9, 1.0)
    for tau in (1 / 3, 0.2, 1.0, 1.2):
        with pytest.raises(ValueError, match="tau"):
            ga.clean_lower_bound(3, tau, 1.0)
    with pytest.raises(ValueError, match="s"):
        ga.clean_lower_bound(3, 0.9, -1.0)
    with pytest.raises(TypeError, match="k"):
        ga.clean_lower_bound(3.0, 0.9, 1.0)


# --------------------------------------------------------------------------------------
# data and learners
# --------------------------------------------------------------------------------------
def test_sample_mixture_shapes_and_law():
    X, y = ga.sample_mixture(MU, 40_000, seed=2)
    assert X.shape == (40_000, 2) and y.shape == (40_000,)
    freq = np.bincount(y, minlength=4) / y.size
    assert np.all(np.abs(freq - 0.25) < Z * np.sqrt(0.25 * 0.75 / y.size))
    for c in range(4):
        Xc = X[y == c]
        assert np.all(np.abs(Xc.mean(0) - MU[c]) < Z / np.sqrt(len(Xc)))
    Xb, yb = ga.sample_mixture(MU, 5, seed=2, reps=3)
    assert Xb.shape == (3, 5, 2) and yb.shape == (3, 5)
    with pytest.raises(ValueError, match="N"):
        ga.sample_mixture(MU, 0, seed=0)


def brute_force_centres(X, y, k, reducer):
    out = np.full(X.shape[:-2] + (k, X.shape[-1]), np.nan)
    for idx in np.ndindex(X.shape[:-2]):
        for c in range(k):
            rows = X[idx][y[idx] == c]
            if len(rows):
                out[idx + (c,)] = reducer(rows, axis=0)
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_centres_match_per_class_loops(N, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(3, N, 2)), rng.integers(0, 3, size=(3, N))
    expected = brute_force_centres(X, y, 3, np.mean)
    np.testing.assert_allclose(ga.nearest_mean_centres(X, y, 3), expected, atol=1e-12)
    np.testing.assert_allclose(
        ga.median_centres(X, y, 3), brute_force_centres(X, y, 3, np.median), atol=1e-12
    )


def test_predict_nearest_ignores_empty_classes_and_breaks_ties_low():
    centres = np.array([[np.nan, np.nan], [2.0, 0.0], [-2.0, 0.0], [0.0, 3.0]])
    assert ga.predict_nearest(centres, X0) == 1
    with pytest.raises(ValueError, match="x0"):
        ga.predict_nearest(centres, [0.0])


def test_one_nn_predict_matches_a_loop():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 7, 2)), rng.integers(0, 4, size=(20, 7))
    expected = [y[r, np.argmin(np.linalg.norm(X[r] - X0, axis=1))] for r in range(20)]
    assert np.array_equal(ga.one_nn_predict(X, y, X0), expected)


def test_fit_predict_and_learner_inputs():
    X, y = ga.sample_mixture(MU, 2_000, seed=4)
    for learner in ga.LEARNERS:
        pred = ga.fit_predict(learner, X, y, 4, X0)
        assert pred.shape == () and int(pred) in range(4)
    assert ga.fit_predict("nearest_mean", X, y, 4, X0) == 0
    with pytest.raises(ValueError, match="learner"):
        ga.fit_predict("svm", X, y, 4, X0)
    with pytest.raises(ValueError, match="y must hold labels"):
        ga.fit_predict("median", X, y, 3, X0)
    with pytest.raises(ValueError, match="X must have shape"):
        ga.fit_predict("median", X, y[:-1], 4, X0)


@pytest.mark.parametrize("learner", ga.LEARNERS)
def test_one_training_sample_gives_every_label_probability_one_over_k(learner):
    # Definition 3's strict inequality fails at n = 1: the one sample's label is uniform
    reps = 20_000
    probs, se = ga.label_probabilities(learner, MU, X0, 1, reps, seed=5)
    assert np.all(np.abs(probs - 0.25) < Z * np.sqrt(0.25 * 0.75 / reps))
    assert probs.sum() == pytest.approx(1.0) and se.shape == (4,)


# --------------------------------------------------------------------------------------
# Lemma 7: the coupling attack
# --------------------------------------------------------------------------------------
def test_lemma7_attack_size_and_law():
    eps, N, reps = 0.25, 200, 2_000
    mu_prime = ga.lemma6_centres(MU, X0, eps)
    X, y = ga.sample_mixture(MU, N, seed=6, reps=reps)
    Xp, size = ga.lemma7_attack(X, y, MU, mu_prime, seed=7)
    # untouched classes are bit-identical; only class 1 (the paper's class 2) moves
    assert np.array_equal(Xp[y != 1], X[y != 1])
    delta = tv_reference(0.5 + eps) / 4  # one class of four moved by s + eps
    se = 2 * np.sqrt(N * delta * (1 - delta) / reps)
    assert abs(size.mean() - 2 * N * delta) < Z * se
    moved = Xp[y == 1]
    assert np.all(np.abs(moved.mean(0) - mu_prime[1]) < Z / np.sqrt(len(moved)))
    assert size.shape == (reps,)
    with pytest.raises(ValueError, match="mu_prime"):
        ga.lemma7_attack(X, y, MU, mu_prime[:3], seed=0)


def test_lemma7_attack_flips_nearest_mean_at_large_N():
    mu_prime = ga.lemma6_centres(MU, X0, 0.25)
    X, y = ga.sample_mixture(MU, 2_000, seed=8, reps=300)
    Xp, _ = ga.lemma7_attack(X, y, MU, mu_prime, seed=9)
    clean = ga.fit_predict("nearest_mean", X, y, 4, X0)
    poisoned = ga.fit_predict("nearest_mean", Xp, y, 4, X0)
    assert np.mean(clean == 0) > 0.95
    # below 1/k at this margin; nearest-mean is not unbiased, so this is an observation
    # about the learner, not Lemma 7's guarantee
    assert np.mean(poisoned == 0) < 0.25


# --------------------------------------------------------------------------------------
# the per-class median in one dimension
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, k, s", [(1, 3, 0.5), (5, 2, 0.8), (24, 4, 0.4), (41, 3, 0.2)]
)
def test_median_accuracy_matches_simulated_training_sets(n, k, s):
    reps = 20_000
    acc, se = ga.median_accuracy_1d(n, k, s, reps, seed=10)
    # brute force: real samples, classes 3..k placed 50 units away from x0 = 0
    centres = np.array([[1.0], [1.0 + s]] + [[-50.0 - j] for j in range(k - 2)])
    X, y = ga.sample_mixture(centres, n, seed=11, reps=reps)
    pred = ga.fit_predict("median", X, y, k, [0.0])
    brute = np.mean(pred == 0)
    se_brute = np.sqrt(brute * (1 - brute) / reps)
    assert abs(acc - brute) < Z * np.hypot(se, se_brute) + 1e-12
    if n == 1:
        assert abs(acc - 1 / k) < Z * np.sqrt((1 / k) * (1 - 1 / k) / reps)


def test_median_sample_complexity_is_near_the_asymptotic_formula():
    k, s, tau = 4, 0.1, 0.9
    n = ga.median_sample_complexity(k, s, tau, 20_000, seed=12)
    approx = ga.median_sample_complexity_asymptotic(k, s, tau)
    assert approx == pytest.approx(k * np.pi * (stats.norm.ppf(tau) / s) ** 2)
    assert abs(n / approx - 1) < 0.1
    # the answer reaches tau and one tenth fewer samples do not
    acc_n, se_n = ga.median_accuracy_1d(n, k, s, 40_000, seed=13)
    acc_less, se_less = ga.median_accuracy_1d(int(0.9 * n), k, s, 40_000, seed=14)
    assert acc_n > tau - Z * se_n and acc_less < tau
    with pytest.raises(ValueError, match="tau"):
        ga.median_sample_complexity(4, 0.1, 0.25, 100, seed=0)
    with pytest.raises(ValueError, match="tau"):
        ga.median_sample_complexity_asymptotic(4, 0.1, 0.4)


FAR = 1e6


def cheapest_attack_by_enumeration(a, b, budget):
    """Smallest attack (removals + insertions) found by enumeration, or None.

    Class a: any removals, insertions far left or far right (its distance is largest at
    an end of its range). Class b: any removals, insertions at -FAR, 0 (= x0), FAR or
    at the mirror image -v of a sample v (the values that put a median exactly on x0).
    An emptied class is never predicted.
    """

    def variants(values, candidates):
        for keep in itertools.product([0, 1], repeat=len(values)):
            kept = values[np.array(keep, bool)]
            removed = len(values) - len(kept)
            for r in range(budget - removed + 1):
                for added in itertools.combinations_with_replacement(candidates, r):
                    yield removed + r, np.concatenate([kept, added])

    best = None
    dist_b = [(c, abs(np.median(v)) if len(v) else np.inf)
              for c, v in variants(b, [-FAR, 0.0, FAR] + [-v for v in b])]
    for cost_a, va in variants(a, [-FAR, FAR]):
        d_a = abs(np.median(va)) if len(va) else np.inf
        for cost_b, d_b in dist_b:
            if d_b < d_a and (best is None or cost_a + cost_b < best):
                best = cost_a + cost_b
    return best


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_median_flip_cost_matches_enumerated_attacks(n_a, n_b, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(1.0, 1.0, n_a), rng.normal(1.5, 1.0, n_b)
    cost = int(ga.median_flip_cost(a, b))
    budget = 3
    found = cheapest_attack_by_enumeration(a, b, budget)
    if cost <= budget:
        assert found == cost  # attained, and nothing cheaper exists
    else:
        assert found is None  # nothing within the budget flips


def test_median_flip_cost_regression_case():
    # b's two lower points straddle x0: removing b's top point (cost 1) already flips,
    # and so does inserting one point at -inf; inserting at x0 would not
    a = np.array([-0.52440788, 0.82225892, 1.63422011])
    b = np.array([-0.0605397, 1.70478748, 2.19097858])
    assert int(ga.median_flip_cost(a, b)) == 1
    assert cheapest_attack_by_enumeration(a, b, 2) == 1


def test_median_flip_cost_batched_and_trivial_cases():
    rng = np.random.default_rng(16)
    a, b = rng.normal(1.0, 1.0, (5, 30)), rng.normal(1.3, 1.0, (5, 30))
    batched = ga.median_flip_cost(a, b)
    one_by_one = [int(ga.median_flip_cost(a[i], b[i])) for i in range(5)]
    assert np.array_equal(batched, one_by_one)
    assert int(ga.median_flip_cost([2.0], [1.0])) == 0  # b already nearer
    assert int(ga.median_flip_cost([1.0], [1.0])) == 1  # a tie keeps a
    with pytest.raises(ValueError, match="leading shape"):
        ga.median_flip_cost(a, b[:3])
    with pytest.raises(ValueError, match="at least one"):
        ga.median_flip_cost(np.zeros((2, 0)), np.zeros((2, 3)))


def test_centre_distances_exact_and_bad_inputs():
    mu = np.array([[0.0, 0.0], [3.0, 0.0]])
    d = ga.centre_distances([[0.0, 0.0], [3.0, 4.0]], mu)
    assert np.allclose(d, [[0.0, 3.0], [5.0, 4.0]])
    with pytest.raises(ValueError, match="mu must have"):
        ga.centre_distances(X0, np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        ga.centre_distances([np.nan, 0.0], MU)


def test_remaining_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="k"):
        ga.median_accuracy_1d(10, 1, 0.5, 100, seed=0)
    with pytest.raises(ValueError, match="s"):
        ga.median_accuracy_1d(10, 3, 0.0, 100, seed=0)
    with pytest.raises(ValueError, match="d1"):
        ga.median_accuracy_1d(10, 3, 0.5, 100, seed=0, d1=-1.0)
    with pytest.raises(ValueError, match="reps"):
        ga.label_probabilities("median", MU, X0, 3, 1, seed=0)
    with pytest.raises(ValueError, match="k"):
        ga.nearest_mean_centres(np.zeros((3, 2)), np.zeros(3, int), 1)
    with pytest.raises(ValueError, match="X must be"):
        ga.one_nn_predict(np.zeros((0, 2)), np.zeros(0, int), X0)
    with pytest.raises(ValueError, match="reps"):
        ga.sample_mixture(MU, 3, seed=0, reps=0)
    with pytest.raises(ValueError, match="n"):
        ga.gaussian_product_tv(0.5, [-1, 2])


def test_mixture_product_tv_by_monte_carlo_of_the_best_test():
    # n labelled 1-D samples, class 1 of k = 3 moves from 0 to `shift`; the
    # likelihood-ratio test thresholds the sum of the class-1 samples at n_1 shift / 2
    k, shift, n, reps = 3, 0.4, 12, 60_000
    rng = np.random.default_rng(17)
    n1 = rng.binomial(n, 1 / k, size=(2, reps))
    noise = rng.standard_normal((2, reps)) * np.sqrt(n1)
    sums = noise + np.array([[0.0], [shift]]) * n1
    say_v = sums > n1 * shift / 2
    est = say_v[1].mean() - say_v[0].mean()
    se = np.sqrt((say_v[0].var() + say_v[1].var()) / reps)
    assert abs(est - ga.mixture_product_tv(k, shift, n)) < Z * se
    assert ga.mixture_product_tv(k, shift, 0) == 0.0


@pytest.mark.parametrize("k, tau, s", [(2, 0.75, 0.5), (4, 0.9, 0.1), (10, 0.99, 0.05)])
def test_order_sharp_lower_bound_is_a_valid_bound(k, tau, s):
    bound = ga.order_sharp_lower_bound(k, tau, s)
    assert bound == pytest.approx(k * (stats.norm.ppf(tau) / s) ** 2)
    # below the bound the exact distance between the two configurations' n-sample laws
    # is smaller than the advantage 2 tau - 1 a tau-accurate learner would need
    n = int(np.ceil(bound)) - 1
    assert ga.mixture_product_tv(k, 2 * s, n) < 2 * tau - 1
    # and the bound is far above the corrected Lemma 6 bound for small s
    if s <= 0.1:
        assert bound > 10 * ga.clean_lower_bound(k, tau, s)
    with pytest.raises(ValueError, match="tau"):
        ga.order_sharp_lower_bound(k, 0.5, s)
    with pytest.raises(ValueError, match="s"):
        ga.order_sharp_lower_bound(k, tau, 0.0)


def test_order_sharp_bound_is_weaker_than_lemma6_for_large_s():
    # k = 4, tau = 0.9: 6.57 against 6.79 at s = 1; the order wins for small s
    assert ga.order_sharp_lower_bound(4, 0.9, 1.0) == pytest.approx(6.5695, abs=1e-4)
    assert ga.clean_lower_bound(4, 0.9, 1.0) == pytest.approx(6.7898, abs=1e-4)
    assert ga.order_sharp_lower_bound(4, 0.9, 0.8) > ga.clean_lower_bound(4, 0.9, 0.8)


@pytest.mark.parametrize("s", [0.05, 0.5, 2.0])
def test_gaussian_hellinger_by_quadrature(s):
    # H^2 = 1 - integral of sqrt(phi(z) phi(z - s)), along the mean difference
    bc = integrate.quad(lambda z: np.sqrt(stats.norm.pdf(z) * stats.norm.pdf(z - s)),
                        -np.inf, np.inf, epsabs=1e-13)[0]
    assert ga.hellinger_squared(s) == pytest.approx(1 - bc, rel=1e-8, abs=1e-12)
    # of the order of Delta^2 for small s: pi Delta^2 / 4
    if s <= 0.05:
        assert ga.hellinger_squared(s) == pytest.approx(
            np.pi * ga.tv_distance(s) ** 2 / 4, rel=1e-3)
    assert np.allclose(ga.hellinger_squared([0.0, s]), [0.0, 1 - bc])


@pytest.mark.parametrize("n", [1, 4, 40])
def test_lemma6_test_advantage_of_the_likelihood_ratio_test_is_the_product_tv(n):
    mu_prime = ga.lemma6_centres(MU, X0, 0.01)
    shift = float(np.linalg.norm(mu_prime[1] - MU[1]))
    exact = ga.mixture_product_tv(4, shift, n)
    est, se = ga.lemma6_test_advantage("likelihood_ratio", MU, mu_prime, X0, n, 40_000,
                                       seed=21)
    assert abs(est - exact) < Z * se
    assert exact <= n * ga.mixture_tv(MU, mu_prime) + 1e-12  # Theorem 1


def test_lemma6_test_advantage_of_a_learner_is_at_most_the_best():
    mu_prime = ga.lemma6_centres(MU, X0, 0.25)
    n = 20
    exact = ga.mixture_product_tv(4, 0.75, n)
    est, se = ga.lemma6_test_advantage("nearest_mean", MU, mu_prime, X0, n, 20_000,
                                       seed=22)
    assert est < exact + Z * se and est > 0.1
    # with one sample every learner here predicts that sample's label: no advantage
    est, se = ga.lemma6_test_advantage("median", MU, mu_prime, X0, 1, 20_000, seed=23)
    assert abs(est) < Z * se


def test_lemma6_test_advantage_rejects_bad_input():
    mu_prime = ga.lemma6_centres(MU, X0, 0.25)
    with pytest.raises(ValueError, match="test must be one of"):
        ga.lemma6_test_advantage("bayes", MU, mu_prime, X0, 5, 10, seed=0)
    with pytest.raises(ValueError, match="exactly one centre"):
        ga.lemma6_test_advantage("one_nn", MU, MU, X0, 5, 10, seed=0)
    with pytest.raises(ValueError, match="exactly one centre"):
        ga.lemma6_test_advantage("one_nn", MU, MU + 1.0, X0, 5, 10, seed=0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        ga.lemma6_test_advantage("one_nn", MU, mu_prime, X0, 0, 10, seed=0)
    with pytest.raises(ValueError, match="trials must be >= 2"):
        ga.lemma6_test_advantage("one_nn", MU, mu_prime, X0, 3, 1, seed=0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        ga.lemma6_test_advantage("one_nn", MU, mu_prime, np.zeros((2, 2)), 3, 10, 0)
