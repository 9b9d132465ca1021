"""Tests for ldcbook.models: the base learners and G models run as one computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ldcbook.models import (
    LEARNERS,
    GlobalAvgPool,
    GroupedNet,
    _masked_batch_norm,
    build_model,
    mlp,
    nin,
    num_parameters,
    small_cnn,
)


def _seeded(name: str, seed: int, *args: int) -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(name, *args)


def _randomise_bn(models: list[nn.Sequential], seed: int) -> None:
    """Non-trivial BatchNorm affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in models:
            for layer in m:
                if isinstance(layer, nn.BatchNorm2d):
                    c = layer.num_features
                    layer.weight.copy_(0.5 + torch.rand(c, generator=g))
                    layer.bias.copy_(torch.randn(c, generator=g) * 0.1)
                    layer.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                    layer.running_var.copy_(0.5 + torch.rand(c, generator=g))


# ---------------------------------------------------------------- the architectures


def _nin_count(c_in: int, classes: int) -> int:
    """NiN parameters from ALGORITHMS.md: bias-free convs, 2 per BN channel, linear."""
    convs = [(c_in, 192, 5), (192, 160, 1), (160, 96, 1), (96, 192, 5), (192, 192, 1),
             (192, 192, 1), (192, 192, 3), (192, 192, 1), (192, 192, 1)]
    return sum(a * b * k * k + 2 * b for a, b, k in convs) + 192 * classes + classes


def test_nin_parameter_count_matches_the_paper():
    model = nin(3, 10)
    count = num_parameters(model)
    assert count == _nin_count(3, 10) == 1_005_642
    assert 0.97e6 <= count <= 1.03e6  # "about 1.0 M parameters"
    assert abs(num_parameters(nin(1, 10)) - 1.0e6) / 1.0e6 < 0.03


