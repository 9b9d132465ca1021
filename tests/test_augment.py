"""Tests for ldcbook.augment: per-model random streams, crops, flips, AutoAugment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from ldcbook.augment import (
    AUGMENTATIONS,
    AugmentParams,
    AutoAugmentPool,
    CropSource,
    apply,
    augment,
    auto_augment,
    crop_padding,
    draw,
    pad,
)


def _images(n: int, c: int = 1, side: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, side, side), dtype=torch.uint8, generator=g)


def _crop_by_hand(x: torch.Tensor, p: int, offsets, flips) -> torch.Tensor:
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p)))
    h, w = x.shape[2:]
    out = []
    for n in range(len(x)):
        oy, ox = (p, p) if offsets is None else [int(v) for v in offsets[n]]
        crop = xp[n, :, oy : oy + h, ox : ox + w]
        if flips is not None and bool(flips[n]):
            crop = crop[:, :, ::-1]
        out.append(crop)
    return torch.from_numpy(np.stack(out))


def test_crop_padding_by_image_size():
    assert [crop_padding(s) for s in (8, 15, 16, 28, 32, 48)] == [1, 1, 2, 2, 4, 4]
    with pytest.raises(ValueError, match="image_size"):
        crop_padding(0)


@pytest.mark.parametrize("kind", ["crop", "flip", "cropflip"])
def test_crop_and_flip_match_a_loop_over_images(kind):
    x = _images(40, c=3, side=7)
    g = torch.Generator().manual_seed(1)
    params = draw(len(x), kind, 2, g)
    out = apply(x, kind, params, 2)
    p = 0 if kind == "flip" else 2
    assert torch.equal(out, _crop_by_hand(x, p, params.offsets, params.flips))
    # the same on float images, and through a prepadded source
    outf = apply(x.float(), kind, params, 2)
    assert torch.equal(outf, out.float())
    src = CropSource(pad(x, p).float(), p, flip=kind != "crop", prepadded=True)
    rows = torch.arange(len(x))
    assert torch.equal(src.take(rows, params.offsets, params.flips), out.float())


def test_crop_source_takes_any_rows_and_the_centre_by_default():
    x = _images(10, c=2, side=6)
    src = CropSource(x, 3, flip=True)
    rows = torch.tensor([4, 4, 0, 9])
    assert torch.equal(src.take(rows), x[rows])
    flips = torch.tensor([True, False, True, False])
    expected = _crop_by_hand(x[rows], 0, None, flips)
    assert torch.equal(src.take(rows, None, flips), expected)
    with pytest.raises(ValueError, match="flip=True"):
        CropSource(x, 1, flip=False).take(rows, None, flips)


def test_draws_are_a_function_of_the_generator_state_only():
    a = draw(50, "cropflip", 4, torch.Generator().manual_seed(5))
    b = draw(50, "cropflip", 4, torch.Generator().manual_seed(5))
    c = draw(50, "cropflip", 4, torch.Generator().manual_seed(6))
    assert torch.equal(a.offsets, b.offsets) and torch.equal(a.flips, b.flips)
    assert not torch.equal(a.offsets, c.offsets)
    assert a.seeds is None and draw(3, "none", 1, torch.Generator()).offsets is None
    s = draw(20, "autoaugment-svhn", 0, torch.Generator().manual_seed(0)).seeds
    assert s.shape == (20,) and s.dtype == torch.int64 and len(set(s.tolist())) == 20


def test_crop_offsets_and_flips_are_uniform():
    """Each offset in range(2p+1) and each flip has its probability, within 4 s.e."""
    n, p = 20000, 2
    params = draw(n, "cropflip", p, torch.Generator().manual_seed(3))
    values = 2 * p + 1
    counts = np.bincount(params.offsets.reshape(-1).numpy(), minlength=values)
    prob = 1 / values
    se = np.sqrt(prob * (1 - prob) / (2 * n))
    assert np.all(np.abs(counts / (2 * n) - prob) < 4 * se)
    frac = params.flips.float().mean().item()
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / n)


@pytest.mark.parametrize("kind", ["autoaugment-cifar10", "autoaugment-imagenet",
                                  "autoaugment-svhn"])
def test_auto_augment_is_torchvision_seeded_per_image(kind):
    x = _images(6, c=3, side=16, seed=2)
    seeds = torch.tensor([11, 12, 13, 14, 15, 16])
    state = torch.get_rng_state()
    out = auto_augment(x, kind, seeds)
    assert torch.equal(torch.get_rng_state(), state)  # global stream untouched
    policy = getattr(v2.AutoAugmentPolicy, kind.split("-")[1].upper())
    transform = v2.AutoAugment(policy)
    for n in range(len(x)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seeds[n]))
            assert torch.equal(out[n], transform(x[n]))
    # an image's result does not depend on the other images of the batch
    again = auto_augment(x[[4, 1]], kind, seeds[[4, 1]])
    assert torch.equal(again, out[[4, 1]])


def test_auto_augment_varies_across_seeds_and_handles_grey_images():
    x = _images(1, c=1, side=12, seed=4).expand(40, -1, -1, -1).contiguous()
    out = auto_augment(x, "autoaugment-cifar10", torch.arange(40))
    distinct = {tuple(o.reshape(-1).tolist()) for o in out}
    assert len(distinct) > 5
    assert out.dtype == torch.uint8 and out.shape == x.shape


def test_augment_equals_draw_then_apply():
    x = _images(8)
    for kind in AUGMENTATIONS:
        a = augment(x, kind, torch.Generator().manual_seed(9), padding=1)
        params = draw(8, kind, 1, torch.Generator().manual_seed(9))
        assert torch.equal(a, apply(x, kind, params, 1))
    assert torch.equal(augment(x, "none", torch.Generator()), x)


def test_bad_arguments_raise():
    x = _images(2)
    with pytest.raises(ValueError, match="augment must be one of"):
        draw(2, "rotate", 1, torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        draw(2, "crop", 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="offsets"):
        apply(x, "crop", AugmentParams(), 1)
    with pytest.raises(TypeError, match="uint8"):
        auto_augment(x.float(), "autoaugment-svhn", torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="seeds"):
        auto_augment(x, "autoaugment-svhn", torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"\(N, C, H, W\)"):
        augment(x[0], "crop", torch.Generator())


def test_autoaugment_pool_gives_auto_augment_whatever_the_split():
    x = torch.randint(0, 256, (13, 3, 12, 12), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(3))
    seeds = torch.arange(13) * 7919
    ref = auto_augment(x, "autoaugment-cifar10", seeds)
    for workers in (0, 3):
        with AutoAugmentPool("autoaugment-cifar10", workers) as pool:
            assert torch.equal(pool.submit(x, seeds).result(), ref)
    with pytest.raises(ValueError, match="kind"):
        AutoAugmentPool("crop", 1)
