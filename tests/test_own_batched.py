"""Own learners trained in groups: isolated by construction and bit for bit.

The grouped path of :func:`ldcbook.own.train_own` (:func:`ldcbook.own.train_group`)
runs the engine's schedule, so the tests of ``test_isolation.py`` apply to it:

* **the schedule**: a model's kernel calls (phase, epoch, step, the group's members,
  its slot, the aten operators with their shapes, strides, dtypes and alignment) do
  not change when another partition gains samples, loses some, loses one or
  empties;
* **the bits**: changing one partition changes only its own model's scores and
  weights, with one and two threads, and again under ``ATEN_CPU_CAPABILITY=default``;

and, besides: the grouped and one-at-a-time paths agree up to rounding, a learner
the grouped path cannot take falls back (and says why), the path is part of the
run's configuration, and a killed grouped run resumes inside its chunk bit for bit.
"""

from __future__ import annotations

import importlib
import logging
import sys

import numpy as np
import pytest
import torch
from default_kernels import rerun_with_default_kernels

from ldcbook import data, own
from ldcbook.ensemble import record_calls
from ldcbook.ensemble.schedule import StepPlan
from ldcbook.partition import sample_keys

M = 6  # models: DPA with k = 6, or FA with k = 3, d = 2
J = 2  # the partition that changes
G = 4  # models per group: (0, 1, 2, 3) and (4, 5)

FACTORY = '''
import torch
from torch import nn


def seq_bn_drop(input_shape, num_classes):
    """A plain Sequential with BatchNorm2d, a max-pool and dropout: grouped."""
    c, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Dropout(0.2), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * (h // 2) * (w // 2), 16), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(16, num_classes))


class Custom(nn.Module):
    """A Python forward: trained one model at a time."""

    def __init__(self, n, num_classes):
        super().__init__()
        self.a = nn.Linear(n, num_classes)

    def forward(self, x):
        return self.a(x.flatten(1)) * 2


def custom(input_shape, num_classes):
    n = 1
    for s in input_shape:
        n *= s
    return Custom(n, num_classes)


class Doubled(nn.Linear):
    """A supported layer's subclass with a forward of its own."""

    def forward(self, x):
        return super().forward(x) * 2


def subclassed(input_shape, num_classes):
    n = 1
    for s in input_shape:
        n *= s
    return nn.Sequential(nn.Flatten(), Doubled(n, num_classes))


def mlp_drop(input_shape, num_classes):
    n = 1
    for s in input_shape:
        n *= s
    return nn.Sequential(nn.Flatten(), nn.Linear(n, 16), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(16, num_classes))


def bn1d(input_shape, num_classes):
    n = 1
    for s in input_shape:
        n *= s
    return nn.Sequential(nn.Flatten(), nn.Linear(n, 16), nn.BatchNorm1d(16),
                         nn.ReLU(), nn.Linear(16, num_classes))
'''


@pytest.fixture(scope="module")
def digits():
    return data.as_arrays(data.load("digits"))  # 359 test samples: an odd number


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "ownbatched.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ownbatched", None)
    importlib.invalidate_caches()
    yield
    sys.modules.pop("ownbatched", None)


