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




# --------------------------------------------------------------------------------------
# Attacks as data, their families, and retraining many attacks in shared passes
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Attack:
    """A poisoning attack: training samples inserted and removed.

    Attributes
    ----------
    insert_x : numpy.ndarray
        uint8 ``(m, C, H, W)``: the inserted images (appended to the training set).
    insert_y : numpy.ndarray
        int64 ``(m,)``: their labels, the attacker's choice.
    remove : numpy.ndarray
        int64: distinct indices of removed clean training samples.
    family : str
        Which family built it (for reports).
    """

    insert_x: np.ndarray
    insert_y: np.ndarray
    remove: np.ndarray
    family: str = ""

    def __post_init__(self) -> None:
        x = np.asarray(self.insert_x)
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError("insert_x must be uint8 images (m, C, H, W)")
        y = check_array("insert_y", np.asarray(self.insert_y), ndim=1, kind="i")
        if len(y) != len(x):
            raise ValueError("insert_y must have one label per inserted image")
        r = check_array("remove", np.asarray(self.remove), ndim=1, kind="i")
        if r.size and (r.min() < 0 or len(np.unique(r)) != len(r)):
            raise ValueError("remove must hold distinct indices >= 0")
        if not isinstance(self.family, str):
            raise TypeError(f"family must be a str, got {type(self.family).__name__}")
        object.__setattr__(self, "insert_x", x)
        object.__setattr__(self, "insert_y", y.astype(np.int64))
        object.__setattr__(self, "remove", np.sort(r.astype(np.int64)))

    @property
    def size(self) -> int:
        """Insertions plus removals (:func:`attack_size`)."""
        return attack_size(len(self.insert_y), len(self.remove))

    def __add__(self, other: Attack) -> Attack:
        """Both attacks at once (their removals must not overlap)."""
        if not isinstance(other, Attack):
            return NotImplemented
        if np.intersect1d(self.remove, other.remove).size:
            raise ValueError("the two attacks remove the same sample")
        family = self.family if self.family == other.family else (
            f"{self.family}+{other.family}")
        return Attack(np.concatenate([self.insert_x, other.insert_x]),
                      np.concatenate([self.insert_y, other.insert_y]),
                      np.concatenate([self.remove, other.remove]), family)

    def apply(self, dataset: Any) -> Any:
        """The poisoned dataset (:func:`poison`)."""
        return poison(dataset, self.insert_x if len(self.insert_y) else None,
                      self.insert_y, self.remove if self.remove.size else None)


def empty_attack(image_shape: Sequence[int]) -> Attack:
    """The attack of size 0 for images of ``image_shape`` ``(C, H, W)``."""
    shape = tuple(check_int("image_shape", v, min_value=1) for v in image_shape)
    return Attack(np.zeros((0, *shape), np.uint8), np.zeros(0, np.int64),
                  np.zeros(0, np.int64))


def _image(name: str, x: Any) -> np.ndarray:
    arr = np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise ValueError(f"{name} must be one uint8 image (C, H, W)")
    return arr


def near_copies(
    x: Any, label: int, buckets: Sequence[int], modulus: int, copies: int = 1
) -> Attack:
    """Mislabelled near-copies of ``x``, ``copies`` of them steered into each bucket.

    Each copy is ``x`` with its pixel sum moved to the wanted residue by
    :func:`nudge_to_bucket` (at most ``modulus / 2`` grey levels in all); with
    ``modulus = k`` a bucket is a DPA partition, with ``k*d`` an FA bucket. The copies
    of one bucket are the same image (a training set is a multiset).

    Parameters
    ----------
    x : array_like of uint8
        The target image ``(C, H, W)``.
    label : int
        The label the copies carry (e.g. the target's runner-up class).
    buckets : sequence of int
        Residues in ``range(modulus)``, distinct.
    modulus : int
        ``k`` (DPA) or ``k*d`` (FA).
    copies : int
        Copies per bucket, ``>= 1``.

    Returns
    -------
    Attack
        Of size ``copies * len(buckets)``.
    """
    img = _image("x", x)
    label = check_int("label", label, min_value=0)
    copies = check_int("copies", copies, min_value=1)
    modulus = check_int("modulus", modulus, min_value=1)
    bs = check_array("buckets", np.asarray(buckets, dtype=np.int64), ndim=1, kind="i")
    if len(np.unique(bs)) != len(bs):
        raise ValueError("buckets must be distinct")
    if not bs.size:
        return empty_attack(img.shape)
    imgs = np.stack([nudge_to_bucket(img, int(b), modulus) for b in bs])
    imgs = np.repeat(imgs, copies, axis=0)
    return Attack(imgs, np.full(len(imgs), label, np.int64), np.zeros(0, np.int64),
                  "near-copies")


