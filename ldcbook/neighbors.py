"""Radius nearest neighbours (rNN) over HOG features, as a certified base learner.

The LDC paper (Section 7.3) uses, as DPA base learner, a radius nearest-neighbour
classifier in a fixed feature space: HOG features (9 orientations, 8x8-pixel cells,
3x3-cell blocks, through :func:`skimage.feature.hog`), the l1 distance and a radius
of about 20. Each partition's rNN predicts the **majority** class among its training
points within distance ``radius`` (inclusive) of the test point, ties going to the
smaller class index, and abstains (``-1``, the symbol ⊥) when the ball is empty. (The
reference code weights votes by inverse distance although the paper says majority
vote; this module follows the paper.) Abstentions do not vote in the DPA certificate
and weigh 1 in FA buckets (see the book's nearest-neighbour chapter).

Nothing here is fitted on training data: HOG is a fixed map of one image, so computing
it for the whole training set at once couples no partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from ldcbook._checks import check_array, check_int, check_real
from ldcbook.partition import _as_uint8, _to_numpy

ABSTAIN = -1
"""The prediction of an rNN whose ball holds no training point (⊥)."""

_BLOCK_ELEMENTS = 1 << 22
"""Distance-matrix entries computed per block (about 32 MB of float64)."""


def hog_features(
    x: Any,
    *,
    orientations: int = 9,
    pixels_per_cell: int = 8,
    cells_per_block: int = 3,
) -> np.ndarray:
    """HOG features of uint8 images, through :func:`skimage.feature.hog`.

    Serves the rNN base learner of LDC Section 7.3 (book: nearest-neighbour chapter).
    Pixels are scaled to [0, 1]; block normalisation is skimage's default ``L2-Hys``;
    RGB images use skimage's multichannel gradient (the channel with the largest
    gradient at each pixel). A 32x32x3 image gives 324 features (2x2 blocks of 3x3
    cells of 9 bins).

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        ``uint8`` images ``(N, C, H, W)`` with ``C`` in {1, 3}.
    orientations : int
        Number of orientation bins (9 in the paper).
    pixels_per_cell : int
        Side of a square cell in pixels (8 in the paper).
    cells_per_block : int
        Side of a square block in cells (3 in the paper).

    Returns
    -------
    numpy.ndarray
        ``float32`` of shape ``(N, F)``.

    Raises
    ------
    TypeError, ValueError
        If ``x`` is not uint8 ``(N, C, H, W)`` with 1 or 3 channels, or an image is
        smaller than one block.
    """
    from skimage.feature import hog

    x = _as_uint8("x", x, min_ndim=4)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"x must have shape (N, C, H, W) with C in (1, 3), got {x.shape}"
        )
    orientations = check_int("orientations", orientations, min_value=1)
    pixels_per_cell = check_int("pixels_per_cell", pixels_per_cell, min_value=1)
    cells_per_block = check_int("cells_per_block", cells_per_block, min_value=1)
    side = pixels_per_cell * cells_per_block
    if min(x.shape[2:]) < side:
        raise ValueError(
            f"x must hold images of at least {side}x{side} pixels for one HOG block "
            f"({cells_per_block}x{cells_per_block} cells of {pixels_per_cell} pixels), "
            f"got {x.shape[2]}x{x.shape[3]}"
        )
    rgb = x.shape[1] == 3
    images = x.transpose(0, 2, 3, 1) if rgb else x[:, 0]
    kwargs = dict(
        orientations=orientations,
        pixels_per_cell=(pixels_per_cell, pixels_per_cell),
        cells_per_block=(cells_per_block, cells_per_block),
        channel_axis=-1 if rgb else None,
    )
    if len(x) == 0:
        probe = hog(np.zeros(images.shape[1:]), **kwargs)
        return np.zeros((0, probe.size), dtype=np.float32)
    # skimage's hog takes one image at a time: this loop is over images, per feature map
    feats = [hog(img.astype(np.float64) / 255.0, **kwargs) for img in images]
    return np.stack(feats).astype(np.float32)


def _check_feats(name: str, feats: Any) -> np.ndarray:
    return check_array(name, _to_numpy(feats), ndim=2, kind="f").astype(np.float64)


def _counts(
    train_feats: np.ndarray,
    onehot: np.ndarray,
    test_feats: np.ndarray,
    radius: float,
) -> np.ndarray:
    n_test, n_train = len(test_feats), len(train_feats)
    counts = np.zeros((n_test, onehot.shape[1]), dtype=np.int64)
    if n_train == 0 or n_test == 0:
        return counts
    block = max(1, _BLOCK_ELEMENTS // n_train)
    for start in range(0, n_test, block):  # blocks of test points, each vectorised
        dist = cdist(test_feats[start : start + block], train_feats, "cityblock")
        inside = (dist <= radius).astype(np.float64)
        counts[start : start + block] = np.rint(inside @ onehot).astype(np.int64)
    return counts


def _check_rnn_inputs(
    train_feats: Any, train_labels: Any, test_feats: Any, radius: Any, num_classes: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """The checks shared by :func:`rnn_counts` and :func:`rnn_predictions`."""
    train = _check_feats("train_feats", train_feats)
    test = _check_feats("test_feats", test_feats)
    num_classes = check_int("num_classes", num_classes, min_value=1)
    labels = _check_labels(train_labels, len(train), num_classes)
    radius = check_real("radius", radius, low=0.0)
    if train.shape[1] != test.shape[1]:
        raise ValueError(
            f"train_feats and test_feats must have the same number of features, got "
            f"{train.shape[1]} and {test.shape[1]}"
        )
    return train, labels, test, radius, num_classes


def rnn_counts(
    train_feats: Any,
    train_labels: Any,
    test_feats: Any,
    radius: float,
    num_classes: int,
) -> np.ndarray:
    """Votes of a radius nearest-neighbour classifier: ``s_l`` for each class ``l``.

    ``s_l(x)`` is the number of training points of class ``l`` at l1 distance at most
    ``radius`` from ``x`` (Jia et al.; the rNN certificate of the book's
    nearest-neighbour chapter). Distances are computed with
    ``scipy.spatial.distance.cdist(..., "cityblock")`` in float64, a block of test
    points at a time.

    Parameters
    ----------
    train_feats : array_like
        Training features ``(n, F)``.
    train_labels : array_like of int
        Labels ``(n,)`` in ``range(num_classes)``.
    test_feats : array_like
        Test features ``(m, F)``.
    radius : float
        Ball radius, ``>= 0``.
    num_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``int64`` of shape ``(m, num_classes)``.

    Raises
    ------
    TypeError, ValueError
        If shapes, dtypes or values are wrong.
    """
    train, labels, test, radius, num_classes = _check_rnn_inputs(
        train_feats, train_labels, test_feats, radius, num_classes
    )
    return _counts(train, np.eye(num_classes)[labels], test, radius)


def _check_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    labels = check_array("train_labels", _to_numpy(labels), ndim=1, kind="i")
    if len(labels) != n:
        raise ValueError(
            f"train_labels must have one label per training point ({n}), "
            f"got {len(labels)}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"train_labels must lie in range({num_classes})")
    return labels.astype(np.int64)


def rnn_predictions(
    train_feats: Any,
    train_labels: Any,
    parts: Sequence[Any],
    test_feats: Any,
    radius: float,
    num_classes: int,
) -> np.ndarray:
    """Predictions of one rNN per partition: the DPA/FA base learners of LDC §7.3.

    Model ``j`` sees only the training points ``parts[j]``; it predicts the class with
    the most points within l1 distance ``radius`` (majority vote, ties to the smaller
    class index) or ``-1`` (⊥) when its ball is empty.

    Parameters
    ----------
    train_feats : array_like
        Features of the whole training set ``(N, F)`` (e.g. :func:`hog_features`).
    train_labels : array_like of int
        Labels ``(N,)`` in ``range(num_classes)``.
    parts : sequence of array_like of int
        Index arrays, one per model id (e.g. :func:`ldcbook.partition.partitions`).
    test_feats : array_like
        Test features ``(m, F)``.
    radius : float
        Ball radius, ``>= 0`` (about 20 for HOG in the paper).
    num_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``int64`` of shape ``(m, len(parts))``, columns in model-id order; ``-1`` for
        an abstention.

    Raises
    ------
    TypeError, ValueError
        If shapes, dtypes, indices or values are wrong.
    """
    train, labels, test, radius, num_classes = _check_rnn_inputs(
        train_feats, train_labels, test_feats, radius, num_classes
    )
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence):
        raise TypeError(
            f"parts must be a sequence of index arrays, got {type(parts).__name__}"
        )
    onehot = np.eye(num_classes)[labels]
    preds = np.empty((len(test), len(parts)), dtype=np.int64)
    for j, part in enumerate(parts):  # loop over partitions; test points vectorised
        idx = check_array(f"parts[{j}]", _to_numpy(part), ndim=1, kind="i")
        if idx.size and (idx.min() < 0 or idx.max() >= len(train)):
            raise ValueError(f"parts[{j}] must index range({len(train)})")
        counts = _counts(train[idx], onehot[idx], test, radius)
        preds[:, j] = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), ABSTAIN)
    return preds
