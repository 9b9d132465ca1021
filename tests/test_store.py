"""Tests for ldcbook.store: atomic checksummed chunks, resume, corruption, merge.

The training function here is a cheap stand-in for ``ldcbook.ensemble.fit_scores``: a
pure function of each model's partition (its class histogram and mean pixel), so an
interrupted and an uninterrupted run must agree bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ldcbook import store
from ldcbook.store import RunDir, merge, run_training, shard_chunks

NUM_MODELS = 10
CONFIG = {"model": "fake", "seed": 7, "milestones": (0.3, 0.6)}


def make_dataset(seed: int = 0, n_train: int = 60, n_test: int = 9, classes: int = 4):
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 1, 4, 4), dtype=np.uint8)
    return SimpleNamespace(
        name="toy",
        x_train=x_train,
        y_train=rng.integers(0, classes, n_train),
        x_test=rng.integers(0, 256, (n_test, 1, 4, 4), dtype=np.uint8),
        y_test=rng.integers(0, classes, n_test),
        num_classes=classes,
        train_keys=x_train.reshape(n_train, -1).sum(1, dtype=np.int64),
    )


def make_parts(dataset, k: int = NUM_MODELS):
    return [np.flatnonzero(dataset.train_keys % k == i) for i in range(k)]


def fake_scores(dataset, parts, model_ids, config):
    """Scores of each model from its own partition only."""
    c = dataset.num_classes
    t = dataset.x_test.reshape(len(dataset.x_test), -1).mean(axis=1)
    out = np.empty((len(t), len(model_ids), c), dtype=np.float32)
    for col, m in enumerate(np.asarray(model_ids).tolist()):
        idx = parts[m]
        hist = np.bincount(dataset.y_train[idx], minlength=c)
        mean = dataset.x_train[idx].mean() if len(idx) else 0.0
        test_term = 1e-3 * np.outer(t, np.arange(c))
        out[:, col] = hist + test_term + 1e-2 * mean + config["seed"]
    return out


class Recorder:
    """A train_fn that records its calls and can fail at a given call."""

    def __init__(self, fail_at: int | None = None, how: str = "raise"):
        self.calls: list[list[int]] = []
        self.fail_at, self.how = fail_at, how

    def __call__(self, dataset, parts, model_ids, config):
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            if self.how == "exit":
                os._exit(137)  # a hard kill: no cleanup, no exception handlers
            raise RuntimeError("killed")
        self.calls.append(np.asarray(model_ids).tolist())
        return fake_scores(dataset, parts, model_ids, config)


@pytest.fixture
def toy():
    ds = make_dataset()
    parts = make_parts(ds)
    expected = fake_scores(ds, parts, np.arange(NUM_MODELS), CONFIG)
    return ds, parts, expected


def chunk_files(path: Path) -> list[Path]:
    return sorted(path.glob("scores_*.npz"))


# -------------------------------------------------------------- an uninterrupted run


def test_run_stores_exact_scores_in_model_order(tmp_path, toy):
    ds, parts, expected = toy
    fn = Recorder()
    run = run_training(tmp_path / "run", ds, parts, CONFIG, 3, train_fn=fn)
    assert fn.calls == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    scores = run.load_scores()
    assert scores.dtype == np.float32 and scores.shape == (9, NUM_MODELS, 4)
    assert np.array_equal(scores, expected)
    assert run.finished().tolist() == list(range(NUM_MODELS))
    # a second call finds everything done
    again = Recorder()
    run_training(tmp_path / "run", ds, parts, CONFIG, 3, train_fn=again)
    assert again.calls == []


def test_manifest_records_identity_versions_and_checksums(tmp_path, toy):
    ds, parts, _ = toy
    path = tmp_path / "run"
    run_training(path, ds, parts, CONFIG, 4, train_fn=Recorder())
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["config"] == {"model": "fake", "seed": 7, "milestones": [0.3, 0.6]}
    assert manifest["seed"] == 7
    assert manifest["data_hash"] == store.data_hash(ds)
    assert manifest["parts_hash"] == store.parts_hash(parts)
    assert manifest["packages"]["numpy"] == np.__version__
    assert {"python", "torch", "scikit-image", "ldcbook"} <= set(manifest["packages"])
    files = chunk_files(path)
    assert sorted(manifest["chunks"]) == [f.name for f in files]
    for f in files:  # an independent SHA-256 of each file
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        assert manifest["chunks"][f.name]["sha256"] == digest
        with np.load(f, allow_pickle=False) as npz:  # plain arrays, no pickle
            assert sorted(npz.files) == ["model_ids", "scores"]
            assert manifest["chunks"][f.name]["model_ids"] == npz["model_ids"].tolist()
    assert not list(path.glob(".tmp-*"))  # no temporary file left behind


def test_data_hash_sees_every_array_and_accepts_tensors():
    torch = pytest.importorskip("torch")
    ds = make_dataset()
    base = store.data_hash(ds)
    assert base == store.data_hash(make_dataset())
    for attr in ("x_train", "y_train", "x_test", "y_test", "train_keys"):
        changed = make_dataset()
        arr = getattr(changed, attr).copy()
        arr.flat[3] += 1
        setattr(changed, attr, arr)
        assert store.data_hash(changed) != base, attr
    as_tensors = make_dataset()
    for attr in ("x_train", "y_train", "x_test", "y_test"):
        setattr(as_tensors, attr, torch.from_numpy(getattr(as_tensors, attr)))
    assert store.data_hash(as_tensors) == base


# ---------------------------------------------------------------------------- resume


def test_resume_after_an_exception_gives_the_uninterrupted_scores(tmp_path, toy):
    ds, parts, expected = toy
    path = tmp_path / "run"
    with pytest.raises(RuntimeError, match="killed"):
        run_training(path, ds, parts, CONFIG, 3, train_fn=Recorder(fail_at=2))
    assert RunDir.open(path).finished().tolist() == list(range(6))
    resumed = Recorder()
    run = run_training(path, ds, parts, CONFIG, 3, train_fn=resumed)
    assert resumed.calls == [[6, 7, 8], [9]]  # only the unfinished models
    assert np.array_equal(run.load_scores(), expected)


def test_resume_after_a_hard_kill_gives_the_uninterrupted_scores(tmp_path, toy):
    ds, parts, expected = toy
    path = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_store as t
        ds = t.make_dataset()
        t.run_training({str(path)!r}, ds, t.make_parts(ds), t.CONFIG, 3,
                       train_fn=t.Recorder(fail_at=2, how="exit"))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert proc.returncode == 137, proc.stderr
    assert RunDir.open(path).finished().tolist() == list(range(6))
    resumed = Recorder()
    run = run_training(path, ds, parts, CONFIG, 3, train_fn=resumed)
    assert resumed.calls == [[6, 7, 8], [9]]
    assert np.array_equal(run.load_scores(), expected)


def test_kill_between_chunk_and_manifest_write(tmp_path, toy, monkeypatch):
    ds, parts, expected = toy
    path = tmp_path / "run"
    real = store.atomic_write_bytes
    writes = []

    def flaky(target, data):
        writes.append(Path(target).name)
        if Path(target).name == "manifest.json" and writes.count("manifest.json") == 3:
            raise KeyboardInterrupt  # the 2nd chunk's file is written, not yet listed
        real(target, data)

    monkeypatch.setattr(store, "atomic_write_bytes", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_training(path, ds, parts, CONFIG, 3, train_fn=Recorder())
    monkeypatch.setattr(store, "atomic_write_bytes", real)
    assert len(chunk_files(path)) == 2  # one listed, one orphan
    assert RunDir.open(path).finished().tolist() == [0, 1, 2]
    assert len(chunk_files(path)) == 1  # the orphan, never listed, is removed
    resumed = Recorder()
    run = run_training(path, ds, parts, CONFIG, 3, train_fn=resumed)
    assert resumed.calls == [[3, 4, 5], [6, 7, 8], [9]]
    assert np.array_equal(run.load_scores(), expected)
    assert len(chunk_files(path)) == 4


def test_resume_refuses_another_config_data_or_partition(tmp_path, toy):
    ds, parts, _ = toy
    path = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_training(path, ds, parts, CONFIG, 5, train_fn=Recorder(fail_at=1))
    # the message names the differing setting and suggests another directory
    with pytest.raises(ValueError, match=r"seed: stored \d+, asked 8.*e\.g\. run-"):
        run_training(path, ds, parts, dict(CONFIG, seed=8), 5, train_fn=Recorder())
    with pytest.raises(ValueError, match="data_hash"):
        run_training(path, make_dataset(seed=1), parts, CONFIG, 5, train_fn=Recorder())
    with pytest.raises(ValueError, match="parts_hash"):
        run_training(path, ds, make_parts(ds)[::-1], CONFIG, 5, train_fn=Recorder())


def test_changed_chunk_size_completes_partial_chunks(tmp_path, toy):
    ds, parts, expected = toy
    path = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_training(path, ds, parts, CONFIG, 3, train_fn=Recorder(fail_at=1))
    resumed = Recorder()
    run = run_training(path, ds, parts, CONFIG, 4, train_fn=resumed)
    assert resumed.calls == [[3], [4, 5, 6, 7], [8, 9]]
    assert np.array_equal(run.load_scores(), expected)


# --------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_chunk_is_detected_and_recomputed(tmp_path, toy, damage):
    ds, parts, expected = toy
    path = tmp_path / "run"
    run_training(path, ds, parts, CONFIG, 3, train_fn=Recorder())
    victim = next(f for f in chunk_files(path) if f.name.startswith("scores_000003"))
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip":  # one bit inside the stored scores, same size
        pos = len(data) - 300
        victim.write_bytes(data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :])
    else:
        victim.unlink()
    run = RunDir.open(path)
    assert run.verify()[victim.name] is False
    with pytest.raises(ValueError, match="SHA-256"):
        run.load_scores()
    with pytest.warns(RuntimeWarning, match="recomputed"):
        assert run.finished().tolist() == [0, 1, 2, 6, 7, 8, 9]
    if damage != "delete":
        assert victim.with_name(victim.name + ".corrupt").exists()
    resumed = Recorder()
    run = run_training(path, ds, parts, CONFIG, 3, train_fn=resumed)
    assert resumed.calls == [[3, 4, 5]]
    assert np.array_equal(run.load_scores(), expected)
    assert all(run.verify().values())


def test_damaged_manifest_is_reported(tmp_path, toy):
    ds, parts, _ = toy
    path = tmp_path / "run"
    run_training(path, ds, parts, CONFIG, 5, train_fn=Recorder())
    text = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        RunDir.open(path)
    (path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not an ldcbook run manifest"):
        RunDir.open(path)
    with pytest.raises(FileNotFoundError, match="holds no run"):
        RunDir.open(tmp_path / "nothing")


# ----------------------------------------------------------------------------- merging


def test_merge_of_shards_equals_one_run(tmp_path, toy):
    ds, parts, expected = toy
    shards = []
    seen = []
    for i in range(3):
        fn = Recorder()
        path = tmp_path / f"s{i}"
        shards.append(run_training(path, ds, parts, CONFIG, 2, (i, 3), fn))
        seen += fn.calls
    assert sorted(sum(seen, [])) == list(range(NUM_MODELS))  # disjoint and complete
    plan = [c.tolist() for i in range(3) for c in shard_chunks(NUM_MODELS, 2, (i, 3))]
    assert seen == plan
    with pytest.raises(ValueError, match="lacks the scores"):
        shards[0].load_scores()
    merged = merge(tmp_path / "all", [s.path for s in shards])
    assert np.array_equal(merged.load_scores(), expected)
    single = run_training(tmp_path / "one", ds, parts, CONFIG, 2, train_fn=Recorder())
    names = {f.name for f in chunk_files(merged.path)}
    assert names == {f.name for f in chunk_files(single.path)}
    merge(tmp_path / "all", shards)  # idempotent
    assert np.array_equal(RunDir.open(tmp_path / "all").load_scores(), expected)
    into_source = merge(shards[0].path, shards[1:])  # merging into a source also works
    assert np.array_equal(into_source.load_scores(), expected)


def test_merge_refuses_different_runs_and_conflicting_chunks(tmp_path, toy):
    ds, parts, _ = toy
    a = run_training(tmp_path / "a", ds, parts, CONFIG, 5, (0, 2), Recorder())
    other = dict(CONFIG, seed=1)
    b = run_training(tmp_path / "b", ds, parts, other, 5, (1, 2), Recorder())
    with pytest.raises(ValueError, match="differ in"):
        merge(tmp_path / "m", [a.path, b.path])
    # c has other chunk boundaries, so its chunks overlap a's
    c = run_training(tmp_path / "c", ds, parts, CONFIG, 2, (0, 1), Recorder())
    with pytest.raises(ValueError, match="already stored"):
        merge(tmp_path / "m2", [a.path, c.path])


def test_concurrent_shards_can_share_one_directory(tmp_path, toy):
    ds, parts, expected = toy
    path = tmp_path / "run"
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {tests!r})
        import test_store as t
        ds = t.make_dataset()
        t.run_training({path!r}, ds, t.make_parts(ds), t.CONFIG, 1, ({i}, 2),
                       train_fn=t.Recorder())
        """
    )
    tests = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script.format(tests=tests, path=str(path), i=i)],
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    run = RunDir.open(path)
    assert len(run.manifest["chunks"]) == NUM_MODELS
    assert np.array_equal(run.load_scores(), expected)


