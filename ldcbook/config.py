"""Scale switch, seeding and device selection: the one place the book reads them.

The scale is read from the environment variable ``LDCBOOK_SCALE``:

``smoke``
    seconds per chapter, for quick checks of the machinery;
``default``
    what the book is built and regression-tested with, on a 2-core CPU;
``full``
    the paper's settings (CIFAR-10, GTSRB, NiN), meant for a GPU.

Torch is imported lazily, so that the theory and certificate layers, which need only
numpy, scipy and sympy, never pull it in.
"""

from __future__ import annotations

import os
import random
from typing import Any, TypeVar

import numpy as np

SCALES: tuple[str, ...] = ("smoke", "default", "full")
"""The allowed values of ``LDCBOOK_SCALE``, smallest first."""

ENV_VAR = "LDCBOOK_SCALE"

SHRINK_VAR = "LDCBOOK_SHRINK"
"""Environment variable of the end-to-end tests: ``1`` runs the chosen scale's code
path with its sizes (epochs, models, test points) cut down, see :func:`shrunk`."""

PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16")
"""Numerical precisions of training (``ldcbook.ensemble.TrainConfig.precision``):
IEEE float32 everywhere; float32 with TensorFloat-32 matrix products and
convolutions where the device has them (CUDA); bfloat16 autocast of the forward pass
(CUDA only)."""

T = TypeVar("T")


def scale() -> str:
    """Return the scale the book runs at, read from ``LDCBOOK_SCALE``.

    Returns
    -------
    str
        ``"default"`` when the variable is unset or empty, else its value.

    Raises
    ------
    ValueError
        If the variable holds anything other than ``smoke``, ``default`` or ``full``.
    """
    return env_choice(ENV_VAR, SCALES, "default")


def env_choice(var: str, allowed: tuple[str, ...], default: str) -> str:
    """The value of the environment variable ``var``, one of ``allowed``.

    Parameters
    ----------
    var : str
        The variable's name.
    allowed : tuple of str
        The values it may take.
    default : str
        Returned when the variable is unset or empty.

    Raises
    ------
    ValueError
        If the variable holds anything else, naming it and the allowed values.
    """
    value = os.environ.get(var, "").strip()
    if value == "":
        return default
    if value not in allowed:
        raise ValueError(f"{var}={value!r}: expected one of "
                         f"{', '.join(repr(s) for s in allowed)}")
    return value


def by_scale(smoke: T, default: T, full: T) -> T:
    """Pick the value for the current :func:`scale`.

    Chapters take every size (Monte Carlo draws, models, epochs) through this helper,
    so that one switch sets them all.

    Parameters
    ----------
    smoke, default, full
        The value to use at each scale.

    Returns
    -------
    object
        The argument named after the current scale.
    """
    return {"smoke": smoke, "default": default, "full": full}[scale()]


def shrunk() -> bool:
    """Whether ``LDCBOOK_SHRINK=1`` asks for the scale's code path at a tiny size.

    The full-scale branch of a chapter is meant for a GPU and hours of training; the
    end-to-end tests execute the same branch, on small files in the real data formats,
    with this switch on. Code that reads it cuts epochs, model counts and test sets,
    and changes nothing else.

    Returns
    -------
    bool
        ``True`` when the variable is ``1``; ``False`` when unset, empty or ``0``.

    Raises
    ------
    ValueError
        If the variable holds anything else.
    """
    value = os.environ.get(SHRINK_VAR, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{SHRINK_VAR}={value!r}: expected '1', '0' or unset")
    return value == "1"


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch, and make torch deterministic.

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.

    Returns
    -------
    numpy.random.Generator
        A fresh generator seeded with ``seed``, for code that takes a generator.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.
    ValueError
        If ``seed`` is negative or not below 2**32.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a pinned requirement
        return np.random.default_rng(seed)
    torch.manual_seed(seed)
    # cuBLAS needs this for deterministic matrix products on CUDA.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=False)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return np.random.default_rng(seed)


def device() -> Any:
    """Return ``torch.device("cuda")`` when a GPU is available, else the CPU.

    Returns
    -------
    torch.device
    """
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