def spec_of(ds, learner, method="dpa", batch=7, epochs=2, **kw):
    k, d = (M, 1) if method == "dpa" else (M // 2, 2)
    config = own.OwnConfig(epochs=epochs, batch_size=batch, eval_batch_size=64,
                           group_size=kw.pop("group_size", G), **kw)
    return own.own_spec(ds, k, d, learner=learner, seed=5, config=config)


def variants(ds, spec):
    """The data with partition J changed: each change moves its step count or its
    last batch's size. Keys are given (the pixel sums of the original data), so the
    other partitions keep their samples."""
    m = spec["k"] * spec["d"]
    keys = sample_keys(ds.x_train, "pixel_sum", m)
    mine = np.flatnonzero(keys % m == J)
    other = np.flatnonzero(keys % m == (J + 1) % m)

    def subset(rows, extra=None):
        x, y, kk = ds.x_train[rows], ds.y_train[rows], keys[rows]
        if extra is not None:
            x = np.concatenate([x, ds.x_train[extra]])
            y = np.concatenate([y, ds.y_train[extra]])
            kk = np.concatenate([kk, keys[extra] - keys[extra] % m + J])
        return (data.ArrayData(ds.name, x, y, ds.x_test, ds.y_test, ds.num_classes),
                kk)

    keep = np.ones(len(keys), bool)
    out = {"base": subset(np.arange(len(keys)))}
    # enough that model J becomes its group's longest: the others then sit masked
    # at more steps
    out["gains samples"] = subset(np.arange(len(keys)), other[:45])
    for name, drop in (("loses samples", mine[:11]), ("loses one", mine[:1]),
                       ("empty", mine)):
        k2 = keep.copy()
        k2[drop] = False
        out[name] = subset(np.flatnonzero(k2))
    return out


def train(tmp_path, name, ds_keys, spec, **kw):
    ds, keys = ds_keys
    return own.train_own(tmp_path / name, ds, spec, keys=keys, **kw)


def sizes(spec, ds_keys):
    return own.partition_sizes(spec, ds_keys[0], ds_keys[1])


def steps(spec, ds_keys):
    """Each model's steps per epoch (the batches of train_model)."""
    return [len(own._batches(int(n), spec["train"]["batch_size"]))
            for n in sizes(spec, ds_keys)]


# ------------------------------------------------------------------ the schedule

SCHEDULE_CASES = [
    ("dpa", "ldcbook.examples:tiny_cnn", 7, 1),
    ("fa", "ldcbook.examples:small_mlp", 5, 2),
    ("dpa", "ownbatched:seq_bn_drop", 9, 2),
]


@pytest.mark.parametrize("method,learner,batch,epochs", SCHEDULE_CASES)
def test_kernel_calls_of_an_own_model_do_not_depend_on_other_partitions(
    digits, user_module, tmp_path, method, learner, batch, epochs
):
    spec = spec_of(digits, learner, method, batch, epochs)
    assert own.training_path(spec) == "grouped"
    runs = variants(digits, spec)
    with record_calls() as base:
        train(tmp_path, "base", runs["base"], spec)
    for i in range(M):  # every model trains in its own slot, and is scored alone
        train_calls = [c for c in base.of(i) if c.phase == "train"]
        assert train_calls and {c.slot for c in train_calls} == {i % G}
        assert {c.members for c in train_calls} == (
            {(0, 1, 2, 3)} if i < G else {(4, 5)})
        assert [c.members for c in base.of(i) if c.phase == "eval"] == [(i,)]
    assert sum(base.masked.values()) > 0  # unequal partitions: some sat masked
    for name in ("gains samples", "loses samples", "loses one", "empty"):
        with record_calls() as log:
            train(tmp_path, name, runs[name], spec)
        # bucket J changed: model J (DPA), or the FA models that train on it
        changed = sizes(spec, runs[name]) != sizes(spec, runs["base"])
        assert changed[J] and changed.sum() == spec["d"]
        new_steps, old_steps = np.array(steps(spec, runs[name])), np.array(
            steps(spec, runs["base"]))
        moved = new_steps != old_steps
        if name == "gains samples" and spec["d"] == 1:
            # the group runs longer: its other members sit masked at more steps
            assert new_steps[:G].max() > old_steps[:G].max()
        for i in range(M):
            if not changed[i]:
                assert log.of(i) == base.of(i), f"{name}: model {i}'s calls changed"
            else:  # the check can fail: a changed model's calls change with its steps
                calls = [[c for c in lg.of(i) if c.phase == "train"]
                         for lg in (base, log)]
                assert (calls[0] != calls[1]) == moved[i], (name, i)


def test_kernel_calls_do_not_depend_on_chunking(digits, tmp_path):
    spec = spec_of(digits, "ldcbook.examples:tiny_cnn", batch=7, epochs=1)
    runs = variants(digits, spec)
    with record_calls() as whole:
        train(tmp_path, "whole", runs["base"], spec)
    with record_calls() as chunked:
        train(tmp_path, "chunked", runs["base"], spec, chunk=3)
    for i in range(M):
        assert chunked.of(i) == whole.of(i)


# ------------------------------------------------------------------ the bits

BIT_CASES = [
    ("dpa", "ldcbook.examples:tiny_cnn", 7, 1),
    ("fa", "ldcbook.examples:tiny_cnn", 16, 2),
    ("dpa", "ldcbook.examples:small_mlp", 5, 2),
    ("fa", "ldcbook.examples:small_mlp", 9, 1),
    ("dpa", "ownbatched:seq_bn_drop", 7, 2),
]


@pytest.mark.parametrize("method,learner,batch,threads", BIT_CASES)
def test_bits_changing_one_partition_changes_only_its_own_model(
    digits, user_module, tmp_path, method, learner, batch, threads
):
    spec = spec_of(digits, learner, method, batch)
    runs = variants(digits, spec)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        base = train(tmp_path, "base", runs["base"], spec)
        s0 = base.load_scores()
        for name in ("gains samples", "loses samples", "loses one", "empty"):
            new = train(tmp_path, name, runs[name], spec)
            s1 = new.load_scores()
            moved = [i for i in range(M) if not np.array_equal(s0[:, i], s1[:, i])]
            # bucket J changed: model J (DPA), or the FA models that train on it
            changed = sizes(spec, runs[name]) != sizes(spec, runs["base"])
            want = np.flatnonzero(changed).tolist()
            assert J in want and len(want) == spec["d"]
            assert moved == want, name
            for i in set(range(M)) - set(want):
                w0, w1 = base.load_weights(i), new.load_weights(i)
                assert all(np.array_equal(w0[k], w1[k]) for k in w0), (name, i)
    finally:
        torch.set_num_threads(saved)


def test_bits_also_hold_with_the_default_kernels():
    """The bit-level test again, in a process with torch's portable kernels."""
    rerun_with_default_kernels(
        f"{__file__}::test_bits_changing_one_partition_changes_only_its_own_model",
        len(BIT_CASES))


# ------------------------------------------------------------------ the two paths


@pytest.mark.parametrize("learner", ["ldcbook.examples:tiny_cnn",
                                     "ownbatched:mlp_drop"])
def test_grouped_and_one_at_a_time_agree_up_to_rounding(digits, user_module,
                                                        tmp_path, learner):
    """Same initial weights, batches, shuffles, dropout masks and SGD: the two paths
    differ by float rounding only (measured here for tiny_cnn: scores within
    1.7e-4, with the AVX-512 and the default kernels, every model's vote the same;
    other dropout masks would move them by far more)."""
    runs = {}
    for one in (False, True):
        config = own.OwnConfig(epochs=5, batch_size=16, one_at_a_time=one)
        spec = own.own_spec(digits, 10, learner=learner, config=config)
        assert own.training_path(spec) == ("one at a time" if one else "grouped")
        runs[one] = own.train_own(tmp_path / str(one), digits, spec).load_scores()
    diff = np.abs(runs[False] - runs[True]).max()
    assert 0 < diff < 1e-3
    assert (runs[False].argmax(-1) == runs[True].argmax(-1)).mean() >= 0.999


@pytest.mark.parametrize("learner,reason", [
    ("ownbatched:custom", "it is a Custom, not a plain torch.nn.Sequential"),
    ("ownbatched:subclassed", r"layer 1 \(Doubled\) is not one GroupedNet stacks"),
    ("ownbatched:bn1d", r"layer 2 \(BatchNorm1d\) is not one GroupedNet stacks"),
])
def test_other_learners_fall_back_to_one_at_a_time(digits, user_module, tmp_path,
                                                   caplog, learner, reason):
    with caplog.at_level(logging.INFO, logger="ldcbook.own"):
        spec = own.own_spec(digits, 3, learner=learner,
                            config=own.OwnConfig(epochs=1, group_size=4))
    assert own.training_path(spec) == "one at a time"
    assert spec["train"]["one_at_a_time"] and spec["train"]["group_size"] is None
    assert caplog.records and "trained one model at a time" in caplog.text
    assert own.grouped_reason(spec, digits) is not None
    import re
    assert re.search(reason, own.grouped_reason(spec, digits))
    run = own.train_own(tmp_path / "r", digits, spec)
    assert run.load_scores().shape == (len(digits.y_test), 3, 10)


def test_grouped_support_probes_the_forward(user_module):
    from torch import nn

    ok = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    assert own.grouped_support(ok, (3, 4), 3) is None
    # a Linear on the last axis of (2, 6) samples is not what GroupedNet computes
    assert "grouped forward pass fails" in own.grouped_support(
        nn.Sequential(nn.Linear(6, 3)), (2, 6), 3)
    wide = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    assert "outputs have shape (4,)" in own.grouped_support(wide, (3, 4), 3)
    frozen = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    frozen[1].bias.requires_grad_(False)
    assert "frozen" in own.grouped_support(frozen, (3, 4), 3)
    hooked = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    hooked[1].register_forward_hook(lambda *a: None)
    assert "hooks" in own.grouped_support(hooked, (3, 4), 3)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        own.grouped_support(object(), (3,), 2)


def test_the_path_is_part_of_the_run(digits, tmp_path):
    grouped = spec_of(digits, "ldcbook.examples:small_mlp", epochs=1)
    own.train_own(tmp_path / "r", digits, grouped)
    single = spec_of(digits, "ldcbook.examples:small_mlp", epochs=1,
                     group_size=None, one_at_a_time=True)
    assert own.training_path(single) == "one at a time"
    with pytest.raises(ValueError, match="one_at_a_time"):
        own.train_own(tmp_path / "r", digits, single)
    # a run made before the grouped path existed was trained one at a time
    old = dict(grouped, train={k: v for k, v in grouped["train"].items()
                               if k not in ("one_at_a_time", "group_size")})
    assert own.training_path(old) == "one at a time"


def test_train_group_checks_its_arguments(digits):
    spec = spec_of(digits, "ldcbook.examples:small_mlp", epochs=1)
    x = own.apply_features(digits.x_train[:10], None)
    y = digits.y_train[:10]
    members = np.arange(4)
    with pytest.raises(ValueError, match="members of the group only"):
        own.train_group(spec, members, {7: x}, {7: y})
    with pytest.raises(ValueError, match="the same members"):
        own.train_group(spec, members, {1: x}, {2: y})
    with pytest.raises(ValueError, match=r"inputs\[1\] must be float32"):
        own.train_group(spec, members, {1: x}, {1: y[:3]})
    with pytest.raises(TypeError, match="members must be"):
        own.train_group(spec, np.zeros(0), {1: x}, {1: y})
    single = own.own_spec(digits, 2, learner="ldcbook.examples:small_mlp",
                          config=own.OwnConfig(one_at_a_time=True))
    with pytest.raises(TypeError, match="grouped path"):
        own.train_group(single, members, {1: x}, {1: y})
    (module, mean, std), = own.train_group(spec, members, {1: x}, {1: y}).values()
    assert isinstance(module, torch.nn.Sequential) and not module.training
    np.testing.assert_array_equal((mean, std), own.partition_stats(x))


def test_join_single_plan_gives_the_batches_of_train_model():
    for b in (1, 2, 5, 16):
        sizes = np.arange(0, 3 * b + 3)
        plan = StepPlan(sizes, b, [slice(0, len(sizes))], join_single=True)
        assert plan.table_shape[2] == b + 1
        for m, n in enumerate(sizes.tolist()):
            want = [sl.stop - sl.start for sl in own._batches(n, b)] if n else []
            got = plan.valid[: plan.steps[m], m].sum(1).tolist()
            assert got == want, (b, n)
            assert not plan.valid[plan.steps[m]:, m].any()
    # the engine's plan is unchanged without it
    plain = StepPlan(np.array([6]), 5, [slice(0, 1)])
    assert plain.table_shape == (2, 1, 5)


# ------------------------------------------------------------------ resume


class Stop(Exception):
    pass


@pytest.mark.parametrize("stop_at,first", [
    ((1, 1), (0, 2)),   # chunk 0, group 0: resumes the group at epoch 2
    ((3, 2), (3, 3)),   # chunk 1, group 0 (model 3 alone)
    ((4, 3), (5, 1)),   # chunk 1, group 1 after its last epoch: nothing to redo
])
def test_grouped_resume_inside_a_chunk_is_bit_identical(digits, user_module, tmp_path,
                                                        stop_at, first):
    spec = spec_of(digits, "ownbatched:seq_bn_drop", batch=16, epochs=3)
    assert own.training_path(spec) == "grouped"
    ref = own.train_own(tmp_path / "ref", digits, spec, chunk=3)
    with pytest.raises(Stop):
        own.train_own(tmp_path / "run", digits, spec, chunk=3,
                      on_epoch=lambda i, e: (_ for _ in ()).throw(Stop)
                      if (i, e) == stop_at else None)
    resumed = []
    run = own.train_own(tmp_path / "run", digits, spec, chunk=3,
                        on_epoch=lambda i, e: resumed.append((i, e)))
    if stop_at == (4, 3):  # group 1's checkpoint was its last epoch: no epoch redone
        assert resumed == []
    else:
        assert resumed[0] == first
    np.testing.assert_array_equal(run.load_scores(), ref.load_scores())
    for m in range(M):
        w, wr = run.load_weights(m), ref.load_weights(m)
        assert w.keys() == wr.keys()
        assert all(np.array_equal(w[k], wr[k]) for k in w)
    assert not [f for f in run.manifest["files"] if f.startswith("ckpt-")]
    # kept models: predict gives the stored scores
    np.testing.assert_array_equal(own.predict_scores(run.path, digits.x_test),
                                  run.load_scores())


# ------------------------------------------------------------------ the command line


def test_cli_group_size_and_one_at_a_time(digits, user_module, tmp_path, capsys):
    from ldcbook.cli import main
    from ldcbook.store import RunDir

    f = tmp_path / "d.npz"
    np.savez(f, x_train=digits.x_train, y_train=digits.y_train,
             x_test=digits.x_test, y_test=digits.y_test)

    def train(*argv):
        try:
            return main(["train", "--data", str(f), "--k", "5", "--epochs", "1",
                         "--no-progress", *argv])
        except SystemExit as exit_:
            return exit_.code

    assert train("--learner", "ldcbook.examples:small_mlp", "--group-size", "2",
                 "--out", str(tmp_path / "g")) == 0
    assert "small_mlp: trained in groups of 2 models" in capsys.readouterr().out
    assert RunDir.open(tmp_path / "g").config["train"]["group_size"] == 2
    assert train("--learner", "ldcbook.examples:small_mlp", "--one-at-a-time",
                 "--out", str(tmp_path / "one")) == 0
    assert "trained one model at a time (--one-at-a-time)" in capsys.readouterr().out
    assert train("--learner", "ownbatched:bn1d", "--out", str(tmp_path / "bn")) == 0
    assert ("trained one model at a time (layer 2 (BatchNorm1d) is not one "
            "GroupedNet stacks)") in capsys.readouterr().out
    # resuming with the other path is refused
    assert train("--learner", "ldcbook.examples:small_mlp", "--one-at-a-time",
                 "--out", str(tmp_path / "g")) == 1
    assert "one_at_a_time" in capsys.readouterr().err
    assert train("--learner", "ldcbook.examples:small_mlp", "--one-at-a-time",
                 "--group-size", "2", "--out", str(tmp_path / "x")) == 2
    assert "exclude each other" in capsys.readouterr().err
    try:
        code = main(["train", "--dataset", "digits", "--k", "2", "--learner", "cnn",
                     "--one-at-a-time", "--out", str(tmp_path / "c")])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert "--one-at-a-time applies to package.module:factory" in (
        capsys.readouterr().err)
