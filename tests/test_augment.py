"""Tests for ldcbook.augment: per-model random streams, crops, flips, AutoAugment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from ldcbook import augment as aug

from ldcbook.augment import (
    AUGMENTATIONS,
    AugmentParams,
    AutoAugmentDraw,
    AutoAugmentPool,
    CropSource,
    apply,
    augment,
    auto_augment,
    auto_augment_draw,
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


KINDS = ["autoaugment-cifar10", "autoaugment-imagenet", "autoaugment-svhn"]


def _torchvision_alone(image, kind, policy, applied, negated, monkeypatch):
    """Torchvision's own AutoAugment.forward on one image, its random draws replaced
    by the given choices (torch.randint -> the sub-policy, torch.rand -> coins)."""
    transform = v2.AutoAugment(getattr(v2.AutoAugmentPolicy, kind.split("-")[1].upper()))
    coins = []
    for stage, (name, _, _) in enumerate(transform._policies[policy]):
        coins.append(0.0 if applied[stage] else 1.0)  # rand <= p: apply
        magnitudes_fn, signed = transform._AUGMENTATION_SPACE[name]
        if applied[stage] and signed and magnitudes_fn(10, 8, 8) is not None:
            coins.append(0.0 if negated[stage] else 1.0)  # rand <= 0.5: negate
    draws = iter(coins)
    with monkeypatch.context() as m:
        m.setattr(torch, "randint", lambda *a, **k: torch.tensor(policy))
        m.setattr(torch, "rand", lambda *a, **k: torch.tensor(next(draws)))
        out = transform(image)
    assert next(draws, None) is None  # torchvision drew exactly these
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (3, 13, 9)])
def test_auto_augment_is_torchvision_per_image_bit_for_bit(kind, shape, monkeypatch):
    n = 120
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    x[:4] = 9  # constant images (Equalize, AutoContrast and Sharpness edge cases)
    seeds = torch.randint(0, aug.SEED_BOUND, (n,), generator=g)
    state = torch.get_rng_state()
    out = auto_augment(x, kind, seeds)
    assert torch.equal(torch.get_rng_state(), state)  # global stream untouched
    p = auto_augment_draw(kind, seeds)
    assert p.applied.any(axis=0).all()  # both stages used
    for i in range(n):
        ref = _torchvision_alone(x[i], kind, int(p.policy[i]), p.applied[i],
                                 p.negated[i], monkeypatch)
        assert torch.equal(out[i], ref), i


@pytest.mark.parametrize("kind", KINDS)
def test_every_operation_of_a_policy_is_torchvision_s(kind):
    """Each (operation, magnitude) of the policy, including the integer shortcuts of
    Sharpness and Solarize, gives torchvision's bytes on awkward images."""
    x = _images(40, c=3, side=10, seed=7)
    x[:3] = 0
    x[3:6] = 255
    x[6:9] = torch.tensor([0, 255], dtype=torch.uint8)[torch.randint(0, 2, (3, 3, 10, 10))]
    tiny = _images(5, c=1, side=2, seed=8)
    transform = aug._auto_augment_transform(kind)
    for images in (x, tiny):
        ops, _ = aug._op_table(kind, *images.shape[2:])
        for name, magnitude in ops:
            ours = aug._apply_op(images, name, magnitude, transform)
            ref = torch.stack([transform._apply_image_or_video_transform(
                img, name, magnitude, interpolation=transform.interpolation,
                fill=transform._fill) for img in images])
            assert torch.equal(ours, ref), (name, magnitude)


def test_solarize_compares_with_torch_s_float32_threshold():
    """255 * 2/3 is 170.0000051 in float64 but 170 in float32: pixel 170 flips."""
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    transform = aug._auto_augment_transform("autoaugment-svhn")
    m = float(torch.linspace(1.0, 0.0, 10)[3])  # the policy's magnitude bin 3
    assert 255 * m > 170 and int(aug._apply_op(x, "Solarize", m, transform)[0, 0, 10, 10]) == 85


def test_auto_augment_draw_depends_on_each_image_s_seed_only():
    seeds = torch.randint(0, aug.SEED_BOUND, (50,), generator=torch.Generator().manual_seed(1))
    for kind in KINDS:
        full = auto_augment_draw(kind, seeds)
        order = np.random.default_rng(2).permutation(50)[:17]
        part = auto_augment_draw(kind, seeds[order])
        for field in ("policy", "applied", "negated"):
            assert np.array_equal(getattr(part, field), getattr(full, field)[order])
    x = _images(50, c=3, side=12, seed=3)
    out = auto_augment(x, "autoaugment-imagenet", seeds)
    assert torch.equal(auto_augment(x[order], "autoaugment-imagenet", seeds[order]),
                       out[order])


def test_auto_augment_draw_follows_the_policy_s_probabilities():
    n = 40_000
    seeds = torch.arange(n) * 1_000_003  # structured seeds: the mixer must decorrelate
    for kind in KINDS:
        p = auto_augment_draw(kind, seeds)
        policies = aug._auto_augment_transform(kind)._policies
        counts = np.bincount(p.policy, minlength=len(policies))
        expect = n / len(policies)
        assert np.all(np.abs(counts - expect) < 4 * np.sqrt(expect))
        prob = np.array([[q for _, q, _ in sub] for sub in policies])[p.policy]
        dev = (p.applied - prob).sum(axis=0)
        assert np.all(np.abs(dev) < 4 * np.sqrt((prob * (1 - prob)).sum(axis=0)))
        assert not p.applied[prob == 0].any() and p.applied[prob == 1].all()
        assert np.all(np.abs(p.negated.mean(axis=0) - 0.5) < 4 * np.sqrt(0.25 / n))
        # the coins of one image are independent of each other
        both = np.mean(p.negated[:, 0] & p.negated[:, 1])
        assert abs(both - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)


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
    with pytest.raises(ValueError, match="params"):
        auto_augment(x, "autoaugment-svhn", torch.zeros(2, dtype=torch.int64),
                     auto_augment_draw("autoaugment-svhn", [1, 2, 3]))
    with pytest.raises(ValueError, match="non-negative"):
        auto_augment_draw("autoaugment-svhn", [1, -2])
    with pytest.raises(ValueError, match="kind"):
        auto_augment_draw("crop", [1])
    assert isinstance(auto_augment_draw("autoaugment-svhn", [1]), AutoAugmentDraw)
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