def test_nin_layers_follow_the_specification():
    model = nin(3, 10)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [5, 1, 1, 5, 1, 1, 3, 1, 1]
    widths = [192, 160, 96, 192, 192, 192, 192, 192, 192]
    assert [c.out_channels for c in convs] == widths
    assert all(c.bias is None for c in convs)
    # every convolution is followed by BatchNorm and ReLU
    for i, layer in enumerate(model):
        if isinstance(layer, nn.Conv2d):
            assert isinstance(model[i + 1], nn.BatchNorm2d)
            assert isinstance(model[i + 2], nn.ReLU)
    pools = [m for m in model if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert [type(p) for p in pools] == [nn.MaxPool2d, nn.AvgPool2d]
    assert all(p.kernel_size == 3 and p.stride == 2 for p in pools)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("size", [8, 28, 32])
def test_small_models_shapes_and_counts(size):
    cnn = small_cnn(1, 10, size, width=8)
    side = ((size + 1) // 2 + 1) // 2
    expected = 1 * 8 * 25 + 16 + 8 * 16 * 9 + 32 + 16 * side * side * 10 + 10
    assert num_parameters(cnn) == expected
    assert cnn(torch.zeros(3, 1, size, size)).shape == (3, 10)
    net = mlp(3, 7, size, hidden=32)
    assert num_parameters(net) == 3 * size * size * 32 + 32 + 32 * 7 + 7
    assert net(torch.zeros(2, 3, size, size)).shape == (2, 7)


def test_build_model_names_and_errors():
    for name in LEARNERS:
        model = build_model(name, 1, 10, 28)
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="name must be one of"):
        build_model("resnet", 1, 10, 28)
    with pytest.raises(TypeError, match="in_channels"):
        build_model("cnn", 1.5, 10, 28)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("mlp", 1, 1, 28)
    with pytest.raises(TypeError, match="model"):
        num_parameters("nin")


def test_global_avg_pool_is_the_spatial_mean():
    x = torch.randn(2, 3, 5, 4)
    assert torch.allclose(GlobalAvgPool()(x), x.mean(dim=(2, 3)), atol=1e-6)


# -------------------------------------------------------- G models as one computation


@pytest.mark.parametrize("name,size", [("cnn", 28), ("mlp", 8), ("nin", 12)])
def test_grouped_forward_equals_each_model(name, size):
    models = [_seeded(name, s, 1, 10, size) for s in range(3)]
    _randomise_bn(models, 1)
    net = GroupedNet(models)
    x = torch.randn(4, 3, 1, size, size)  # (B, g, C, H, W)
    inputs = x if net.input_layout == "grouped" else x.transpose(0, 1)
    out = net.forward(inputs)  # evaluation mode
    for j, m in enumerate(models):
        ref = m.eval()(x[:, j])
        assert torch.allclose(out[j], ref, atol=1e-5, rtol=1e-4)
    # a range of models, and the channels-last path
    sub = net.forward(inputs[:, 1:] if net.input_layout == "grouped" else inputs[1:],
                      slice(1, 3), channels_last=True)
    assert torch.allclose(sub, out[1:], atol=1e-5, rtol=1e-4)
    with pytest.raises(TypeError, match="slice"):
        net.forward(inputs, torch.tensor([2, 0]))


def test_grouped_training_mode_keeps_batchnorm_per_model():
    models = [_seeded("cnn", s, 1, 10, 8) for s in range(3)]
    net = GroupedNet(models)
    x = torch.randn(5, 3, 1, 8, 8)
    out = net.forward(x, train=True)
    for j, m in enumerate(models):
        ref = m.train()(x[:, j])  # updates m's own running statistics
        assert torch.allclose(out[j], ref, atol=1e-5, rtol=1e-4)
        back = net.export(j)
        for a, b in zip(back.modules(), m.modules()):
            if isinstance(a, nn.BatchNorm2d):
                assert torch.allclose(a.running_mean, b.running_mean, atol=1e-6)
                assert torch.allclose(a.running_var, b.running_var, atol=1e-6)


def test_export_round_trip_and_stacked_layout():
    models = [_seeded("mlp", s, 1, 10, 8) for s in range(3)]
    net = GroupedNet(models)
    assert [tuple(p.shape) for p in net.params] == [(3, 64, 32), (3, 32), (3, 32, 10),
                                                     (3, 10)]
    assert all(p.is_contiguous() for p in net.params)
    # a range of models is a contiguous view: updating it updates the stack
    view = net.select(slice(1, 3))[1]
    assert view.is_contiguous() and view.data_ptr() == net.params[1][1].data_ptr()
    for j, m in enumerate(models):
        for a, b in zip(net.export(j).parameters(), m.parameters()):
            assert torch.equal(a, b)


def test_grouped_net_rejects_mixed_or_unsupported_models():
    with pytest.raises(ValueError, match="another architecture"):
        GroupedNet([build_model("cnn", 1, 10, 8), build_model("mlp", 1, 10, 8)])
    with pytest.raises(TypeError, match="not supported"):
        GroupedNet([nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4), nn.Linear(4, 2))])
    with pytest.raises(ValueError, match="only Dropout with p < 1"):
        GroupedNet([nn.Sequential(nn.Flatten(), nn.Dropout(1.0), nn.Linear(4, 2))])
    with pytest.raises(TypeError, match="non-empty sequence"):
        GroupedNet([])
    with pytest.raises(ValueError, match="x must have shape"):
        GroupedNet([build_model("cnn", 1, 10, 8)]).forward(torch.zeros(2, 3, 1, 8, 8))


