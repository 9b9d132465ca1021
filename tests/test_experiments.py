"""Tests for ldcbook.experiments: the chapter's runs are the CLI's runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldcbook import ensemble, store
from ldcbook import experiments as ex
from ldcbook.certify import count_votes, dpa, fa, fa_shifts, roe
from ldcbook.cli import main
from ldcbook.data import load
from ldcbook.partition import partitions


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _spec(k=4, d=1, **kw):
    kw.setdefault("epochs", 1)
    return ex.experiment_spec("digits", k, d, "mlp", scale="smoke", **kw)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Runs trained by ``python -m ldcbook train`` with the arguments of cli_args."""
    root = tmp_path_factory.mktemp("runs")
    specs = {"dpa": _spec(4), "fa": _spec(3, 2, augment="none", lr=0.03)}
    for spec in specs.values():
        args = ex.cli_args(spec, root / ex.run_name(spec), chunk=2)
        assert main(args + ["--no-progress", "--threads", "1"]) == 0
    return root, specs


# ------------------------------------------------------------------ spec and the CLI


def test_spec_is_what_the_cli_stores(cli_runs):
    root, specs = cli_runs
    for spec in specs.values():
        stored = store.RunDir.open(root / ex.run_name(spec)).config
        assert isinstance(stored["train"]["group_size"], int)  # the groups are recorded
        resolved = ex.prepare_spec(root / ex.run_name(spec), spec, None)
        assert stored == store.normalize_config(resolved)


def test_a_resumed_run_keeps_its_recorded_groups(tmp_path, digits):
    spec = _spec(4)
    path = tmp_path / ex.run_name(spec)
    args = ex.cli_args(ex.experiment_spec("digits", 4, learner="mlp", scale="smoke",
                                          epochs=1, group_size=3), path)
    assert main(args + ["--no-progress"]) == 0
    # the chapter's spec leaves the group size open: it adopts the stored one
    assert ex.prepare_spec(path, spec, digits)["train"]["group_size"] == 3
    r = ex.train_run(tmp_path, digits, spec)
    assert r.spec["train"]["group_size"] == 3
    # a new run records what this machine resolves
    fresh = ex.prepare_spec(tmp_path / "new", spec, digits, "cpu")
    assert fresh["train"]["group_size"] == ensemble.resolve_group_size(
        ensemble.TrainConfig.from_dict(spec["train"]), (1, 8, 8), 4, "cpu")
    # an explicit other group size is another run: refused
    other = ex.experiment_spec("digits", 4, learner="mlp", scale="smoke", epochs=1,
                               group_size=2)
    with pytest.raises(ValueError):
        ex.train_run(tmp_path, digits, other)


def test_spec_fields():
    spec = _spec(5, 3, batch_size=8)
    assert spec["shifts"] == fa_shifts(5, 3).tolist()
    assert _spec(5)["shifts"] == [0]
    train = spec["train"]
    assert (train["epochs"], train["batch_size"], train["model"]) == (1, 8, "mlp")
    assert train["device"] is None and train["group_size"] is None
    assert train["precision"] == "fp32" and train["deterministic"] is True
    expected = ensemble.preset("baseline", "digits", "mlp", scale="smoke", epochs=1,
                               batch_size=8).to_dict()
    assert train == expected
    assert spec["scale"] == "smoke" and spec["schedule"] == "baseline"


def test_spec_reads_the_scale(monkeypatch):
    monkeypatch.setenv("LDCBOOK_SCALE", "full")
    spec = ex.experiment_spec("cifar10", 50, learner="nin")
    assert spec["scale"] == "full"
    assert spec["train"]["epochs"] == 200 and spec["train"]["augment"] == "cropflip"
    ldc = ex.experiment_spec("cifar10", 100, learner="nin", schedule="ldc")
    assert ldc["train"]["augment"] == "autoaugment-cifar10"
    assert ldc["train"]["epochs"] == 600


def test_run_name_distinguishes_runs():
    names = {ex.run_name(s) for s in [_spec(4), _spec(5), _spec(4, 2),
                                      _spec(4, augment="none"), _spec(4, seed=1)]}
    assert len(names) == 5
    assert ex.run_name(_spec(4)) == "digits-mlp-baseline-crop-k4-d1-s0"


def test_cli_args_options():
    args = ex.cli_args(_spec(4), "out/x", shard="$SLURM_ARRAY_TASK_ID/8", chunk=10)
    assert args[0] == "train"
    assert args[args.index("--shard") + 1] == "$SLURM_ARRAY_TASK_ID/8"
    assert args[args.index("--chunk") + 1] == "10"
    assert args[args.index("--lr") + 1] == repr(_spec(4)["train"]["lr"])


# ---------------------------------------------------------------------- train_run