# ------------------------------------------------------------------------ validation


def test_save_chunk_validates(tmp_path):
    shape = dict(num_models=4, n_test=2, num_classes=3)
    run = RunDir.create(tmp_path / "r", CONFIG, "abc", **shape)
    good = np.zeros((2, 2, 3), np.float32)
    run.save_chunk([0, 1], good)
    with pytest.raises(ValueError, match=r"already stored"):
        run.save_chunk([1, 2], good)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 3\)"):
        run.save_chunk([2, 3], np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"range\(4\)"):
        run.save_chunk([3, 4], good)
    with pytest.raises(ValueError, match="distinct"):
        run.save_chunk([3, 3], good)
    with pytest.raises(ValueError, match="finite"):
        run.save_chunk([2, 3], np.full((2, 2, 3), np.nan))
    with pytest.raises(TypeError, match="model_ids must have an integer"):
        run.save_chunk(np.array([2.0, 3.0]), good)
    with pytest.raises(FileExistsError):
        RunDir.create(tmp_path / "r", CONFIG, "abc", **shape)
    with pytest.raises(TypeError, match="config must be a dict"):
        RunDir.create(tmp_path / "s", [1], "abc", **shape)


def test_shard_chunks_cover_all_models_once():
    for n in (1, 2, 3, 7):
        chunks = [c for s in range(n) for c in shard_chunks(23, 4, (s, n))]
        assert sorted(i for c in chunks for i in c) == list(range(23))
    assert [c.tolist() for c in shard_chunks(10, 4, (1, 2))] == [[4, 5, 6, 7]]
    with pytest.raises(ValueError, match=r"shard\[0\] must be <= 1"):
        shard_chunks(10, 4, (2, 2))
    with pytest.raises(TypeError, match="shard must be a pair"):
        shard_chunks(10, 4, 2)


