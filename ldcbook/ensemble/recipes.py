"""How every base model of a run is trained: the configuration and the paper's recipes.

:class:`TrainConfig` holds everything that decides a base model's training apart from
its partition and its id: optimiser, schedule, augmentation, seed, numerical
precision, and the size of the groups of models that share a kernel call (the group
size is part of the configuration because it decides the shapes of every kernel call;
:func:`resolve_group_size` derives it from the configuration and the device kind
alone). :func:`baseline` and :func:`ldc` are the paper's schedules (``ALGORITHMS.md``,
"Base learners and schedules used by the paper"); :func:`preset` adds the CPU scales of
the book.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ldcbook import augment as aug
from ldcbook._checks import check_int, check_real
from ldcbook.config import PRECISIONS, by_scale
from ldcbook.models import LEARNERS, build_model

SCHEDULES: tuple[str, ...] = ("baseline", "ldc")
"""The schedule presets of :func:`preset`."""

CPU_GROUP_BYTES = 32 * 2**20
"""On the CPU, models share kernel calls in groups whose activations take about this
many bytes.

Grouped kernels over much more data than fits in the caches get slower per model;
:func:`resolve_group_size` sizes the groups from this budget. The value was measured
on the book's 2-core machine (MNIST-5k, k = 50, batch 16: the small CNN is fastest
with groups of 8 to 32 models, the MLP with all 50)."""

CUDA_GROUP_BYTES = 16 * 2**30
"""On CUDA, the activations of one group's training step are kept under this many
bytes. A constant, not the free memory of the moment, so that a resumed or sharded
run forms the same groups as the run it continues; ``group_size`` overrides it."""

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
        ``gamma``: at the end of epoch ``round(f * epochs)`` (0-based), as the
        reference code does (:meth:`milestone_epochs`).
    gamma : float
        The decay factor.
    augment : str
        One of :data:`ldcbook.augment.AUGMENTATIONS`.
    seed : int
        The run seed; model ``i`` draws from generators seeded by ``(seed, i)``.
    device : str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` picks CUDA when available.
    group_size : int or None
        Models that share a kernel call: model ``i`` runs in group ``i // group_size``,
        at slot ``i % group_size`` (:mod:`ldcbook.ensemble.schedule`). ``None``:
        :func:`resolve_group_size` decides from the configuration and the device
        kind; runs store the resolved value. Results for two group sizes agree up
        to floating-point rounding (compare votes), not bit for bit.
    precision : {"fp32", "tf32", "bf16"}
        Numerical precision (:data:`PRECISIONS`). ``"tf32"`` is float32 on the CPU;
        ``"bf16"`` needs CUDA.
    deterministic : bool
        On CUDA, deterministic algorithms only (``torch.use_deterministic_algorithms``
        and cuDNN's deterministic mode) during training and evaluation. The CPU
        kernels used are deterministic anyway.
    channels_last : bool
        Channels-last convolutions on CUDA (ignored on the CPU).
    crop_padding : int or None
        Zero padding of random crops; ``None``: :func:`ldcbook.augment.crop_padding`.
    eval_batch_size : int
        Test images per forward pass in :func:`ldcbook.ensemble.predict_scores`
        (the last pass is padded to this size: every pass has the same shape).
    augment_workers : int
        Worker processes for AutoAugment (:class:`ldcbook.augment.AutoAugmentPool`):
        the next step's images are augmented on the CPU while the current step
        trains. 0 (the default, and the faster choice since AutoAugment is batched)
        augments in the training process, on the training device. On the CPU the
        results are the same, bit for bit, for any number; on a GPU with 0 workers
        the augmentation runs on the GPU, whose kernels may round differently from
        the CPU's. Either way each image's augmentation depends on its own seed
        alone. An execution detail, like ``device``.
    norm_stats : pair of tuples of float, or None
        ``None`` (the default, and what the certificates assume): each model
        normalises its inputs by its own partition's per-channel mean and standard
        deviation. A pair ``(mean, std)`` of per-channel values in ``[0, 1]`` units
        makes every model use these instead, e.g. constants published for a
        dataset. They keep the certificate valid only if they are fixed before the
        training set is seen: statistics of the training set being certified make
        every model depend on every sample (the chapter on real attacks breaks the
        certificate this way on purpose).
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
    precision: str = "fp32"
    deterministic: bool = True
    channels_last: bool = True
    crop_padding: int | None = None
    eval_batch_size: int = 1000
    augment_workers: int = 0
    norm_stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None

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
        for name in ("nesterov", "deterministic", "channels_last"):
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
        check_int("augment_workers", self.augment_workers, min_value=0)
        if self.norm_stats is not None:
            object.__setattr__(self, "norm_stats", _check_norm_stats(self.norm_stats))
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                f"got {self.precision!r}"
            )

    def milestone_epochs(self) -> tuple[int, ...]:
        """The epochs (0-based) that start with a decayed learning rate.

        As the DPA and FA reference code: the rate is multiplied by ``gamma`` at the
        end of epoch ``round(f * epochs)`` (0-based; epochs 60, 120 and 160 of 200),
        so epoch ``round(f * epochs) + 1`` is the first with the decayed rate.
        """
        return tuple(int(round(f * self.epochs)) + 1 for f in self.milestones)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of every model during its ``epoch``-th epoch (0-based)."""
        drops = sum(epoch >= m for m in self.milestone_epochs())
        return self.lr * self.gamma**drops

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict (JSON-friendly; tuples become lists)."""
        out = dataclasses.asdict(self)
        out["milestones"] = list(self.milestones)
        if self.norm_stats is not None:
            out["norm_stats"] = [list(v) for v in self.norm_stats]
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
            raise ValueError(
                f"unknown TrainConfig fields: {names} (a run written by an older "
                "ldcbook, whose schedule of kernel calls differs: train it again)"
            )
        data = dict(data)
        if "milestones" in data:
            data["milestones"] = tuple(data["milestones"])
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_norm_stats(value: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)``: two equally long sequences of finite floats, std > 0."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (tuple, list)) for v in value)
    if not ok or len(value[0]) != len(value[1]) or not value[0]:
        raise TypeError("norm_stats must be a pair (mean, std) of equally long, "
                        f"non-empty sequences of floats, got {value!r}")
    mean = tuple(check_real("norm_stats mean", m) for m in value[0])
    std = tuple(check_real("norm_stats std", v, low=0.0, low_open=True)
                for v in value[1])
    return mean, std


_BASELINE_AUGMENT = {
    "cifar10": "cropflip",
    "mnist": "crop",
    "mnist5k": "crop",
    "digits": "crop",
    "gtsrb": "crop",
}
_REFERENCE_PADDING = {"mnist": 4, "mnist5k": 4}
"""MNIST crops as the DPA reference code (``RandomCrop(28, padding=4)``); other
datasets use :func:`ldcbook.augment.crop_padding` (4 on 32x32 and 48x48 images)."""
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
    random crop and flip on CIFAR-10, random crop on MNIST (zero padding 4, as the DPA
    reference code) and GTSRB. Float32 with TF32 products where the device has them
    (``precision="tf32"``).

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
        precision="tf32",
        crop_padding=_REFERENCE_PADDING.get(dataset),
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
        augment=f"autoaugment-{policy}", seed=seed, precision="tf32",
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
    accurate so on MNIST-5k with k = 50), and MNIST crops are padded by 2 pixels, not
    the reference's 4 (with 30 epochs the small CNN's mean base accuracy at k = 50 was
    0.725 with 4 against 0.811 with 2). The CPU scales evaluate test images in
    passes of 100 (the full scale in passes of 1,000). Every scale keeps the
    optimiser, the decay points and the kind of augmentation of its schedule.

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
    cpu["precision"] = "fp32"
    # test images per evaluation pass: a group of 20 small CNNs over 1,000 MNIST digits
    # makes 0.5 GB activation tensors, and the CPU spends more time mapping fresh pages
    # for them than computing (k = 200: 4.7 s per evaluation against 1.8 s in passes
    # of 100; the scores were bit for bit the same)
    cpu["eval_batch_size"] = 100
    # the size-based crop padding (2 pixels on 28x28): the reference's 4 costs the
    # small CNN's 30-epoch training much accuracy (MNIST-5k, k = 50: mean base
    # accuracy 0.725 with 4 against 0.811 with 2)
    cpu["crop_padding"] = None
    cpu.update(overrides)
    return make(dataset, model=model, seed=seed, **cpu)




def resolve_group_size(
    config: TrainConfig,
    image_shape: tuple[int, int, int],
    num_models: int,
    device: torch.device | str = "cpu",
) -> int:
    """How many models share a kernel call: ``config.group_size``, else from a budget.

    A function of the configuration, the image shape, the number of models of the
    run and the device *kind* only (never of free memory, partition sizes or which
    models a chunk holds), so that every chunk, shard and resumed part of a run forms
    the same groups. Without ``config.group_size``: as many models as keep the
    activations of one training step (estimated from one forward pass of the learner,
    at 4 bytes per value, three times over for saved tensors and gradients) within
    :data:`CPU_GROUP_BYTES` on the CPU or :data:`CUDA_GROUP_BYTES` on CUDA, at least
    one and at most ``num_models``.

    Parameters
    ----------
    config : TrainConfig
    image_shape : tuple of int
        ``(C, H, W)``.
    num_models : int
        Models of the run (``k`` for DPA, ``k*d`` for FA).
    device : torch.device or str
        Only its type matters.

    Returns
    -------
    int
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    num_models = check_int("num_models", num_models, min_value=1)
    if config.group_size is not None:
        return min(config.group_size, num_models)
    kind = torch.device(device).type
    c, h, w = (check_int("image_shape", v, min_value=1) for v in image_shape)
    with torch.random.fork_rng(devices=[]):
        net = build_model(config.model, c, 2, h)
    budget = CUDA_GROUP_BYTES if kind == "cuda" else CPU_GROUP_BYTES
    return models_within_budget(net, (c, h, w), config.batch_size, num_models, budget)


