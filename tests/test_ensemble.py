"""Tests for ldcbook.ensemble: batched training that keeps every model on its own.

The properties ALGORITHMS.md asks for ("Training many base models at once"): each
model depends on its own partition only (changing one partition changes exactly one
model's scores, bit for bit on the CPU), runs its own schedule (the batched ensemble
matches one-at-a-time training up to rounding), and a seed fixes everything.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ldcbook.data import load
from ldcbook.ensemble import (
    TrainConfig,
    accuracy,
    baseline,
    fit_scores,
    init_models,
    ldc,
    model_seed,
    normalise,
    predict_scores,
    preset,
    resolve_group_size,
    train_ensemble,
    train_one_at_a_time,
    votes,
)
from ldcbook.partition import partitions

K = 6


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-for-bit claims are made for one thread
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def parts(digits):
    return partitions(digits, K)


def _config(model: str = "cnn", **kw) -> TrainConfig:
    fields = dict(model=model, epochs=2, batch_size=16, lr=0.05, augment="cropflip",
                  seed=11, device="cpu")
    fields.update(kw)
    return TrainConfig(**fields)


@pytest.fixture(scope="module")
def cnn_scores(digits, parts):
    return fit_scores(digits, parts, range(K), _config())


# ------------------------------------------------------------------ configuration


def test_learning_rate_decays_after_30_60_80_percent_of_the_epochs():
    cfg = _config(epochs=10, lr=0.1, gamma=0.2)
    assert cfg.milestone_epochs() == (4, 7, 9)  # decayed after epochs 3, 6 and 8
    lrs = [cfg.lr_at(e) for e in range(10)]
    expected = [0.1] * 4 + [0.02] * 3 + [0.004] * 2 + [0.0008]
    assert np.allclose(lrs, expected, rtol=1e-12)
    # the paper's 200 epochs: as the reference code, epochs 61, 121, 161 are the
    # first with the rate times 0.2, 0.04, 0.008
    full = _config(epochs=200, lr=0.1)
    assert full.milestone_epochs() == (61, 121, 161)
    assert [full.lr_at(e) for e in (60, 61)] == [0.1, 0.1 * 0.2]


def test_presets_follow_the_paper():
    b = baseline("cifar10")
    assert (b.model, b.epochs, b.batch_size, b.lr, b.momentum, b.weight_decay) == (
        "nin", 200, 128, 0.1, 0.9, 5e-4)
    assert b.nesterov and b.milestones == (0.3, 0.6, 0.8) and b.gamma == 0.2
    assert b.augment == "cropflip" and baseline("mnist").augment == "crop"
    assert baseline("mnist").crop_padding == 4 and b.crop_padding is None  # reference
    assert preset("baseline", "mnist5k", "cnn", scale="default").crop_padding is None
    assert baseline("gtsrb").augment == "crop"
    a = ldc("cifar10")
    assert (a.epochs, a.batch_size, a.lr, a.augment) == (600, 16, 0.005,
                                                         "autoaugment-cifar10")
    assert ldc("cifar10", policy="imagenet").augment == "autoaugment-imagenet"
    assert ldc("gtsrb").epochs == 1000 and ldc("gtsrb").augment == "autoaugment-svhn"
    assert preset("baseline", "cifar10", "nin", scale="full") == b
    smoke = preset("baseline", "mnist5k", "cnn", scale="smoke")
    default = preset("baseline", "mnist5k", "cnn", scale="default")
    assert smoke.epochs < default.epochs < b.epochs
    ldc_mlp = preset("ldc", "mnist5k", "mlp", scale="default")
    assert ldc_mlp.augment == "autoaugment-svhn"
    with pytest.raises(ValueError, match="schedule"):
        preset("fast", "mnist5k", "cnn")
    with pytest.raises(ValueError, match="dataset"):
        baseline("imagenet")


def test_config_validation_and_round_trip():
    cfg = _config(milestones=[0.5])
    assert cfg.milestones == (0.5,)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    for bad, match in [(dict(model="vgg"), "model"), (dict(epochs=0), "epochs"),
                       (dict(lr=0.0), "lr"), (dict(augment="mixup"), "augment"),
                       (dict(milestones=(1.5,)), "milestones"),
                       (dict(device="tpu:x"), "device"),
                       (dict(precision="fp16"), "precision")]:
        with pytest.raises(ValueError, match=match):
            _config(**bad)
    with pytest.raises(TypeError, match="nesterov"):
        _config(nesterov=1)
    with pytest.raises(TypeError, match="deterministic"):
        _config(deterministic="yes")
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({**cfg.to_dict(), "warmup": 5})


def test_model_seeds_are_distinct_and_reproducible():
    seeds = {model_seed(s, i, t) for s in (0, 1) for i in range(50) for t in (0, 1)}
    assert len(seeds) == 200
    assert model_seed(3, 4) == model_seed(3, 4) and 0 <= model_seed(3, 4) < 2**63
    a = init_models(_config(), [0, 1], 1, 10, 8)
    b = init_models(_config(), [1], 1, 10, 8)
    assert all(torch.equal(p, q) for p, q in zip(a[1].parameters(), b[0].parameters()))
    assert not torch.equal(next(a[0].parameters()), next(a[1].parameters()))


def test_normalise_is_per_channel():
    x = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    mean, std = torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.2, 0.3, 0.4])
    m, s = mean.double()[:, None, None], std.double()[:, None, None]
    ref = (x.double() / 255 - m) / s
    assert torch.allclose(normalise(x, mean, std).double(), ref, atol=1e-5)


def test_group_size_comes_from_the_configuration_and_device_kind():
    mlp, cnn = _config("mlp", batch_size=16), _config("cnn", batch_size=16)
    assert resolve_group_size(mlp, (1, 28, 28), 50) == 50
    g = resolve_group_size(cnn, (1, 28, 28), 50)
    assert 1 <= g < 50
    # an explicit size wins (capped by the number of models); the device kind, not
    # its free memory, sets the budget, so this needs no GPU
    assert resolve_group_size(cnn.replace(group_size=7), (1, 28, 28), 50) == 7
    assert resolve_group_size(cnn.replace(group_size=70), (1, 28, 28), 50) == 50
    assert resolve_group_size(cnn, (1, 28, 28), 50, "cuda") >= g
    nin = _config("nin", batch_size=128)
    assert resolve_group_size(nin, (3, 32, 32), 1) == 1
    assert resolve_group_size(nin, (3, 32, 32), 250, "cuda") == resolve_group_size(
        nin, (3, 32, 32), 250, "cuda:1")


def test_precision_presets_and_cpu_checks(digits, parts):
    assert baseline("cifar10").precision == "tf32" == ldc("gtsrb").precision
    assert preset("baseline", "mnist5k", "cnn", scale="default").precision == "fp32"
    with pytest.raises(ValueError, match="bf16"):
        fit_scores(digits, parts, [0], _config(precision="bf16"))


# -------------------------------------------------- every model on its own partition


def test_scores_shape_order_and_determinism(digits, parts, cnn_scores):
    assert cnn_scores.shape == (len(digits.y_test), K, 10)
    assert cnn_scores.dtype == np.float32 and np.isfinite(cnn_scores).all()
    again = fit_scores(digits, parts, range(K), _config())
    assert np.array_equal(again, cnn_scores)  # same seed, same bits
    other = fit_scores(digits, parts, range(K), _config(seed=12))
    assert not np.array_equal(other, cnn_scores)
    # columns follow model_ids, whatever their order
    rev = fit_scores(digits, parts, [4, 1], _config())
    assert np.array_equal(rev, cnn_scores[:, [4, 1]])


def test_results_do_not_depend_on_chunking(digits, parts, cnn_scores):
    """Groups come from model ids: any chunking gives the bits of the whole run."""
    halves = [fit_scores(digits, parts, ids, _config())
              for ids in ([0, 1, 2], [3, 4, 5])]
    assert np.array_equal(np.concatenate(halves, axis=1), cnn_scores)
    alone = fit_scores(digits, parts, [3], _config())
    assert np.array_equal(alone[:, 0], cnn_scores[:, 3])
    grouped = _config(group_size=4)
    whole = fit_scores(digits, parts, range(K), grouped)
    split = [fit_scores(digits, parts, ids, grouped) for ids in ([0, 4], [5, 1, 2, 3])]
    assert np.array_equal(np.concatenate(split, axis=1), whole[:, [0, 4, 5, 1, 2, 3]])


def test_group_size_changes_rounding_not_the_models(digits, parts, cnn_scores):
    for group in (1, 2, 5):
        s = fit_scores(digits, parts, range(K), _config(group_size=group))
        assert np.abs(s - cnn_scores).max() < 1e-3
        assert np.mean(votes(s) == votes(cnn_scores)) >= 0.99


def test_evaluation_shapes_are_fixed(digits, parts):
    state = train_ensemble(digits, parts, range(K), _config(), progress=False)
    full = predict_scores(state, digits.x_test, batch_size=64)
    # a prefix of the test set gets the same bits: every pass is padded to 64 rows
    part = predict_scores(state, digits.x_test[:101], batch_size=64)
    assert np.array_equal(part, full[:101])
    other = predict_scores(state, digits.x_test, batch_size=100)
    assert np.abs(other - full).max() < 1e-4


@pytest.mark.parametrize("model,aug", [("cnn", "cropflip"), ("mlp", "flip"),
                                       ("cnn", "autoaugment-svhn")])
def test_batched_matches_one_model_at_a_time(digits, parts, model, aug):
    cfg = _config(model, augment=aug, epochs=2 if aug.startswith("auto") else 3)
    ids = [0, 3, 5]
    ref = predict_scores(train_one_at_a_time(digits, parts, ids, cfg, progress=False),
                         digits.x_test)
    bat = predict_scores(train_ensemble(digits, parts, ids, cfg, progress=False),
                         digits.x_test)
    assert np.abs(ref - bat).max() < 1e-3  # the same training up to rounding
    assert np.mean(votes(ref) == votes(bat)) >= 0.99


def test_empty_and_tiny_partitions(digits, parts):
    tiny = [parts[0], np.zeros(0, dtype=np.int64), parts[1][:5], parts[2]]
    cfg = _config(epochs=1)
    state = train_ensemble(digits, tiny, range(4), cfg, progress=False)
    scores = predict_scores(state, digits.x_test)
    assert np.isfinite(scores).all()
    # the model of the empty partition keeps its initial weights
    (init,) = init_models(cfg, [1], 1, 10, 8)
    for a, b in zip(state.module(1).parameters(), init.parameters()):
        assert torch.equal(a, b)
    # and the others are those of a run without it
    alone = fit_scores(digits, tiny, [0, 2, 3], cfg)
    assert np.array_equal(alone, scores[:, [0, 2, 3]])


def test_training_learns(digits, parts):
    cfg = _config(epochs=6)
    scores = fit_scores(digits, parts, range(K), cfg)
    ens, per_model = accuracy(scores, digits.y_test)
    assert per_model.mean() > 0.5 and ens > 0.7  # ten classes: chance is 0.1


def test_progress_bar_and_bad_inputs(digits, parts, capsys):
    train_ensemble(digits, parts, [0], _config(epochs=1), progress=True)
    assert "step" in capsys.readouterr().err
    with pytest.raises(ValueError, match="distinct"):
        fit_scores(digits, parts, [1, 1], _config())
    with pytest.raises(ValueError, match="model_ids"):
        fit_scores(digits, parts, [K], _config())
    with pytest.raises(ValueError, match="parts"):
        fit_scores(digits, [np.array([10**6])], [0], _config())
    with pytest.raises(TypeError, match="TrainConfig"):
        fit_scores(digits, parts, [0], dataclasses.asdict(_config()))
    with pytest.raises(TypeError, match="x_train"):
        fit_scores(object(), parts, [0], _config())


def test_votes_and_accuracy_helpers():
    scores = np.array([[[0.1, 0.9], [0.5, 0.5], [2.0, 1.0]],
                       [[1.0, 0.0], [0.0, 1.0], [0.0, 3.0]]], dtype=np.float32)
    assert votes(scores).tolist() == [[1, -1, 0], [0, 1, 1]]  # all equal: abstain
    assert votes(scores[:, :, [0, 1, 1]]).tolist() == [[1, -1, 0], [0, 1, 1]]  # ties
    ens, per_model = accuracy(scores, np.array([0, 1]))
    assert ens == 1.0 and per_model.tolist() == [0.0, 0.5, 1.0]  # ⊥ is never right
    # a 1-1 tie between classes goes to the smaller class
    ens, _ = accuracy(scores[:, [0, 2]], np.array([0, 0]))
    assert ens == 1.0


def test_autoaugment_workers_change_nothing(digits, parts):
    """Workers only run the per-image augmentation elsewhere: the same bits."""
    cfg = _config(augment="autoaugment-svhn", epochs=1, batch_size=7)
    alone = fit_scores(digits, parts, [0, 3], cfg)
    pooled = fit_scores(digits, parts, [0, 3], cfg.replace(augment_workers=2))
    assert np.array_equal(alone, pooled)


def test_fixed_normalisation_statistics(digits, parts):
    stats = ((0.25,), (0.3,))
    cfg = _config(epochs=1, norm_stats=stats)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    ids = [0, 4]
    for train in (train_ensemble, train_one_at_a_time):
        state = train(digits, parts, ids, cfg, progress=False)
        assert torch.equal(state.mean, torch.full((2, 1), 0.25))
        assert torch.equal(state.std, torch.full((2, 1), 0.3))
    # by default each model has its partition's own statistics
    own = train_ensemble(digits, parts, ids, _config(epochs=1), progress=False)
    assert not torch.equal(own.mean[0], own.mean[1])
    scores = predict_scores(state, digits.x_test)
    other = fit_scores(digits, parts, ids, cfg.replace(norm_stats=((0.2,), (0.3,))))
    assert not np.array_equal(other, fit_scores(digits, parts, ids, cfg))
    assert np.isfinite(scores).all()
    for bad, err in [(((0.1,), (0.0,)), ValueError), (((0.1,), (0.2, 0.3)), TypeError),
                     ((0.1, 0.2), TypeError), ((("a",), (0.2,)), TypeError)]:
        with pytest.raises(err, match="norm_stats"):
            _config(norm_stats=bad)
    with pytest.raises(ValueError, match="norm_stats"):
        fit_scores(digits, parts, ids, _config(norm_stats=((0.1, 0.1), (0.2, 0.2))))
