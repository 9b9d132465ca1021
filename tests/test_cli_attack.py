"""Tests for ``python -m ldcbook attack``: real attacks on a stored run."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import torch

from ldcbook import attack_experiments as ae
from ldcbook import store
from ldcbook.cli import build_parser, main
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig
from ldcbook.partition import partitions

# the same smoke run and thread guard as the other command-line tests
from test_cli import TRAIN, restore_threads, run_dir  # noqa: F401  (fixtures)


def _load(folder, name):
    summary = json.loads((folder / f"{name}.json").read_text())
    payload = (folder / summary["file"]).read_bytes()
    assert hashlib.sha256(payload).hexdigest() == summary["sha256"]
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        return summary, {key: z[key] for key in z.files}


def test_attack_help_explains_every_option(capsys):
    sub = build_parser()._subparsers._group_actions[0].choices["attack"]
    with pytest.raises(SystemExit) as exc:
        main(["attack", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for action in sub._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert opt in text and action.help


def test_attack_writes_checksummed_results_equal_to_the_library(capsys, run_dir):
    argv = ["attack", str(run_dir), "--method", "near-copies", "--budget", "1",
            "--points", "0:12", "--threads", "1"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    folder = run_dir / "attacks" / "near-copies-b1"
    summary, arrays = _load(folder, "shard-0-of-1")
    assert summary == printed and summary["attacked"] == 12
    assert summary["violations"] == 0
    # the same computation through the library
    ds = load("digits")
    spec = store.RunDir.open(run_dir).config
    scores = store.RunDir.open(run_dir).load_scores()
    torch.set_num_threads(1)
    cfg = TrainConfig.from_dict(spec["train"])
    expected = ae.attack_points(ds, partitions(ds, 5), cfg, scores, np.arange(12),
                                "near-copies", 1)
    for key, value in expected.items():
        assert np.array_equal(arrays[key], value), key
    assert (arrays["size"] == 1).all() and (arrays["models"] == 1).all()
    # shards split the points
    for i in range(2):
        assert main(argv + ["--shard", f"{i}/2"]) == 0
    capsys.readouterr()
    parts = [_load(folder, f"shard-{i}-of-2")[1] for i in range(2)]
    joined = np.sort(np.concatenate([p["points"] for p in parts]))
    assert joined.tolist() == list(range(12))
    for p in parts:
        rows = np.searchsorted(arrays["points"], p["points"])
        assert np.array_equal(p["attacked_prediction"],
                              arrays["attacked_prediction"][rows])


@pytest.mark.parametrize("argv, message", [
    (["--method", "nope", "--budget", "1"], "invalid choice"),
    (["--method", "removal", "--budget", "-1"], "an integer >= 0"),
    (["--method", "removal", "--budget", "1", "--points", "5:2"], "0 <= A < B"),
    (["--method", "removal"], "required"),
])
def test_attack_bad_options(capsys, run_dir, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["attack", str(run_dir), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_attack_failures_while_running(capsys, run_dir, tmp_path):
    assert main(["attack", str(tmp_path / "none"), "--method", "removal",
                 "--budget", "1"]) == 1
    assert main(["attack", str(run_dir), "--method", "removal", "--budget", "1",
                 "--points", "0:100000"]) == 1
    err = capsys.readouterr().err
    assert "--points must lie in" in err


def test_attack_on_an_fa_run_uses_the_heaviest_buckets(capsys, tmp_path):
    from ldcbook.certify import fa_shifts

    out = tmp_path / "fa"
    assert main(TRAIN[:4] + ["3", "--d", "2"] + TRAIN[5:] + ["--out", str(out)]) == 0
    argv = ["attack", str(out), "--method", "near-copies", "--budget", "2",
            "--points", "0:8", "--threads", "1"]
    assert main(argv) == 0
    summary, arrays = _load(out / "attacks" / "near-copies-b2", "shard-0-of-1")
    assert summary["violations"] == 0 and summary["attacked"] == 8
    assert (arrays["size"] == 2).all() and (arrays["models"] <= 4).all()
    scores = store.RunDir.open(out).load_scores()
    torch.set_num_threads(1)
    cfg = TrainConfig.from_dict(store.RunDir.open(out).config["train"])
    expected = ae.fa_attack_points(load("digits"), cfg, scores, np.arange(8), 3, 2,
                                   fa_shifts(3, 2), budget=2)
    for key, value in expected.items():
        assert np.array_equal(arrays[key], value.reshape(len(value), -1)[:, 0]), key
    capsys.readouterr()
    assert main(argv[:3] + ["removal"] + argv[4:]) == 1
    assert "--method near-copies" in capsys.readouterr().err
