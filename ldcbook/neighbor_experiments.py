"""Nearest-neighbour experiments: distances in blocks, kNN counts, rNN sweeps.

Serves the book's chapter on radius nearest neighbours over HOG (LDC Section 7.3;
ALGORITHMS.md, "Nearest neighbours"). :mod:`ldcbook.neighbors` holds the learners
themselves (:func:`~ldcbook.neighbors.hog_features`,
:func:`~ldcbook.neighbors.rnn_counts`, :func:`~ldcbook.neighbors.rnn_predictions`);
this module adds what the experiments around them need:

* :func:`nearest_distances`: the l1 distance from each query to its nearest training
  point in each partition, from which the ball radius is chosen;
* :func:`knn_counts`: the label counts among the ``kappa`` nearest training points,
  distance ties broken by training index, the input of
  :func:`ldcbook.certify.knn`;
* :func:`rnn_sweep`: the predictions (or votes) of :func:`rnn_predictions` for many
  (partitioning, radius) settings from **one** pass over the test-train distances.

All three compute ``scipy.spatial.distance.cdist(..., "cityblock")`` in float64, one
block of query points at a time (at most about 4 million distances per block), so the
distances, and every comparison with a radius, are bit for bit those of
:mod:`ldcbook.neighbors`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.spatial.distance import cdist

from ldcbook._checks import check_array, check_int, check_real
from ldcbook.neighbors import ABSTAIN
from ldcbook.partition import _to_numpy

BLOCK_ELEMENTS = 1 << 22
"""Query-train distances computed per block (32 MiB of float64)."""


def _feats(name: str, value: Any) -> np.ndarray:
    return check_array(name, _to_numpy(value), ndim=2, kind="f").astype(np.float64)


def _pair(train: Any, query: Any, query_name: str) -> tuple[np.ndarray, np.ndarray]:
    train_arr = _feats("train_feats", train)
    query_arr = _feats(query_name, query)
    if train_arr.shape[1] != query_arr.shape[1]:
        raise ValueError(
            f"train_feats and {query_name} must have the same number of features, "
            f"got {train_arr.shape[1]} and {query_arr.shape[1]}"
        )
    return train_arr, query_arr


def _labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    arr = check_array("train_labels", _to_numpy(labels), ndim=1, kind="i")
    if len(arr) != n:
        raise ValueError(
            f"train_labels must have one label per training point ({n}), got {len(arr)}"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"train_labels must lie in range({num_classes})")
    return arr.astype(np.int64)


def _parts(name: str, parts: Any, n: int) -> list[np.ndarray]:
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence):
        raise TypeError(
            f"{name} must be a sequence of index arrays, got {type(parts).__name__}"
        )
    if len(parts) == 0:
        raise ValueError(f"{name} must hold at least one index array")
    out = []
    for j, part in enumerate(parts):
        idx = check_array(f"{name}[{j}]", _to_numpy(part), ndim=1, kind="i")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name}[{j}] must index range({n})")
        out.append(idx.astype(np.int64))
    return out


def _blocks(n_query: int, width: int) -> Iterator[slice]:
    step = max(1, BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, n_query, step):
        yield slice(start, min(start + step, n_query))


def nearest_distances(
    train_feats: Any,
    parts: Sequence[Any],
    query_feats: Any,
    *,
    exclude: Any = None,
) -> np.ndarray:
    """l1 distance from each query point to its nearest training point in each part.

    Serves the choice of the ball radius in the book's nearest-neighbour chapter: an
    rNN base model trained on part ``j`` abstains (⊥) at ``x`` exactly when
    ``nearest_distances(...)[x, j] > radius``, so the empirical distribution of these
    distances is the abstention rate as a function of the radius.

    Parameters
    ----------
    train_feats : array_like
        Training features ``(N, F)``.
    parts : sequence of array_like of int
        Index arrays into the training set, one per model (may overlap, as in FA).
    query_feats : array_like
        Query features ``(m, F)``.
    exclude : array_like of int, optional
        ``(m,)``: for query ``i``, a training index to leave out (the query itself,
        for leave-one-out distances on training points), or ``-1`` for none.

    Returns
    -------
    numpy.ndarray
        float64 ``(m, len(parts))``; ``inf`` where a part holds no eligible point.

    Raises
    ------
    TypeError, ValueError
        If shapes, dtypes or index ranges are wrong.

    Examples
    --------
    >>> train = np.array([[0.0], [1.0], [5.0]])
    >>> nearest_distances(train, [[0, 1], [2]], [[0.5], [4.0]]).tolist()
    [[0.5, 4.5], [3.0, 1.0]]
    >>> nearest_distances(train, [[0, 1]], train[:2], exclude=[0, 1]).tolist()
    [[1.0], [1.0]]
    """
    train, query = _pair(train_feats, query_feats, "query_feats")
    idx = _parts("parts", parts, len(train))
    if exclude is None:
        skip = np.full(len(query), -1, dtype=np.int64)
    else:
        skip = check_array("exclude", _to_numpy(exclude), ndim=1, kind="i")
        if len(skip) != len(query):
            raise ValueError(
                f"exclude must have one entry per query point ({len(query)}), "
                f"got {len(skip)}"
            )
        if skip.size and (skip.min() < -1 or skip.max() >= len(train)):
            raise ValueError(f"exclude must lie in [-1, {len(train)})")
        skip = skip.astype(np.int64)
    out = np.full((len(query), len(idx)), np.inf)
    nonempty = [j for j, part in enumerate(idx) if part.size]
    if not nonempty or not len(query):
        return out
    cols = np.concatenate([idx[j] for j in nonempty])
    starts = np.cumsum([0] + [idx[j].size for j in nonempty])[:-1]
    for rows in _blocks(len(query), len(train)):
        dist = cdist(query[rows], train, "cityblock")
        own = np.flatnonzero(skip[rows] >= 0)
        dist[own, skip[rows][own]] = np.inf
        out[rows, nonempty] = np.minimum.reduceat(dist[:, cols], starts, axis=1)
    return out


def ball_radius(
    train_feats: Any,
    parts: Sequence[Any],
    *,
    empty: float = 0.1,
    queries: int = 1000,
    seed: int = 0,
) -> float:
    """The ball radius at which a fraction ``empty`` of the rNN balls are empty.

    The radius rule of the book's nearest-neighbour chapter, on the training set
    alone: ``queries`` training points (drawn with ``seed``, each left out of its own
    partition) are measured to the nearest point of every partition
    (:func:`nearest_distances`), and the radius is the ``1 - empty`` quantile of those
    distances, so that an rNN base model abstains at about that rate. The certificates
    hold for a radius fixed before the attacker acts: read it off the clean training
    set once, and keep it (``python -m ldcbook train --radius auto`` records it).

    Parameters
    ----------
    train_feats : array_like
        Training features ``(N, F)``.
    parts : sequence of array_like of int
        The partitions (index arrays into the training set).
    empty : float
        Target fraction of empty balls, in ``(0, 1)``.
    queries : int
        Training points to measure from (all of them if fewer).
    seed : int
        Seed of their draw.

    Returns
    -------
    float

    Examples
    --------
    Ten points on a line, even and odd ones in two partitions: each is at 1 from the
    other partition and at 2 from its own (itself left out), so the median is 1.5:

    >>> feats = np.arange(10.0)[:, None]
    >>> ball_radius(feats, [np.arange(0, 10, 2), np.arange(1, 10, 2)], empty=0.5)
    1.5
    """
    train = check_array("train_feats", _to_numpy(train_feats), ndim=2, kind="f")
    empty = check_real("empty", empty, low=0.0, high=1.0, low_open=True,
                       high_open=True)
    queries = check_int("queries", queries, min_value=1)
    seed = check_int("seed", seed, min_value=0)
    n = len(train)
    q_idx = np.sort(np.random.default_rng(seed).choice(n, min(queries, n),
                                                       replace=False))
    nearest = nearest_distances(train, parts, train[q_idx], exclude=q_idx)
    finite = nearest[np.isfinite(nearest)]
    if finite.size == 0:
        raise ValueError("parts must hold training points other than the queries")
    return float(np.quantile(nearest, 1 - empty))


def knn_counts(
    train_feats: Any,
    train_labels: Any,
    test_feats: Any,
    kappa: int,
    num_classes: int,
) -> np.ndarray:
    """Label counts among the ``kappa`` nearest training points (l1 distance).

    Serves the kNN certificate of the book's nearest-neighbour chapter
    (:func:`ldcbook.certify.knn`; Jia et al., AAAI 2022). Distance ties are broken by
    training index, as ALGORITHMS.md prescribes: of several points at the
    ``kappa``-th smallest distance, those with the smallest indices are taken.

    Parameters
    ----------
    train_feats : array_like
        Training features ``(N, F)``.
    train_labels : array_like of int
        Labels ``(N,)`` in ``range(num_classes)``.
    test_feats : array_like
        Test features ``(m, F)``.
    kappa : int
        Number of neighbours, ``1 <= kappa <= N``.
    num_classes : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        int64 ``(m, num_classes)``, each row summing to ``kappa``.

    Raises
    ------
    TypeError, ValueError
        If shapes, dtypes or values are wrong.

    Examples
    --------
    Points 1 and 2 tie at distance 1 from the query; the smaller index wins:

    >>> knn_counts([[0.0], [1.0], [-1.0]], [0, 1, 2], [[0.0]], 2, 3).tolist()
    [[1, 1, 0]]
    """
    train, test = _pair(train_feats, test_feats, "test_feats")
    num_classes = check_int("num_classes", num_classes, min_value=1)
    labels = _labels(train_labels, len(train), num_classes)
    kappa = check_int("kappa", kappa, min_value=1, max_value=max(len(train), 1))
    if not len(train):
        raise ValueError("train_feats must hold at least one training point")
    onehot = np.eye(num_classes)[labels]
    counts = np.empty((len(test), num_classes), dtype=np.int64)
    for rows in _blocks(len(test), len(train)):
        dist = cdist(test[rows], train, "cityblock")
        kth = np.partition(dist, kappa - 1, axis=1)[:, kappa - 1 : kappa]
        closer = dist < kth
        tied = dist == kth
        need = kappa - closer.sum(axis=1, keepdims=True)
        chosen = closer | (tied & (np.cumsum(tied, axis=1) <= need))
        counts[rows] = np.rint(chosen.astype(np.float64) @ onehot).astype(np.int64)
    return counts


def _vote_matrix(
    parts: list[np.ndarray], labels: np.ndarray, num_classes: int
) -> sparse.csr_matrix:
    """``(len(parts) * C, N)``: row ``j C + c`` marks part ``j``'s points of class c."""
    rows = np.concatenate(
        [j * num_classes + labels[part] for j, part in enumerate(parts)]
    )
    cols = np.concatenate(parts)
    shape = (len(parts) * num_classes, len(labels))
    return sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=shape)


