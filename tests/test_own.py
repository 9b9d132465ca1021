"""Certify your own model: array data, learner factories, kept models, resume, predict.

Tests of :mod:`ldcbook.own`, :func:`ldcbook.data.load_arrays`, the store's kept
models and the CLI's ``train --data/--learner M:F/--features``, ``predict``.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import numpy as np
import pytest
import torch

from ldcbook import data, own, store
from ldcbook.cli import main
from ldcbook.partition import assign, content_order, sample_keys, sha256_keys

SMALL = own.OwnConfig(epochs=3, batch_size=16)

FACTORY = '''
import torch
from torch import nn

def net(input_shape, num_classes):
    """BatchNorm and dropout: batch statistics and the global generator."""
    n = 1
    for s in input_shape:
        n *= s
    return nn.Sequential(nn.Flatten(), nn.Linear(n, 16), nn.BatchNorm1d(16),
                         nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, num_classes))

def wrong_outputs(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes + 1))

def features(x):
    return x.reshape(len(x), -1)[:, ::2].astype("float32")

def bad_features(x):
    return x[:1].reshape(1, -1)
'''


@pytest.fixture(scope="module")
def digits():
    return data.as_arrays(data.load("digits"))


@pytest.fixture(scope="module")
def floats():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return data.ArrayData("floats", x[:160], y[:160], x[160:], y[160:], 2)


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    """An importable module of the user's, ``ownfactory``, in a temporary directory."""
    (tmp_path / "ownfactory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ownfactory", None)
    importlib.invalidate_caches()
    yield tmp_path / "ownfactory.py"
    sys.modules.pop("ownfactory", None)


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


# --------------------------------------------------------------------------------------
# data files


def test_load_arrays_reads_any_shape_and_float(tmp_path, floats):
    f = write_npz(tmp_path / "d.npz", x_train=floats.x_train, y_train=floats.y_train,
                  x_test=floats.x_test, y_test=floats.y_test.astype(np.int32))
    got = data.load_arrays(f)
    assert got.name == "d.npz" and got.num_classes == 2 and got.sample_shape == (6,)
    assert got.y_test.dtype == np.int64
    np.testing.assert_array_equal(got.x_train, floats.x_train)


@pytest.mark.parametrize(
    "change,error,match",
    [
        ({"x_test": np.zeros((80, 7), np.float32)}, ValueError,
         "x_test must have the sample shape"),
        ({"y_train": -np.ones(160, np.int64)}, ValueError,
         "y_train must lie in range"),
        ({"y_test": np.full(80, 2)}, ValueError, "y_test must lie in range"),
        ({"y_test": np.zeros(3, np.int64)}, ValueError,
         "x_test and y_test must have the same length"),
        ({"y_train": np.zeros(160, np.float32)}, ValueError,
         "y_train .* must be 1-D integer"),
        ({"x_train": np.zeros((160, 6), np.int32)}, TypeError,
         "x_train must hold uint8 or float"),
        ({"x_train": np.full((160, 6), np.nan, np.float32)}, ValueError,
         "x_train must be finite"),
        ({"x_train": np.zeros(160, np.float32)}, ValueError, "x_train must have shape"),
        ({"x_test": None}, ValueError, r"lacks the arrays \['x_test'\]"),
        ({"num_classes": np.array([3, 4])}, ValueError,
         "num_classes .* integer scalar"),
    ],
)
def test_load_arrays_names_the_bad_array(tmp_path, floats, change, error, match):
    arrays = {"x_train": floats.x_train, "y_train": floats.y_train,
              "x_test": floats.x_test, "y_test": floats.y_test, **change}
    f = write_npz(tmp_path / "d.npz",
                  **{k: v for k, v in arrays.items() if v is not None})
    with pytest.raises(error, match=match):
        data.load_arrays(f)


def test_load_arrays_refuses_pickles_and_missing_files(tmp_path):
    f = tmp_path / "obj.npz"
    np.savez(f, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1),
             x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(ValueError, match="obj.npz"):
        data.load_arrays(f)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        data.load_arrays(tmp_path / "nope.npz")