def models_within_budget(
    net: Any, sample_shape: tuple[int, ...], rows: int, num_models: int, budget: int
) -> int:
    """As many models as keep one training step's activations within ``budget`` bytes.

    One forward pass of the layers of ``net`` on one sample counts the values (the
    input's included), at 4 bytes each, three times over for saved tensors and
    gradients, times the ``rows`` of a step; at least one and at most ``num_models``.
    The estimate of :func:`resolve_group_size`, and of the grouped path of one's own
    learners (:func:`ldcbook.own.resolve_own_group_size`).
    """
    total = 1
    for v in sample_shape:
        total *= check_int("sample_shape", v, min_value=1)
    check_int("rows", rows, min_value=1)
    num_models = check_int("num_models", num_models, min_value=1)
    with torch.no_grad():
        out = torch.zeros((1, *sample_shape))
        for layer in net:
            out = layer(out)
            total += out.numel()
    per_model = 3 * 4 * rows * total
    return max(1, min(num_models, check_int("budget", budget) // per_model))


__all__ = [
    "CPU_GROUP_BYTES",
    "CUDA_GROUP_BYTES",
    "PRECISIONS",
    "SCHEDULES",
    "TrainConfig",
    "baseline",
    "ldc",
    "preset",
    "models_within_budget",
    "resolve_group_size",
]
