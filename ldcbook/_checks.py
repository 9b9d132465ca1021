"""Input checks shared by the public functions of ``ldcbook``.

Every message names the argument and says what was expected, so that a reader who
passes a wrong value learns what to pass instead. Internal code trusts its callers;
only public boundaries call these helpers.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import numpy as np


def check_int(
    name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Return ``value`` as an ``int`` after checking its type and range.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    value : object
        The value to check; ``bool`` is rejected.
    min_value, max_value : int, optional
        Inclusive bounds.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it lies outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name} must be <= {max_value}, got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given interval.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    value : object
        A real number (not ``bool``).
    low, high : float, optional
        Interval ends; ``low_open``/``high_open`` exclude them.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or lies outside the interval.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def to_fraction(name: str, value: Any) -> Fraction:
    """Convert a ``Fraction``, an integer, a decimal string or a float to a ``Fraction``.

    A decimal string is read exactly (``"0.9"`` is 9/10); a float is read through its
    shortest decimal representation (``0.9`` is also 9/10), not its binary value.

    Raises
    ------
    TypeError
        If ``value`` is none of the accepted types.
    ValueError
        If a string does not parse or a float is not finite.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a Fraction, a decimal string or a float, got bool")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Integral):
        return Fraction(int(value))
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as err:
            raise ValueError(f"{name} must be a decimal string like '0.9', got {value!r}") from err
    if isinstance(value, Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value}")
        return Fraction(repr(float(value)))
    raise TypeError(
        f"{name} must be a Fraction, a decimal string or a float, got {type(value).__name__}"
    )


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    kind: str | None = None,
    finite: bool = True,
    nonnegative: bool = False,
) -> np.ndarray:
    """Return ``value`` as a numpy array after checking its rank, dtype kind and values.

    Parameters
    ----------
    name : str
        The argument's name, used in error messages.
    value : array_like
        The array to check.
    ndim : int or tuple of int, optional
        The allowed number(s) of dimensions.
    kind : {"i", "f", None}
        ``"i"`` requires integer (or boolean-free integral-valued) entries; ``"f"`` any real
        numeric dtype.
    finite : bool
        Reject NaN and infinities (for floating arrays).
    nonnegative : bool
        Reject negative entries.

    Raises
    ------
    TypeError
        If the dtype is not of the requested kind.
    ValueError
        If the rank or the values are wrong.
    """
    arr = np.asarray(value)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {arr.shape}")
    if arr.dtype == bool:
        raise TypeError(f"{name} must hold numbers, got booleans")
    if kind == "i":
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(
                arr == np.round(arr)
            ):
                raise TypeError(
                    f"{name} must have an integer dtype, got {arr.dtype} "
                    "(convert with .astype(int) if the values are counts)"
                )
            if arr.size or arr.dtype.kind not in "f":
                raise TypeError(f"{name} must have an integer dtype, got {arr.dtype}")
            arr = arr.astype(np.int64)
    elif kind == "f":
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    # min/max propagate NaN and expose infinities without a full-size boolean array.
    if finite and arr.dtype.kind == "f" and arr.size and not (
        np.isfinite(arr.min()) and np.isfinite(arr.max())
    ):
        raise ValueError(f"{name} must hold finite values (no NaN or infinity)")
    if nonnegative and arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative, found {arr.min()}")
    return arr


def check_seed(name: str, value: Any) -> np.random.Generator:
    """Turn ``value`` (an int seed or a ``numpy.random.Generator``) into a generator.

    Raises
    ------
    TypeError
        If ``value`` is neither.
    ValueError
        If an int seed is negative.
    """
    if isinstance(value, np.random.Generator):
        return value
    seed = check_int(name, value, min_value=0)
    return np.random.default_rng(seed)
