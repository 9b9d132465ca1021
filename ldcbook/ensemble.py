"""Train all base models of a DPA/FA run as one batched computation, and evaluate them.

DPA needs k base classifiers and FA k*d, each trained on its own partition only (the
book's DPA and FA chapters; ``ALGORITHMS.md``). :func:`train_ensemble` trains a chunk
of G of them together: their parameters are stacked (:class:`ldcbook.models.GroupedNet`)
and every step runs a contiguous range of models as grouped convolutions and batched
matrix products. Each model nevertheless sees exactly what it would see if trained on
its own:

* its own partition, in content order, normalised by its own per-channel mean and
  standard deviation (also applied to its test inputs);
* its own random stream: a :class:`torch.Generator` seeded from ``(seed, model id)``
  draws its initial weights, its per-epoch shuffle and its augmentations;
* its own BatchNorm statistics and running averages, and its own SGD momentum;
* its own loss: the per-model mean losses are *summed* over models, so each model's
  gradient is the one it would have alone;
* its own number of steps: ``ceil(n_i / batch_size)`` per epoch, the last batch of its
  real size (padding rows, where a step mixes sizes, enter neither BatchNorm nor the
  loss), and no update at all at the steps where it has no batch.

Scheduling. An epoch has ``S = max_i s_i`` steps, where ``s_i = ceil(n_i / B)``. Model
``i`` takes its ``s_i - 1`` full batches at steps ``0 .. s_i - 2`` and its last batch
(full or partial) at step ``S - 1``, and is idle in between. Models are placed in the
stack by decreasing ``s_i`` (then model id), so the models active at a step form a
prefix of the stack and idle models are skipped, not masked. Only the last step of an
epoch mixes batch sizes: on the CPU its models run in groups of equal batch size, on a
GPU their batches are padded and the padding masked out of BatchNorm and the loss
(``TrainConfig.partial_batches``). Every model runs the same number of epochs and the
epochs coincide, so the learning-rate schedule (milestones at given fractions of each
model's own epochs) is one value per epoch.

Bits. On the CPU (one thread) every kernel used computes a model's numbers the same
way whatever other models run beside it and wherever it sits in the stack, so a
model's scores are bit for bit those it gets when trained alone, in any chunk or
group: changing one partition changes only its own model's scores (the test of
``ALGORITHMS.md``), and sharded runs equal unsharded ones. Across devices and thread
counts the bits may differ.

:func:`train_one_at_a_time` trains the same models one after another with standard
``torch.nn`` modules and :class:`torch.optim.SGD`, as the reference implementations do;
it draws the same random numbers, so the two ensembles agree up to floating-point
rounding (compare their votes). :func:`predict_scores` returns logits of shape
``(n_test, models, C)`` in model-id order, ready for :mod:`ldcbook.certify`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ldcbook import augment as aug
from ldcbook._checks import check_array, check_int, check_real
from ldcbook.certify import count_votes
from ldcbook.config import by_scale
from ldcbook.models import LEARNERS, GroupedNet, build_model
from ldcbook.partition import channel_stats

SCHEDULES: tuple[str, ...] = ("baseline", "ldc")
"""The schedule presets of :func:`preset`."""

STD_FLOOR = 1e-3
"""Per-partition standard deviations are clamped to at least this (flat channels)."""

CPU_GROUP_BYTES = 32 * 2**20
"""On the CPU, models are fused in groups whose activations take about this many bytes.