# --------------------------------------------------------------------------------------
# keys and content order for any dtype


def test_sha256_keys_hash_bytes_not_labels_or_positions(floats):
    x = floats.x_train
    message = b"<f4(6,)" + x[3].astype("<f4").tobytes()
    import hashlib

    key = int.from_bytes(hashlib.sha256(message).digest(), "big") % 7
    assert sha256_keys(x, 7)[3] == key
    perm = np.random.default_rng(1).permutation(len(x))
    np.testing.assert_array_equal(sample_keys(x[perm], "sha256", 7),
                                  sample_keys(x, "sha256", 7)[perm])
    with pytest.raises(TypeError, match="uint8 values for hash 'pixel_sum'"):
        sample_keys(x, "pixel_sum", 7)


def test_partitions_of_float_samples_are_fixed_by_content(floats):
    """Reshuffling the file gives each model the same training sequence."""
    x, y = floats.x_train, floats.y_train
    perm = np.random.default_rng(2).permutation(len(x))
    a = assign(sample_keys(x, "sha256", 5), 5, x=x, y=y)
    b = assign(sample_keys(x[perm], "sha256", 5), 5, x=x[perm], y=y[perm])
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(x[pa], x[perm][pb])
    order = content_order(x, y, np.arange(len(x)))
    rows = x[order].astype("<f4").view(np.uint8).reshape(len(x), -1)
    assert all(bytes(rows[i]) <= bytes(rows[i + 1]) for i in range(len(x) - 1))


# --------------------------------------------------------------------------------------
# learners and features


def test_factory_errors_name_the_learner(floats, user_module, tmp_path):
    with pytest.raises(TypeError, match="must return a torch.nn.Module, got object"):
        spec = own.own_spec(floats, 2, learner="ldcbook.examples:not_a_module",
                            config=SMALL)
        own.train_own(tmp_path / "r", floats, spec)
    with pytest.raises(ValueError, match="learner 'nosuchmodule:f': cannot import"):
        own.own_spec(floats, 2, learner="nosuchmodule:f")
    with pytest.raises(ValueError, match="learner must be 'package.module:function'"):
        own.own_spec(floats, 2, learner="ldcbook.examples")
    spec = own.own_spec(floats, 2, learner="ownfactory:wrong_outputs", config=SMALL)
    with pytest.raises(ValueError, match=r"returned outputs of shape \(16, 3\)"):
        own.train_own(tmp_path / "w", floats, spec)


def test_feature_maps(digits, user_module):
    feats = own.apply_features(digits.x_test, "ownfactory:features")
    assert feats.shape == (len(digits.x_test), 32) and feats.dtype == np.float32
    hog = own.apply_features(digits.x_test[:3], "hog")
    assert hog.ndim == 2 and hog.shape[0] == 3
    with pytest.raises(ValueError, match="must return numbers of shape"):
        own.apply_features(digits.x_test, "ownfactory:bad_features")
    with pytest.raises(TypeError, match="features 'hog' needs uint8 images"):
        own.apply_features(np.zeros((2, 5), np.float32), "hog")


def test_one_partition_changes_only_its_model(digits, user_module, tmp_path):
    """The isolation rule for a user's learner with BatchNorm and dropout: a training
    sample added to partition j changes model j's weights and scores only."""
    spec = own.own_spec(digits, 5, learner="ownfactory:net", config=SMALL)
    base = own.train_own(tmp_path / "a", digits, spec)
    keys = sample_keys(digits.x_train, "pixel_sum", 5)
    j = int(keys[0])
    more = data.ArrayData(digits.name,
                          np.concatenate([digits.x_train, digits.x_train[:1]]),
                          np.concatenate([digits.y_train, digits.y_train[1:2]]),
                          digits.x_test, digits.y_test, digits.num_classes)
    new = own.train_own(tmp_path / "b", more, spec)
    s0, s1 = base.load_scores(), new.load_scores()
    moved = [i for i in range(5) if not np.array_equal(s0[:, i], s1[:, i])]
    assert moved == [j]
    for i in range(5):
        w0, w1 = base.load_weights(i), new.load_weights(i)
        same = all(np.array_equal(w0[k], w1[k]) for k in w0)
        assert same == (i != j)