def nearest_training(
    dataset: Any, x: Any, count: int, among: Any = None, label: int | None = None
) -> np.ndarray:
    """Indices of the ``count`` training samples nearest to ``x`` (pixel l2).

    Restricted to the indices ``among`` and to samples of class ``label`` when
    given; ties go to the smaller index.

    Returns
    -------
    numpy.ndarray
        int64, nearest first (fewer than ``count`` if fewer qualify).
    """
    img = _image("x", x).astype(np.float32).reshape(-1)
    count = check_int("count", count, min_value=0)
    pool = (np.arange(len(dataset.y_train)) if among is None
            else check_array("among", np.asarray(among), ndim=1, kind="i"))
    pool = np.asarray(pool, dtype=np.int64)
    if label is not None:
        label = check_int("label", label, min_value=0)
        pool = pool[dataset.y_train.numpy()[pool] == label]
    xs = dataset.x_train.numpy()[pool].reshape(len(pool), -1).astype(np.float32)
    dist = ((xs - img) ** 2).sum(axis=1)
    order = np.lexsort((pool, dist))
    return pool[order[:count]]


def relabel(dataset: Any, indices: Any, label: int) -> Attack:
    """Give the training samples ``indices`` the label ``label``: remove and reinsert.

    Each relabelled sample costs 2 (one removal, one insertion); its pixels, hence
    its partition, do not change. With the target's nearest neighbours and the
    runner-up class this is the label-swap attack of the bijection chapter on real
    data.
    """
    idx = check_array("indices", np.asarray(indices, dtype=np.int64), ndim=1, kind="i")
    label = check_int("label", label, min_value=0, max_value=dataset.num_classes - 1)
    if idx.size and (idx.min() < 0 or idx.max() >= len(dataset.y_train)):
        raise ValueError(f"indices must index range({len(dataset.y_train)})")
    imgs = dataset.x_train.numpy()[idx]
    return Attack(imgs, np.full(len(idx), label, np.int64), idx, "relabel")


def removal(indices: Any, image_shape: Sequence[int]) -> Attack:
    """Remove the training samples ``indices`` (each costs 1)."""
    idx = check_array("indices", np.asarray(indices, dtype=np.int64), ndim=1, kind="i")
    base = empty_attack(image_shape)
    return Attack(base.insert_x, base.insert_y, idx, "removal")


def reached_models(
    attack: Attack, dataset: Any, k: int, d: int = 1,
    shifts: Sequence[int] | None = None,
) -> np.ndarray:
    """The models whose partition an attack touches, by the hash alone.

    A sample with key ``s`` lands in bucket ``s % (k*d)``, which feeds the models
    ``(bucket + shift) % (k*d)`` (DPA: ``d = 1``, shift 0). Removed samples are
    hashed by their clean keys.

    Returns
    -------
    numpy.ndarray
        int64 model ids, increasing.
    """
    from ldcbook.certify import fa_shifts

    k = check_int("k", k, min_value=1)
    d = check_int("d", d, min_value=1)
    s = np.asarray([0] if d == 1 else (fa_shifts(k, d) if shifts is None else shifts),
                   dtype=np.int64)
    inserted = (pixel_sums(attack.insert_x) if len(attack.insert_y)
                else np.zeros(0, np.int64))
    removed = np.asarray(dataset.train_keys)[attack.remove]
    keys = np.concatenate([inserted, removed]).astype(np.int64)
    buckets = np.unique(keys % (k * d))
    return np.unique((buckets[:, None] + s[None, :]) % (k * d)).astype(np.int64)


