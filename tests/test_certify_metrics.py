"""Tests for ldcbook.certify.metrics: certified accuracy and the median radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.certify import (
    certified_accuracy,
    certified_radii,
    median_radius,
    radius_at_level,
)


def test_certified_accuracy_hand_worked():
    pred = [0, 1, 2, 2, -1]
    radius = [3, 0, 5, 1, -1]
    labels = [0, 1, 1, 2, 0]
    # Correct: points 0 (r=3), 1 (r=0), 3 (r=1); point 2 is wrong, point 4 abstains.
    assert certified_radii(pred, radius, labels).tolist() == [3, 0, -1, 1, -1]
    acc = certified_accuracy(pred, radius, labels, [0, 1, 2, 3, 4])
    assert acc.tolist() == [3 / 5, 2 / 5, 1 / 5, 1 / 5, 0.0]
    assert certified_accuracy(pred, radius, labels, 1) == 2 / 5
    assert certified_accuracy(pred, radius, labels, np.array([[0, 1]])).shape == (1, 2)


def test_median_radius_conventions():
    # Values (5, 1, 3, -1): accuracy >= 1/2 up to B = 3 (points with 5 and 3).
    assert median_radius([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1]) == 3
    assert median_radius([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1], reference=True) == 4
    # Odd n: the plain median. Values (4, 0, 2) -> 2.
    assert median_radius([1, 1, 1], [4, 0, 2], [1, 1, 1]) == 2
    # Fewer than half correct: -1 (reference prints 0).
    assert median_radius([0, 0, 0], [9, 9, 9], [1, 1, 0]) == -1
    assert median_radius([0, 0, 0], [9, 9, 9], [1, 1, 0], reference=True) == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12), st.integers(0, 3)),
             min_size=1, max_size=40)
)
def test_median_matches_the_reference_scripts_count(points):
    pred, radius, labels = map(np.array, zip(*points))
    # The DPA/FA/ROE scripts: a = radii with -1 for wrong points, then
    # accs[B] = mean(a >= B) for B = 0..max(a), and print sum(accs >= 0.5).
    a = np.where(pred == labels, radius, -1)
    accs = np.array([(a >= b).mean() for b in range(a.max() + 1)])
    printed = int((accs >= 0.5).sum())
    assert median_radius(pred, radius, labels, reference=True) == printed
    # The book's value is the largest B at which certified accuracy is >= 1/2.
    book = median_radius(pred, radius, labels)
    assert book == -1 or certified_accuracy(pred, radius, labels, book) >= 0.5
    assert certified_accuracy(pred, radius, labels, book + 1) < 0.5
    curve = certified_accuracy(pred, radius, labels, np.arange(15))
    assert (np.diff(curve) <= 0).all()


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([0, 1], [1, 1], [0, 2], 0), {"num_classes": 2}, ValueError, "labels must"),
        (([0, 1], [1, 1], [0, -1], 0), {}, ValueError, "labels must be class indices"),
        (([0, 1], [1, 1], [0], 0), {}, ValueError, "same shape"),
        (([0, 1], [1, 1], [0, 1], -1), {}, ValueError, "attack_sizes must be non-neg"),
        (([0, 1], [1.0, 1.0], [0, 1], 0), {}, TypeError, "radius must have an integer"),
        (([0, 1], [1, -2], [0, 1], 0), {}, ValueError, "radius must be >= -1"),
        (([0, -3], [1, 1], [0, 1], 0), {}, ValueError, "prediction must be a class"),
        (([[0, 1]], [1, 1], [0, 1], 0), {}, ValueError, "prediction must have 1"),
        (([], [], [], 0), {}, ValueError, "must not be empty"),
    ],
)
def test_metrics_reject_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        certified_accuracy(*args, **kwargs)


def test_median_rejects_bad_flag():
    with pytest.raises(TypeError, match="reference must be a bool"):
        median_radius([0], [1], [0], reference="yes")


def test_radius_at_level_reads_the_certified_accuracy_curve():
    rng = np.random.default_rng(7)
    for n in (1, 2, 7, 40):
        pred = rng.integers(0, 3, n)
        labels = rng.integers(0, 3, n)
        radius = rng.integers(0, 9, n)
        sizes = np.arange(0, 10)
        curve = certified_accuracy(pred, radius, labels, sizes)
        for level in (0.1, 0.25, 1 / 3, 0.5, 0.9, 1.0):
            above = sizes[curve >= level - 1e-12]
            expected = int(above.max()) if above.size else -1
            assert radius_at_level(pred, radius, labels, level) == expected
        assert radius_at_level(pred, radius, labels, 0.5) == median_radius(
            pred, radius, labels)
    with pytest.raises(ValueError, match="level"):
        radius_at_level([0], [1], [0], 0.0)
    with pytest.raises(TypeError, match="level"):
        radius_at_level([0], [1], [0], "half")
