"""Tests for the shared input checks in ldcbook._checks."""

from fractions import Fraction

import numpy as np
import pytest

from ldcbook import _checks as c


def test_check_int_accepts_numpy_ints_and_rejects_bools_and_floats():
    assert c.check_int("k", np.int64(5), min_value=3) == 5
    with pytest.raises(TypeError, match="k must be an int"):
        c.check_int("k", True)
    with pytest.raises(TypeError, match="k must be an int"):
        c.check_int("k", 3.0)
    with pytest.raises(ValueError, match="k must be >= 3, got 2"):
        c.check_int("k", 2, min_value=3)
    with pytest.raises(ValueError, match="k must be <= 4, got 5"):
        c.check_int("k", 5, max_value=4)


def test_check_real_intervals():
    assert c.check_real("tau", 0.5, low=0, high=1, low_open=True) == 0.5
    with pytest.raises(ValueError, match=r"tau must lie in \(0, 1\]"):
        c.check_real("tau", 0, low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match="finite"):
        c.check_real("s", float("nan"))
    with pytest.raises(TypeError, match="s must be a real number"):
        c.check_real("s", "1")


@pytest.mark.parametrize("value, expected", [("0.9", Fraction(9, 10)), (0.9, Fraction(9, 10)),
                                             (Fraction(1, 3), Fraction(1, 3)), (2, Fraction(2))])
def test_to_fraction_reads_decimals_exactly(value, expected):
    assert c.to_fraction("tau", value) == expected


@pytest.mark.parametrize("value, error", [("nine", ValueError), (float("inf"), ValueError),
                                          (None, TypeError), (True, TypeError)])
def test_to_fraction_rejects(value, error):
    with pytest.raises(error, match="tau"):
        c.to_fraction("tau", value)


def test_check_array_rank_kind_and_values():
    assert c.check_array("votes", [[1, 2]], ndim=2, kind="i").dtype.kind == "i"
    with pytest.raises(ValueError, match="votes must have 2 dimension"):
        c.check_array("votes", [1, 2], ndim=2)
    with pytest.raises(TypeError, match="votes must have an integer dtype"):
        c.check_array("votes", [[1.0, 2.0]], kind="i")
    with pytest.raises(TypeError, match="votes must hold numbers"):
        c.check_array("votes", [True, False])
    with pytest.raises(ValueError, match="votes must be non-negative"):
        c.check_array("votes", [1, -1], nonnegative=True)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="scores must hold finite values"):
            c.check_array("scores", [0.0, bad], kind="f")


def test_check_seed():
    gen = np.random.default_rng(1)
    assert c.check_seed("seed", gen) is gen
    assert c.check_seed("seed", 3).random() == np.random.default_rng(3).random()
    with pytest.raises(ValueError, match="seed"):
        c.check_seed("seed", -1)