def test_run_training_validates_parts(tmp_path, toy):
    ds, parts, _ = toy
    with pytest.raises(ValueError, match=r"parts\[1\] must index range\(60\)"):
        bad = [parts[0], np.array([60])]
        run_training(tmp_path, ds, bad, CONFIG, 2, train_fn=Recorder())


def test_resume_with_the_real_ensemble_trainer_is_bitwise_exact(tmp_path):
    """The same guarantee with ldcbook.ensemble.fit_scores (a tiny MLP on digits)."""
    ensemble = pytest.importorskip("ldcbook.ensemble")
    from ldcbook.data import load
    from ldcbook.partition import partitions

    ds = load("digits")
    parts = partitions(ds, 6)
    config = ensemble.TrainConfig(
        model="mlp", epochs=2, batch_size=16, lr=0.05, seed=3, device="cpu"
    )
    calls = []

    def killed_at_second_chunk(*args):
        if len(calls) == 1:
            raise RuntimeError("killed")
        calls.append(args[2].tolist())
        return ensemble.fit_scores(*args)

    with pytest.raises(RuntimeError, match="killed"):
        fn = killed_at_second_chunk
        run_training(tmp_path / "a", ds, parts, config, 2, train_fn=fn)
    resumed = run_training(tmp_path / "a", ds, parts, config, 2)  # default train_fn
    whole = run_training(tmp_path / "b", ds, parts, config, 2)
    assert calls == [[0, 1]]
    assert np.array_equal(resumed.load_scores(), whole.load_scores())
