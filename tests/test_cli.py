"""Tests for the command line: python -m ldcbook train / certify / plot / merge."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ldcbook import store
from ldcbook.certify import certified_accuracy, count_votes, dpa
from ldcbook.cli import build_parser, main
from ldcbook.experiments import one_hot_scores
from ldcbook.ensemble import votes
from ldcbook.data import load
from ldcbook.ensemble import fit_scores, preset
from ldcbook.partition import partitions

TRAIN = ["train", "--dataset", "digits", "--k", "5", "--learner", "cnn", "--scale",
         "smoke", "--epochs", "1", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module", autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dpa"
    assert main(TRAIN + ["--out", str(out)]) == 0
    return out


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------ help


def _options(parser):
    return [opt for action in parser._actions for opt in action.option_strings
            if opt.startswith("--") and opt != "--help"]


@pytest.mark.parametrize("command", ["train", "certify", "plot", "merge"])
def test_help_explains_every_option(capsys, command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in _options(sub):
        assert opt in text
    for action in sub._actions:
        name = action.option_strings or action.dest
        assert action.help, f"{command} {name} has no help"


def test_module_entry_point_prints_help():
    out = subprocess.run([sys.executable, "-m", "ldcbook", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("train", "certify", "plot", "merge"):
        assert command in out.stdout


@pytest.mark.parametrize("argv,message", [
    (["train", "--dataset", "digits", "--k", "0", "--learner", "cnn", "--out", "x"],
     "--k: expected a positive integer"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "vgg", "--out", "x"],
     "--learner: expected one of cnn, mlp, nin, rnn or package.module:factory"),
    (["train", "--dataset", "imagenet", "--k", "5", "--learner", "cnn", "--out", "x"],
     "--dataset: invalid choice"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "cnn"],
     "the following arguments are required: --out"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "cnn", "--out", "x",
      "--shard", "2/2"], "--shard: expected 0 <= i < n"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "cnn", "--out", "x",
      "--shard", "a"], "--shard: expected i/n"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "rnn", "--out", "x",
      "--epochs", "3"], "do not apply to --learner rnn"),
    (["train", "--dataset", "digits", "--k", "5", "--learner", "cnn", "--out", "x",
      "--device", "cuda:7"], "--device"),
    (["certify", "r", "--method", "knn"], "--method: invalid choice"),
    (["certify", "r", "--attack-sizes", "1,-2"], "--attack-sizes"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_options_give_one_line_and_status_2(capsys, argv, message):
    if "cuda:7" in argv and torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_failures_while_running_give_one_line_and_status_1(capsys, tmp_path):
    code, _, err = _run(capsys, ["certify", str(tmp_path / "nothing")])
    assert code == 1 and len(err.strip().splitlines()) == 1 and "error" in err


# ---------------------------------------------------------------- train and certify


def test_train_stores_the_scores_of_fit_scores(run_dir):
    run = store.RunDir.open(run_dir)
    spec = run.config
    assert (spec["dataset"], spec["k"], spec["d"], spec["learner"]) == ("digits", 5, 1,
                                                                        "cnn")
    assert spec["train"]["epochs"] == 1
    ds = load("digits")
    config = preset("baseline", "digits", "cnn", scale="smoke", epochs=1)
    torch.set_num_threads(1)
    expected = fit_scores(ds, partitions(ds, 5), range(5), config)
    assert np.array_equal(run.load_scores(), expected)


def test_resume_does_nothing_more(capsys, run_dir):
    before = store.RunDir.open(run_dir).load_scores()
    code, out, _ = _run(capsys, TRAIN + ["--out", str(run_dir)])
    assert code == 0 and "5 of 5 models finished" in out
    assert np.array_equal(store.RunDir.open(run_dir).load_scores(), before)
    other = [a if a != "1" or TRAIN[i - 1] != "--epochs" else "2"
             for i, a in enumerate(TRAIN)]
    code, _, err = _run(capsys, other + ["--out", str(run_dir)])
    assert code == 1 and len(err.strip().splitlines()) == 1  # another configuration


def test_certify_prints_the_dpa_certificate(capsys, run_dir):
    code, out, _ = _run(capsys, ["certify", str(run_dir), "--json",
                                 "--attack-sizes", "0,1,2"])
    assert code == 0
    result = json.loads(out)
    scores = store.RunDir.open(run_dir).load_scores()
    labels = load("digits").y_test.numpy()
    pred, radius = dpa(count_votes(np.argmax(scores, axis=2), 10))
    assert result["certified_accuracy"] == pytest.approx(
        certified_accuracy(pred, radius, labels, [0, 1, 2]).tolist())
    assert result["clean_accuracy"] == pytest.approx(np.mean(pred == labels))
    code, out, _ = _run(capsys, ["certify", str(run_dir), "--method", "roe"])
    assert code == 0 and "method roe" in out and "certified accuracy" in out
    code, out, _ = _run(capsys, ["certify", str(run_dir), "--method", "fa"])
    assert code == 0  # FA with d = 1 is DPA
    assert f"clean accuracy {result['clean_accuracy']:.4f}" in out


def test_plot_writes_an_image(capsys, run_dir, tmp_path):
    out = tmp_path / "fig" / "curve.png"
    code, _, _ = _run(capsys, ["plot", str(run_dir), "--out", str(out),
                               "--method", "dpa", "--method", "roe"])
    assert code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shards_merge_into_the_unsharded_run(capsys, run_dir, tmp_path):
    shards = [tmp_path / f"s{i}" for i in range(2)]
    for i, path in enumerate(shards):
        argv = TRAIN + ["--out", str(path), "--shard", f"{i}/2", "--chunk", "2"]
        assert main(argv) == 0
    code, out, _ = _run(capsys, ["merge", str(tmp_path / "all"), *map(str, shards)])
    assert code == 0 and "5 of 5" in out
    merged = store.RunDir.open(tmp_path / "all").load_scores()
    assert np.array_equal(merged, store.RunDir.open(run_dir).load_scores())


def test_fa_run_and_rnn_run(capsys, tmp_path):
    fa_dir = tmp_path / "fa"
    assert main(TRAIN[:4] + ["2", "--d", "2"] + TRAIN[5:] + ["--out", str(fa_dir)]) == 0
    assert store.RunDir.open(fa_dir).num_models == 4
    code, out, _ = _run(capsys, ["certify", str(fa_dir), "--method", "fa"])
    assert code == 0 and "d = 2" in out
    code, _, err = _run(capsys, ["certify", str(fa_dir), "--method", "dpa"])
    assert code == 1 and "fa" in err
    rnn_dir = tmp_path / "rnn"
    assert main(["train", "--dataset", "digits", "--k", "3", "--learner", "rnn",
                 "--features", "pixels", "--radius", "8", "--out", str(rnn_dir),
                 "--no-progress"]) == 0
    code, out, _ = _run(capsys, ["certify", str(rnn_dir)])
    assert code == 0 and "rnn" in out
    code, _, err = _run(capsys, ["certify", str(rnn_dir), "--method", "roe"])
    assert code == 1 and "votes only" in err


def test_one_hot_scores_round_trip():
    preds = np.array([[0, -1, 2], [1, 1, -1]])
    scores = one_hot_scores(preds, 3)
    assert scores.shape == (2, 3, 3)
    assert np.array_equal(votes(scores), preds)
    logits = np.array([[[0.2, 0.2, 0.1]]], dtype=np.float32)
    assert votes(logits).tolist() == [[0]]  # tie to the smaller class


def test_execution_options_are_recorded(tmp_path):
    out = tmp_path / "run"
    argv = TRAIN + ["--out", str(out), "--group-size", "2", "--precision", "fp32",
                    "--no-deterministic"]
    assert main(argv) == 0
    train = store.RunDir.open(out).config["train"]
    assert (train["group_size"], train["precision"], train["deterministic"]) == (
        2, "fp32", False)
    # resumed without the options: the recorded run is found finished, not retrained
    assert main(TRAIN + ["--out", str(out), "--no-deterministic"]) == 0
    # a learner that trains no network refuses them
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "digits", "--k", "3", "--learner", "rnn",
              "--precision", "tf32", "--out", str(tmp_path / "r")])


def test_certify_says_when_there_is_no_median_radius(capsys, tmp_path):
    """A run whose models are barely trained certifies fewer than half the points."""
    out = tmp_path / "weak"
    weak = ["train", "--dataset", "digits", "--k", "40", "--learner", "mlp", "--scale",
            "smoke", "--epochs", "1", "--lr", "0.0001", "--no-progress", "--threads",
            "1", "--out", str(out)]
    assert main(weak) == 0
    capsys.readouterr()
    code, text, _ = _run(capsys, ["certify", str(out), "--json"])
    result = json.loads(text)
    assert code == 0 and result["median_radius"] is None
    code, text, _ = _run(capsys, ["certify", str(out)])
    assert "median certified radius none (fewer than half" in text


def test_a_damaged_score_file_names_the_command_that_recomputes_it(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(TRAIN + ["--out", str(out)]) == 0
    chunk = next(out.glob("*.npz"))
    chunk.write_bytes(chunk.read_bytes()[:-10])  # truncated
    capsys.readouterr()
    code, _, err = _run(capsys, ["certify", str(out)])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "python -m ldcbook train --dataset digits --k 5" in err
    # the command recomputes it
    hint = err.split("recompute them with: ")[1].strip().split()[3:]
    with pytest.warns(RuntimeWarning, match="will be recomputed"):
        assert main(hint + ["--threads", "1", "--no-progress"]) == 0
    assert main(["certify", str(out)]) == 0


def test_rnn_radius_auto_is_read_off_the_training_set_and_recorded(capsys, tmp_path):
    from ldcbook.experiments import rnn_features
    from ldcbook.neighbor_experiments import ball_radius, nearest_distances

    out = tmp_path / "auto"
    argv = ["train", "--dataset", "digits", "--k", "4", "--learner", "rnn",
            "--radius", "auto", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    rnn = store.RunDir.open(out).config["rnn"]
    ds = load("digits")
    feats = rnn_features(ds.x_train, "hog")
    parts = partitions(ds, 4)
    assert rnn["radius"] == ball_radius(feats, parts, empty=0.1, queries=1000, seed=0)
    # about 10 % of the balls around training points are empty at that radius
    q = np.sort(np.random.default_rng(0).choice(len(feats), 1000, replace=False))
    near = nearest_distances(feats, parts, feats[q], exclude=q)
    assert abs(np.mean(near > rnn["radius"]) - 0.1) < 0.01
    # a radius that certifies: better than the paper's CIFAR-10 value on digits
    code, text, _ = _run(capsys, ["certify", str(out), "--json"])
    assert code == 0 and json.loads(text)["clean_accuracy"] > 0.5
    assert main(argv) == 0  # resumes: the same radius, nothing to train
    with pytest.raises(SystemExit):
        main(argv[:-4] + ["--radius", "automatic", "--out", str(out)])