def check_budget(attack: Attack, budget: int, affected: Any, d: int = 1) -> None:
    """Reject an attack that is larger than its budget or reaches too many models.

    A poisoned sample lands in one partition (DPA) or one bucket feeding ``d``
    models (FA), so an attack of budget ``b`` may change at most ``b*d`` models;
    an attack whose affected models are more (a partitioning that is not a
    per-sample hash, such as blocks of dataset positions) is outside the threat
    model its certificate counts, and is rejected.

    Raises
    ------
    ValueError
        If ``attack.size > budget`` or ``len(affected) > budget * d``.
    """
    if not isinstance(attack, Attack):
        raise TypeError(f"attack must be an Attack, got {type(attack).__name__}")
    budget = check_int("budget", budget, min_value=0)
    d = check_int("d", d, min_value=1)
    n = len(np.asarray(affected))
    if attack.size > budget:
        raise ValueError(f"attack of size {attack.size} exceeds its budget {budget}")
    if n > budget * d:
        raise ValueError(
            f"attack reaches {n} models, more than its budget {budget} allows "
            f"({budget * d} with spread d = {d})"
        )


def _poisoned(dataset: Any, attack: Attack) -> tuple[Any, np.ndarray]:
    """The poisoned dataset, and each of its samples' identity: a kept clean sample
    keeps its clean index, the ``j``-th inserted sample is ``N + j``."""
    n = len(dataset.y_train)
    if attack.remove.size and attack.remove.max() >= n:
        raise ValueError(f"attack.remove must index range({n})")
    keep = np.setdiff1d(np.arange(n), attack.remove)
    ident = np.concatenate([keep, n + np.arange(len(attack.insert_y))])
    return attack.apply(dataset), ident


def _attacked_partitions(
    dataset: Any, parts: Sequence[np.ndarray], attack: Attack, partition_fn: Any
) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
    """Affected model ids, their new partitions (indices: clean ``0..N-1``, inserted
    ``N + j``) and the clean-index map, comparing partitions by sample identity."""
    new, ident = _poisoned(dataset, attack)
    new_parts = partition_fn(new)
    if len(new_parts) != len(parts):
        raise ValueError("partition_fn must give as many models as parts")
    affected, changed = [], {}
    for i, (a, b) in enumerate(zip(parts, new_parts)):
        mapped = ident[np.asarray(b, dtype=np.int64)]
        if not np.array_equal(np.asarray(a, dtype=np.int64), mapped):
            affected.append(i)
            changed[i] = mapped
    return np.array(affected, dtype=np.int64), changed, ident


def _hash_attacked_partitions(
    dataset: Any, parts: Sequence[np.ndarray], attack: Attack
) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
    """:func:`_attacked_partitions` for DPA by hash (``parts`` are
    ``partitions(dataset, len(parts))``): only the partitions that the keys of the
    inserted and removed samples reach can change, so only those are recomputed."""
    from ldcbook.partition import content_order

    k = len(parts)
    new, ident = _poisoned(dataset, attack)
    inserted = (pixel_sums(attack.insert_x) if len(attack.insert_y)
                else np.zeros(0, np.int64))
    keys = np.concatenate([inserted, np.asarray(dataset.train_keys)[attack.remove]])
    new_keys = np.asarray(new.train_keys, dtype=np.int64) % k
    affected, changed = [], {}
    for i in np.unique(np.asarray(keys, dtype=np.int64) % k).tolist():
        idx = content_order(new.x_train, new.y_train, np.flatnonzero(new_keys == i))
        mapped = ident[idx]
        if not np.array_equal(np.asarray(parts[i], dtype=np.int64), mapped):
            affected.append(i)
            changed[i] = mapped
    return np.array(affected, dtype=np.int64), changed, ident


@dataclasses.dataclass(frozen=True, eq=False)
class AttackResult:
    """One attack retrained: the models it changed and their new test scores.

    Attributes
    ----------
    affected : numpy.ndarray
        int64 model ids whose partition changed.
    scores : numpy.ndarray
        float32 ``(len(rows), len(affected), C)``: their retrained scores on the
        test rows asked for.
    rows : numpy.ndarray
        int64 test indices of ``scores``.
    """

    affected: np.ndarray
    scores: np.ndarray
    rows: np.ndarray

    def patch(self, clean_scores: np.ndarray) -> np.ndarray:
        """The attacked ensemble's scores on ``rows``: the clean columns, with the
        affected ones replaced."""
        out = np.array(np.asarray(clean_scores)[self.rows], copy=True)
        out[:, self.affected] = self.scores
        return out


