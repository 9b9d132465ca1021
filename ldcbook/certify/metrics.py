"""Certified accuracy and the median certified radius.

Chapter 6 of the book; ALGORITHMS.md, "Threat model and counting". A certificate
function returns ``(prediction, radius)`` about *stability*; correctness against the
labels is applied here. Certified accuracy at attack size ``B`` is the fraction of test
points whose prediction is correct **and** whose radius is at least ``B``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ldcbook._checks import check_array, check_int


def _check_triplet(
    prediction: ArrayLike,
    radius: ArrayLike,
    labels: ArrayLike,
    num_classes: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = check_array("prediction", prediction, ndim=1, kind="i")
    rad = check_array("radius", radius, ndim=1, kind="i")
    lab = check_array("labels", labels, ndim=1, kind="i")
    if not pred.shape == rad.shape == lab.shape:
        raise ValueError(
            "prediction, radius and labels must have the same shape (n,), got "
            f"{pred.shape}, {rad.shape} and {lab.shape}"
        )
    if pred.size and pred.min() < -1:
        raise ValueError(
            f"prediction must be a class index or -1 (⊥), found {pred.min()}"
        )
    if rad.size and rad.min() < -1:
        raise ValueError(f"radius must be >= -1, found {rad.min()}")
    if lab.size and lab.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, found {lab.min()}")
    if num_classes is not None:
        num_classes = check_int("num_classes", num_classes, min_value=1)
        if lab.size and lab.max() >= num_classes:
            raise ValueError(
                f"labels must lie in [0, {num_classes}), found {lab.max()}"
            )
    return pred, rad, lab


def certified_radii(
    prediction: ArrayLike,
    radius: ArrayLike,
    labels: ArrayLike,
    num_classes: int | None = None,
) -> np.ndarray:
    """Each point's radius if its prediction is correct, else ``-1``.

    Serves Chapter 6: this is the array the DPA, FA and ROE reference scripts store,
    and the input of the certified-accuracy curve.

    Parameters
    ----------
    prediction, radius : array_like of int, shape (n,)
        As returned by a certificate (``-1`` prediction = ⊥, never correct).
    labels : array_like of int, shape (n,)
        True classes, ``>= 0`` (and ``< num_classes`` when given).
    num_classes : int, optional
        If given, labels are checked against it.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n,)``.

    Raises
    ------
    TypeError, ValueError
        On non-integer arrays, mismatched shapes, negative labels or radii below -1,
        or labels out of range.
    """
    pred, rad, lab = _check_triplet(prediction, radius, labels, num_classes)
    return np.where(pred == lab, rad, -1).astype(np.int64)


def certified_accuracy(
    prediction: ArrayLike,
    radius: ArrayLike,
    labels: ArrayLike,
    attack_sizes: ArrayLike,
    num_classes: int | None = None,
) -> np.ndarray | float:
    """Fraction of test points predicted correctly with radius at least ``B``.

    Serves Chapter 6 (ALGORITHMS.md, "Threat model and counting"): certified accuracy
    at attack size ``B`` is ``mean([prediction == label] * [radius >= B])``. At
    ``B = 0`` it is the clean accuracy of the certified classifier.

    Parameters
    ----------
    prediction, radius : array_like of int, shape (n,)
        As returned by a certificate; a ``-1`` prediction (⊥) is never correct.
    labels : array_like of int, shape (n,)
        True classes, ``>= 0``.
    attack_sizes : int or array_like of int
        Attack sizes ``B >= 0`` (symmetric difference, like the radii).
    num_classes : int, optional
        If given, labels must be below it.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``attack_sizes``, else an array of its shape.

    Raises
    ------
    TypeError, ValueError
        On non-integer inputs, mismatched shapes, out-of-range labels, or a negative
        attack size.

    Examples
    --------
    >>> certified_accuracy([0, 1, 2, 2], [3, 0, 5, 1], [0, 1, 1, 2], [0, 1, 3])
    array([0.75, 0.5 , 0.25])
    """
    certs = certified_radii(prediction, radius, labels, num_classes)
    sizes = check_array("attack_sizes", attack_sizes, kind="i", nonnegative=True)
    if certs.size == 0:
        raise ValueError("prediction, radius and labels must not be empty")
    acc = (certs[:, None] >= sizes.reshape(-1)[None, :]).mean(axis=0)
    if sizes.ndim == 0:
        return float(acc[0])
    return acc.reshape(sizes.shape)


def median_radius(
    prediction: ArrayLike,
    radius: ArrayLike,
    labels: ArrayLike,
    reference: bool = False,
) -> int:
    """Median certified radius, with the book's convention or the reference one.

    Serves Chapter 6. Let ``a_i`` be the radius of point ``i`` if it is predicted
    correctly and ``-1`` otherwise (:func:`certified_radii`).

    * Book convention (default): the largest attack size ``B`` at which the certified
      accuracy is still at least 1/2, i.e. the ``ceil(n/2)``-th largest ``a_i`` (the
      median for odd ``n``, the upper median for even ``n``); ``-1`` when fewer than
      half the points are predicted correctly.
    * ``reference=True``: that value plus 1, which is what the DPA, FA and ROE
      reference scripts print as "Robustness certificate" (the number of attack sizes
      ``0, 1, 2, ...`` with certified accuracy at least 1/2).

    Parameters
    ----------
    prediction, radius, labels : array_like of int, shape (n,)
        As for :func:`certified_accuracy`; ``n >= 1``.
    reference : bool, default False
        Return the reference scripts' count instead.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As for :func:`certified_accuracy`, or if ``reference`` is not a bool.

    Examples
    --------
    The last point is misclassified, so the values are ``(5, 1, 3, -1)``; two of four
    points are certified at attack size 3, one at 4:

    >>> median_radius([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1])
    3
    >>> median_radius([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1], reference=True)
    4
    """
    if not isinstance(reference, (bool, np.bool_)):
        raise TypeError(f"reference must be a bool, got {type(reference).__name__}")
    certs = certified_radii(prediction, radius, labels)
    if certs.size == 0:
        raise ValueError("prediction, radius and labels must not be empty")
    n = certs.size
    value = int(np.sort(certs)[n - (n + 1) // 2])
    return value + 1 if reference else value


def radius_at_level(
    prediction: ArrayLike, radius: ArrayLike, labels: ArrayLike, level: float
) -> int:
    """The largest attack size at which the certified accuracy is at least ``level``.

    Serves Chapter 7's matched-pair comparison (the paper's Figure 2 reads radii off
    certified-accuracy curves at given accuracy levels). With ``a_i`` as in
    :func:`median_radius`, it is the ``ceil(level * n)``-th largest ``a_i``: ``-1``
    when the clean accuracy is below ``level``; ``level = 1/2`` gives
    :func:`median_radius`.

    Parameters
    ----------
    prediction, radius, labels : array_like of int, shape (n,)
        As for :func:`certified_accuracy`; ``n >= 1``.
    level : float
        A certified-accuracy level in ``(0, 1]``.

    Returns
    -------
    int

    Examples
    --------
    >>> radius_at_level([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1], 0.25)
    5
    >>> radius_at_level([0, 0, 0, 0], [5, 1, 3, 0], [0, 0, 0, 1], 1.0)
    -1
    """
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a number in (0, 1], got {level!r}")
    if not 0 < float(level) <= 1:
        raise ValueError(f"level must lie in (0, 1], got {level!r}")
    certs = certified_radii(prediction, radius, labels)
    if certs.size == 0:
        raise ValueError("prediction, radius and labels must not be empty")
    n = certs.size
    m = max(1, int(np.ceil(float(level) * n - 1e-9)))
    return int(np.sort(certs)[::-1][m - 1])