# --------------------------------------------------------------------------------------
# kept models, resume inside a chunk, changed factory


class Stop(Exception):
    pass


@pytest.mark.parametrize("stop_at", [(1, 1), (3, 2), (4, 3)])
def test_resume_inside_a_chunk_is_bit_identical(digits, user_module, tmp_path,
                                                stop_at):
    spec = own.own_spec(digits, 6, learner="ownfactory:net", config=SMALL)
    ref = own.train_own(tmp_path / "ref", digits, spec, chunk=3)
    seen = []

    def kill(i, epoch):
        seen.append((i, epoch))
        if (i, epoch) == stop_at:
            raise Stop

    with pytest.raises(Stop):
        own.train_own(tmp_path / "run", digits, spec, chunk=3, on_epoch=kill)
    resumed = []
    run = own.train_own(tmp_path / "run", digits, spec, chunk=3,
                        on_epoch=lambda i, e: resumed.append((i, e)))
    # it went on after the last finished epoch of the model it was in
    i, e = stop_at
    assert resumed[0] == ((i, e + 1) if e < SMALL.epochs else (i + 1, 1))
    np.testing.assert_array_equal(run.load_scores(), ref.load_scores())
    for m in range(6):
        w, wr = run.load_weights(m), ref.load_weights(m)
        assert w.keys() == wr.keys()
        assert all(np.array_equal(w[k], wr[k]) for k in w)
    assert not [f for f in run.manifest["files"] if f.startswith("ckpt-")]


def test_changed_factory_is_refused(floats, user_module, tmp_path):
    spec = own.own_spec(floats, 2, learner="ownfactory:net", config=SMALL)
    own.train_own(tmp_path / "r", floats, spec)
    user_module.write_text(FACTORY + "\n# changed\n")
    new = own.own_spec(floats, 2, learner="ownfactory:net", config=SMALL)
    assert new["learner_sha256"] != spec["learner_sha256"]
    with pytest.raises(ValueError, match="learner_sha256"):
        own.train_own(tmp_path / "r", floats, new)
    with pytest.raises(ValueError, match="source of the learner .* changed"):
        own.predict_scores(tmp_path / "r", floats.x_test)


def test_predict_reproduces_stored_scores_and_checks_inputs(floats, tmp_path):
    spec = own.own_spec(floats, 3, learner="ldcbook.examples:small_mlp", config=SMALL)
    run = own.train_own(tmp_path / "r", floats, spec)
    np.testing.assert_array_equal(own.predict_scores(run.path, floats.x_test),
                                  run.load_scores())
    one = own.predict_scores(run.path, floats.x_test[5:6])
    np.testing.assert_array_equal(one[0], run.load_scores()[5])
    with pytest.raises(ValueError, match=r"x must have shape \(n, 6\)"):
        own.predict_scores(run.path, np.zeros((2, 5), np.float32))


