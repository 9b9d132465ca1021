"""Tiny datasets written in their real on-disk formats, for the loaders' tests.

Shared by ``tests/test_data.py`` (the loaders read these files as the real ones) and
``tests/test_fullscale.py`` (the full-scale chapters run end to end on them). The
files are random images; only their formats are real:

- MNIST: the IDX files of ``MNIST/raw`` (:func:`write_idx`);
- CIFAR-10: the pickled python batches of ``cifar-10-batches-py``
  (:func:`write_cifar10`); torchvision checks each file's md5 against the official
  ones, so :func:`register_cifar10` makes it accept these;
- GTSRB: ``.ppm`` images of varying size in class folders with per-class CSVs, and a
  test folder with ``GT-final_test.csv``, in the original or torchvision layout
  (:func:`write_gtsrb`).
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
CSV_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"


def write_idx(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` (uint8) as an IDX file, the format of the MNIST files."""
    magic = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim)  # 0x08: unsigned byte
    dims = struct.pack(f">{arr.ndim}I", *arr.shape)
    path.write_bytes(magic + dims + arr.astype(np.uint8).tobytes())


def md5(path: Path) -> str:
    """The md5 hex digest of a file (torchvision's integrity check)."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def write_cifar10(
    root: Path, per_batch: int = 3, n_test: int = 3, seed: int = 1
) -> tuple[Path, list[tuple[str, np.ndarray, list[int]]]]:
    """Write CIFAR-10's python batches with random images under ``root``.

    Five training batches of ``per_batch`` images and a test batch of ``n_test``,
    each a protocol-2 pickle of ``data`` (rows of 3072 bytes: the R, G and B planes),
    ``labels``, ``batch_label`` and ``filenames``, and ``batches.meta``.

    Returns
    -------
    folder : pathlib.Path
        ``root / "cifar-10-batches-py"``.
    written : list
        ``(file name, rows, labels)`` per batch, the five training batches first.
    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / CIFAR_FOLDER
    folder.mkdir(parents=True)
    written = []
    for name in (*CIFAR_TRAIN, CIFAR_TEST):
        n = n_test if name == CIFAR_TEST else per_batch
        rows = rng.integers(0, 256, (n, 3072), dtype=np.uint8)  # R, G, B planes per row
        labels = rng.integers(0, 10, n).tolist()
        entry = {"batch_label": name, "labels": labels, "data": rows,
                 "filenames": ["a"] * n}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        written.append((name, rows, labels))
    meta = {"label_names": [f"c{i}" for i in range(10)],
            "num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder, written


def cifar10_checksums(folder: Path) -> dict[str, Any]:
    """torchvision's ``train_list``, ``test_list`` and ``meta`` for these files."""
    import torchvision.datasets as tvd

    folder = Path(folder)
    return {
        "train_list": [[n, md5(folder / n)] for n in CIFAR_TRAIN],
        "test_list": [[CIFAR_TEST, md5(folder / CIFAR_TEST)]],
        "meta": dict(tvd.CIFAR10.meta, md5=md5(folder / "batches.meta")),
    }


def register_cifar10(folder: Path, setattr_: Any = setattr) -> None:
    """Make torchvision's CIFAR-10 accept the files in ``folder`` (their md5 sums).

    ``setattr_`` is ``monkeypatch.setattr`` in a test (undone afterwards); the default
    changes the class for the rest of the process (a notebook kernel's).
    """
    import torchvision.datasets as tvd

    for attribute, value in cifar10_checksums(folder).items():
        setattr_(tvd.CIFAR10, attribute, value)


def gtsrb_images(seed: int = 2) -> tuple[dict[int, list], list]:
    """A handful of GTSRB-like images: 3 classes, sizes 25 to 60 pixels."""
    rng = np.random.default_rng(seed)
    train: dict[int, list] = {}
    for c in (0, 1, 12):
        train[c] = []
        for j in range(2 + c % 3):
            h, w = rng.integers(25, 60, 2)
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            train[c].append((f"{j // 2:05d}_{j % 2:05d}.ppm", img))
    test = [
        (f"{j:05d}.ppm", int(c), rng.integers(0, 256, (30 + j, 40, 3), dtype=np.uint8))
        for j, c in enumerate([12, 0, 1, 1])
    ]
    return train, test


def many_gtsrb_images(
    n_train: int, n_test: int, classes: int = 43, seed: int = 0
) -> tuple[dict[int, list], list]:
    """``n_train`` training and ``n_test`` test images over ``classes`` classes.

    Sizes vary from 25 to 60 pixels as in GTSRB; file names as the original's
    (``TTTTT_FFFFF.ppm``: track and frame).
    """
    rng = np.random.default_rng(seed)
    train: dict[int, list] = {c: [] for c in range(classes)}
    for i in range(n_train):
        c = i % classes
        j = len(train[c])
        h, w = rng.integers(25, 61, 2)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        train[c].append((f"{j // 30:05d}_{j % 30:05d}.ppm", img))
    test = []
    for j in range(n_test):
        h, w = rng.integers(25, 61, 2)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        test.append((f"{j:05d}.ppm", int(rng.integers(classes)), img))
    return {c: v for c, v in train.items() if v}, test


def _row(fname: str, img: np.ndarray, c: int) -> str:
    h, w = img.shape[:2]
    return f"{fname};{w};{h};5;5;{w - 5};{h - 5};{c}\n"


def write_gtsrb(
    root: Path, layout: str, train: dict[int, list], test: list,
    per_class_csv: bool = True,
) -> None:
    """Write GTSRB images as ``.ppm`` files in the ``"original"`` or ``"torchvision"``
    layout, with per-class CSVs (optional) and the test CSV.

    ``train`` maps a class to ``[(file name, HxWx3 uint8), ...]``; ``test`` is
    ``[(file name, class, image), ...]`` (from :func:`gtsrb_images`).
    """
    root = Path(root)
    if layout == "original":
        train_dir = root / "GTSRB" / "Final_Training" / "Images"
        test_dir = root / "GTSRB" / "Final_Test" / "Images"
        test_csv = root / "GT-final_test.csv"
    elif layout == "torchvision":
        train_dir = root / "gtsrb" / "GTSRB" / "Training"
        test_dir = root / "gtsrb" / "GTSRB" / "Final_Test" / "Images"
        test_csv = root / "gtsrb" / "GT-final_test.csv"
    else:
        raise ValueError(f"layout must be 'original' or 'torchvision', got {layout!r}")
    for c, images in train.items():
        folder = train_dir / f"{c:05d}"
        folder.mkdir(parents=True)
        for fname, img in images:
            Image.fromarray(img).save(folder / fname)
        if per_class_csv:
            text = CSV_HEADER + "".join(_row(f, img, c) for f, img in images)
            (folder / f"GT-{c:05d}.csv").write_text(text)
    test_dir.mkdir(parents=True)
    for fname, _, img in test:
        Image.fromarray(img).save(test_dir / fname)
    test_csv.write_text(CSV_HEADER + "".join(_row(f, img, c) for f, c, img in test))
