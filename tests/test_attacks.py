"""Tests for ldcbook.attacks: crafted insertions, and retraining only what changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldcbook.attacks import (
    affected_models,
    attack_size,
    nudge_to_bucket,
    poison,
    retrain_affected,
)
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig, fit_scores
from ldcbook.partition import partitions, pixel_sums


def test_nudge_to_bucket_reaches_the_residue_with_the_fewest_changes():
    rng = np.random.default_rng(0)
    for _ in range(200):
        img = rng.integers(0, 256, (1, 5, 5), dtype=np.uint8)
        m = int(rng.integers(1, 60))
        t = int(rng.integers(0, m))
        out = nudge_to_bucket(img, t, m)
        assert out.dtype == np.uint8 and out.shape == img.shape
        assert int(pixel_sums(out[None])[0]) % m == t
        s = int(img.astype(int).sum())
        change = np.abs(out.astype(int) - img.astype(int))
        assert change.max() <= 1 and change.sum() == min((t - s) % m, (s - t) % m)
    with pytest.raises(ValueError, match="cannot reach"):
        nudge_to_bucket(np.full((1, 1, 1), 255, np.uint8), 1, 3)  # 255 needs +1 or -2
    with pytest.raises(TypeError, match="uint8"):
        nudge_to_bucket(np.zeros((2, 2)), 0, 3)
    assert attack_size(5, 3) == 8


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def test_retraining_only_the_affected_models_gives_the_full_retraining(digits):
    """The isolation guarantee put to use: the other models are bit for bit reused."""
    torch.set_num_threads(1)
    k, cfg = 6, TrainConfig(model="cnn", epochs=2, batch_size=7, lr=0.05,
                            augment="crop", seed=3, device="cpu", group_size=4)
    parts = partitions(digits, k)
    clean = fit_scores(digits, parts, range(k), cfg)
    # five mislabelled near-copies of test images, steered into partition 2, and
    # three samples of partition 4 removed
    x = digits.x_test[:5].numpy()
    crafted = np.stack([nudge_to_bucket(img, 2, k) for img in x])
    labels = (digits.y_test[:5].numpy() + 1) % 10
    removed = parts[4][:3]
    new = poison(digits, crafted, labels, removed)
    new_parts = partitions(new, k)
    affected = affected_models(digits, parts, new, new_parts)
    assert affected.tolist() == [2, 4]
    assert attack_size(len(crafted), len(removed)) == 8
    fast = retrain_affected(new, new_parts, cfg, clean, affected)
    full = fit_scores(new, new_parts, range(k), cfg)
    assert np.array_equal(fast, full)
    assert not np.array_equal(fast[:, 2], clean[:, 2])
    # removal shifted every later index, yet the others are unaffected: by content
    assert not all(np.array_equal(a, b) for a, b in zip(parts, new_parts))


def test_poison_checks_its_inputs(digits):
    with pytest.raises(ValueError, match="insert_x"):
        poison(digits, np.zeros((1, 1, 4, 4), np.uint8), [0])
    with pytest.raises(ValueError, match="insert_y"):
        poison(digits, digits.x_test[:1].numpy(), [10])
    with pytest.raises(ValueError, match="remove"):
        poison(digits, remove=[len(digits.y_train)])
    with pytest.raises(ValueError, match="old_parts"):
        affected_models(digits, [np.arange(3)], digits, [])