def _claim_key(model_id: int, mapped: np.ndarray, attack: Attack, n: int) -> str:
    """What a retrained model depends on: its id and its partition's content, in
    order (clean indices, and the bytes and labels of the inserted samples)."""
    ins = mapped >= n
    js = mapped[ins] - n
    h = hashlib.sha256(np.int64(model_id).tobytes())
    h.update(np.where(ins, -1, mapped).astype(np.int64).tobytes())
    h.update(np.ascontiguousarray(attack.insert_x[js]).tobytes())
    h.update(attack.insert_y[js].astype(np.int64).tobytes())
    return h.hexdigest()


def pack_passes(affected: Sequence[Any]) -> list[list[int]]:
    """Group attacks into training passes in which no two need the same model id.

    First fit, in order: attack ``a`` joins the first pass whose claimed model ids
    are disjoint from its own. An attack with no affected model needs no pass.

    Parameters
    ----------
    affected : sequence of array_like of int
        Each attack's affected model ids.

    Returns
    -------
    list of list of int
        Attack indices of each pass.
    """
    passes: list[list[int]] = []
    claimed: list[set[int]] = []
    for a, ids in enumerate(affected):
        need = {int(i) for i in np.asarray(ids).reshape(-1)}
        if not need:
            continue
        for p, used in enumerate(claimed):
            if not used & need:
                passes[p].append(a)
                used |= need
                break
        else:
            passes.append([a])
            claimed.append(set(need))
    return passes


