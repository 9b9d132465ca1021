"""Data augmentation with an explicit random stream per base model.

The paper's base learners train with random crops and flips (the baseline) or with
AutoAugment (the LDC augmented learners; ``ALGORITHMS.md``, "Base learners and
schedules used by the paper"). When k models are trained together, a shared random
stream would make one model's augmentations depend on how many samples the other
models drew, and a certificate computed from the ensemble would no longer be a proof.
Here every random choice is drawn from a :class:`torch.Generator` that belongs to one
model, in two steps:

1. :func:`draw` takes the random parameters of n samples from the model's generator
   (crop offsets, flip bits, one AutoAugment seed per sample), always in the same
   order;
2. :func:`apply` (or :class:`CropSource`, which crops the same images over and over
   without copying them) turns images and parameters into augmented images, with no
   randomness of its own.

:func:`augment` does both. The split lets the batched trainer draw every model's
parameters from its own generator and then apply them to all models' batches at once.

AutoAugment applies torchvision's :class:`~torchvision.transforms.v2.AutoAugment`
policies ``CIFAR10``, ``IMAGENET`` and ``SVHN``. Each image's random choices (its
sub-policy, whether each of the two operations applies, their signs) are a function
of that image's own seed alone (drawn from the model's generator), computed for all
images at once by a counter-based generator (:func:`auto_augment_draw`). Since the
magnitudes of a sub-policy are fixed, :func:`auto_augment` then groups the images by
(operation, magnitude) and applies each operation once per group to a batched tensor
on the images' device. Torchvision's operations treat the images of a batch
independently, so on the CPU every image comes out as torchvision's AutoAugment would
make it alone with the same choices, bit for bit, whatever its companions. A step's
images can also be augmented in worker processes (:class:`AutoAugmentPool`), so that
the trainer augments the next step's images while the current step trains.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ldcbook._checks import check_int

AUGMENTATIONS: tuple[str, ...] = (
    "none",
    "crop",
    "flip",
    "cropflip",
    "autoaugment-cifar10",
    "autoaugment-imagenet",
    "autoaugment-svhn",
)
"""The augmentation names accepted throughout the engine."""

_POLICIES = {
    "autoaugment-cifar10": "CIFAR10",
    "autoaugment-imagenet": "IMAGENET",
    "autoaugment-svhn": "SVHN",
}

SEED_BOUND = 2**62
"""Per-sample AutoAugment seeds are drawn uniformly from ``range(SEED_BOUND)``."""


@dataclass(frozen=True)
class AugmentParams:
    """The random choices for n samples (``None`` where the augmentation has none).

    Attributes
    ----------
    offsets : torch.Tensor or None
        ``int64 (n, 2)``: top and left corner of each crop in the zero-padded image,
        in ``range(2*padding + 1)``.
    flips : torch.Tensor or None
        ``bool (n,)``: mirror the image left-right.
    seeds : torch.Tensor or None
        ``int64 (n,)``: the seed of each sample's AutoAugment draw.
    """

    offsets: torch.Tensor | None = None
    flips: torch.Tensor | None = None
    seeds: torch.Tensor | None = None


def check_kind(kind: Any) -> str:
    """Return ``kind`` after checking it is one of :data:`AUGMENTATIONS`.

    Raises
    ------
    TypeError, ValueError
        If ``kind`` is not a str or not a known augmentation.
    """
    if not isinstance(kind, str):
        raise TypeError(f"augment must be a str, got {type(kind).__name__}")
    if kind not in AUGMENTATIONS:
        raise ValueError(
            f"augment must be one of {', '.join(map(repr, AUGMENTATIONS))}, "
            f"got {kind!r}"
        )
    return kind


def crop_padding(image_size: int) -> int:
    """The zero padding of the random crop for square images of side ``image_size``.

    4 pixels for 32x32 and larger images (the CIFAR-10 and GTSRB baselines of the
    paper), 2 for MNIST-sized images (16 to 31 pixels), 1 for smaller ones (digits).
    The paper's MNIST schedule sets 4 explicitly, as the DPA reference code
    (:func:`ldcbook.ensemble.baseline`); the book's CPU scales keep this default.

    Parameters
    ----------
    image_size : int

    Returns
    -------
    int
    """
    image_size = check_int("image_size", image_size, min_value=1)
    if image_size >= 32:
        return 4
    if image_size >= 16:
        return 2
    return 1


def draw(n: int, kind: str, padding: int, generator: torch.Generator) -> AugmentParams:
    """Draw the random choices of ``n`` samples from one model's generator.

    Serves :mod:`ldcbook.ensemble`. The draws happen in a fixed
    order (crop offsets, then flips, then AutoAugment seeds), each only when ``kind``
    needs it, so that the same generator state always gives the same parameters.

    Parameters
    ----------
    n : int
        Number of samples, ``>= 0``.
    kind : str
        One of :data:`AUGMENTATIONS`.
    padding : int
        Zero padding of the random crop (ignored unless ``kind`` crops).
    generator : torch.Generator
        A CPU generator that belongs to one model.

    Returns
    -------
    AugmentParams
    """
    n = check_int("n", n, min_value=0)
    kind = check_kind(kind)
    padding = check_int("padding", padding, min_value=0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator)}")
    offsets = flips = seeds = None
    if kind in ("crop", "cropflip"):
        offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    if kind in ("flip", "cropflip"):
        flips = torch.randint(0, 2, (n,), generator=generator).bool()
    if kind in _POLICIES:
        seeds = torch.randint(0, SEED_BOUND, (n,), generator=generator)
    return AugmentParams(offsets, flips, seeds)


def pad(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad both spatial axes of ``(N, C, H, W)`` images by ``padding`` pixels.

    The padding of the paper's random-crop baseline (``torchvision`` ``RandomCrop``
    with ``padding``, constant fill 0).
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise TypeError("x must be a tensor of shape (N, C, H, W)")
    padding = check_int("padding", padding, min_value=0)
    if padding == 0:
        return x
    return F.pad(x, (padding, padding, padding, padding))


class CropSource:
    """A set of images, ready to be cropped and flipped many times by indexing a view.

    The random crop and flip of the paper's baseline augmentation (``ALGORITHMS.md``,
    "Base learners"), as used by :mod:`ldcbook.ensemble` at every step.

    Holds the zero-padded images (and, if ``flip``, their mirror images) and a strided
    view of shape ``(N', C, 2p+1, 2p+1, H, W)`` whose entry ``[n, :, i, j]`` is the crop
    of image ``n`` at offset ``(i, j)``; a batch of crops is one advanced-indexing
    copy. Cropping a mirrored image at column offset ``2p - j`` gives the mirror of
    the crop at ``j``, so flips are crops of the mirrored copy.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` images of any dtype.
    padding : int
        Zero padding ``p`` on every side.
    flip : bool
        Keep mirrored copies too (doubles the memory).
    prepadded : bool
        ``x`` is already padded, ``(N, C, H + 2p, W + 2p)`` (for example padded with
        zeros and then normalised, so that the border holds the normalised zero).
    """

    def __init__(
        self, x: torch.Tensor, padding: int, flip: bool, prepadded: bool = False
    ) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise TypeError("x must be a tensor of shape (N, C, H, W)")
        self.padding = check_int("padding", padding, min_value=0)
        self.n = x.shape[0]
        p2 = 2 * self.padding if prepadded else 0
        self.size = (x.shape[2] - p2, x.shape[3] - p2)
        if min(self.size) < 1:
            raise ValueError(
                f"x of shape {tuple(x.shape)} is too small for padding {padding}"
            )
        xp = x if prepadded else pad(x, self.padding)
        self.source = torch.cat([xp, xp.flip(-1)]) if flip else xp.contiguous()
        self.flip = bool(flip)
        self.view = self.source.unfold(2, self.size[0], 1).unfold(3, self.size[1], 1)

    def take(
        self,
        rows: torch.Tensor,
        offsets: torch.Tensor | None = None,
        flips: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Crop images ``rows`` at ``offsets`` and mirror those with ``flips``.

        ``out[m, c, i, j] = padded[rows[m], c, offsets[m, 0] + i, offsets[m, 1] + j]``,
        with ``j`` replaced by ``W - 1 - j`` where ``flips[m]``.

        Parameters
        ----------
        rows : torch.Tensor
            int64 ``(M,)`` image indices.
        offsets : torch.Tensor, optional
            int64 ``(M, 2)`` in ``range(2p + 1)``; default the centre (no shift).
        flips : torch.Tensor, optional
            bool ``(M,)``; needs ``flip=True`` at construction.

        Returns
        -------
        torch.Tensor
            ``(M, C, H, W)``.
        """
        device = self.source.device
        rows = rows.to(device)
        if offsets is None:
            oy = ox = torch.full_like(rows, self.padding)
        else:
            offsets = offsets.to(device)
            oy, ox = offsets[:, 0], offsets[:, 1]
        if flips is not None:
            if not self.flip:
                raise ValueError("this CropSource was built without flip=True")
            flips = flips.to(device)
            rows = rows + self.n * flips.long()
            ox = torch.where(flips, 2 * self.padding - ox, ox)
        return self.view[rows, :, oy, ox]

    def to(self, device: torch.device | str) -> CropSource:
        """Move the images to ``device`` (in place); return ``self``."""
        self.source = self.source.to(device)
        self.view = self.source.unfold(2, self.size[0], 1).unfold(3, self.size[1], 1)
        return self


@lru_cache(maxsize=None)
def _auto_augment_transform(kind: str) -> Any:
    from torchvision.transforms import v2

    return v2.AutoAugment(getattr(v2.AutoAugmentPolicy, _POLICIES[kind]))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _uniforms(seeds: np.ndarray, count: int) -> np.ndarray:
    """``(N, count)`` uniforms in [0, 1); entry ``[n, j]`` depends on ``seeds[n], j``.

    SplitMix64 (Steele, Lea & Flood 2014): the ``j+1``-th output of the generator
    started at ``seeds[n]``, vectorised over the images; 53 bits per float.
    """
    z = seeds.astype(np.uint64)[:, None] + _GOLDEN * np.arange(1, count + 1,
                                                              dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True)
class AutoAugmentDraw:
    """The random choices of AutoAugment for N images (no image data).

    Attributes
    ----------
    policy : numpy.ndarray
        ``int64 (N,)``: the sub-policy of each image, an index into the policy's list.
    applied : numpy.ndarray
        ``bool (N, 2)``: whether each of the sub-policy's two operations applies
        (probability: the operation's own, as in the policy).
    negated : numpy.ndarray
        ``bool (N, 2)``: whether a signed operation's magnitude is negated
        (probability 1/2; ignored for unsigned operations).
    """

    policy: np.ndarray
    applied: np.ndarray
    negated: np.ndarray


def auto_augment_draw(kind: str, seeds: Any) -> AutoAugmentDraw:
    """AutoAugment's random choices for each image, from that image's seed alone.

    Serves :func:`auto_augment`. The choices of image ``n`` are a fixed function of
    ``seeds[n]`` (five SplitMix64 uniforms: the sub-policy, the two apply/skip coins
    and the two signs, drawn as torchvision's :class:`~torchvision.transforms.v2.
    AutoAugment` draws them, but from the image's own counter-based stream instead of
    torch's global generator), so they do not depend on the batch, its order or its
    device.

    Parameters
    ----------
    kind : {"autoaugment-cifar10", "autoaugment-imagenet", "autoaugment-svhn"}
        The policy.
    seeds : torch.Tensor or array_like of int
        ``(N,)`` non-negative seeds, e.g. from :func:`draw`.

    Returns
    -------
    AutoAugmentDraw
    """
    if kind not in _POLICIES:
        names = ", ".join(map(repr, _POLICIES))
        raise ValueError(f"kind must be one of {names}, got {kind!r}")
    s = seeds.cpu().numpy() if isinstance(seeds, torch.Tensor) else np.asarray(seeds)
    if s.ndim != 1 or s.dtype.kind not in "iu" or (s.size and s.min() < 0):
        raise ValueError("seeds must be a 1-d array of non-negative integers")
    policies = _auto_augment_transform(kind)._policies
    u = _uniforms(s, 5)
    policy = np.minimum((u[:, 0] * len(policies)).astype(np.int64), len(policies) - 1)
    prob = np.array([[p for _, p, _ in sub] for sub in policies])[policy]
    return AutoAugmentDraw(policy=policy, applied=u[:, 1:3] < prob,
                           negated=u[:, 3:5] < 0.5)


@lru_cache(maxsize=None)
def _op_table(kind: str, height: int, width: int) -> tuple[list, np.ndarray]:
    """The distinct (operation, magnitude) pairs of a policy, and the lookup
    ``table[stage, sub-policy, negated]`` -> pair index (-1: identity)."""
    transform = _auto_augment_transform(kind)
    ops: list[tuple[str, float]] = []
    table = np.full((2, len(transform._policies), 2), -1, dtype=np.int64)
    for i, sub in enumerate(transform._policies):
        for stage, (name, _, m_idx) in enumerate(sub):
            magnitudes_fn, signed = transform._AUGMENTATION_SPACE[name]
            magnitudes = magnitudes_fn(10, height, width)
            magnitude = 0.0 if magnitudes is None else float(magnitudes[m_idx])
            if name == "Identity":
                continue
            for neg in (0, 1):
                value = -magnitude if neg and signed else magnitude
                if (name, value) not in ops:
                    ops.append((name, value))
                table[stage, i, neg] = ops.index((name, value))
    return ops, table


def auto_augment(
    x: torch.Tensor,
    kind: str,
    seeds: torch.Tensor,
    params: AutoAugmentDraw | None = None,
) -> torch.Tensor:
    """Torchvision's AutoAugment on each image, with the image's own seed, batched.

    The augmentation of the LDC paper's augmented base learners ("aug0" = CIFAR10
    policy, "aug1" = IMAGENET policy, SVHN policy on GTSRB; ``ALGORITHMS.md``).

    Each image's choices (sub-policy, apply/skip coins, signs) come from its own seed
    (:func:`auto_augment_draw`). AutoAugment's magnitudes are fixed per sub-policy,
    so the images are then grouped by (operation, magnitude), first for the
    sub-policies' first operations, then for their second, and each group goes
    through torchvision's operation once, as one batched tensor on the device of
    ``x``. Torchvision's operations treat the images of a batch independently (no
    statistic crosses images), so on the CPU an image's result is the same, bit for
    bit, as torchvision's AutoAugment applied to that image alone with the same
    choices, whatever the batch (``tests/test_augment.py``). On a GPU the float
    operations may round differently from the CPU, still per image.

    Parameters
    ----------
    x : torch.Tensor
        ``uint8 (N, C, H, W)`` images with C in {1, 3}, on any device.
    kind : {"autoaugment-cifar10", "autoaugment-imagenet", "autoaugment-svhn"}
        The policy.
    seeds : torch.Tensor
        ``int64 (N,)`` seeds, e.g. from :func:`draw`.
    params : AutoAugmentDraw, optional
        The choices to apply (default ``auto_augment_draw(kind, seeds)``).

    Returns
    -------
    torch.Tensor
        ``uint8 (N, C, H, W)`` on the device of ``x``.
    """
    if kind not in _POLICIES:
        names = ", ".join(map(repr, _POLICIES))
        raise ValueError(f"kind must be one of {names}, got {kind!r}")
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
        raise TypeError("x must be a uint8 tensor of shape (N, C, H, W)")
    if not isinstance(seeds, torch.Tensor) or seeds.shape != (x.shape[0],):
        raise ValueError(f"seeds must be a tensor of shape ({x.shape[0]},)")
    if params is None:
        params = auto_augment_draw(kind, seeds)
    elif not isinstance(params, AutoAugmentDraw) or params.policy.shape != (len(x),):
        raise ValueError(f"params must be an AutoAugmentDraw for {len(x)} images")
    transform = _auto_augment_transform(kind)
    ops, table = _op_table(kind, x.shape[2], x.shape[3])
    order = np.arange(len(x))  # out[i] holds image order[i]
    out = x  # index_select copies: x is never written
    for stage in (0, 1):
        code = table[stage, params.policy, params.negated[:, stage].astype(np.int64)]
        code = np.where(params.applied[:, stage], code, -1)[order]
        perm = np.argsort(code, kind="stable")  # group the images by operation
        out = out.index_select(0, torch.from_numpy(perm).to(x.device))
        order, code = order[perm], code[perm]
        bounds = np.flatnonzero(np.diff(code)) + 1
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(code)]):
            if code[a] >= 0:
                out[a:b] = _apply_op(out[a:b], *ops[code[a]], transform)
    inverse = torch.from_numpy(np.argsort(order)).to(x.device)
    return out.index_select(0, inverse)


def _sharpness(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Torchvision's ``adjust_sharpness`` of uint8 images, bit for bit, faster.

    Torchvision blurs with a float 3x3 depthwise convolution (weights 1/13, centre
    5/13) and rounds. On integer pixels the blurred value is q/13 for an integer q,
    never within 1/26 of a half, far beyond float32's rounding error, so the rounded
    blur is exactly ``floor((2q + 13) / 26)``, computed here in integers; the blend
    that follows is torchvision's own sequence of float32 operations.
    """
    if x.shape[-1] <= 2 or x.shape[-2] <= 2 or x.numel() == 0:
        return x
    xi = x.to(torch.int32)
    h, w = x.shape[-2] - 2, x.shape[-1] - 2
    q = 4 * xi[..., 1:-1, 1:-1]
    for i in range(3):
        for j in range(3):
            q = q + xi[..., i:i + h, j:j + w]
    blurred = torch.div(2 * q + 13, 26, rounding_mode="floor").to(torch.float32)
    output = x.to(torch.float32)
    view = output[..., 1:-1, 1:-1]
    view.add_(blurred.sub_(view), alpha=1.0 - factor)
    return output.clamp_(0, 255).to(torch.uint8)


def _apply_op(
    x: torch.Tensor, name: str, magnitude: float, transform: Any
) -> torch.Tensor:
    """One AutoAugment operation on a batch of uint8 images, as torchvision applies it.

    Sharpness and Solarize have exact integer shortcuts (the same bytes, tested);
    every other operation is torchvision's own.
    """
    if name == "Sharpness":
        return _sharpness(x, 1.0 + magnitude)
    if name == "Solarize":  # torch compares uint8 pixels with the float32 threshold
        threshold = math.ceil(np.float32(255 * magnitude))
        return torch.where(x >= threshold, 255 - x, x) if threshold <= 255 else x
    return transform._apply_image_or_video_transform(
        x, name, magnitude, interpolation=transform.interpolation, fill=transform._fill)


def apply(
    x: torch.Tensor, kind: str, params: AugmentParams, padding: int = 0
) -> torch.Tensor:
    """Augment images with given random choices (no randomness of its own).

    The deterministic half of :func:`augment`.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` images: ``uint8`` for AutoAugment, any dtype for crop/flip.
    kind : str
        One of :data:`AUGMENTATIONS`.
    params : AugmentParams
        From :func:`draw` with the same ``kind`` and ``N``.
    padding : int
        Zero padding of the crop (the ``padding`` given to :func:`draw`).

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` augmented images.
    """
    kind = check_kind(kind)
    if not isinstance(params, AugmentParams):
        raise TypeError(f"params must be an AugmentParams, got {type(params).__name__}")
    padding = check_int("padding", padding, min_value=0)
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise TypeError("x must be a tensor of shape (N, C, H, W)")
    if kind == "none":
        return x
    if kind in _POLICIES:
        if params.seeds is None:
            raise ValueError(f"params.seeds is needed for augment={kind!r}")
        return auto_augment(x, kind, params.seeds)
    if kind != "flip" and params.offsets is None:
        raise ValueError(f"params.offsets is needed for augment={kind!r}")
    if kind != "crop" and params.flips is None:
        raise ValueError(f"params.flips is needed for augment={kind!r}")
    source = CropSource(x, padding if kind != "flip" else 0, flip=kind != "crop")
    rows = torch.arange(x.shape[0], device=x.device)
    return source.take(
        rows,
        params.offsets if kind != "flip" else None,
        params.flips if kind != "crop" else None,
    )


def augment(
    x: torch.Tensor, kind: str, generator: torch.Generator, padding: int | None = None
) -> torch.Tensor:
    """Augment a batch, each sample independently, from one model's generator.

    Serves the experiment chapters and :mod:`ldcbook.ensemble`:
    random crop with zero padding, horizontal flip, or torchvision's AutoAugment
    (policies CIFAR10, IMAGENET, SVHN). Equivalent to
    ``apply(x, kind, draw(len(x), kind, padding, generator), padding)``.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, H, W)`` images (``uint8`` for AutoAugment).
    kind : str
        One of :data:`AUGMENTATIONS`.
    generator : torch.Generator
        The model's own generator.
    padding : int, optional
        Crop padding; default :func:`crop_padding` of the image height.

    Returns
    -------
    torch.Tensor
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise TypeError("x must be a tensor of shape (N, C, H, W)")
    if padding is None:
        padding = crop_padding(x.shape[2])
    params = draw(x.shape[0], kind, padding, generator)
    return apply(x, kind, params, padding)


def _augment_block(x: np.ndarray, kind: str, seeds: np.ndarray) -> np.ndarray:
    """Worker task: :func:`auto_augment` on a block of images (numpy in and out)."""
    torch.set_num_threads(1)
    out = auto_augment(torch.from_numpy(x), kind, torch.from_numpy(seeds))
    return out.numpy()


class _Done:
    """A finished result with the interface of a future."""

    def __init__(self, value: torch.Tensor) -> None:
        self.value = value

    def result(self) -> torch.Tensor:
        return self.value


class _Gathered:
    """The blocks of one call, concatenated when asked for."""

    def __init__(self, futures: list[Future]) -> None:
        self.futures = futures

    def result(self) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([f.result() for f in self.futures]))


class AutoAugmentPool:
    """AutoAugment in worker processes, each image with its own seed.

    Serves :mod:`ldcbook.ensemble` at full scale: with workers, the augmentation of
    the next step's images overlaps the current step's training. :meth:`submit`
    splits the images into one block per worker and returns at once; ``.result()``
    gives exactly what :func:`auto_augment` gives on the CPU, whatever the number of
    workers. With ``workers=0`` :func:`auto_augment` runs in the calling process, on
    the device of the images.

    Parameters
    ----------
    kind : str
        An AutoAugment kind of :data:`AUGMENTATIONS`.
    workers : int
        Worker processes (``forkserver`` start: no state is shared with the trainer
        but the arguments of each call).
    """

    def __init__(self, kind: str, workers: int) -> None:
        if kind not in _POLICIES:
            names = ", ".join(map(repr, _POLICIES))
            raise ValueError(f"kind must be one of {names}, got {kind!r}")
        self.kind = kind
        self.workers = check_int("workers", workers, min_value=0)
        self._pool: ProcessPoolExecutor | None = None
        if self.workers:
            method = ("forkserver" if "forkserver" in
                      multiprocessing.get_all_start_methods() else "spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method)
            )

    def submit(self, x: torch.Tensor, seeds: torch.Tensor) -> Any:
        """Start augmenting ``x`` (uint8 ``(N, C, H, W)``) with ``seeds`` ``(N,)``."""
        if self._pool is None or len(x) < 2:
            return _Done(auto_augment(x, self.kind, seeds))
        x_np, s_np = x.cpu().numpy(), seeds.cpu().numpy()
        bounds = np.linspace(0, len(x_np), min(self.workers, len(x_np)) + 1).astype(int)
        futures = [
            self._pool.submit(_augment_block, x_np[a:b], self.kind, s_np[a:b])
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        return _Gathered(futures)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> AutoAugmentPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