def test_train_run_resumes_a_cli_run_without_training(cli_runs, digits, monkeypatch):
    root, specs = cli_runs

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was retrained")

    monkeypatch.setattr(ensemble, "fit_scores", refuse)
    for spec in specs.values():
        r = ex.train_run(root, digits, spec)
        stored = store.RunDir.open(root / ex.run_name(spec)).load_scores()
        np.testing.assert_array_equal(r.scores, stored)
        assert r.path == root / ex.run_name(spec)


def test_train_run_equals_direct_training(tmp_path, digits):
    spec = _spec(3, 2)
    r = ex.train_run(tmp_path, digits, spec, chunk=4)
    parts = partitions(digits, 3, 2, fa_shifts(3, 2))
    config = ensemble.TrainConfig.from_dict(spec["train"])
    direct = ensemble.fit_scores(digits, parts, np.arange(6), config)
    np.testing.assert_array_equal(r.scores, direct)
    assert r.scores.shape == (len(digits.y_test), 6, 10)


def test_run_properties(cli_runs, digits):
    root, specs = cli_runs
    r = ex.train_run(root, digits, specs["fa"])
    n_train = len(digits.y_train)
    assert (r.k, r.d, r.num_models) == (3, 2, 6)
    assert r.sizes.sum() == 2 * n_train  # every sample reaches d models
    assert r.sample_epochs == 1 * 2 * n_train
    keys = digits.train_keys % 6
    shifts = fa_shifts(3, 2)
    for i in range(6):  # model i trains on the buckets (i - s_j) mod kd
        assert r.sizes[i] == np.isin(keys, (i - shifts) % 6).sum()


# ------------------------------------------------------------------ certify_run


def test_certify_run_matches_certify(cli_runs, digits):
    root, specs = cli_runs
    dpa_run = ex.train_run(root, digits, specs["dpa"])
    votes = np.argmax(dpa_run.scores, axis=2)
    for got, want in [
        (ex.certify_run(dpa_run, "dpa"), dpa(count_votes(votes, 10))),
        (ex.certify_run(dpa_run, "fa"), dpa(count_votes(votes, 10))),
        (ex.certify_run(dpa_run, "roe"), roe(dpa_run.scores)),
    ]:
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    fa_run = ex.train_run(root, digits, specs["fa"])
    fa_votes = np.argmax(fa_run.scores, axis=2)
    got = ex.certify_run(fa_run, "fa")
    want = fa(fa_votes, 10, 2, fa_shifts(3, 2))
    np.testing.assert_array_equal(got[1], want[1])
    got = ex.certify_run(fa_run, "roe")
    np.testing.assert_array_equal(got[1], roe(fa_run.scores, d=2)[1])
    with pytest.raises(ValueError, match="use --method fa"):
        ex.certify_run(fa_run, "dpa")


# -------------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dataset="imagenet"), ValueError, "dataset"),
    (dict(k=0), ValueError, "k must be >= 1"),
    (dict(d=1.5), TypeError, "d must be an int"),
    (dict(learner="rnn"), ValueError, "learner"),
    (dict(scale="huge"), ValueError, "scale"),
    (dict(schedule="fancy"), ValueError, "schedule"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(augment="blur"), ValueError, "augment"),
])
def test_spec_rejects_bad_input(kwargs, error, match):
    args = dict(dataset="digits", k=4)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ex.experiment_spec(**args)


def test_other_inputs_rejected(tmp_path, digits):
    with pytest.raises(ValueError, match="experiment_spec"):
        ex.run_name({"dataset": "digits"})
    with pytest.raises(TypeError, match="spec must be a dict"):
        ex.run_name([1, 2])
    with pytest.raises(TypeError, match="shard"):
        ex.cli_args(_spec(), "out", shard=(0, 8))
    with pytest.raises(ValueError, match="chunk"):
        ex.cli_args(_spec(), "out", chunk=0)
    mnist_spec = ex.experiment_spec("mnist5k", 4, scale="smoke")
    with pytest.raises(ValueError, match="'mnist5k' data"):
        ex.train_run(tmp_path, digits, mnist_spec)
    with pytest.raises(TypeError, match="progress"):
        ex.train_run(tmp_path, digits, _spec(), progress=1)
    with pytest.raises(TypeError, match="Run"):
        ex.certify_run("runs/x", "dpa")


def test_method_rejected(cli_runs, digits):
    root, specs = cli_runs
    r = ex.train_run(root, digits, specs["dpa"])
    with pytest.raises(ValueError, match="method"):
        ex.certify_run(r, "knn")


def test_a_sweep_under_one_root_is_told_which_setting_differs(tmp_path, digits):
    ex.train_run(tmp_path, digits, _spec(4))
    other = _spec(4, epochs=2)
    assert ex.run_name(other) == ex.run_name(_spec(4))  # epochs are not in the name
    with pytest.raises(ValueError, match=r"train\.epochs: stored 1, asked 2.*e\.g\. "):
        ex.train_run(tmp_path, digits, other)