def rnn_sweep(
    train_feats: Any,
    train_labels: Any,
    settings: Sequence[tuple[Sequence[Any], float]],
    test_feats: Any,
    num_classes: int,
    *,
    counts: bool = False,
) -> list[np.ndarray]:
    """Per-partition rNN predictions for many (partitions, radius) settings at once.

    Serves the base-accuracy and certified-accuracy sweeps of the book's
    nearest-neighbour chapter (LDC Section 7.3). Entry ``s`` of the result equals
    ``ldcbook.neighbors.rnn_predictions(train_feats, train_labels, parts_s,
    test_feats, radius_s, num_classes)`` (majority vote in the closed l1 ball, ties
    to the smaller class, ``-1`` for an empty ball), but the test-train distances are
    computed once for all settings instead of once per setting.

    Parameters
    ----------
    train_feats : array_like
        Training features ``(N, F)``.
    train_labels : array_like of int
        Labels ``(N,)`` in ``range(num_classes)``.
    settings : sequence of (parts, radius)
        ``parts`` a sequence of index arrays (one per model, e.g.
        :func:`ldcbook.partition.assign`), ``radius >= 0``.
    test_feats : array_like
        Test features ``(m, F)``.
    num_classes : int
        Number of classes.
    counts : bool, default False
        Return each model's votes ``(m, models, num_classes)`` instead of its
        prediction (e.g. for :func:`ldcbook.certify.rnn` on a single part holding the
        whole training set).

    Returns
    -------
    list of numpy.ndarray
        One int64 array per setting: predictions ``(m, models)`` with ``-1`` for ⊥,
        or votes ``(m, models, num_classes)`` when ``counts`` is true.

    Raises
    ------
    TypeError, ValueError
        If shapes, dtypes, indices or radii are wrong.
    """
    train, test = _pair(train_feats, test_feats, "test_feats")
    num_classes = check_int("num_classes", num_classes, min_value=1)
    labels = _labels(train_labels, len(train), num_classes)
    if not isinstance(counts, (bool, np.bool_)):
        raise TypeError(f"counts must be a bool, got {type(counts).__name__}")
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence):
        raise TypeError(
            "settings must be a sequence of (parts, radius) pairs, got "
            f"{type(settings).__name__}"
        )
    mats, radii, widths = [], [], []
    for s, setting in enumerate(settings):
        if not isinstance(setting, (tuple, list)) or len(setting) != 2:
            raise TypeError(f"settings[{s}] must be a (parts, radius) pair")
        idx = _parts(f"settings[{s}] parts", setting[0], len(train))
        radii.append(check_real(f"settings[{s}] radius", setting[1], low=0.0))
        mats.append(_vote_matrix(idx, labels, num_classes))
        widths.append(len(idx))
    m = len(test)
    shapes = [(m, w, num_classes) if counts else (m, w) for w in widths]
    out = [np.full(shape, 0 if counts else ABSTAIN, dtype=np.int64) for shape in shapes]
    if len(train) and m:
        for rows in _blocks(m, len(train)):
            dist = cdist(test[rows], train, "cityblock")
            for radius in sorted(set(radii)):
                inside = (dist <= radius).astype(np.float64).T  # (N, block)
                for s in (s for s, r in enumerate(radii) if r == radius):
                    block = np.rint(mats[s] @ inside).T.astype(np.int64)
                    votes = block.reshape(-1, widths[s], num_classes)
                    out[s][rows] = votes if counts else np.where(
                        votes.sum(axis=2) > 0, votes.argmax(axis=2), ABSTAIN
                    )
    return out