def test_grouped_dropout_applies_the_given_masks():
    """Dropout layers multiply by the caller's masks in training, in every layout
    (after a convolution, after flattening), and do nothing in evaluation."""
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Dropout(0.5), nn.ReLU(),
                            nn.Flatten(), nn.Dropout(0.25), nn.Linear(32, 3))
              for _ in range(3)]
    net = GroupedNet(models)
    x = torch.randn(5, 3, 1, 4, 4)  # (B, g, C, H, W)
    masks = [torch.randint(0, 2, (3, 5, 2, 4, 4)).float() * 2,
             torch.randint(0, 2, (3, 5, 32)).float() / 0.75]
    out = net.forward(x, train=True, dropout=masks)
    for j, m in enumerate(models):
        h = m[0](x[:, j]) * masks[0][j]
        h = m[3](m[2](h)) * masks[1][j]
        torch.testing.assert_close(out[j], m[5](h), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="a mask for every Dropout layer"):
        net.forward(x, train=True, dropout=masks[:1])
    evaluated = net.forward(x)
    for j, m in enumerate(models):
        torch.testing.assert_close(evaluated[j], m.eval()(x[:, j]), rtol=1e-5,
                                   atol=1e-6)


def test_masked_batch_norm_equals_batch_norm_on_the_real_rows():
    torch.manual_seed(0)
    b, g, c, h = 6, 3, 4, 5
    x = torch.randn(b, g * c, h, h, requires_grad=True)
    w = (torch.rand(g * c) + 0.5).requires_grad_()
    bias = torch.randn(g * c).requires_grad_()
    mask = torch.ones(b, g)
    mask[4:, 1] = 0
    mask[2:, 2] = 0
    rm, rv = torch.zeros(g * c), torch.ones(g * c)
    y = _masked_batch_norm(x, mask, rm, rv, w, bias, 0.1, 1e-5)
    gy = torch.randn_like(y) * mask.repeat_interleave(c, 1)[:, :, None, None]
    gx, gw, gb = torch.autograd.grad(y, [x, w, bias], gy)
    for j in range(g):
        r = int(mask[:, j].sum())
        ch = slice(j * c, (j + 1) * c)
        xj = x[:r, ch].detach().requires_grad_()
        wj, bj = w[ch].detach().requires_grad_(), bias[ch].detach().requires_grad_()
        rmj, rvj = torch.zeros(c), torch.ones(c)
        yj = F.batch_norm(xj, rmj, rvj, wj, bj, True, 0.1, 1e-5)
        ref = torch.autograd.grad(yj, [xj, wj, bj], gy[:r, ch])
        assert torch.allclose(y[:r, ch], yj, atol=1e-5)
        assert torch.allclose(gx[:r, ch], ref[0], atol=1e-5)
        assert torch.allclose(gw[ch], ref[1], atol=1e-5)
        assert torch.allclose(gb[ch], ref[2], atol=1e-5)
        assert torch.allclose(rm[ch], rmj, atol=1e-6)
        assert torch.allclose(rv[ch], rvj, atol=1e-6)
        assert torch.all(gx[r:, ch] == 0)  # padding rows get no gradient at all


def _one_model_result(net_models, data_x, group, pos):
    """Logits and gradients of one model run at stack position ``pos`` of ``group``."""
    net = GroupedNet(net_models)
    x = data_x[:, :group]
    leaves = [p[:group].detach().requires_grad_() for p in net.params]
    out = net.forward(x, slice(0, group), leaves, train=True)
    grads = torch.autograd.grad((out * out).sum(), leaves)
    return out[pos], [gr[pos] for gr in grads]


def test_a_model_gets_the_same_bits_whatever_runs_beside_it():
    """ALGORITHMS.md: a model's computation must not depend on the other models."""
    torch.manual_seed(0)
    mine = _seeded("cnn", 7, 1, 10, 8)
    mine_x = torch.randn(4, 1, 1, 8, 8)
    results = []
    for group, pos in [(1, 0), (2, 1), (5, 0), (5, 3), (9, 8)]:
        models = [_seeded("cnn", 100 + s, 1, 10, 8) for s in range(group)]
        models[pos] = mine
        x = torch.randn(4, group, 1, 8, 8)
        x[:, pos] = mine_x[:, 0]
        results.append(_one_model_result(models, x, group, pos))
    ref_out, ref_grads = results[0]
    for out, grads in results[1:]:
        assert torch.equal(out, ref_out)
        assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