def retrain_attacks(
    dataset: Any,
    parts: Sequence[Any],
    config: Any,
    attacks: Sequence[Attack],
    *,
    budgets: Sequence[int] | None = None,
    d: int = 1,
    rows: Any = None,
    partition_fn: Any = None,
    train_fn: Any = None,
) -> list[AttackResult]:
    """Retrain the affected models of many attacks, packed into shared passes.

    Model ``i``'s bits depend only on its own partition, its id and the run's
    configuration, not on what the other slots of its group hold
    (:mod:`ldcbook.ensemble.schedule`). So each affected model of each attack is a
    *claim*, a model id with its new partition; claims with the same id and the same
    partition content (two attacks that poison a model alike) are trained once, and
    one engine pass retrains many claims as long as no two have the same model id
    (:func:`pack_passes`, one pass per claim on the busiest id). The pass's training
    set is the clean one plus the inserted samples its claims use. An attacked model
    is then bit for bit the model a retraining of that attack's whole poisoned
    dataset gives.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        The clean data.
    parts : sequence of array_like of int
        Its partitions (all models of the run, model-id order).
    config : ldcbook.ensemble.TrainConfig
        The run's training configuration.
    attacks : sequence of Attack
    budgets : sequence of int, optional
        Each attack's budget: :func:`check_budget` rejects an attack larger than
        its budget or reaching more than ``budget * d`` models.
    d : int
        FA spread (1 for DPA), for the budget check.
    rows : array_like of int, optional
        Test rows to evaluate the retrained models on (default all). Only these rows
        are evaluated: the training of every model is the same bits either way, and
        its scores on a row come from a kernel call over these rows (padded to the
        configuration's ``eval_batch_size``), so they may differ from those of the
        full test set in the last bits on some machines; votes are what matters.
    partition_fn : callable, optional
        ``dataset -> partitions``, how the run partitions (default: DPA by
        ``len(parts)``, i.e. :func:`ldcbook.partition.partitions` with ``k =
        len(parts)``; pass the FA one for FA runs).
    train_fn : callable, optional
        ``(dataset, parts, ids) -> scores`` (default
        :func:`ldcbook.ensemble.fit_scores` with ``config``).

    Returns
    -------
    list of AttackResult
        One per attack, in order.
    """
    from ldcbook.partition import partitions

    parts = [np.asarray(p, dtype=np.int64) for p in parts]
    attacks = list(attacks)
    for a, att in enumerate(attacks):
        if not isinstance(att, Attack):
            raise TypeError(f"attacks[{a}] must be an Attack, got {type(att).__name__}")
    if budgets is not None and len(budgets) != len(attacks):
        raise ValueError("budgets must hold one budget per attack")
    n_test = len(dataset.y_test)
    if rows is None:
        rows = np.arange(n_test)
    rows = check_array("rows", np.asarray(rows, dtype=np.int64), ndim=1, kind="i")
    if rows.size and (rows.min() < 0 or rows.max() >= n_test):
        raise ValueError(f"rows must index range({n_test})")
    by_hash = partition_fn is None
    if by_hash:
        def partition_fn(ds: Any) -> list[np.ndarray]:
            return partitions(ds, len(parts))

        if not all(np.array_equal(a, b) for a, b in zip(parts, partition_fn(dataset))):
            raise ValueError("parts must be partitions(dataset, len(parts)) (DPA by "
                             "hash); pass partition_fn for another partitioning")
    if train_fn is None:
        from ldcbook.ensemble import fit_scores

        def train_fn(ds: Any, ps: Any, ids: Any) -> np.ndarray:
            return fit_scores(ds, ps, ids, config)

    plans = [_hash_attacked_partitions(dataset, parts, att) if by_hash
             else _attacked_partitions(dataset, parts, att, partition_fn)
             for att in attacks]
    sel = torch.from_numpy(rows)
    test_rows = dict(x_test=dataset.x_test[sel], y_test=dataset.y_test[sel])
    if budgets is not None:
        for att, b, plan in zip(attacks, budgets, plans):
            check_budget(att, b, plan[0], d)
    n = len(dataset.y_train)
    shape = (len(rows), 0, int(dataset.num_classes))
    results: list[AttackResult | None] = [
        AttackResult(np.zeros(0, np.int64), np.zeros(shape, np.float32), rows)
        if not plan[0].size else None for plan in plans
    ]
    # one claim per (model id, new partition content): attacks that give a model the
    # same partition share its retraining, and each pass holds one claim per model id
    claims: dict[str, tuple[int, int]] = {}
    owner: list[dict[int, str]] = [{} for _ in attacks]
    for a, (affected, changed, _) in enumerate(plans):
        for i in affected.tolist():
            key = _claim_key(i, changed[i], attacks[a], n)
            claims.setdefault(key, (a, i))
            owner[a][i] = key
    names = list(claims)
    trained: dict[str, np.ndarray] = {}
    for group in pack_passes([[claims[key][1]] for key in names]):
        xs, ys, offset = [dataset.x_train], [dataset.y_train], n
        keys = [np.asarray(dataset.train_keys, dtype=np.int64)]
        pass_parts = list(parts)
        ids = []
        for c in group:
            a, i = claims[names[c]]
            att, mapped = attacks[a], plans[a][1][i]
            ins = mapped >= n
            js = mapped[ins] - n  # the attack's inserted samples in this partition
            part = mapped.copy()
            part[ins] = offset + np.arange(len(js))
            pass_parts[i] = part
            ids.append(i)
            xs.append(torch.from_numpy(att.insert_x[js]))
            ys.append(torch.as_tensor(att.insert_y[js], dtype=dataset.y_train.dtype))
            keys.append(pixel_sums(att.insert_x[js]).astype(np.int64) if len(js)
                        else np.zeros(0, np.int64))
            offset += len(js)
        pass_ds = dataclasses.replace(
            dataset, x_train=torch.cat(xs), y_train=torch.cat(ys),
            train_keys=np.concatenate(keys), **test_rows)
        order = np.sort(np.array(ids, dtype=np.int64))
        scores = np.asarray(train_fn(pass_ds, pass_parts, order))
        col = {int(i): j for j, i in enumerate(order)}
        for c in group:
            trained[names[c]] = scores[:, col[claims[names[c]][1]]]
    for a, (affected, _, _) in enumerate(plans):
        if affected.size:
            results[a] = AttackResult(
                affected, np.stack([trained[owner[a][i]] for i in affected.tolist()],
                                   axis=1), rows)
    return results  # type: ignore[return-value]


__all__ = [
    "Attack",
    "AttackResult",
    "affected_models",
    "attack_size",
    "check_budget",
    "empty_attack",
    "near_copies",
    "nearest_training",
    "nudge_to_bucket",
    "pack_passes",
    "poison",
    "reached_models",
    "relabel",
    "removal",
    "retrain_affected",
    "retrain_attacks",
]
