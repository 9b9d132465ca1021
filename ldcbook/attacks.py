"""Poisoning a trained DPA/FA run for real: crafted samples, retraining what changed.

Machinery for attacking the defences of the book's experiment chapters with actual
training samples. An attacker who inserts a sample chooses the partition (or FA
bucket) it lands in by adjusting its pixels so that its pixel sum, the DPA/FA hash
key, falls where wanted (:func:`nudge_to_bucket`). After an attack, only the base
models whose training sequence changed need retraining (:func:`affected_models`,
:func:`retrain_affected`): every other model depends on its own partition alone and
sits in a kernel-call schedule fixed by model ids (:mod:`ldcbook.ensemble.schedule`),
so it is bit for bit the model a full retraining would give.

The attack size counts insertions plus removals (:func:`attack_size`), the unit of
every certificate in the book.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ldcbook._checks import check_array, check_int
from ldcbook.partition import pixel_sums


def nudge_to_bucket(x: Any, target: int, modulus: int) -> np.ndarray:
    """The image with the fewest pixel changes of 1 whose pixel sum is ``target`` mod m.

    Adds 1 to ``(target - sum) mod m`` pixels below 255, or subtracts 1 from
    ``(sum - target) mod m`` pixels above 0, whichever is fewer (the first pixels in
    raster order that can move), so the image barely changes: at most ``m / 2`` grey
    levels in total. With ``modulus = k`` this is the DPA partition; with ``k*d`` the
    FA bucket.

    Parameters
    ----------
    x : array_like of uint8
        One image ``(C, H, W)`` (any shape).
    target : int
        The wanted residue, in ``range(modulus)``.
    modulus : int
        ``k`` (DPA) or ``k*d`` (FA), ``>= 1``.

    Returns
    -------
    numpy.ndarray
        uint8, the shape of ``x``.

    Raises
    ------
    ValueError
        If no pixel can move far enough (an image all 0 or all 255 that is too small).

    Examples
    --------
    >>> img = np.array([[10, 20], [30, 255]], dtype=np.uint8)
    >>> int(nudge_to_bucket(img, 3, 7).astype(int).sum() % 7)
    3
    """
    arr = np.array(x.numpy() if isinstance(x, torch.Tensor) else x)
    if arr.dtype != np.uint8:
        raise TypeError(f"x must be a uint8 image, got dtype {arr.dtype}")
    modulus = check_int("modulus", modulus, min_value=1)
    target = check_int("target", target, min_value=0, max_value=modulus - 1)
    flat = arr.reshape(-1).astype(np.int64)
    up = (target - int(flat.sum())) % modulus
    down = (int(flat.sum()) - target) % modulus
    options = []
    if np.count_nonzero(flat < 255) >= up:
        options.append((up, 1))
    if np.count_nonzero(flat > 0) >= down:
        options.append((down, -1))
    if not options:
        raise ValueError(
            f"x cannot reach residue {target} mod {modulus} by changes of 1 per pixel"
        )
    steps, sign = min(options)
    movable = np.flatnonzero(flat < 255 if sign > 0 else flat > 0)[:steps]
    flat[movable] += sign
    return flat.astype(np.uint8).reshape(arr.shape)


def attack_size(inserted: int, removed: int) -> int:
    """Insertions plus removals: the symmetric difference the certificates count.

    Parameters
    ----------
    inserted, removed : int
        Numbers of samples, ``>= 0``.

    Returns
    -------
    int
    """
    return check_int("inserted", inserted, min_value=0) + check_int(
        "removed", removed, min_value=0
    )


def poison(
    dataset: Any, insert_x: Any = None, insert_y: Any = None, remove: Any = None
) -> Any:
    """The dataset after an attack: samples inserted (appended) and removed.

    The hash keys of the inserted images are their pixel sums; the test set is
    unchanged. Removing shifts the indices of later samples, so compare partitions by
    content (:func:`affected_models`), not by index.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        The clean data.
    insert_x : array_like of uint8, optional
        ``(n, C, H, W)`` images to insert.
    insert_y : array_like of int, optional
        ``(n,)`` their labels (the attacker's choice).
    remove : array_like of int, optional
        Indices of training samples to remove.

    Returns
    -------
    ldcbook.data.Dataset
    """
    x, y, keys = dataset.x_train, dataset.y_train, np.asarray(dataset.train_keys)
    if remove is not None:
        drop = check_array("remove", np.asarray(remove), ndim=1, kind="i")
        if drop.size and (drop.min() < 0 or drop.max() >= len(y)):
            raise ValueError(f"remove must index range({len(y)})")
        keep = np.setdiff1d(np.arange(len(y)), drop)
        x, y, keys = x[torch.as_tensor(keep)], y[torch.as_tensor(keep)], keys[keep]
    if insert_x is not None:
        add = np.asarray(insert_x.numpy() if isinstance(insert_x, torch.Tensor)
                         else insert_x)
        if add.dtype != np.uint8 or add.ndim != x.ndim or add.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"insert_x must be uint8 images of shape (n, {tuple(x.shape[1:])})"
            )
        labels = check_array("insert_y", np.asarray(insert_y), ndim=1, kind="i")
        if len(labels) != len(add):
            raise ValueError("insert_y must have one label per inserted image")
        if labels.size and (labels.min() < 0 or labels.max() >= dataset.num_classes):
            raise ValueError(f"insert_y must lie in range({dataset.num_classes})")
        x = torch.cat([x, torch.from_numpy(add)])
        y = torch.cat([y, torch.as_tensor(labels, dtype=y.dtype)])
        keys = np.concatenate([keys, pixel_sums(add)])
    return dataclasses.replace(dataset, x_train=x, y_train=y, train_keys=keys)


def _fingerprints(dataset: Any, part: np.ndarray) -> list[str]:
    x = dataset.x_train.numpy()
    y = dataset.y_train.numpy()
    return [hashlib.sha256(x[i].tobytes() + int(y[i]).to_bytes(8, "little")).hexdigest()
            for i in part]


def affected_models(
    old: Any, old_parts: Sequence[Any], new: Any, new_parts: Sequence[Any]
) -> np.ndarray:
    """Models whose training sequence differs between two datasets and partitionings.

    Model ``i`` is unaffected when its partition holds the same samples (images and
    labels) in the same order; by construction it then trains to the same bits.

    Parameters
    ----------
    old, new : ldcbook.data.Dataset
        Clean and poisoned data.
    old_parts, new_parts : sequence of array_like of int
        Their partitions (:func:`ldcbook.partition.partitions`), the same number.

    Returns
    -------
    numpy.ndarray
        int64 model ids, increasing.
    """
    if len(old_parts) != len(new_parts):
        raise ValueError(
            f"old_parts and new_parts must hold as many models, got {len(old_parts)} "
            f"and {len(new_parts)}"
        )
    out = [i for i, (a, b) in enumerate(zip(old_parts, new_parts))
           if _fingerprints(old, np.asarray(a)) != _fingerprints(new, np.asarray(b))]
    return np.array(out, dtype=np.int64)


def retrain_affected(
    new: Any,
    new_parts: Sequence[Any],
    config: Any,
    clean_scores: np.ndarray,
    affected: Sequence[int],
) -> np.ndarray:
    """Test scores after an attack, retraining only the affected models.

    Every other column is the clean run's: those models train on the same sequence in
    the same kernel-call schedule, so a full retraining would give them bit for bit.

    Parameters
    ----------
    new : ldcbook.data.Dataset
        The poisoned data.
    new_parts : sequence of array_like of int
        Its partitions.
    config : ldcbook.ensemble.TrainConfig
        The run's training configuration (with its group size).
    clean_scores : numpy.ndarray
        ``(n_test, models, C)`` of the clean run.
    affected : sequence of int
        From :func:`affected_models`.

    Returns
    -------
    numpy.ndarray
        A copy of ``clean_scores`` with the affected columns retrained.
    """
    from ldcbook.ensemble import fit_scores

    scores = np.array(clean_scores, copy=True)
    ids = np.asarray(affected, dtype=np.int64)
    if ids.size:
        scores[:, ids] = fit_scores(new, list(new_parts), ids, config)
    return scores


__all__ = [
    "affected_models",
    "attack_size",
    "nudge_to_bucket",
    "poison",
    "retrain_affected",
]