Grouped kernels over much more data than fits in the caches get slower per model;
:func:`auto_group_size` sizes the groups from this budget. The value was measured on
the book's 2-core machine (MNIST-5k, k = 50, batch 16: the small CNN is fastest with
groups of 8 to 32 models, the MLP with all 50)."""

CUDA_MEMORY_SHARE = 0.5
"""On CUDA, models are fused in groups whose activations take at most this share of
the free GPU memory (an over-estimate: bf16 activations take half of it)."""

_STREAM_INIT = 0
_STREAM_DATA = 1


# --------------------------------------------------------------------------------------
# Configuration and schedules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How to train every base model of a run (the same for all but the seeds).

    The schedules of ``ALGORITHMS.md`` ("Base learners and schedules used by the
    paper") are :func:`baseline` and :func:`ldc`; :func:`preset` adds the CPU scales.
    Every field is validated at construction.

    Attributes
    ----------
    model : str
        The learner, one of :data:`ldcbook.models.LEARNERS`.
    epochs : int
        Epochs over each model's own partition.
    batch_size : int
        Samples per step of each model.
    lr : float
        Initial learning rate of SGD.
    momentum, weight_decay : float
        SGD momentum and weight decay (on every parameter, as the reference code).
    nesterov : bool
        Nesterov momentum.
    milestones : tuple of float
        Fractions of the epochs after which the learning rate is multiplied by
        ``gamma`` (epoch ``round(f * epochs)`` starts with the decayed rate).
    gamma : float
        The decay factor.
    augment : str
        One of :data:`ldcbook.augment.AUGMENTATIONS`.
    seed : int
        The run seed; model ``i`` draws from generators seeded by ``(seed, i)``.
    device : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` picks CUDA when available.
    group_size : int or None
        Models fused into one computation; ``None`` chooses (:func:`auto_group_size`).
        Results agree across group sizes up to floating-point rounding.
    amp : bool
        bfloat16 autocast of the forward pass on CUDA (ignored on the CPU).
    channels_last : bool
        Channels-last convolutions on CUDA (ignored on the CPU).
    crop_padding : int or None
        Zero padding of random crops; ``None``: :func:`ldcbook.augment.crop_padding`.
    eval_batch_size : int
        Test images per forward pass in :func:`predict_scores`.
    partial_batches : {"split", "mask"} or None
        How a step whose models have batches of different sizes (the last step of an
        epoch) runs BatchNorm networks: ``"split"`` runs the models in groups of equal
        batch size (exact, and each model's bits independent of the others);
        ``"mask"`` pads every batch to ``batch_size`` and keeps the padding out of the
        BatchNorm statistics and the loss (one computation: better on a GPU).
        ``None``: split on the CPU, mask on CUDA. Networks without BatchNorm always
        mask, which is then exact.
    """

    model: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    milestones: tuple[float, ...] = (0.3, 0.6, 0.8)
    gamma: float = 0.2
    augment: str = "none"
    seed: int = 0
    device: str | None = None
    group_size: int | None = None
    amp: bool = True
    channels_last: bool = True
    crop_padding: int | None = None
    eval_batch_size: int = 1000
    partial_batches: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or self.model not in LEARNERS:
            raise ValueError(
                f"model must be one of {', '.join(map(repr, LEARNERS))}, "
                f"got {self.model!r}"
            )
        check_int("epochs", self.epochs, min_value=1)
        check_int("batch_size", self.batch_size, min_value=1)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_real("gamma", self.gamma, low=0.0, low_open=True)
        if not isinstance(self.milestones, (tuple, list)):
            raise TypeError(
                f"milestones must be a tuple of floats, got {self.milestones!r}"
            )
        object.__setattr__(self, "milestones", tuple(float(m) for m in self.milestones))
        for m in self.milestones:
            check_real("milestones", m, low=0.0, high=1.0)
        for name in ("nesterov", "amp", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        aug.check_kind(self.augment)
        check_int("seed", self.seed, min_value=0, max_value=2**63 - 1)
        if self.device is not None:
            if not isinstance(self.device, str):
                raise TypeError(f"device must be a str or None, got {self.device!r}")
            try:
                torch.device(self.device)
            except RuntimeError as err:
                raise ValueError(
                    f"device must name a torch device, got {self.device!r}"
                ) from err
        if self.group_size is not None:
            check_int("group_size", self.group_size, min_value=1)
        if self.crop_padding is not None:
            check_int("crop_padding", self.crop_padding, min_value=0)
        check_int("eval_batch_size", self.eval_batch_size, min_value=1)
        if self.partial_batches not in (None, "split", "mask"):
            raise ValueError(
                "partial_batches must be 'split', 'mask' or None, "
                f"got {self.partial_batches!r}"
            )

    def milestone_epochs(self) -> tuple[int, ...]:
        """The epochs (0-based) that start with a decayed learning rate."""
        return tuple(int(round(f * self.epochs)) for f in self.milestones)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of every model during its ``epoch``-th epoch (0-based)."""
        drops = sum(epoch >= m for m in self.milestone_epochs())
        return self.lr * self.gamma**drops

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict (JSON-friendly; tuples become lists)."""
        out = dataclasses.asdict(self)
        out["milestones"] = list(self.milestones)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a configuration from :meth:`to_dict` (or a run manifest)."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(f"unknown TrainConfig fields: {names}")
        data = dict(data)
        if "milestones" in data:
            data["milestones"] = tuple(data["milestones"])
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


_BASELINE_AUGMENT = {
    "cifar10": "cropflip",
    "mnist": "crop",
    "mnist5k": "crop",
    "digits": "crop",
    "gtsrb": "crop",
}
_LDC_POLICY = {"cifar10": "cifar10", "gtsrb": "svhn"}
_LDC_EPOCHS = {"gtsrb": 1000}


def _check_dataset_name(dataset: Any) -> str:
    if not isinstance(dataset, str):
        raise TypeError(
            f"dataset must be a dataset name (str), got {type(dataset).__name__}"
        )
    if dataset not in _BASELINE_AUGMENT:
        raise ValueError(
            f"dataset must be one of {', '.join(map(repr, _BASELINE_AUGMENT))}, "
            f"got {dataset!r}"
        )
    return dataset


def baseline(
    dataset: str, model: str = "nin", seed: int = 0, **overrides: Any
) -> TrainConfig:
    """The paper's baseline schedule (DPA/FA base learners, ``ALGORITHMS.md``).

    SGD with Nesterov momentum 0.9 and weight decay 5e-4, learning rate 0.1, batch
    128, 200 epochs, the rate multiplied by 0.2 after 30 %, 60 % and 80 % of them;
    random crop and flip on CIFAR-10, random crop on MNIST and GTSRB.

    Parameters
    ----------
    dataset : str
        Dataset name (``"cifar10"``, ``"gtsrb"``, ``"mnist"``, ``"mnist5k"``,
        ``"digits"``); picks the augmentation.
    model : str
        The learner.
    seed : int
        The run seed.
    **overrides
        Any other :class:`TrainConfig` field.

    Returns
    -------
    TrainConfig
    """
    dataset = _check_dataset_name(dataset)
    fields = dict(
        model=model,
        epochs=200,
        batch_size=128,
        lr=0.1,
        augment=_BASELINE_AUGMENT[dataset],
        seed=seed,
    )
    fields.update(overrides)
    return TrainConfig(**fields)


def ldc(
    dataset: str,
    policy: str | None = None,
    model: str = "nin",
    seed: int = 0,
    **overrides: Any,
) -> TrainConfig:
    """The LDC paper's augmented base learners (``ALGORITHMS.md``).

    AutoAugment instead of crop/flip; learning rate 0.005, batch 16, 600 epochs
    (1000 on GTSRB), the same decay points as :func:`baseline`.

    Parameters
    ----------
    dataset : str
        Dataset name.
    policy : {"cifar10", "imagenet", "svhn"}, optional
        The AutoAugment policy: the paper's "aug0" is ``"cifar10"`` and "aug1" is
        ``"imagenet"`` on CIFAR-10; GTSRB uses ``"svhn"``. Default: ``"cifar10"`` on
        CIFAR-10, ``"svhn"`` otherwise (digit-like and sign images).
    model : str
        The learner.
    seed : int
        The run seed.
    **overrides
        Any other :class:`TrainConfig` field.

    Returns
    -------
    TrainConfig
    """
    dataset = _check_dataset_name(dataset)
    if policy is None:
        policy = _LDC_POLICY.get(dataset, "svhn")
    if policy not in ("cifar10", "imagenet", "svhn"):
        raise ValueError(
            f"policy must be 'cifar10', 'imagenet' or 'svhn', got {policy!r}"
        )
    fields = dict(
        model=model, epochs=_LDC_EPOCHS.get(dataset, 600), batch_size=16, lr=0.005,
        augment=f"autoaugment-{policy}", seed=seed,
    )
    fields.update(overrides)
    return TrainConfig(**fields)


def preset(
    schedule: str,
    dataset: str,
    model: str,
    scale: str | None = None,
    seed: int = 0,
    **overrides: Any,
) -> TrainConfig:
    """The schedule for a dataset and learner at a scale (smoke, default or full).

    At ``full`` scale these are the paper's :func:`baseline` and :func:`ldc`
    schedules. At the CPU scales the batch is 16 (each partition of MNIST-5k with
    k = 50 has about 80 samples) and the epochs are few: ``smoke`` runs in seconds,
    ``default`` is what the book's experiment chapters are built with.

    ========  ==========================  ==========================
    scale     baseline                    ldc
    ========  ==========================  ==========================
    smoke     2 epochs, lr 0.05           2 epochs, lr 0.02
    default   30 epochs, lr 0.05          40 epochs, lr 0.02
    full      200 epochs, batch 128, 0.1  600/1000 epochs, batch 16,
                                          lr 0.005
    ========  ==========================  ==========================

    At the CPU scales the MLP uses at most lr 0.02 (its base models were more
    accurate so on MNIST-5k with k = 50). Every scale keeps the optimiser, the decay
    points and the augmentation of its schedule.

    Parameters
    ----------
    schedule : {"baseline", "ldc"}
        Which schedule.
    dataset : str
        Dataset name.
    model : str
        The learner.
    scale : {"smoke", "default", "full"}, optional
        Default :func:`ldcbook.config.scale` (the ``LDCBOOK_SCALE`` variable).
    seed : int
        The run seed.
    **overrides
        Any other :class:`TrainConfig` field.

    Returns
    -------
    TrainConfig
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}, "
                         f"got {schedule!r}")
    if scale is None:
        values = by_scale(smoke="smoke", default="default", full="full")
    else:
        if scale not in ("smoke", "default", "full"):
            raise ValueError(
                f"scale must be 'smoke', 'default' or 'full', got {scale!r}"
            )
        values = scale
    make = baseline if schedule == "baseline" else ldc
    if values == "full":
        return make(dataset, model=model, seed=seed, **overrides)
    cpu: dict[str, Any] = {
        ("baseline", "smoke"): dict(epochs=2, batch_size=16, lr=0.05),
        ("baseline", "default"): dict(epochs=30, batch_size=16, lr=0.05),
        ("ldc", "smoke"): dict(epochs=2, batch_size=16, lr=0.02),
        ("ldc", "default"): dict(epochs=40, batch_size=16, lr=0.02),
    }[(schedule, values)]
    if model == "mlp":  # measured on MNIST-5k, k = 50: the MLP's base models like 0.02
        cpu["lr"] = min(cpu["lr"], 0.02)
    cpu.update(overrides)
    return make(dataset, model=model, seed=seed, **cpu)


# --------------------------------------------------------------------------------------
# Seeds, initialisation, normalisation
# --------------------------------------------------------------------------------------


def model_seed(seed: int, model_id: int, stream: int = _STREAM_DATA) -> int:
    """A 63-bit seed for one model's random stream, from ``(seed, model_id, stream)``.

    "The training seed may depend on the partition index" (``ALGORITHMS.md``,
    "Partitioning"): it depends on nothing else, so no other partition can move it.

    Mixed with :class:`numpy.random.SeedSequence`, so nearby run seeds and model ids
    give unrelated streams. Stream 0 draws the initial weights, stream 1 the
    shuffles and augmentations.

    Parameters
    ----------
    seed, model_id, stream : int
        Non-negative integers.

    Returns
    -------
    int
    """
    seed = check_int("seed", seed, min_value=0)
    model_id = check_int("model_id", model_id, min_value=0)
    stream = check_int("stream", stream, min_value=0)
    sequence = np.random.SeedSequence([seed, model_id, stream])
    state = sequence.generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def init_models(
    config: TrainConfig,
    model_ids: Sequence[int],
    in_channels: int,
    num_classes: int,
    image_size: int,
) -> list[nn.Sequential]:
    """Initial weights of each model, drawn from its own seed (stream 0).

    Serves :func:`train_ensemble` and :func:`train_one_at_a_time`, which thus start
    from the same weights.

    Each model is built by :func:`ldcbook.models.build_model` under
    :func:`torch.random.fork_rng` with torch's CPU generator seeded by
    ``model_seed(config.seed, model_id, 0)``; the global generator is left unchanged.

    Parameters
    ----------
    config : TrainConfig
        Gives the learner and the run seed.
    model_ids : sequence of int
        The models.
    in_channels, num_classes, image_size : int
        As for :func:`ldcbook.models.build_model`.

    Returns
    -------
    list of torch.nn.Sequential
        On the CPU, in the order of ``model_ids``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    models = []
    for i in model_ids:
        with torch.random.fork_rng(devices=[]):
            seed = model_seed(config.seed, int(i), _STREAM_INIT)
            torch.default_generator.manual_seed(seed)
            model = build_model(config.model, in_channels, num_classes, image_size)
            models.append(model)
    return models


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel: uint8 images to a model's float inputs.

    ``mean`` and ``std`` (in [0, 1] units) broadcast against ``x``'s channel axis: they
    are the statistics of the model's own partition
    (:func:`ldcbook.partition.channel_stats`). Computed as ``x * (1 / (255 std))``
    followed by ``+ (-mean / std)``, two correctly rounded operations, so every entry
    gets the same bits wherever and in whatever batch it is computed. Serves the
    per-partition normalisation of ``ALGORITHMS.md`` ("Partitioning").

    Parameters
    ----------
    x : torch.Tensor
        Images ``(..., C, H, W)`` (uint8 or float).
    mean, std : torch.Tensor
        ``(..., C)`` statistics in [0, 1] units.

    Returns
    -------
    torch.Tensor
        float32, the broadcast shape of ``x``.
    """
    if not all(isinstance(t, torch.Tensor) for t in (x, mean, std)):
        raise TypeError("x, mean and std must be torch tensors")
    if x.ndim < 3:
        raise ValueError(f"x must have shape (..., C, H, W), got {tuple(x.shape)}")
    scale, shift = _affine(mean, std)
    return _apply_affine(x, scale, shift)


def _affine(mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return 1 / (255 * std), -mean / std


def _apply_affine(
    x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    return x.float() * scale[..., None, None] + shift[..., None, None]


class _Images:
    """Training images of one model or of a stack of models, with their augmentation.

    Each image is normalised by its own model's statistics (``scale``, ``shift`` per
    image). For crops, flips and no augmentation the images are padded with zeros,
    normalised once, and cropped by indexing a :class:`ldcbook.augment.CropSource`
    on the training device (normalising then cropping gives the same numbers as
    cropping then normalising). AutoAugment works on uint8 images, on the CPU, so
    those are normalised after it, at every step. The batched and the one-at-a-time
    trainers both go through here, so they see bit-identical inputs.
    """

    def __init__(
        self,
        x: torch.Tensor,
        scale: torch.Tensor,
        shift: torch.Tensor,
        kind: str,
        padding: int,
        device: torch.device,
    ) -> None:
        self.kind = kind
        self.device = device
        self.crop = None
        if kind in ("crop", "flip", "cropflip", "none"):
            p = padding if kind in ("crop", "cropflip") else 0
            xf = _apply_affine(aug.pad(x, p), scale, shift)
            self.crop = aug.CropSource(xf, p, flip=kind in ("flip", "cropflip"),
                                       prepadded=True).to(device)
        else:
            self.x = x.cpu()
            self.scale, self.shift = scale.to(device), shift.to(device)

    def take(self, rows: torch.Tensor, params: aug.AugmentParams) -> torch.Tensor:
        """Normalised float ``(M, C, H, W)`` augmented images ``rows`` on the device."""
        if self.crop is not None:
            return self.crop.take(rows, params.offsets, params.flips)
        assert params.seeds is not None
        rows_cpu = rows.cpu()
        x = aug.auto_augment(self.x[rows_cpu], self.kind, params.seeds.cpu())
        rows = rows.to(self.device)
        x = x.to(self.device, non_blocking=True)
        return _apply_affine(x, self.scale[rows], self.shift[rows])


def _partition_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if len(x) == 0:  # an empty partition: its model is never trained
        c = x.shape[1]
        return torch.zeros(c), torch.ones(c)
    mean, std = channel_stats(x)
    return torch.from_numpy(mean), torch.from_numpy(std).clamp_min(STD_FLOOR)


def _resolve_device(config: TrainConfig) -> torch.device:
    if config.device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"config.device is {config.device!r} but CUDA is not available"
        )
    return device


def _crop_padding(config: TrainConfig, image_size: int) -> int:
    if config.crop_padding is not None:
        return config.crop_padding
    return aug.crop_padding(image_size)


def _epoch_plan(
    gen: torch.Generator, n: int, kind: str, padding: int
) -> tuple[torch.Tensor, aug.AugmentParams]:
    """One model's shuffle and augmentation draws for one epoch (always this order)."""
    perm = torch.randperm(n, generator=gen)
    return perm, aug.draw(n, kind, padding, gen)


