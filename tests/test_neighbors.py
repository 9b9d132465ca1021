"""Tests for ldcbook.neighbors: HOG features and radius nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.feature import hog

from ldcbook import neighbors
from ldcbook.neighbors import ABSTAIN, hog_features, rnn_counts, rnn_predictions


def test_hog_of_32x32_rgb_has_324_features_and_matches_skimage():
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    feats = hog_features(torch.from_numpy(x))
    assert feats.shape == (4, 324) and feats.dtype == np.float32
    # 2 x 2 blocks of 3 x 3 cells of 9 orientations
    assert 2 * 2 * 3 * 3 * 9 == 324
    direct = hog(
        x[1].transpose(1, 2, 0) / 255.0,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(3, 3),
        channel_axis=-1,
    )
    np.testing.assert_allclose(feats[1], direct, rtol=1e-6, atol=1e-7)


def test_hog_grayscale_and_options():
    x = np.random.default_rng(1).integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    assert hog_features(x).shape == (2, 81)  # one block of 3 x 3 cells
    small_cells = hog_features(x, pixels_per_cell=4, cells_per_block=2)
    assert small_cells.shape == (2, 6 * 6 * 4 * 9)
    assert hog_features(x[:0]).shape == (0, 81)


def test_hog_validates():
    with pytest.raises(ValueError, match="at least 24x24"):
        hog_features(np.zeros((1, 1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="C in"):
        hog_features(np.zeros((1, 2, 32, 32), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        hog_features(np.zeros((1, 1, 32, 32)))


def _brute_force(train, labels, parts, test, radius, num_classes):
    out = np.empty((len(test), len(parts)), dtype=np.int64)
    for t, point in enumerate(test):
        for j, part in enumerate(parts):
            votes = [0] * num_classes
            for i in part:
                dist = sum(abs(float(a) - float(b)) for a, b in zip(point, train[i]))
                if dist <= radius:
                    votes[labels[i]] += 1
            best = max(votes)
            out[t, j] = ABSTAIN if best == 0 else votes.index(best)  # first: smallest
    return out


def test_rnn_predictions_match_brute_force():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 5, (60, 3)).astype(np.float32)  # integer distances: ties
    labels = rng.integers(0, 3, 60)
    test = rng.integers(0, 5, (25, 3)).astype(np.float32)
    parts = [np.arange(j, 60, 3) for j in range(3)] + [np.arange(0)]
    for radius in (0.0, 1.0, 2.5, 4.0):
        got = rnn_predictions(train, labels, parts, test, radius, 3)
        expected = _brute_force(train, labels, parts, test, radius, 3)
        assert got.tolist() == expected.tolist()
    assert (got[:, 3] == ABSTAIN).all()  # an empty partition always abstains


def test_rnn_counts_ball_is_closed_and_ties_go_to_smaller_class():
    train = np.array([[0.0], [1.0], [1.0], [3.0]])
    labels = np.array([2, 1, 2, 0])
    test = np.array([[1.0], [10.0]])
    counts = rnn_counts(train, labels, test, 1.0, 3)
    assert counts.tolist() == [[0, 1, 2], [0, 0, 0]]  # distance exactly 1 is inside
    # model on samples 1, 2, 3 (labels 1, 2, 0 at distances 0, 0, 2 from test[0])
    part = [np.array([1, 2, 3])]
    wide = rnn_predictions(train, labels, part, test, 2.0, 3)  # 1 vote each: tie -> 0
    assert wide[:, 0].tolist() == [0, ABSTAIN]
    narrow = rnn_predictions(train, labels, part, test, 1.0, 3)  # classes 1, 2: -> 1
    assert narrow[:, 0].tolist() == [1, ABSTAIN]


def test_rnn_one_model_depends_only_on_its_partition():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(90, 4))
    labels = rng.integers(0, 4, 90)
    test = rng.normal(size=(30, 4))
    parts = [np.arange(j, 90, 3) for j in range(3)]
    before = rnn_predictions(train, labels, parts, test, 2.5, 4)
    train2, labels2 = train.copy(), labels.copy()
    train2[parts[1]] = rng.normal(size=(30, 4))  # change partition 1 only
    labels2[parts[1]] = rng.integers(0, 4, 30)
    after = rnn_predictions(train2, labels2, parts, test, 2.5, 4)
    assert (after[:, [0, 2]] == before[:, [0, 2]]).all()
    assert (after[:, 1] != before[:, 1]).any()


def test_rnn_blocks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(4)
    train, labels = rng.normal(size=(50, 5)), rng.integers(0, 3, 50)
    test = rng.normal(size=(37, 5))
    full = rnn_counts(train, labels, test, 4.0, 3)
    monkeypatch.setattr(neighbors, "_BLOCK_ELEMENTS", 50 * 4)  # blocks of 4 test points
    assert rnn_counts(train, labels, test, 4.0, 3).tolist() == full.tolist()


@pytest.mark.parametrize(
    "args, err, match",
    [
        (dict(radius=-1.0), ValueError, "radius must lie in"),
        (dict(num_classes=2), ValueError, r"train_labels must lie in range\(2\)"),
        (dict(test_feats=np.zeros((2, 3))), ValueError, "same number of features"),
        (dict(parts=[np.array([0, 9])]), ValueError, r"parts\[0\] must index"),
        (dict(parts=np.arange(3)), TypeError, "parts must be a sequence"),
        (dict(train_labels=np.zeros(3)), TypeError, "train_labels must have an int"),
    ],
)
def test_rnn_predictions_validate(args, err, match):
    kwargs = dict(
        train_feats=np.zeros((3, 2)),
        train_labels=np.array([0, 1, 2]),
        parts=[np.array([0, 1])],
        test_feats=np.zeros((2, 2)),
        radius=1.0,
        num_classes=3,
    )
    kwargs.update(args)
    with pytest.raises(err, match=match):
        rnn_predictions(**kwargs)


def test_rnn_predictions_agree_with_the_rnn_certificate_module():
    from ldcbook.certify.nn import rnn

    rng = np.random.default_rng(5)
    train = rng.integers(0, 4, (80, 2)).astype(float)
    labels = rng.integers(0, 3, 80)
    test = rng.integers(0, 4, (40, 2)).astype(float)
    parts = [np.arange(j, 80, 4) for j in range(4)]
    preds = rnn_predictions(train, labels, parts, test, 1.0, 3)
    for j, part in enumerate(parts):
        counts = rnn_counts(train[part], labels[part], test, 1.0, 3)
        assert preds[:, j].tolist() == rnn(counts)[0].tolist()
