"""Tests for ldcbook.theory.conjecture (the counting intuition of Chapter 1).

Exact values come from binomial coefficients in Python integers; the simulations must
lie within Z = 4 standard errors of them; the z-scores must expose draws made with the
learner's sample size and the poison count swapped.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from ldcbook.theory import conjecture

Z = 4  # Monte Carlo tolerance in standard errors


@pytest.mark.parametrize("N, n, poisons", [(10, 3, 2), (100, 10, 10), (1_000, 10, 100),
                                           (50, 0, 5), (50, 5, 0), (7, 7, 1)])
def test_hit_probability_is_one_minus_the_hypergeometric_zero(N, n, poisons):
    exact = 1 - Fraction(comb(N - poisons, n), comb(N, n))
    assert conjecture.hit_probability(N, n, poisons) == pytest.approx(float(exact))


def test_hit_probability_is_symmetric_in_n_and_poisons():
    # C(N - p, n) / C(N, n) = C(N - n, p) / C(N, p): the reason it cannot catch a swap
    for N, n, p in [(1_000, 10, 100), (60, 7, 23)]:
        assert conjecture.hit_probability(N, n, p) == pytest.approx(
            conjecture.hit_probability(N, p, n))


def test_hit_probability_tends_to_one_minus_one_over_e():
    assert conjecture.limit_hit_probability() == pytest.approx(1 - np.exp(-1))
    near = conjecture.hit_probability(10**6, 1_000, 1_000)
    assert abs(near - conjecture.limit_hit_probability()) < 1e-3


def test_simulate_draws_has_n_samples_per_row_and_the_right_poison_law():
    N, n, p, trials = 200, 30, 12, 40_000
    draws = conjecture.simulate_draws(N, n, p, trials, seed=0)
    assert draws.shape == (trials, 2) and draws.dtype == np.int64
    assert (draws.sum(axis=1) == n).all()
    assert draws[:, 0].max() <= p
    # the whole law of the poison count, cell by cell, against exact probabilities
    for j in range(6):
        exact = comb(p, j) * comb(N - p, n - j) / comb(N, n)
        freq = (draws[:, 0] == j).mean()
        assert abs(freq - exact) < Z * np.sqrt(exact * (1 - exact) / trials) + 1e-12


@pytest.mark.parametrize("N, n, poisons", [(100, 10, 10), (1_000, 10, 100),
                                           (10_000, 100, 100)])
def test_simulated_draws_agree_with_the_exact_laws(N, n, poisons):
    draws = conjecture.simulate_draws(N, n, poisons, 50_000, seed=N + n)
    z = conjecture.draw_z_scores(draws, N, n, poisons)
    assert abs(z["z (hit)"]) < Z and abs(z["z (clean)"]) < Z
    assert z["E[clean] exact"] == pytest.approx(n * (N - poisons) / N)
    est, se = conjecture.simulate_hits(N, n, poisons, 50_000, seed=N + n)
    assert est == z["P[hit] simulated"]  # the same draws
    assert se == pytest.approx(np.sqrt(est * (1 - est) / 50_000))


def test_draws_with_n_and_poisons_swapped_fail_the_clean_count_only():
    N, n, poisons = 1_000, 10, 100
    swapped = conjecture.simulate_draws(N, poisons, n, 50_000, seed=1)
    z = conjecture.draw_z_scores(swapped, N, n, poisons)
    assert abs(z["z (hit)"]) < Z  # the hit probability cannot tell
    assert z["z (clean)"] > 100  # the clean count can: 99 drawn on average, not 9


def test_degenerate_settings_give_zero_or_infinite_z():
    draws = conjecture.simulate_draws(10, 10, 0, 5, seed=0)
    z = conjecture.draw_z_scores(draws, 10, 10, 0)
    assert z["z (hit)"] == 0 and z["z (clean)"] == 0
    wrong = np.array([[0, 9]] * 5)  # nine clean samples drawn where ten must be
    assert conjecture.draw_z_scores(wrong, 10, 10, 0)["z (clean)"] == -np.inf


def test_attack_size_counts_insertions_and_removals():
    clean = [("x1", "cat"), ("x2", "dog"), ("x2", "dog")]
    assert conjecture.attack_size(clean, clean[::-1]) == 0
    assert conjecture.attack_size(clean, [("x1", "dog")] + clean[1:]) == 2
    assert conjecture.attack_size(clean, clean + [("x3", "cat")]) == 1
    assert conjecture.attack_size(clean, clean[:2]) == 1


def test_bad_inputs_are_rejected_with_named_arguments():
    with pytest.raises(ValueError, match="n must be <= 10"):
        conjecture.hit_probability(10, 11, 2)
    with pytest.raises(ValueError, match="poisons must be >= 0"):
        conjecture.simulate_draws(10, 2, -1, 5, seed=0)
    with pytest.raises(TypeError, match="trials must be an int"):
        conjecture.simulate_draws(10, 2, 1, 5.0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        conjecture.simulate_hits(10, 2, 1, 5, seed=-1)
    with pytest.raises(ValueError, match="draws must have shape"):
        conjecture.draw_z_scores(np.zeros((5, 3), int), 10, 2, 1)
    with pytest.raises(ValueError, match="draws must have 2"):
        conjecture.draw_z_scores(np.zeros(5, int), 10, 2, 1)
    with pytest.raises(TypeError, match="draws must have an integer dtype"):
        conjecture.draw_z_scores(np.zeros((5, 2)), 10, 2, 1)
    with pytest.raises(ValueError, match="draws must be non-negative"):
        conjecture.draw_z_scores(-np.ones((5, 2), int), 10, 2, 1)
    with pytest.raises(TypeError, match="clean"):
        conjecture.attack_size("abc", [])
    with pytest.raises(TypeError, match="poisoned"):
        conjecture.attack_size([], 3)