def _autocast(device: torch.device, config: TrainConfig) -> Any:
    return torch.autocast(
        device_type=device.type,
        dtype=torch.bfloat16,
        enabled=device.type == "cuda" and config.amp,
    )


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


def _check_inputs(
    dataset: Any, parts: Any, model_ids: Any, config: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    for attr in ("x_train", "y_train", "x_test", "num_classes"):
        if not hasattr(dataset, attr):
            raise TypeError(f"dataset must have {attr} (an ldcbook.data.Dataset)")
    x = dataset.x_train
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        raise TypeError("dataset.x_train must be a uint8 tensor (N, C, H, W)")
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"images must be square, got {tuple(x.shape[2:])}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence):
        raise TypeError(f"parts must be a sequence of index arrays, got {type(parts)}")
    ids = check_array("model_ids", np.asarray(model_ids), ndim=1, kind="i")
    ids = ids.astype(np.int64)
    if ids.size == 0:
        raise ValueError("model_ids must name at least one model")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("model_ids must be distinct")
    if ids.min() < 0 or ids.max() >= len(parts):
        raise ValueError(
            f"model_ids must lie in range(len(parts)) = range({len(parts)})"
        )
    n_train = len(x)
    chosen = []
    for i in ids.tolist():
        part = parts[i]
        if isinstance(part, torch.Tensor):
            part = part.cpu().numpy()
        idx = check_array(f"parts[{i}]", np.asarray(part), ndim=1, kind="i")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n_train):
            raise ValueError(
                f"parts[{i}] must index range({n_train}) (the training set)"
            )
        chosen.append(idx)
    return chosen, ids


