"""Example learner factories and feature maps for ``train --learner`` / ``--features``.

Serves the appendix "Certify your own model" and the tests of :mod:`ldcbook.own`. A
*learner factory* is any importable function ``factory(input_shape, num_classes)``
returning a fresh, randomly initialised :class:`torch.nn.Module` that maps a float
batch ``(B, *input_shape)`` to logits ``(B, num_classes)``; name it on the command
line as ``package.module:function``. It is called once per base model, with torch's
generator seeded from the run seed and the model id, so it must draw its random
numbers from torch's global generator (the default for ``torch.nn`` layers).

A *feature map* is an importable function ``features(x)`` from raw samples
``(N, ...)`` to float features ``(N, ...)`` whose row ``i`` depends on ``x[i]``
alone; it must be fixed in advance (hand-written, or trained on other data), never
fitted on the training set being certified.
"""

from __future__ import annotations

import math

import numpy as np
from torch import nn

from ldcbook._checks import check_int


def _check(
    input_shape: tuple[int, ...], num_classes: int
) -> tuple[tuple[int, ...], int]:
    if not isinstance(input_shape, tuple) or not input_shape:
        raise TypeError(f"input_shape must be a non-empty tuple, got {input_shape!r}")
    shape = tuple(check_int("input_shape[i]", s, min_value=1) for s in input_shape)
    return shape, check_int("num_classes", num_classes, min_value=2)


def small_mlp(
    input_shape: tuple[int, ...], num_classes: int, hidden: int = 64
) -> nn.Module:
    """Flatten, linear to ``hidden``, ReLU, linear: for samples of any shape.

    Parameters
    ----------
    input_shape : tuple of int
        The shape of one (feature) sample.
    num_classes : int
    hidden : int

    Returns
    -------
    torch.nn.Module
    """
    shape, num_classes = _check(input_shape, num_classes)
    hidden = check_int("hidden", hidden, min_value=1)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def tiny_cnn(
    input_shape: tuple[int, ...], num_classes: int, width: int = 8
) -> nn.Module:
    """Two 3x3 convolutions with ReLU (the second of stride 2), flatten, linear.

    For samples ``(C, H, W)``; on the 8x8 digits with the default width it has 3,818
    parameters.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)``.
    num_classes : int
    width : int
        Channels of the first convolution.

    Returns
    -------
    torch.nn.Module
    """
    shape, num_classes = _check(input_shape, num_classes)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {shape}")
    width = check_int("width", width, min_value=1)
    return nn.Sequential(
        nn.Conv2d(shape[0], width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.ReLU(), nn.Flatten(),
        nn.Linear(2 * width * ((shape[1] + 1) // 2) * ((shape[2] + 1) // 2),
                  num_classes),
    )


def not_a_module(input_shape: tuple[int, ...], num_classes: int) -> object:
    """A broken factory (it returns no module), for the tests of the error message."""
    return object()


def row_means(x: np.ndarray) -> np.ndarray:
    """A fixed feature map: each sample's mean over its last axis, ``(N, ...)``.

    For ``(N, C, H, W)`` images: the mean of each image row, ``(N, C, H)``. Row ``i``
    depends on ``x[i]`` only and nothing is fitted.
    """
    arr = np.asarray(x)
    if arr.ndim < 2:
        raise ValueError(f"x must have shape (N, ...), got {arr.shape}")
    return arr.astype(np.float32).mean(axis=-1)


__all__ = ["not_a_module", "row_means", "small_mlp", "tiny_cnn"]
