"""Tests for ldcbook.partition: the DPA/FA hash, content order, per-partition stats."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcbook.partition import (
    assign,
    channel_stats,
    content_order,
    partitions,
    pixel_sums,
)


def _images(n: int, shape=(3, 4, 4), seed: int = 0, high: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, (n, *shape), dtype=np.uint8)


# ------------------------------------------------------------ the hash is the byte sum


def test_pixel_sums_is_the_exact_byte_sum():
    x = _images(20, (3, 32, 32))
    x[0] = 255  # the largest possible sum of a CIFAR image: 255 * 3072
    expected = [sum(int(b) for b in img.tobytes()) for img in x]  # independent: bytes
    got = pixel_sums(x)
    assert got.dtype == np.int64
    assert got.tolist() == expected
    assert got[0] == 255 * 3 * 32 * 32


def test_pixel_sums_accepts_tensors_and_rejects_other_dtypes():
    x = _images(5)
    assert pixel_sums(torch.from_numpy(x)).tolist() == pixel_sums(x).tolist()
    with pytest.raises(TypeError, match="x must hold uint8"):
        pixel_sums(x.astype(np.float32))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        pixel_sums(np.zeros(3, np.uint8))


# ----------------------------------------------------------------------- DPA assignment


def test_dpa_assignment_matches_brute_force():
    keys = np.random.default_rng(1).integers(0, 10_000, 300)
    k = 7
    parts = assign(keys, k)
    assert len(parts) == k
    for i, part in enumerate(parts):
        assert part.tolist() == [j for j in range(len(keys)) if keys[j] % k == i]


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(st.integers(0, 10**7), min_size=0, max_size=60),
    k=st.integers(1, 40),
)
def test_partitions_for_2k_refine_those_for_k(keys, k):
    keys = np.array(keys, dtype=np.int64)
    coarse = assign(keys, k)
    fine = assign(keys, 2 * k)
    for i, part in enumerate(fine):
        assert set(part.tolist()) <= set(coarse[i % k].tolist())
    for i in range(k):  # and the two fine partitions i, i + k tile the coarse one i
        union = sorted(fine[i].tolist() + fine[i + k].tolist())
        assert union == coarse[i].tolist()


def test_label_is_not_hashed():
    x = _images(50)
    y1 = np.zeros(50, np.int64)
    y2 = np.arange(50) % 10
    p1 = assign(pixel_sums(x), 5, x=x, y=y1)
    p2 = assign(pixel_sums(x), 5, x=x, y=y2)
    assert [sorted(a.tolist()) for a in p1] == [sorted(a.tolist()) for a in p2]


# ------------------------------------------------------------------------ FA assignment


def test_fa_each_bucket_feeds_d_models_and_each_model_takes_d_buckets():
    k, d = 5, 3
    m = k * d
    keys = np.arange(4 * m) * 7 + 3  # every bucket populated
    shifts = [0, 4, 11]
    parts = assign(keys, k, d, shifts)
    assert len(parts) == m
    buckets = keys % m
    # every sample is in exactly d models
    counts = np.zeros(len(keys), int)
    for part in parts:
        counts[part] += 1
    assert (counts == d).all()
    for i, part in enumerate(parts):
        got = set(buckets[part].tolist())
        assert got == {(i - s) % m for s in shifts}  # model i's d buckets
        # and the whole buckets, not parts of them
        whole = np.flatnonzero(np.isin(buckets, list(got)))
        assert sorted(part.tolist()) == whole.tolist()
    for b in range(m):  # bucket b feeds models (b + s_j) mod m
        feeds = {i for i, part in enumerate(parts) if b in set(buckets[part].tolist())}
        assert feeds == {(b + s) % m for s in shifts}


def test_fa_with_d1_is_dpa_and_default_shifts_are_the_reference_draw():
    keys = np.random.default_rng(2).integers(0, 10**6, 200)
    fa = [a.tolist() for a in assign(keys, 9, 1)]
    assert fa == [a.tolist() for a in assign(keys, 9)]
    k, d = 4, 3
    ref = random.Random(999999999 + 208).sample(range(k * d), d)  # ALGORITHMS.md
    assert [a.tolist() for a in assign(keys, k, d)] == [
        a.tolist() for a in assign(keys, k, d, ref)
    ]


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(k=0), ValueError, "k must be >= 1"),
        (dict(k=2.0), TypeError, "k must be an int"),
        (dict(k=3, d=2, shifts=[0]), ValueError, "shifts must hold d = 2"),
        (dict(k=3, d=2, shifts=[0, 0]), ValueError, "distinct"),
        (dict(k=3, d=2, shifts=[0, 6]), ValueError, r"range\(6\)"),
    ],
)
def test_assign_validates(kwargs, err, match):
    with pytest.raises(err, match=match):
        assign(np.arange(10), **kwargs)


def test_assign_rejects_negative_or_float_keys():
    with pytest.raises(ValueError, match="keys must be non-negative"):
        assign(np.array([1, -2]), 2)
    with pytest.raises(TypeError, match="keys must have an integer dtype"):
        assign(np.array([1.0, 2.0]), 2)


# ------------------------------------------------------------------------ content order


def test_content_order_is_lexicographic_on_bytes_then_label():
    x = _images(200, (1, 2, 2), seed=3, high=3)  # few values: many ties on pixels
    y = np.random.default_rng(4).integers(0, 3, 200)
    idx = np.arange(0, 200, 2)
    got = content_order(x, y, idx)
    expected = sorted(idx.tolist(), key=lambda i: (x[i].tobytes(), int(y[i]), i))
    assert got.tolist() == expected


def test_content_order_handles_large_labels_and_unsigned_bytes():
    x = np.array([[[[200]]], [[[7]]], [[[200]]]], dtype=np.uint8)
    y = np.array([300, 5, 256])
    assert content_order(x, y, [0, 1, 2]).tolist() == [1, 2, 0]


def test_partition_content_is_invariant_to_insertions_and_reordering_elsewhere():
    rng = np.random.default_rng(5)
    x = _images(300, seed=6)
    y = rng.integers(0, 10, 300)
    k = 6
    clean = partitions_of(x, y, k)
    # insert poison samples that land in partitions 0 and 1 only, then shuffle the file
    px = _images(200, seed=7)
    px = px[pixel_sums(px) % k <= 1][:30]
    py = rng.integers(0, 10, len(px))
    ax = np.concatenate([x, px])
    ay = np.concatenate([y, py])
    perm = rng.permutation(len(ax))
    poisoned = partitions_of(ax[perm], ay[perm], k)
    hit = set((pixel_sums(px) % k).tolist())
    assert hit == {0, 1}
    for i in range(k):
        if i not in hit:
            assert poisoned[i] == clean[i]  # the same sequence of samples
        else:
            assert poisoned[i] != clean[i]


def partitions_of(x, y, k):
    parts = assign(pixel_sums(x), k, x=x, y=y)
    return [[(x[j].tobytes(), int(y[j])) for j in part] for part in parts]


def test_partitions_of_a_dataset_are_content_ordered():
    class DS:
        x_train = torch.from_numpy(_images(80, seed=8))
        y_train = torch.from_numpy(np.arange(80) % 4)
        train_keys = pixel_sums(x_train)

    parts = partitions(DS, 3, 2, shifts=[1, 4])
    for part in parts:
        x = DS.x_train.numpy()
        assert part.tolist() == content_order(x, DS.y_train, part).tolist()
        assert [x[j].tobytes() for j in part] == sorted(x[j].tobytes() for j in part)
    with pytest.raises(TypeError, match="dataset must have train_keys"):
        partitions(object(), 3)


# ------------------------------------------------------------------------------ stats


def test_channel_stats_match_float_computation():
    x = _images(30, (3, 5, 7), seed=9)
    mean, std = channel_stats(torch.from_numpy(x))
    f = x.astype(np.float64) / 255
    assert mean.dtype == np.float32 and std.shape == (3,)
    np.testing.assert_allclose(mean, f.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, f.std(axis=(0, 2, 3)), rtol=1e-6)


def test_channel_stats_constant_and_empty():
    mean, std = channel_stats(np.full((2, 1, 3, 3), 51, np.uint8))
    assert mean.tolist() == [np.float32(0.2)] and std.tolist() == [0.0]
    with pytest.raises(ValueError, match="at least one image"):
        channel_stats(np.zeros((0, 1, 3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        channel_stats(np.zeros((2, 1, 3, 3, 1), np.uint8))


def test_cifar10_k50_partition_sizes_match_the_reference():
    """Regression anchor from the DPA reference files (runs only where CIFAR-10 is)."""
    from ldcbook.data import DatasetNotFoundError, load

    try:
        ds = load("cifar10")
    except DatasetNotFoundError:
        pytest.skip("CIFAR-10 not available under the data root")
    sizes = [len(p) for p in assign(ds.train_keys, 50)]
    assert (min(sizes), max(sizes)) == (891, 1099)