# --------------------------------------------------------------------------------------
# Batched training
# --------------------------------------------------------------------------------------


@dataclass
class EnsembleState:
    """Trained base models of one chunk, ready for :func:`predict_scores`.

    Attributes
    ----------
    config : TrainConfig
        How they were trained.
    model_ids : numpy.ndarray
        The model ids, in the order of the score columns.
    num_classes : int
        Number of classes.
    mean, std : torch.Tensor
        ``(G, C)`` normalisation statistics of each model's partition, in the order
        of ``model_ids``.
    net : GroupedNet or None
        The stacked models (batched training); stack position ``slot[j]`` holds
        model ``model_ids[j]``.
    modules : list of torch.nn.Sequential or None
        The models one by one (:func:`train_one_at_a_time`), in ``model_ids`` order.
    slot : numpy.ndarray
        Stack position of each model (batched training).
    sizes : numpy.ndarray
        Partition size of each model.
    """

    config: TrainConfig
    model_ids: np.ndarray
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    net: GroupedNet | None = None
    modules: list[nn.Sequential] | None = None
    slot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def module(self, j: int) -> nn.Sequential:
        """Model ``model_ids[j]`` as a standalone module (a copy, evaluation mode)."""
        j = check_int("j", j, min_value=0, max_value=len(self.model_ids) - 1)
        if self.modules is not None:
            import copy

            return copy.deepcopy(self.modules[j]).cpu().eval()
        assert self.net is not None
        return self.net.export(int(self.slot[j]))