# ------------------------------------------------------------- chapter 7 helpers


def _run_with_accuracy(k, acc, labels, rng):
    """A fake DPA run of k models, each right on a fraction ``acc`` of the points."""
    n, c = len(labels), 10
    right = rng.random((n, k)) < acc
    votes = np.where(right, labels[:, None], (labels[:, None] + 1 + rng.integers(
        0, c - 1, (n, k))) % c)
    scores = np.eye(c, dtype=np.float32)[votes]
    spec = _spec(k)
    return ex.Run(spec=spec, scores=scores, sizes=np.full(k, 10), path=None)


def test_matched_pairs_pair_by_base_accuracy_and_read_radii():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    plain = {k: _run_with_accuracy(k, a, labels, rng)
             for k, a in ((5, 0.9), (10, 0.8), (20, 0.6))}
    rich = {k: _run_with_accuracy(k, a, labels, rng)
            for k, a in ((5, 0.95), (10, 0.9), (20, 0.8), (40, 0.75))}
    table, certs = ex.matched_pairs(plain, rich, labels, tolerance=0.02)
    # 5 -> 10 (0.9), 10 -> 20 (0.8); 20 finds no rich k above it within 0.02
    assert table["k'"].to_dict() == {5: 10, 10: 20}
    assert (table["base accuracy gap"].abs() <= 0.02).all()
    from ldcbook.certify import median_radius

    for k, ((p0, r0), (p1, r1)) in certs.items():
        m0, m1 = median_radius(p0, r0, labels), median_radius(p1, r1, labels)
        assert table.loc[k, "ratio at 0.5"] == pytest.approx(m1 / m0)
        assert table.loc[k, "radius/k parity"] == pytest.approx(
            (m1 / table.loc[k, "k'"]) / (m0 / k))


def test_seed_comparison_pools_the_spread_and_bounds_false_alarms():
    rng = np.random.default_rng(1)
    sd = {"base accuracy": 0.004, "median radius": 0.8}
    keys = [f"{learner}/k={k}/{q}" for learner in ("crop", "none")
            for k in (5, 10, 25) for q in sd]
    truth = {key: 0.9 if "accuracy" in key else 10.0 for key in keys}

    def draw(n):
        return {key: truth[key] + sd[key.split("/")[2]] * rng.standard_normal(n)
                for key in keys}

    reference = {key: {"values": v.tolist()} for key, v in draw(6).items()}
    table, threshold = ex.seed_comparison({key: truth[key] for key in keys}, reference)
    assert list(table.columns) == ["this run", "seed mean", "seed sd", "z"]
    assert 4 < threshold < 7  # t with 10 degrees of freedom, Bonferroni over 12
    assert (table["z"].abs().diff().dropna() <= 0).all()  # sorted by |z|
    # floors: a radius never counts less than 0.5 of spread
    assert (table.loc[table.index.str.endswith("radius"), "seed sd"] >= 0.5).all()
    # independent runs rarely exceed the threshold anywhere (family-wise, ~1 %)
    alarms = 0
    for _ in range(300):
        reference = {key: {"values": v.tolist()} for key, v in draw(6).items()}
        run = {key: v[0] for key, v in draw(1).items()}
        t, thr = ex.seed_comparison(run, reference)
        alarms += bool((t["z"].abs() > thr).any())
    assert alarms / 300 < 0.05
    # and a shifted run is caught
    shifted = {key: truth[key] + 10 * sd[key.split("/")[2]] for key in keys}
    t, thr = ex.seed_comparison(shifted, reference)
    assert (t["z"].abs() > thr).any()
    empty, thr = ex.seed_comparison({"x/k=1/base accuracy": 0.5}, reference)
    assert empty.empty and np.isnan(thr)


def test_dpa_summary_is_accuracy_and_the_median_radius(cli_runs, digits):
    from ldcbook.certify import median_radius

    root, specs = cli_runs
    r = ex.train_run(root, digits, specs["dpa"])
    labels = digits.y_test.numpy()
    got = ex.dpa_summary(r, labels)
    ensemble_acc, per_model = ensemble.accuracy(r.scores, labels)
    votes = ensemble.votes(r.scores)
    pred, radius = dpa(count_votes(votes, 10))
    assert got == {"base accuracy": pytest.approx(per_model.mean()),
                   "DPA accuracy": pytest.approx(ensemble_acc),
                   "median radius": median_radius(pred, radius, labels)}


