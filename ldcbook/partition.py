"""Hash partitions for Deep Partition Aggregation (DPA) and Finite Aggregation (FA).

A training sample's hash key is computed from its own bytes, never from its label or
its position (:func:`sample_keys`): ``"pixel_sum"``, the paper's key, is the integer
sum of all its uint8 pixel values (every channel); ``"sha256"`` is a uniform hash of
the sample's raw bytes, dtype and shape (:func:`sha256_keys`), for samples of any
numeric dtype and shape. DPA with ``k`` partitions sends a sample with key
``h`` to base model ``h mod k``. FA with spread ``d`` cuts the set into ``k*d``
buckets by ``h mod (k*d)``; bucket ``b`` feeds the ``d`` models ``(b + s_j) mod (k*d)``
for the shifts ``s_0 .. s_{d-1}``, so model ``i`` trains on the union of the buckets
``(i - s_j) mod (k*d)``. Because ``h mod k`` is determined by ``h mod 2k``, the
partitions for ``2k`` refine those for ``k``.

Inside a partition, samples are ordered by content (their bytes, little-endian and in
C order, then their label), never by their position in the dataset: an attacker's
insertions or removals elsewhere, or a reshuffled file, leave a clean partition's
training sequence unchanged. Normalisation statistics are computed per partition
(:func:`channel_stats`); nothing is fitted on the whole training set, which would
couple the partitions and void the certificate. See the book's DPA and FA chapters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ldcbook._checks import check_array, check_int

HASHES: tuple[str, ...] = ("pixel_sum", "sha256")
"""The partition keys of :func:`sample_keys`."""


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor; torch not imported
        return x.detach().cpu().numpy()
    return x


def _as_uint8(name: str, x: Any, min_ndim: int = 2) -> np.ndarray:
    arr = np.asarray(_to_numpy(x))
    if arr.dtype != np.uint8:
        raise TypeError(f"{name} must hold uint8 pixels, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (N, ...), "
            f"got shape {arr.shape}"
        )
    return arr


def _as_samples(name: str, x: Any) -> np.ndarray:
    """Numeric samples ``(N, ...)`` (any real dtype but bool), at least 2-D."""
    arr = np.asarray(_to_numpy(x))
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold numbers (uint8 or float), got dtype {arr.dtype}"
        )
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions (N, ...), got shape {arr.shape}"
        )
    return arr


def sample_bytes(x: Any) -> np.ndarray:
    """Each sample's bytes as a row of ``uint8``: little-endian, C order.

    What :func:`content_order` sorts and :func:`sha256_keys` hashes (after a header).
    For ``uint8`` images this is the pixels themselves.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Numeric samples ``(N, ...)``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape ``(N, bytes per sample)``.
    """
    arr = _as_samples("x", x)
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return arr.view(np.uint8).reshape(len(arr), -1)


def sha256_keys(X: Any, m: int) -> np.ndarray:
    """Hash each sample by SHA-256 of its bytes, modulo ``m``.

    The hashed message of sample ``x`` is ``header + x.tobytes()`` with
    ``header = f"{dtype.str}{x.shape}".encode()`` (e.g. ``b"<f8(4,)"``) and the sample
    in little-endian C order, so the key depends on the sample's content, dtype and
    shape only (never its label or position): the same features given as ``float64``
    and as ``int64`` hash differently. The key is the 256-bit digest read as a
    big-endian integer, modulo ``m``. Serves :class:`ldcbook.PartitionClassifier`
    and ``python -m ldcbook train --hash sha256``.

    Parameters
    ----------
    X : numpy.ndarray
        Numeric samples of shape ``(N, ...)``.
    m : int
        Number of partitions (DPA, ``k``) or buckets (FA, ``k d``), ``m >= 1``.

    Returns
    -------
    numpy.ndarray
        int64 keys in ``range(m)``, shape ``(N,)``.

    Raises
    ------
    TypeError
        If ``X`` is not a numeric array or ``m`` not an int.
    ValueError
        If ``X`` has no sample axis or ``m < 1``.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0]])
    >>> message = b"<f8(2,)" + x[0].tobytes()
    >>> key = int.from_bytes(hashlib.sha256(message).digest(), "big") % 7
    >>> int(sha256_keys(x, 7)[0]) == key
    True
    """
    m = check_int("m", m, min_value=1)
    arr = np.asarray(_to_numpy(X))
    if arr.dtype.kind not in "biuf" or arr.dtype == bool:
        raise TypeError(f"X must hold numbers, got dtype {arr.dtype}")
    if arr.ndim < 1:
        raise ValueError(f"X must have a sample axis (N, ...), got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    header = f"{arr.dtype.str}{arr.shape[1:]}".encode()
    keys = np.empty(len(arr), dtype=np.int64)
    for j, row in enumerate(arr):  # hashlib has no batched form; one call per sample
        digest = hashlib.sha256(header + row.tobytes()).digest()
        keys[j] = int.from_bytes(digest, "big") % m
    return keys


def sample_keys(x: Any, hash: str, m: int) -> np.ndarray:  # noqa: A002
    """The partition key of each training sample modulo ``m`` (DPA ``k``, FA ``k d``).

    ``"pixel_sum"``: the integer sum of the sample's ``uint8`` values
    (:func:`pixel_sums`, the paper's key; ``x`` must be ``uint8``), under which the
    partitions for ``2k`` refine those for ``k``. ``"sha256"``: :func:`sha256_keys`,
    a uniform hash of the sample's bytes for any numeric dtype and shape. The label is
    never hashed, nor the sample's position.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Samples ``(N, ...)``.
    hash : {"pixel_sum", "sha256"}
    m : int
        The modulus, ``>= 1``.

    Returns
    -------
    numpy.ndarray
        int64 keys in ``range(m)``.

    Raises
    ------
    TypeError
        If ``x`` is not numeric, or not ``uint8`` for ``"pixel_sum"``.
    ValueError
        If ``hash`` is unknown or ``m < 1``.
    """
    m = check_int("m", m, min_value=1)
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {HASHES}, got {hash!r}")
    if hash == "sha256":
        return sha256_keys(x, m)
    arr = np.asarray(_to_numpy(x))
    if arr.dtype != np.uint8:
        raise TypeError(
            f"x must hold uint8 values for hash 'pixel_sum' (the integer sum of the "
            f"pixels), got dtype {arr.dtype}; use hash 'sha256' for other samples"
        )
    return pixel_sums(arr) % m


def pixel_sums(x: Any) -> np.ndarray:
    """Return the DPA hash key of each image: the exact integer sum of its uint8 pixels.

    Serves the DPA and FA chapters (the partitioning hash of Levine & Feizi).

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        ``uint8`` images of shape ``(N, ...)`` (all channels are summed).

    Returns
    -------
    numpy.ndarray
        ``int64`` of shape ``(N,)``.

    Raises
    ------
    TypeError
        If ``x`` is not ``uint8``.
    ValueError
        If ``x`` has fewer than two dimensions.
    """
    arr = _as_uint8("x", x)
    return arr.reshape(len(arr), -1).sum(axis=1, dtype=np.int64)


def _default_shifts(k: int, d: int) -> list[int]:
    from ldcbook.certify.fa import fa_shifts

    return [int(s) for s in fa_shifts(k, d)]


def assign(
    keys: Any,
    k: int,
    d: int = 1,
    shifts: Sequence[int] | None = None,
    *,
    x: Any = None,
    y: Any = None,
) -> list[np.ndarray]:
    """Assign training samples to base models by their hash keys (DPA, FA).

    Serves the DPA and FA chapters. With ``d = 1`` (DPA) model ``i`` gets the samples
    with ``key % k == i``. With ``d > 1`` (FA) bucket ``b = key % (k*d)`` feeds the
    models ``(b + s_j) % (k*d)``, so model ``i`` gets the union of the buckets
    ``(i - s_j) % (k*d)``: every bucket feeds exactly ``d`` models and every model
    takes exactly ``d`` buckets.

    Parameters
    ----------
    keys : array_like of int
        Non-negative hash keys, shape ``(N,)`` (see :func:`pixel_sums`).
    k : int
        Number of partitions, ``k >= 1``.
    d : int
        FA spread, ``d >= 1``; ``d = 1`` is DPA.
    shifts : sequence of int, optional
        ``d`` distinct shifts in ``range(k*d)``. Default: ``[0]`` for ``d = 1``, else
        :func:`ldcbook.certify.fa.fa_shifts` ``(k, d)`` (the reference's draw).
    x, y : array_like, optional
        The training samples (``(N, ...)``, any numeric dtype: uint8 images or float
        features) and labels. When given, each model's indices are put in content
        order (:func:`content_order`); otherwise they are ascending.

    Returns
    -------
    list of numpy.ndarray
        ``k*d`` ``int64`` index arrays, one per model id, in model-id order.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, shape or range.
    """
    keys = check_array("keys", _to_numpy(keys), ndim=1, kind="i", nonnegative=True)
    keys = keys.astype(np.int64)
    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    m = k * d
    if shifts is None:
        shifts = [0] if d == 1 else _default_shifts(k, d)
    s = check_array("shifts", shifts, ndim=1, kind="i").astype(np.int64)
    if len(s) != d:
        raise ValueError(f"shifts must hold d = {d} values, got {len(s)}")
    if s.size and (s.min() < 0 or s.max() >= m):
        raise ValueError(
            f"shifts must lie in range(k*d) = range({m}), got {s.tolist()}"
        )
    if len(np.unique(s)) != d:
        raise ValueError(f"shifts must be distinct, got {s.tolist()}")
    if (x is None) != (y is None):
        raise ValueError("x and y must be given together (or neither)")
    if x is not None:
        x = sample_bytes(x)
        y = check_array("y", _to_numpy(y), ndim=1, kind="i", nonnegative=True)
        if len(x) != len(keys) or len(y) != len(keys):
            raise ValueError(
                f"x, y and keys must have the same length, got {len(x)}, {len(y)}, "
                f"{len(keys)}"
            )

    bucket = keys % m
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(m + 1))
    members = [order[bounds[b] : bounds[b + 1]] for b in range(m)]
    parts = []
    for i in range(m):
        idx = np.sort(np.concatenate([members[(i - sj) % m] for sj in s.tolist()]))
        parts.append(idx.astype(np.int64) if x is None else _content_order(x, y, idx))
    return parts


def content_order(x: Any, y: Any, idx: Any) -> np.ndarray:
    """Sort sample indices by content: sample bytes lexicographically, then label.

    The order of a partition's training sequence then depends only on the multiset of
    its samples, so poisoning elsewhere cannot reorder it (DPA/FA chapters; see
    ALGORITHMS.md, "Partitioning"). The bytes are those of :func:`sample_bytes`
    (little-endian, C order; for uint8 images the pixels), compared as unsigned
    bytes. Identical samples keep their relative index order; being identical, they
    are interchangeable.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Samples ``(N, ...)`` of any numeric dtype (uint8 images, float features).
    y : array_like of int
        Non-negative labels ``(N,)``.
    idx : array_like of int
        Indices into ``x`` and ``y``.

    Returns
    -------
    numpy.ndarray
        ``idx`` reordered, ``int64``.

    Raises
    ------
    TypeError, ValueError
        If the dtypes, shapes or index range are wrong.
    """
    x = sample_bytes(x)
    y = check_array("y", _to_numpy(y), ndim=1, kind="i", nonnegative=True)
    idx = check_array("idx", idx, ndim=1, kind="i").astype(np.int64)
    if len(y) != len(x):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= len(x)):
        raise ValueError(f"idx must lie in range({len(x)})")
    return _content_order(x, y, idx)


def _content_order(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    if idx.size < 2:
        return idx.copy()
    pixels = x[idx].reshape(len(idx), -1)
    # big-endian label bytes sort like the numbers themselves
    label_bytes = y[idx].astype(">u8").view(np.uint8).reshape(len(idx), 8)
    rows = np.ascontiguousarray(np.concatenate([pixels, label_bytes], axis=1))
    # a void scalar compares as raw bytes (memcmp): lexicographic on unsigned bytes
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    return idx[np.argsort(keys, kind="stable")]


def partitions(
    dataset: Any, k: int, d: int = 1, shifts: Sequence[int] | None = None
) -> list[np.ndarray]:
    """Content-ordered training indices of each base model of a dataset (DPA, FA).

    Shorthand for ``assign(dataset.train_keys, k, d, shifts, x=dataset.x_train,
    y=dataset.y_train)``; serves the experiment chapters and the CLI.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        Anything with ``train_keys``, ``x_train`` and ``y_train``.
    k, d, shifts
        As in :func:`assign`.

    Returns
    -------
    list of numpy.ndarray
        ``k*d`` index arrays in model-id order, each in content order.
    """
    for attr in ("train_keys", "x_train", "y_train"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have {attr} (an ldcbook.data.Dataset)")
    return assign(
        dataset.train_keys, k, d, shifts, x=dataset.x_train, y=dataset.y_train
    )


def channel_stats(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of one partition, in [0, 1] units.

    Each base model normalises its inputs with its own partition's statistics (a
    statistic of the whole training set would couple the partitions and void the DPA
    certificate). Computed from exact integer sums; the standard deviation is the
    population one (divisor ``n*H*W``) and is 0 for a constant channel, so callers
    should clamp it before dividing.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        ``uint8`` images ``(n, C, H, W)`` with ``n >= 1``.

    Returns
    -------
    mean, std : numpy.ndarray
        ``float32`` of shape ``(C,)``.

    Raises
    ------
    TypeError, ValueError
        If ``x`` is not ``uint8``, not 4-D or empty.
    """
    x = _as_uint8("x", x, min_ndim=4)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (n, C, H, W), got {x.shape}")
    if len(x) == 0:
        raise ValueError(
            "x must hold at least one image (an empty partition has no stats)"
        )
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = np.empty(x.shape[1])
    var = np.empty(x.shape[1])
    for c in range(x.shape[1]):  # a loop over channels, at most a few
        v = x[:, c].astype(np.int64)
        s1, s2 = int(v.sum()), int((v * v).sum())
        mean[c] = s1 / count
        var[c] = (count * s2 - s1 * s1) / count**2  # exact integers, one rounding
    return (mean / 255).astype(np.float32), (np.sqrt(var) / 255).astype(np.float32)