def auto_group_size(
    model: str,
    image_shape: tuple[int, int, int],
    batch_size: int,
    num_models: int,
    device: torch.device | str = "cpu",
) -> int:
    """How many models to fuse into one computation (CPU speed).

    As many as keep the activations of one fused step (estimated per model from one
    forward pass, at 4 bytes per value, three times over for saved tensors and
    gradients) within a budget: on the CPU :data:`CPU_GROUP_BYTES`, since grouped
    kernels over more data than fits in the caches get slower per model; on CUDA
    :data:`CUDA_MEMORY_SHARE` of the free GPU memory.

    Parameters
    ----------
    model : str
        The learner.
    image_shape : tuple of int
        ``(C, H, W)``.
    batch_size : int
        Samples per model per step.
    num_models : int
        Models in the chunk.
    device : torch.device or str

    Returns
    -------
    int
        Between ``min(2, num_models)`` and ``num_models``.
    """
    num_models = check_int("num_models", num_models, min_value=1)
    device = torch.device(device)
    c, h, w = image_shape
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        net = build_model(model, c, 2, h)
        total = c * h * w
        out = torch.zeros(1, c, h, w)
        for layer in net:
            out = layer(out)
            total += out.numel()
    per_model = 3 * 4 * batch_size * total  # forward values, saved tensors, gradients
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = int(CUDA_MEMORY_SHARE * free)
    else:
        budget = CPU_GROUP_BYTES
    # at least two: a lone model's convolution runs as two groups (see GroupedNet)
    return max(min(2, num_models), min(num_models, budget // per_model))


class _Chunk:
    """The training data of G models, stacked in slot order on the device."""

    def __init__(
        self,
        dataset: Any,
        parts: list[np.ndarray],
        model_ids: np.ndarray,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        b = config.batch_size
        self.sizes = np.array([len(p) for p in parts], dtype=np.int64)
        self.steps = -(-self.sizes // b)  # ceil(n / b), 0 for an empty partition
        # slots: decreasing number of steps, then model id; active models are a prefix
        self.order = np.lexsort((model_ids, -self.steps))  # slot -> position
        self.slot = np.empty_like(self.order)
        self.slot[self.order] = np.arange(len(self.order))
        _, c, h, _ = dataset.x_train.shape
        self.image_size = h
        self.padding = _crop_padding(config, h)
        xs, ys, means, stds = [], [], [], []
        for p in self.order:
            idx = torch.from_numpy(parts[p])
            xp = dataset.x_train[idx]
            m, s = _partition_stats(xp)
            means.append(m)
            stds.append(s)
            xs.append(xp)
            ys.append(dataset.y_train[idx])
        counts = torch.as_tensor(self.sizes[self.order])
        scale, shift = _affine(torch.stack(means), torch.stack(stds))
        self.images = _Images(
            torch.cat(xs),
            scale.repeat_interleave(counts, dim=0),
            shift.repeat_interleave(counts, dim=0),
            config.augment,
            self.padding,
            device,
        )
        self.y = torch.cat(ys).to(device)
        self.mean = torch.stack(means).to(device)  # (G, C), slot order
        self.std = torch.stack(stds).to(device)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes[self.order])[:-1]])
        self.gens = [
            torch.Generator().manual_seed(model_seed(config.seed, int(model_ids[p])))
            for p in self.order
        ]
        steps = self.steps[self.order]
        sizes = self.sizes[self.order]
        # size of each slot's last batch of an epoch (0 for an empty partition)
        self.last_size = np.where(sizes > 0, sizes - (steps - 1) * b, 0)
        self.num_steps = int(steps.max()) if len(steps) else 0  # S
        # active prefix length at each step of an epoch
        self.active = np.array(
            [int(np.sum(steps - 1 > t)) for t in range(max(self.num_steps - 1, 0))]
            + [int(np.sum(steps > 0))],
            dtype=np.int64,
        )
        # where the q-th sample of each slot's epoch goes in the (S, G, B) tables:
        # full batches at steps 0 .. s-2, the last one at step S - 1
        slot_of = np.repeat(np.arange(len(sizes)), sizes)
        q = np.arange(len(slot_of)) - np.repeat(self.starts, sizes)
        row = np.where(q < (steps[slot_of] - 1) * b, q // b, self.num_steps - 1)
        self.table_pos = torch.as_tensor(
            (row * len(sizes) + slot_of) * b + q % b, dtype=torch.int64
        )
        self.table_shape = (self.num_steps, len(sizes), b)
        # valid entries and, elsewhere, the slot's first sample (finite, masked out)
        valid = torch.zeros(self.table_shape, dtype=torch.bool)
        valid.view(-1)[self.table_pos] = True
        self.valid = valid
        first = torch.as_tensor(self.starts, dtype=torch.int64)[None, :, None]
        self.pad_index = first.expand(self.table_shape).clone()

    def epoch_tables(
        self, config: TrainConfig
    ) -> tuple[torch.Tensor, torch.Tensor, aug.AugmentParams]:
        """Row indices ``(S, G, B)``, validity and augmentation draws for one epoch.

        Each slot's shuffle and draws come from its own generator, one call per kind;
        placing them in the tables is one vectorised write.
        """
        kind = config.augment
        perms, draws = [], []
        for slot, p in enumerate(self.order):
            n = int(self.sizes[p])
            if n == 0:
                continue
            perm, params = _epoch_plan(self.gens[slot], n, kind, self.padding)
            perms.append(perm + int(self.starts[slot]))
            draws.append(params)
        index = self.pad_index.clone()
        if not perms:
            return index, self.valid, aug.AugmentParams()
        index.view(-1)[self.table_pos] = torch.cat(perms)

        def table(name: str, dtype: torch.dtype, extra: tuple[int, ...]) -> Any:
            if getattr(draws[0], name) is None:
                return None
            out = torch.zeros(self.table_shape + extra, dtype=dtype)
            values = torch.cat([getattr(d, name) for d in draws])
            out.view(-1, *extra)[self.table_pos] = values
            return out

        params = aug.AugmentParams(
            table("offsets", torch.int64, (2,)),
            table("flips", torch.bool, ()),
            table("seeds", torch.int64, ()),
        )
        return index, self.valid, params

    def groups(
        self, t: int, group: int, split_last: bool
    ) -> list[slice | torch.Tensor]:
        """The groups of slots that run together at step ``t`` of every epoch.

        Contiguous blocks of at most ``group`` active slots; at the last step, with
        ``split_last``, blocks of slots whose last batches have the same size.
        """
        if t == self.num_steps - 1 and split_last:
            out: list[slice | torch.Tensor] = []
            for size in np.unique(self.last_size[self.last_size > 0])[::-1]:
                slots = np.flatnonzero(self.last_size == size)
                for i in range(0, len(slots), group):
                    block = slots[i : i + group]
                    if block[-1] - block[0] == len(block) - 1:
                        out.append(slice(int(block[0]), int(block[-1]) + 1))
                    else:
                        out.append(torch.as_tensor(block, dtype=torch.int64))
            return out
        active = int(self.active[t])
        return [slice(lo, min(lo + group, active)) for lo in range(0, active, group)]

    def batch(
        self,
        index: torch.Tensor,
        params: aug.AugmentParams,
        sel: slice | torch.Tensor,
        layout: str,
        rows: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels ``(g, B)`` of the slots ``sel`` at one step.

        ``index`` is ``(G, B)``: every slot's batch rows at this step; ``params`` hold
        the step's draws for every slot; ``rows`` keeps only the first rows of each
        batch. The inputs are ``(B, g, C, H, W)`` for the ``"grouped"`` layout and
        ``(g, B, C, H, W)`` for ``"batched"``.
        """
        grouped = layout == "grouped"

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            t = t[sel] if isinstance(sel, slice) else t[sel.to(t.device)]
            if rows is not None:
                t = t[:, :rows]
            return t.transpose(0, 1) if grouped else t

        index = pick(index)
        g_or_b, b_or_g = index.shape
        flat = index.reshape(-1)

        def flat_pick(t: torch.Tensor | None) -> torch.Tensor | None:
            t = pick(t)
            return None if t is None else t.reshape(-1, *t.shape[2:])

        draws = aug.AugmentParams(
            flat_pick(params.offsets), flat_pick(params.flips), flat_pick(params.seeds)
        )
        x = self.images.take(flat, draws)
        x = x.view(g_or_b, b_or_g, *x.shape[1:])
        y = self.y[flat].view(g_or_b, b_or_g)
        return x, (y.t() if grouped else y)


_FUSED_SGD = hasattr(torch, "_fused_sgd_")


def _sgd_step(
    params: torch.Tensor,
    grad: torch.Tensor,
    mom: torch.Tensor,
    lr: float,
    config: TrainConfig,
) -> None:
    """One step of SGD as :class:`torch.optim.SGD` (dampening 0) on rows ``(g, P)``.

    Every operation is elementwise, so each model's update depends on its own
    parameters, gradient and momentum only; and since every row's length is a multiple
    of :data:`ldcbook.models.PARAM_ALIGN`, each entry goes through the same vectorised
    code, so a model gets the same bits wherever it sits in the stack. The momentum
    starts at zero, which gives torch's first step (``buf = grad``) exactly. Uses
    torch's fused kernel (one pass over memory, as ``SGD(fused=True)``) when there is
    one, else ``_foreach`` operations.
    """
    if _FUSED_SGD and config.momentum:
        torch._fused_sgd_(
            [params], [grad.contiguous()], [mom], weight_decay=config.weight_decay,
            momentum=config.momentum, lr=lr, dampening=0.0, nesterov=config.nesterov,
            maximize=False, is_first_step=False,
        )
        return
    if config.weight_decay:
        grad = grad.add(params, alpha=config.weight_decay)
    if config.momentum:
        mom.mul_(config.momentum).add_(grad)
        grad = grad.add(mom, alpha=config.momentum) if config.nesterov else mom
    params.add_(grad, alpha=-lr)


def _train_group(
    net: GroupedNet,
    mom: torch.Tensor,
    grad_rows: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    sel: slice | torch.Tensor,
    mask: torch.Tensor | None,
    lr: float,
    config: TrainConfig,
    device: torch.device,
    channels_last: bool,
) -> None:
    """One SGD step of the models ``sel`` on batches ``x`` with labels ``y (g, B)``."""
    if isinstance(sel, slice):
        params, moms = net.flat[sel], mom[sel]
    else:
        sel = sel.to(device)
        params, moms = net.flat.index_select(0, sel), mom.index_select(0, sel)
    # one leaf per parameter tensor (gradients of views of one (g, P) leaf would each
    # be scattered into a zero (g, P) tensor)
    leaves = [v.detach().requires_grad_() for v in net.unflatten(params)]
    with _autocast(device, config):
        logits = net.forward(
            x, sel, leaves, train=True, mask=mask, channels_last=channels_last
        )
    g, b = y.shape
    ce = F.cross_entropy(
        logits.float().reshape(g * b, -1), y.reshape(-1), reduction="none"
    ).view(g, b)
    # the sum over models of each model's mean loss; every entry's gradient is its
    # weight, 1/B (or 1/r for a padded batch of r real rows), whatever the other models
    if mask is None:
        loss = ce.sum() / b
    else:
        w = mask.t().float()
        loss = (ce * (w / w.sum(dim=1, keepdim=True))).sum()
    grads = torch.autograd.grad(loss, leaves)
    with torch.no_grad():
        grad = grad_rows[:g]  # its alignment gaps stay zero
        for view, part in zip(net.unflatten(grad), grads):
            view.copy_(part)
        _sgd_step(params, grad, moms, lr, config)
        if not isinstance(sel, slice):
            net.flat.index_copy_(0, sel, params)
            mom.index_copy_(0, sel, moms)


def train_ensemble(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = True,
) -> EnsembleState:
    """Train the base models ``model_ids`` together, each on its own partition only.

    Serves the DPA/FA experiment chapters and the CLI; the module
    docstring lists what stays per model and how steps are scheduled. A model whose
    partition is empty is never updated: it keeps its initial weights (drawn from its
    own seed), which depend on no training data.

    Parameters
    ----------
    dataset : ldcbook.data.Dataset
        Anything with ``x_train`` (uint8 ``(N, C, H, W)``, square images),
        ``y_train``, ``x_test`` and ``num_classes``.
    parts : sequence of array_like of int
        Training indices of every model of the run, in model-id order (from
        :func:`ldcbook.partition.assign`; content order inside each).
    model_ids : sequence of int
        The models to train now (distinct, in ``range(len(parts))``).
    config : TrainConfig
        The schedule.
    progress : bool
        Show a progress bar over steps (tqdm).

    Returns
    -------
    EnsembleState
    """
    chosen, ids = _check_inputs(dataset, parts, model_ids, config)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
    device = _resolve_device(config)
    _, c, h, _ = dataset.x_train.shape
    num_classes = int(dataset.num_classes)
    chunk = _Chunk(dataset, chosen, ids, config, device)
    models = init_models(config, ids[chunk.order], c, num_classes, h)
    net = GroupedNet(models).to(device)
    del models
    mom = torch.zeros_like(net.flat)  # SGD momentum, one row per model
    grad_rows = torch.zeros_like(net.flat)  # gradients are gathered here
    group = config.group_size or auto_group_size(
        config.model, (c, h, h), config.batch_size, len(ids), device
    )
    channels_last = config.channels_last
    from tqdm.auto import tqdm

    bar = tqdm(
        total=config.epochs * chunk.num_steps,
        disable=not progress,
        desc=f"{len(ids)} x {config.model}",
        unit="step",
    )
    strategy = config.partial_batches or ("split" if device.type == "cpu" else "mask")
    split_last = strategy == "split" and net.has_batchnorm
    layout = net.input_layout
    for epoch in range(config.epochs):
        lr = config.lr_at(epoch)
        index, valid, params = chunk.epoch_tables(config)
        index, valid = index.to(device), valid.to(device)
        for t in range(chunk.num_steps):
            last = t == chunk.num_steps - 1
            for sel in chunk.groups(t, group, split_last):
                if last and split_last:
                    rows = int(chunk.last_size[sel][0] if isinstance(sel, slice)
                               else chunk.last_size[sel.numpy()][0])
                    x, y = chunk.batch(
                        index[t], _step_params(params, t), sel, layout, rows
                    )
                    mask = None
                else:
                    x, y = chunk.batch(index[t], _step_params(params, t), sel, layout)
                    mask = valid[t][sel].t() if last else None  # (B, g)
                    if mask is not None and bool(mask.all()):
                        mask = None
                _train_group(
                    net, mom, grad_rows, x, y, sel, mask, lr, config, device,
                    channels_last,
                )
            bar.update(1)
    bar.close()
    return EnsembleState(
        config=config,
        model_ids=ids,
        num_classes=num_classes,
        mean=chunk.mean[torch.as_tensor(chunk.slot, device=chunk.mean.device)].cpu(),
        std=chunk.std[torch.as_tensor(chunk.slot, device=chunk.std.device)].cpu(),
        net=net,
        slot=chunk.slot,
        sizes=np.array([len(p) for p in chosen], dtype=np.int64),
    )


def _step_params(params: aug.AugmentParams, t: int) -> aug.AugmentParams:
    def pick(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x[t]

    return aug.AugmentParams(
        pick(params.offsets), pick(params.flips), pick(params.seeds)
    )


# --------------------------------------------------------------------------------------
# One model at a time (the reference)
# --------------------------------------------------------------------------------------


def train_one_at_a_time(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = True,
) -> EnsembleState:
    """Train the same models one after another, as the reference implementations do.

    Standard :class:`torch.nn.Sequential` modules and :class:`torch.optim.SGD`, one
    model at a time, batches of ``config.batch_size`` (the last one smaller). The
    random numbers are those of :func:`train_ensemble` (same seeds, same order), so
    the two ensembles differ only by floating-point rounding; this is the baseline of
    ``bench/ensemble.py`` and of the tests. Serves the experiment chapters.

    Parameters
    ----------
    dataset, parts, model_ids, config, progress
        As in :func:`train_ensemble`.

    Returns
    -------
    EnsembleState
        With ``modules`` set.
    """
    chosen, ids = _check_inputs(dataset, parts, model_ids, config)
    device = _resolve_device(config)
    _, c, h, _ = dataset.x_train.shape
    num_classes = int(dataset.num_classes)
    kind = config.augment
    padding = _crop_padding(config, h)
    b = config.batch_size
    modules, means, stds = [], [], []
    steps = sum(config.epochs * -(-len(p) // b) for p in chosen)
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc="one at a time", unit="step")
    # channels-last helps grouped kernels; a single small model on the CPU is faster
    # in the default format
    channels_last = device.type == "cuda" and config.channels_last
    for model_id, part in zip(ids.tolist(), chosen):
        (model,) = init_models(config, [model_id], c, num_classes, h)
        model = model.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        idx = torch.from_numpy(part)
        x_raw = dataset.x_train[idx]
        mean, std = _partition_stats(x_raw)
        means.append(mean)
        stds.append(std)
        n = len(part)
        scale, shift = _affine(mean, std)
        images = _Images(
            x_raw, scale.expand(n, -1), shift.expand(n, -1), kind, padding, device
        )
        y_all = dataset.y_train[idx].to(device)
        opt = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay, nesterov=config.nesterov,
        )
        gen = torch.Generator().manual_seed(model_seed(config.seed, model_id))
        model.train()
        for epoch in range(config.epochs if n else 0):
            for group in opt.param_groups:
                group["lr"] = config.lr_at(epoch)
            perm, params = _epoch_plan(gen, n, kind, padding)
            for q0 in range(0, n, b):
                sl = slice(q0, min(q0 + b, n))
                rows = perm[sl]
                sel = aug.AugmentParams(*(None if t is None else t[sl] for t in (
                    params.offsets, params.flips, params.seeds)))
                xb = images.take(rows, sel)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with _autocast(device, config):
                    logits = model(xb)
                loss = F.cross_entropy(logits.float(), y_all[rows.to(device)])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
        modules.append(model.eval())
    bar.close()
    return EnsembleState(
        config=config,
        model_ids=ids,
        num_classes=num_classes,
        mean=torch.stack(means),
        std=torch.stack(stds),
        modules=modules, sizes=np.array([len(p) for p in chosen], dtype=np.int64),
    )


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


def predict_scores(
    state: EnsembleState, x_test: torch.Tensor, batch_size: int | None = None
) -> np.ndarray:
    """Logits of every model on every test image, in evaluation mode.

    Each model normalises the test images with its own partition's statistics and
    uses its own BatchNorm running averages. Serves :mod:`ldcbook.certify` through the
    CLI and the chapters.

    Parameters
    ----------
    state : EnsembleState
        From :func:`train_ensemble` or :func:`train_one_at_a_time`.
    x_test : torch.Tensor
        uint8 ``(n_test, C, H, W)`` images.
    batch_size : int, optional
        Test images per pass; default ``state.config.eval_batch_size``.

    Returns
    -------
    numpy.ndarray
        float32 of shape ``(n_test, len(state.model_ids), num_classes)``, columns in
        the order of ``state.model_ids``.
    """
    if not isinstance(state, EnsembleState):
        raise TypeError(f"state must be an EnsembleState, got {type(state).__name__}")
    if not (
        isinstance(x_test, torch.Tensor) and x_test.dtype == torch.uint8
        and x_test.ndim == 4
    ):
        raise TypeError("x_test must be a uint8 tensor (n_test, C, H, W)")
    if x_test.shape[1] != state.mean.shape[1]:
        raise ValueError(
            f"x_test must have {state.mean.shape[1]} channels, got {x_test.shape[1]}"
        )
    config = state.config
    batch_size = config.eval_batch_size if batch_size is None else check_int(
        "batch_size", batch_size, min_value=1
    )
    device = _resolve_device(config)
    n_test = len(x_test)
    g_total = len(state.model_ids)
    out = torch.empty((n_test, g_total, state.num_classes))
    channels_last = config.channels_last
    with torch.inference_mode():
        if state.modules is not None:
            for j, model in enumerate(state.modules):
                model.to(device).eval()
                mean, std = state.mean[j].to(device), state.std[j].to(device)
                for s in range(0, n_test, batch_size):
                    xb = normalise(x_test[s : s + batch_size].to(device), mean, std)
                    if channels_last:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    with _autocast(device, config):
                        out[s : s + len(xb), j] = model(xb).float().cpu()
            return out.numpy()
        net = state.net
        assert net is not None
        net.to(device)
        order = np.argsort(state.slot)  # slot -> position
        mean = state.mean[order].to(device)
        std = state.std[order].to(device)
        group = config.group_size or auto_group_size(
            config.model, tuple(x_test.shape[1:]), batch_size, g_total, device
        )
        for s in range(0, n_test, batch_size):
            xb = x_test[s : s + batch_size].to(device)
            for lo in range(0, g_total, group):
                hi = min(lo + group, g_total)
                if net.input_layout == "grouped":
                    xg = normalise(xb[:, None], mean[lo:hi], std[lo:hi])  # (B, g, ...)
                else:
                    xg = normalise(xb[None], mean[lo:hi, None], std[lo:hi, None])
                with _autocast(device, config):
                    logits = net.forward(xg, slice(lo, hi), channels_last=channels_last)
                out[s : s + len(xb), lo:hi] = logits.float().transpose(0, 1).cpu()
    return out[:, torch.as_tensor(state.slot)].numpy()


def fit_scores(
    dataset: Any,
    parts: Sequence[Any],
    model_ids: Sequence[int],
    config: TrainConfig,
    progress: bool = False,
) -> np.ndarray:
    """Train the models ``model_ids`` together and return their test logits.

    ``predict_scores(train_ensemble(...), dataset.x_test)``: the ``train_fn`` of
    :func:`ldcbook.store.run_training`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_test, len(model_ids), num_classes)``, columns in ``model_ids``
        order.
    """
    state = train_ensemble(dataset, parts, model_ids, config, progress=progress)
    return predict_scores(state, dataset.x_test)


def votes(scores: np.ndarray) -> np.ndarray:
    """Each model's vote: the smallest class with the largest score (DPA's votes).

    A row whose scores are all equal is an abstention (⊥, ``-1``): the zero rows that
    :func:`ldcbook.cli.one_hot_scores` stores for an empty rNN ball, or a network whose
    logits are all equal. The DPA and FA certificates do not count it.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, models, C)``.

    Returns
    -------
    numpy.ndarray
        int64 ``(n_test, models)``, ``-1`` for an abstention.
    """
    scores = check_array("scores", scores, ndim=3, kind="f", finite=False)
    tie = scores.max(axis=2) == scores.min(axis=2)
    return np.where(tie, -1, np.argmax(scores, axis=2)).astype(np.int64)


def accuracy(scores: np.ndarray, labels: Any) -> tuple[float, np.ndarray]:
    """Plurality-vote accuracy of the ensemble and the accuracy of each model.

    The ensemble predicts the smallest class with the most votes (DPA's rule,
    ``ALGORITHMS.md``); used by the benchmark and the experiment chapters.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n_test, models, C)``.
    labels : array_like of int
        ``(n_test,)``.

    Returns
    -------
    ensemble : float
    per_model : numpy.ndarray
        ``(models,)``.
    """
    scores = check_array("scores", scores, ndim=3, kind="f", finite=False)
    if isinstance(labels, torch.Tensor):
        labels = labels.cpu().numpy()
    labels = check_array("labels", np.asarray(labels), ndim=1, kind="i")
    if len(labels) != scores.shape[0]:
        raise ValueError(
            f"labels must have {scores.shape[0]} entries, got {len(labels)}"
        )
    v = votes(scores)
    counts = count_votes(v, scores.shape[2])  # abstentions do not vote
    pred = np.argmax(counts, axis=1)
    return float(np.mean(pred == labels)), np.mean(v == labels[:, None], axis=0)


__all__ = [
    "EnsembleState",
    "TrainConfig",
    "accuracy",
    "auto_group_size",
    "baseline",
    "fit_scores",
    "init_models",
    "ldc",
    "model_seed",
    "normalise",
    "predict_scores",
    "preset",
    "train_ensemble",
    "train_one_at_a_time",
    "votes",
]