def test_matched_pairs_with_no_match_is_an_empty_table_with_its_columns():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 200)
    plain = {5: _run_with_accuracy(5, 0.9, labels, rng)}
    rich = {10: _run_with_accuracy(10, 0.3, labels, rng)}  # far from any plain k
    table, certs = ex.matched_pairs(plain, rich, labels, tolerance=0.02)
    assert len(table) == 0 and certs == {}
    assert {"k'", "clean gap", "ratio at 0.5", "radius/k parity"} <= set(table.columns)
    assert np.isnan(float(table["ratio at 0.5"].min()))  # a median of nothing: nan


def test_paper_grid_is_section_7():
    cifar, gtsrb = ex.paper_grid("cifar10"), ex.paper_grid("gtsrb")
    assert cifar["ks"] == [50, 100, 250] and gtsrb["ks"] == [50, 100]
    assert cifar["learner"] == gtsrb["learner"] == "nin"
    augment = {name: s["augment"] for name, s in cifar["augmented"].items()}
    assert augment == {"aug0": "autoaugment-cifar10", "aug1": "autoaugment-imagenet"}
    assert [s["augment"] for s in gtsrb["augmented"].values()] == ["autoaugment-svhn"]
    # the augmented k: twice the baseline's on CIFAR-10, three times on GTSRB, and
    # aug_k, where the learners meet at the same k
    assert set(cifar["aug_ks"]) == {2 * k for k in cifar["ks"]} | {cifar["aug_k"]}
    assert set(gtsrb["aug_ks"]) == {3 * k for k in gtsrb["ks"]} | {gtsrb["aug_k"]}
    for grid in (cifar, gtsrb):
        assert grid["aug_k"] in grid["ks"] and grid["aug_k"] in grid["aug_ks"]
        for schedule in (grid["baseline"], *grid["augmented"].values()):
            spec = ex.experiment_spec(grid["dataset"], 50, learner="nin",
                                      scale="full", **schedule)
            assert spec["train"]["epochs"] in (200, 600, 1000)
    cifar["ks"].append(1)  # a copy: the next call is unchanged
    assert ex.paper_grid("cifar10")["ks"] == [50, 100, 250]
    with pytest.raises(ValueError, match="dataset"):
        ex.paper_grid("mnist")


def test_full_dataset_reads_the_environment(monkeypatch):
    monkeypatch.delenv(ex.FULL_DATASET_VAR, raising=False)
    assert ex.full_dataset() == "cifar10"
    monkeypatch.setenv(ex.FULL_DATASET_VAR, "gtsrb")
    assert ex.full_dataset() == "gtsrb"
    monkeypatch.setenv(ex.FULL_DATASET_VAR, "mnist")
    with pytest.raises(ValueError, match=ex.FULL_DATASET_VAR):
        ex.full_dataset()


@pytest.mark.parametrize("dataset", ex.FULL_DATASETS)
def test_shrink_grid_keeps_the_shape_at_a_tiny_size(dataset):
    grid = ex.paper_grid(dataset)
    small = ex.shrink_grid(grid, n_test=30)
    every = sorted({*grid["ks"], *grid["aug_ks"], grid["fa"][0]})
    assert sorted({*small["ks"], *small["aug_ks"], small["fa"][0]}) == list(
        range(2, 2 + len(every)))
    rank = dict(zip(every, range(2, 2 + len(every))))
    assert small["ks"] == [rank[k] for k in grid["ks"]]  # same order, same relations
    assert small["aug_ks"] == [rank[k] for k in grid["aug_ks"]]
    assert small["aug_k"] in small["ks"] and small["aug_k"] in small["aug_ks"]
    assert small["fa"] == (rank[grid["fa"][0]], 2) and small["n_test"] == 30
    assert min(small["sizes"]) >= 1 and small["sizes"] == sorted(set(small["sizes"]))
    for before, after in [(grid["baseline"], small["baseline"]),
                          *zip(grid["augmented"].values(),
                               small["augmented"].values())]:
        assert after == dict(before, epochs=1, batch_size=16, eval_batch_size=30)
    assert small["learner"] == grid["learner"] and small["dataset"] == dataset
    assert ex.paper_grid(dataset) == grid  # the input is not changed
    with pytest.raises(ValueError, match="lacks"):
        ex.shrink_grid({"ks": [1]})
    with pytest.raises(ValueError, match="n_test"):
        ex.shrink_grid(grid, n_test=0)


def test_spec_takes_the_evaluation_batch():
    spec = ex.experiment_spec("digits", 4, eval_batch_size=24)
    assert spec["train"]["eval_batch_size"] == 24
    # the CPU scales evaluate in passes of 100, the full scale in passes of 1,000
    assert ex.experiment_spec("digits", 4)["train"]["eval_batch_size"] == 100
    full = ex.experiment_spec("digits", 4, scale="full")
    assert full["train"]["eval_batch_size"] == 1000