def test_corrupt_weights_are_recomputed(floats, tmp_path):
    spec = own.own_spec(floats, 2, learner="ldcbook.examples:small_mlp", config=SMALL)
    run = own.train_own(tmp_path / "r", floats, spec)
    before = run.load_weights(1)
    (wfile,) = tmp_path.joinpath("r").glob("weights_*.npz")
    wfile.write_bytes(wfile.read_bytes()[:-10])
    with pytest.raises(ValueError, match="fails its SHA-256"):
        run.load_weights(1)
    with pytest.warns(RuntimeWarning, match="fails its SHA-256"):
        run = own.train_own(tmp_path / "r", floats, spec)
    after = run.load_weights(1)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_store_arrays_and_merge_keep_weights(floats, tmp_path):
    spec = own.own_spec(floats, 4, learner="ldcbook.examples:small_mlp", config=SMALL)
    a = own.train_own(tmp_path / "s0", floats, spec, chunk=2, shard=(0, 2))
    b = own.train_own(tmp_path / "s1", floats, spec, chunk=2, shard=(1, 2))
    merged = store.merge(tmp_path / "m", [a.path, b.path])
    assert merged.has_weights()
    assert sorted(merged.manifest["files"]) == ["test_labels.npz"]
    assert main(["certify", str(merged.path)]) == 0
    np.testing.assert_array_equal(merged.load_weights(3)["mean"],
                                  b.load_weights(3)["mean"])
    with pytest.raises(ValueError, match="name must be letters"):
        merged.save_arrays("../x", {"a": np.zeros(1)})
    with pytest.raises(TypeError, match="must be numeric"):
        merged.save_arrays("x", {"a": np.array(["s"])})


# --------------------------------------------------------------------------------------
# the command line


def test_cli_own_data_train_certify_predict(tmp_path, floats, capsys):
    f = write_npz(tmp_path / "d.npz", x_train=floats.x_train, y_train=floats.y_train,
                  x_test=floats.x_test, y_test=floats.y_test)
    out = tmp_path / "run"
    assert main(["train", "--data", str(f), "--k", "3", "--learner",
                 "ldcbook.examples:small_mlp", "--epochs", "3", "--out", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "hash sha256: partition sizes min" in text
    sizes = own.partition_sizes(store.RunDir.open(out).config, floats)
    assert f"max {sizes.max()}" in text and sizes.sum() == len(floats.y_train)
    assert main(["certify", str(out), "--json"]) == 0
    cert = json.loads(capsys.readouterr().out)
    new = write_npz(tmp_path / "new.npz", x=floats.x_test, y=floats.y_test)
    assert main(["predict", str(out), "--input", str(new), "--json",
                 "--out", str(tmp_path / "p.npz")]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["clean_accuracy"] == cert["clean_accuracy"]
    with np.load(tmp_path / "p.npz") as npz:
        assert npz["prediction"].tolist() == pred["prediction"]
    assert main(["predict", str(out), "--input", str(f)]) == 0  # x_test, y_test
    assert "clean accuracy" in capsys.readouterr().out


def test_cli_builtin_run_keeps_models_for_predict(tmp_path, capsys):
    ds = data.load("digits")
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--k", "4", "--learner", "mlp",
                 "--scale", "smoke", "--out", str(out), "--no-progress",
                 "--device", "cpu"]) == 0
    run = store.RunDir.open(out)
    assert run.has_weights()
    got = own.predict_scores(out, ds.x_test.numpy())
    stored = run.load_scores()
    np.testing.assert_allclose(got, stored, rtol=0, atol=1e-4)
    assert (got.argmax(2) == stored.argmax(2)).mean() > 0.99
    with pytest.raises(TypeError, match="x must be uint8 images"):
        own.predict_scores(out, np.zeros((2, 64), np.float32))


def test_cli_own_learner_on_a_builtin_dataset_with_features(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--k", "3", "--learner",
                 "ldcbook.examples:small_mlp", "--features", "hog", "--epochs", "2",
                 "--out", str(out), "--no-progress"]) == 0
    spec = store.RunDir.open(out).config
    assert spec["features"] == "hog" and spec["hash"] == "pixel_sum"
    assert main(["certify", str(out)]) == 0


@pytest.mark.parametrize(
    "argv,status,message",
    [
        (["--k", "2", "--learner", "mlp"], 2, "exactly one of --dataset and --data"),
        (["--data", "D", "--k", "2", "--learner", "mlp"], 2, "--data needs --learner"),
        (["--data", "D", "--k", "2", "--learner", "bad"], 2, "package.module:factory"),
        (["--data", "D", "--k", "2", "--learner", "ldcbook.examples:small_mlp",
          "--schedule", "ldc"], 2, "do not apply to a package.module:factory"),
        (["--data", "D", "--k", "2", "--learner", "ldcbook.examples:not_a_module"],
         1, "must return a torch.nn.Module"),
        (["--data", "D", "--k", "2", "--learner", "ldcbook.examples:small_mlp",
          "--hash", "pixel_sum"], 1, "hash 'pixel_sum' needs uint8"),
        (["--dataset", "digits", "--k", "2", "--learner", "cnn", "--hash", "sha256"],
         2, "--hash sha256 applies to"),
        (["--dataset", "digits", "--k", "2", "--learner", "cnn", "--features", "hog"],
         2, "--features applies to"),
    ],
)
def test_cli_errors(tmp_path, floats, capsys, argv, status, message):
    f = write_npz(tmp_path / "d.npz", x_train=floats.x_train, y_train=floats.y_train,
                  x_test=floats.x_test, y_test=floats.y_test)
    argv = [str(f) if a == "D" else a for a in argv]
    try:
        code = main(["train", *argv, "--out", str(tmp_path / "r"), "--no-progress"])
    except SystemExit as exit_:
        code = exit_.code
    assert code == status
    assert message in capsys.readouterr().err


def test_cli_predict_errors(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--input", str(tmp_path / "x.npz")]) == 1
    assert "holds no run" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# the built-in batched learners: models kept, resume inside a chunk


@pytest.mark.parametrize("learner,stop_at",
                         [("cnn", ([2, 3], 1)), ("mlp", ([0, 1], 2))])
def test_builtin_resume_inside_a_chunk_is_bit_identical(tmp_path, learner, stop_at):
    from ldcbook.ensemble import TrainConfig
    from ldcbook.experiments import experiment_spec, fit_and_keep, prepare_spec
    from ldcbook.partition import partitions

    ds = data.load("digits")
    spec = experiment_spec("digits", 4, learner=learner, scale="smoke", epochs=3,
                           batch_size=32)
    spec = prepare_spec(tmp_path / "ref", spec, ds, "cpu")
    runtime = TrainConfig.from_dict(spec["train"]).replace(device="cpu")
    parts = partitions(ds, 4)

    def train(path, on_epoch=None, every=0.0):
        keep = fit_and_keep(runtime, False, path, on_epoch, checkpoint_every=every)
        return store.run_training(path, ds, parts, spec, chunk_size=2, train_fn=keep)

    ref = train(tmp_path / "ref")
    seen = []

    def kill(ids, epoch):
        seen.append((ids, epoch))
        if (ids, epoch) == stop_at:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "run", kill)
    resumed = []
    run = train(tmp_path / "run", lambda ids, e: resumed.append((ids, e)))
    assert resumed[0] == (stop_at[0], stop_at[1] + 1)  # after the last finished epoch
    np.testing.assert_array_equal(run.load_scores(), ref.load_scores())
    for m in range(4):
        w, wr = run.load_weights(m), ref.load_weights(m)
        assert w.keys() == wr.keys() and all(np.array_equal(w[k], wr[k]) for k in w)
    assert own.clear_checkpoints(run) and not own.clear_checkpoints(run)
    rare = []  # checkpoints at most every hour: none in these seconds
    train(tmp_path / "rare", lambda ids, e: rare.append(e), every=3600.0)
    assert rare == [] and not store.RunDir.open(tmp_path / "rare").manifest.get("files")


def test_checkpoint_of_other_members_is_ignored():
    from ldcbook.ensemble.training import _usable

    members = np.array([0, 1])
    assert _usable({"members": members, "epoch": np.array(2)}, members, 3)
    assert not _usable({"members": np.array([2, 3]), "epoch": np.array(2)}, members, 3)
    assert not _usable({"members": members, "epoch": np.array(4)}, members, 3)
    assert not _usable(None, members, 3)


def test_certify_and_plot_runs_made_by_the_api(tmp_path, floats, capsys):
    spec = own.own_spec(floats, 3, learner="ldcbook.examples:small_mlp", config=SMALL)
    run = own.train_own(tmp_path / "api", floats, spec)
    assert main(["certify", str(run.path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    pred = run.load_scores().argmax(2)  # plurality of the votes, ties to the smaller
    counts = np.stack([(pred == c).sum(1) for c in range(2)], axis=1)
    expected = np.mean(counts.argmax(1) == floats.y_test)
    assert got["clean_accuracy"] == pytest.approx(expected)
    assert main(["plot", str(run.path), "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 0


def test_cli_feature_function_is_recorded(tmp_path, digits, capsys):
    f = write_npz(tmp_path / "d.npz", x_train=digits.x_train[:300],
                  y_train=digits.y_train[:300], x_test=digits.x_test[:50],
                  y_test=digits.y_test[:50])
    out = tmp_path / "run"
    assert main(["train", "--data", str(f), "--k", "2", "--learner",
                 "ldcbook.examples:small_mlp",
                 "--features", "ldcbook.examples:row_means",
                 "--hash", "sha256", "--epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    spec = store.RunDir.open(out).config
    assert spec["features"] == "ldcbook.examples:row_means" and spec["features_sha256"]
    assert spec["hash"] == "sha256"
    capsys.readouterr()
    x_new = write_npz(tmp_path / "x.npz", x=digits.x_test[:3])
    assert main(["predict", str(out), "--input", str(x_new), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got["prediction"]) == len(got["radius"]) == 3
    assert "clean_accuracy" not in got


def test_fresh_clone_commands_of_the_appendix(tmp_path):
    """The closing note of book/10_own_model.py, run in a fresh clone of the
    repository (the committed state); ``PYTHONPATH`` stands in for ``pip install``,
    and ``python`` is this interpreter."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs git and a repository")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    text = (clone / "book" / "10_own_model.py").read_text()
    block = text.split("# ```bash\n", 1)[1].split("# ```\n", 1)[0]
    lines = [line[2:] for line in block.splitlines()]
    assert lines[0].startswith("git clone") and "pip install" in lines[1]
    script = "\n".join(lines[2:]).replace("python ", f"{sys.executable} ")
    env = {**os.environ, "PYTHONPATH": str(clone), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "10 of 10 models finished" in done.stdout
    assert "method dpa: clean accuracy" in done.stdout
    with np.load(clone / "pred.npz") as npz:
        assert npz["prediction"].shape == (20,)
    assert store.RunDir.open(clone / "runs" / "tiny-cnn").has_weights()


def test_predict_refuses_rnn_runs(tmp_path, capsys):
    out = tmp_path / "rnn"
    assert main(["train", "--dataset", "digits", "--k", "2", "--learner", "rnn",
                 "--out", str(out), "--no-progress"]) == 0
    x = write_npz(tmp_path / "x.npz", x=data.load("digits").x_test.numpy()[:2])
    assert main(["predict", str(out), "--input", str(x)]) == 1
    assert "keeps no models" in capsys.readouterr().err


def test_fa_run_with_an_own_learner(tmp_path, floats, capsys):
    spec = own.own_spec(floats, 3, 2, learner="ldcbook.examples:small_mlp",
                        config=SMALL)
    run = own.train_own(tmp_path / "fa", floats, spec)
    assert run.num_models == 6 and spec["shifts"] != [0]
    parts = assign(sample_keys(floats.x_train, "sha256", 6), 3, 2, spec["shifts"])
    assert sum(len(p) for p in parts) == 2 * len(floats.y_train)  # d copies of each
    np.testing.assert_array_equal(own.partition_sizes(spec, floats),
                                  [len(p) for p in parts])
    assert main(["certify", str(run.path), "--method", "fa"]) == 0
    assert main(["certify", str(run.path), "--method", "dpa"]) == 1
    assert "use --method fa" in capsys.readouterr().err
