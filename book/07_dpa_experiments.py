# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ldcbook)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (chap-dpa-experiments)=
# # DPA and FA on real digits
#
# The {ref}`previous chapter <chap-dpa-optimal>` showed on toy tasks that Deep
# Partition Aggregation (DPA) {cite:p}`levine2021dpa` tolerates about
# $\gamma N / (2n)$ poisons when its base learner needs $n$ samples to reach a vote
# margin $\gamma$ ({prf:ref}`thm-dpa-optimal`): the constructive half of the Lethal
# Dose Conjecture ({prf:ref}`conj-lethal-dose`). Section 7 of {cite:t}`wang2022lethal`
# reads the published DPA and Finite Aggregation (FA)
# {cite:p}`wang2022fa` experiments in that light and adds one: base learners that are
# more data-efficient, thanks to data augmentation, make DPA more robust. This chapter
# runs those experiments on real images. It measures how the base learners' accuracy
# depends on the partition size $N/k$, the "$n$" of the conjecture in practice;
# certifies DPA, FA and Run-Off Election (ROE) {cite:p}`rezaei2023roe`; reads the radii
# as $N/n$; and compares base learners with and without augmentation.
#
# Notation as in the DPA papers: $k$ is the number of partitions (written $K$ in the
# {ref}`previous chapter <chap-dpa-optimal>`, which kept $k$ for the classes); $N$ is
# the training-set size, so each base model sees about $n = N/k$ samples; FA has
# spread $d$.
#
# ```{admonition} What runs here, and how to run the paper's setting
# :class: note
# At the default scale the chapter trains small CNNs (`"cnn"` in `ldcbook.models`,
# {glue:text}`cnn_params` parameters) on `mnist5k`: 5,000 real MNIST digits
# {cite:p}`lecun1998mnist` bundled with the packages, split by a content hash into
# 4,000 training and 1,000 test images. It trains DPA ensembles for
# $k$ = {glue:text}`ks_text`, with and without random-crop augmentation, FA with
# $k =$ {glue:text}`fa_k`, $d =$ {glue:text}`fa_d`, and at one $k$ the paper's
# AutoAugment recipe: {glue:text}`models_trained` base models in all,
# {glue:text}`epochs` epochs each unless stated, on one CPU thread. Everything is
# seeded, and reproducible bit for bit on a given family of CPU kernels (another CPU
# rounds differently: the last section measures how much that matters); the whole
# chapter takes a few minutes on a 2-core CPU.
#
# The full scale is the paper's grid, with Network-in-Network base learners
# {cite:p}`lin2014nin` (about 1.0 M parameters), plus FA with $k = 50$, $d = 16$, a
# setting of the FA paper. On
# CIFAR-10 {cite:p}`krizhevsky2009cifar`: the baseline schedule (200 epochs, random
# crop and flip) with $k \in \{50, 100, 250\}$, against the LDC augmented learners
# (AutoAugment {cite:p}`cubuk2019autoaugment`, 600 epochs) with the CIFAR-10 policy
# ("aug0") and the ImageNet policy ("aug1") at twice those $k$, 100, 200 and 500. On
# GTSRB {cite:p}`stallkamp2012gtsrb`, a separate execution of the chapter with
# `LDCBOOK_FULL_DATASET=gtsrb`: the baseline (random crop) with $k \in \{50, 100\}$,
# against AutoAugment's SVHN policy (1000 epochs) at three times those $k$, 150 and 300.
# Each augmented learner is also trained at $k = 100$, where the two learners are
# compared at the same partition size. At full scale the chapter reads its
# runs from `runs/ch07/` and trains only what is missing, but the training takes many
# GPU-hours, far beyond the 10 minutes a notebook cell may run, so train first, on
# GPUs, with the commands printed at the end of the chapter
# ({ref}`sec-dpa-experiments-full`): one
# `python -m ldcbook train ... --out runs/ch07/RUN --chunk 50 --shard
# $SLURM_ARRAY_TASK_ID/8` per run, the same experiments the chapter defines (the
# tasks of a SLURM job array share a run directory safely; a killed task resumes
# where it stopped). CIFAR-10 and GTSRB must be under the data directory
# (`$LDCBOOK_DATA`, default `~/.cache/ldcbook/data`). Then
#
# `LDCBOOK_SCALE=full make notebook NB=book/07_dpa_experiments.py`
#
# finds the finished runs, and only certifies and plots them (add
# `LDCBOOK_FULL_DATASET=gtsrb` for the GTSRB half);
# `python -m ldcbook certify runs/ch07/RUN --method roe` and
# `python -m ldcbook plot runs/ch07/RUN --out fig.png` do the same from the shell.
# ```

# %% tags=["remove-cell"]
# Opened from a launch button (Colab, Binder) without the book's package: install it.
try:
    import ldcbook  # noqa: F401
except ImportError:
    import subprocess
    import sys

    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet",
                           "ldcbook[book] @ git+https://github.com/ldcbook/ldcbook"])

# %% tags=["remove-cell"]
import dataclasses
import json
import shlex
import tempfile
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from ldcbook import experiments as ex
from ldcbook.certify import certified_accuracy, median_radius, radius_at_level
from ldcbook.config import by_scale, scale, seed_everything, shrunk
from ldcbook.data import load
from ldcbook.certify import count_votes
from ldcbook.ensemble import accuracy, votes
from ldcbook.models import build_model

seed_everything(2022)
BASE = dict(schedule="baseline")  # the paper's baseline: crop (+ flip on CIFAR-10)
SMOKE = dict(BASE, epochs=20)  # enough epochs for the claims to show, in seconds
SETTINGS = {
    "smoke": dict(dataset="mnist5k", learner="cnn", ks=[5, 25, 100], fa=(25, 2),
                  base=SMOKE, plain=dict(SMOKE, augment="none"), rich=SMOKE,
                  rich_ks=None, extra={}, names=("no augmentation", "random crop"),
                  aug_k=25, sizes=[1, 5, 10], n_test=None, runs=None, chunk=None,
                  threads=1, recipe=None),
    "default": dict(dataset="mnist5k", learner="cnn", ks=[5, 10, 25, 50, 100, 200],
                    fa=(25, 8), base=BASE, plain=dict(BASE, augment="none"),
                    rich=BASE, rich_ks=None, extra={},
                    names=("no augmentation", "random crop"), aug_k=50,
                    sizes=[1, 2, 5, 10, 20, 40], n_test=None, runs=None,
                    chunk=None, threads=1,
                    # the paper's augmented recipe at equal and at 3x the SGD steps
                    recipe=dict(k=50, factor=3, lr=0.005)),
}
POLICY = {"autoaugment-cifar10": "CIFAR-10", "autoaugment-imagenet": "ImageNet",
          "autoaugment-svhn": "SVHN"}


def full_settings(grid):
    """The chapter's settings for the paper's grid on one dataset (ex.paper_grid)."""
    names = {name: f"{name}: AutoAugment, {POLICY[s['augment']]} policy"
             for name, s in grid["augmented"].items()}
    (first, rich), *others = grid["augmented"].items()
    crop = "crop + flip" if grid["dataset"] == "cifar10" else "crop"
    return dict(dataset=grid["dataset"], learner=grid["learner"], ks=grid["ks"],
                fa=grid["fa"], base=grid["baseline"], plain=grid["baseline"],
                rich=rich, rich_ks=grid["aug_ks"],
                extra={names[name]: s for name, s in others},
                names=(f"baseline ({crop})", names[first]), aug_k=grid["aug_k"],
                sizes=grid["sizes"], n_test=grid.get("n_test"), runs="../runs/ch07",
                chunk=50, threads=None, recipe=None)


SETTINGS["full"] = full_settings(ex.paper_grid(ex.full_dataset()))
SHRUNK = scale() == "full" and shrunk()
if SHRUNK:  # the end-to-end tests: the full code path at a tiny size, in seconds
    SETTINGS["full"] = dict(full_settings(ex.shrink_grid(ex.paper_grid(
        ex.full_dataset()))), runs=None, chunk=None, threads=1)
S = by_scale(**SETTINGS)
# Which claims are asserted where. The thresholds of the quantitative claims were set
# at the default scale, where they are asserted; claims measured on digits (MNIST-5k,
# the smoke and default scales) hold there, not necessarily on CIFAR-10 or GTSRB,
# whose base models are far less accurate; claims of the paper itself (more data or
# augmentation: more accurate base models, the vote beats its voters) are asserted at
# every scale, but not on a shrunk run (one epoch on random images: its numbers mean
# nothing, it checks the code path only).
CLAIMS = scale() == "default"
TRAINED = not SHRUNK
DIGITS = S["dataset"] == "mnist5k" and TRAINED
ACCURATE = 0.8  # "accurate" base models: mean accuracy >= this fraction of the best
PAIR = dict(tol=0.02, ratio=1.5, clean=-0.01, parity=0.8)
if S["threads"]:  # one thread: bitwise reproducible, and best on a shared CPU
    torch.set_num_threads(S["threads"])
KS, (FA_K, FA_D), AUG_K, SIZES = S["ks"], S["fa"], S["aug_k"], S["sizes"]
workdir = tempfile.TemporaryDirectory(prefix="ldcbook-ch07-") if not S["runs"] else None
ROOT = Path(workdir.name if workdir else S["runs"])  # fresh at the CPU scales
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, dataset = {S['dataset']}, learner = {S['learner']}, "
      f"k = {KS}, FA k = {FA_K}, d = {FA_D}")

# %% [markdown]
# The data, and one function that trains a run (or loads it when it is already
# stored) and returns its test scores. `ldcbook.experiments.train_run` partitions the
# training set by the DPA hash (pixel sum modulo $k$, or modulo $kd$ for FA), trains
# every base model on its own partition only (for FA, its own $d$ buckets), with its
# own seed and its own
# normalisation statistics, and evaluates each on the test set. Its run directory
# holds the same configuration that `python -m ldcbook train` writes, so the two can
# continue each other's runs.

# %%
ds = load(S["dataset"])
if S["n_test"]:  # a shrunk run keeps a few test points
    ds = dataclasses.replace(ds, x_test=ds.x_test[: S["n_test"]],
                             y_test=ds.y_test[: S["n_test"]])
labels = ds.y_test.numpy()
N, C = len(ds.y_train), ds.num_classes


def run(k, d=1, **schedule):
    spec = ex.experiment_spec(S["dataset"], k, d, S["learner"], **schedule)
    return ex.train_run(ROOT, ds, spec, chunk=S["chunk"])


print(f"{N:,} training and {len(labels):,} test images of shape "
      f"{tuple(ds.x_train.shape[1:])}, {C} classes")

# %% [markdown]
# ## How accurate is a base model trained on $N/k$ samples?
#
# The conjecture is about $n$, the number of clean samples the best learner needs.
# DPA makes it concrete: each base model is trained on one partition, about $N/k$
# samples, so the accuracy of a base model as a function of $N/k$ is the sample
# efficiency of the learner DPA uses. We train a DPA ensemble for every $k$ with the
# baseline schedule (random crop on digits) and record each base model's accuracy on
# the test set.

# %% tags=["nbval-ignore-output"]
main = {k: run(k, **S["base"]) for k in KS}


def base_table(runs):
    rows = []
    for k, r in runs.items():
        ensemble, per_model = accuracy(r.scores, labels)
        rows.append({"k": k, "N/k": N / k, "smallest": r.sizes.min(),
                     "largest": r.sizes.max(), "base accuracy": per_model.mean(),
                     "base std": per_model.std(), "DPA accuracy": ensemble})
    return pd.DataFrame(rows).set_index("k")


base = base_table(main)
base[["base accuracy", "base std", "DPA accuracy"]].round(3)

# %% [markdown]
# The partitions themselves are exact, the same on any machine: their sizes vary
# around $N/k$ because the hash is not a perfect splitter.

# %%
base[["N/k", "smallest", "largest"]]

# %% [markdown]
# Base accuracy falls steadily as partitions shrink, while the plurality vote of the
# base models, DPA's clean accuracy, degrades much more slowly.

# %% tags=["nbval-ignore-output"]
if TRAINED:
    assert (np.diff(base["base accuracy"]) < 0).all()  # more data: more accurate
    assert (base["DPA accuracy"] > base["base accuracy"]).all()  # the vote beats voters
drops = base.iloc[0] - base.iloc[-1]
if DIGITS:  # ...and falls far less (on digits, where wrong votes split widely)
    assert drops["DPA accuracy"] < 0.5 * drops["base accuracy"]
glue("ks_text", ", ".join(map(str, KS)), display=False)
glue("base_acc_hi", float(base["base accuracy"].iloc[0]), display=False)
glue("base_acc_lo", float(base["base accuracy"].iloc[-1]), display=False)
glue("n_hi", float(N / KS[0]), display=False)
glue("n_lo", float(N / KS[-1]), display=False)
glue("dpa_acc_lo", float(base["DPA accuracy"].iloc[-1]), display=False)
glue("k_lo", int(KS[-1]), display=False)

# %% tags=["hide-input"]
def size_axis(ax, sizes):
    """Log axis of partition sizes, ticked at the sizes used."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n:g}" for n in sizes])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("partition size N/k (training samples per base model)")


# %% tags=["hide-input"] mystnb={"figure": {"caption": "Base-learner data efficiency: test accuracy of a base model against the size of its partition N/k (one point per k; the band spans the 10th to 90th percentile over the k base models), and the clean accuracy of the DPA vote over them.", "name": "fig-dpa-base-accuracy"}}
def percentile_band(runs, q):
    return [np.percentile(accuracy(r.scores, labels)[1], q) for r in runs.values()]


fig, ax = plt.subplots()
ax.fill_between(base["N/k"], percentile_band(main, 10), percentile_band(main, 90),
                alpha=0.25, color="tab:blue", lw=0)
ax.plot(base["N/k"], base["base accuracy"], "o-", label="base model (mean)")
ax.plot(base["N/k"], base["DPA accuracy"], "s--", color="tab:green",
        label="DPA vote (clean accuracy)")
size_axis(ax, base["N/k"])
ax.set_ylabel("test accuracy")
ax.legend()
plt.show()

# %% [markdown]
# A base model trained on {glue:text}`n_hi:.0f` digits is right
# {glue:text}`base_acc_hi:.3f` of the time; on {glue:text}`n_lo:.0f` digits, about two
# per class, {glue:text}`base_acc_lo:.3f`. Yet with $k =$ {glue:text}`k_lo` of the
# latter DPA still classifies {glue:text}`dpa_acc_lo:.3f` of the test set correctly:
# the errors of the base models are spread over several classes (measured further
# down), and the plurality vote survives a minority of correct voters.
#
# ## Certified accuracy against attack size
#
# Every test point gets DPA's prediction and certified radius $r$
# ({eq}`eq-dpa-radius`): no attack that inserts and removes at most $r$ training
# samples in total can change the prediction. The **certified accuracy** at attack
# size $B$ is the fraction of test points that are predicted correctly with
# $r \ge B$ (`ldcbook.certify.certified_accuracy`); at $B = 0$ it is the clean
# accuracy. The **median radius** is the largest $B$ at which the certified accuracy is
# still at least $1/2$ (`ldcbook.certify.median_radius`; the DPA, FA and ROE reference
# scripts print this plus one).

# %%
certs = {k: ex.certify_run(r, "dpa") for k, r in main.items()}
ALL_KS = [*KS, FA_K, *(S["rich_ks"] or [])]
B_all = np.arange(0, max(ALL_KS) // 2 + 2)  # attack sizes up to every ceiling k/2
curves = {k: certified_accuracy(*certs[k], labels, B_all) for k in KS}
for k in KS:
    assert (np.diff(curves[k]) <= 0).all()  # non-increasing in the attack size
    assert curves[k][k // 2 + 1] == 0  # r <= floor(k / 2): a vote moves 1 per sample

# %% tags=["hide-input"] mystnb={"figure": {"caption": "DPA's certified accuracy against attack size (insertions plus removals) on the test set, one curve per number of partitions k. A curve cannot pass k/2, and more partitions mean weaker voters.", "name": "fig-dpa-certified"}}
fig, ax = plt.subplots()
for k in KS:
    ax.step(B_all, curves[k], where="post", label=f"k = {k}")
ax.set_xlabel("attack size B (poisoned samples: insertions + removals)")
ax.set_ylabel("certified accuracy")
ax.set_ylim(0, 1)
ax.legend(title="DPA", fontsize=8)
plt.show()

# %% [markdown]
# The table gives the certified accuracy at a few attack sizes and the median radius;
# the largest value of each column is the best $k$ for that attack size.

# %% tags=["nbval-ignore-output"]
def cert_row(pred, radius, sizes=SIZES):
    row = {"clean": float(np.mean(pred == labels))}
    row.update({f"B={b}": certified_accuracy(pred, radius, labels, b) for b in sizes})
    row["median radius"] = median_radius(pred, radius, labels)
    return row


def rows(d):
    return pd.DataFrame.from_dict(d, orient="index")


table = rows({k: cert_row(*certs[k]) for k in KS}).rename_axis("k")
table.round(3)

# %% tags=["nbval-ignore-output"]
best_k = table[[f"B={b}" for b in SIZES]].idxmax().astype(int)
best_k.rename("best k").to_frame().T

# %% [markdown]
# ### Finite Aggregation and Run-Off Election
#
# FA with spread $d$ cuts the training set into $kd$ buckets and trains $kd$ models,
# each on $d$ buckets, so each model still sees about $N/k$ samples but every sample
# reaches $d$ models. ROE replaces the plurality vote by a two-round election on the
# base models' scores, on DPA or on FA. We compare them at $k =$ {glue:text}`fa_k`.
# FA is not free: it trains $kd$ models on $N/k$ samples each, $d$ times the cost of
# DPA with the same $k$; ROE costs nothing beyond the scores already computed.

# %% tags=["nbval-ignore-output"]
fa_run = run(FA_K, FA_D, **S["base"])
dpa_run = main[FA_K] if FA_K in main else run(FA_K, **S["base"])
methods = {"DPA": (dpa_run, "dpa"), "DPA + ROE": (dpa_run, "roe"),
           "FA": (fa_run, "fa"), "FA + ROE": (fa_run, "roe")}
fa_certs = {name: ex.certify_run(r, m) for name, (r, m) in methods.items()}
fa_sizes = sorted({max(1, round(f * FA_K)) for f in (0.05, 0.1, 0.2, 0.3, 0.4, 0.48)})
fa_table = rows({name: {"models": r.num_models, "samples per model": r.sizes.mean(),
                        "relative cost": r.sample_epochs / dpa_run.sample_epochs,
                        **cert_row(*fa_certs[name], fa_sizes)}
                 for name, (r, m) in methods.items()})
cost = ["models", "samples per model", "relative cost"]
fa_table.drop(columns=cost).round(3)

# %% [markdown]
# What each costs is exact (the same on any machine): the number of models, the mean
# number of samples each is trained on, and the training cost in sample-epochs,
# relative to DPA.

# %%
fa_table[cost]

# %% tags=["nbval-ignore-output"]
fa_curves = {name: certified_accuracy(*c, labels, B_all)
             for name, c in fa_certs.items()}
gain = {name: fa_curves[name][: FA_K // 2 + 1] - fa_curves["DPA"][: FA_K // 2 + 1]
        for name in ("DPA + ROE", "FA", "FA + ROE")}
assert fa_run.sample_epochs == FA_D * dpa_run.sample_epochs  # each sample in d models
for name in methods:
    assert fa_curves[name][FA_K // 2 + 1] == 0  # every radius is at most k/2
if TRAINED:
    assert gain["FA + ROE"].max() > 0  # the refinements gain somewhere...
glue("gain_abs_max", 100 * max(float(np.abs(g).max()) for g in gain.values()),
     display=False)
for name, key in [("DPA + ROE", "roe"), ("FA", "fa"), ("FA + ROE", "faroe")]:
    glue(f"gain_{key}_max", float(gain[name].max()), display=False)
    glue(f"gain_{key}_min", float(gain[name].min()), display=False)
glue("fa_k", int(FA_K), display=False)
glue("fa_d", int(FA_D), display=False)
glue("fa_models", int(FA_K * FA_D), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: certified accuracy of DPA and FA with the same k, each with the plurality vote and with Run-Off Election; FA trains k·d models (d times DPA's training cost). Right: the difference from DPA, in points of certified accuracy (1 point = 0.01).", "name": "fig-fa-roe"}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
B_fa = B_all[: FA_K // 2 + 2]
for (name, curve), style in zip(fa_curves.items(), ["-", "--", "-", "--"]):
    color = "tab:blue" if "DPA" in name else "tab:orange"
    ax1.step(B_fa, curve[: len(B_fa)], style, where="post", label=name, color=color)
    if name != "DPA":
        ax2.stairs(100 * gain[name], B_fa, linestyle=style, color=color)
ax2.axhline(0, color="tab:blue", lw=1)
ax1.set_ylim(0, 1)
ax1.set_ylabel("certified accuracy")
ax1.legend(title=f"k = {FA_K}, FA d = {FA_D}", fontsize=8)
ax2.set_ylabel("difference from DPA (points)")
for ax in (ax1, ax2):
    ax.set_xlabel("attack size B (insertions + removals)")
plt.show()

# %% [markdown]
# At this scale the refinements change little. Against DPA with the same $k$, the
# certified accuracy of FA ({glue:text}`fa_models` models) differs by
# {glue:text}`gain_fa_min:+.3f` to {glue:text}`gain_fa_max:+.3f` over the attack sizes
# up to $k/2$, that of DPA + ROE by {glue:text}`gain_roe_min:+.3f` to
# {glue:text}`gain_roe_max:+.3f`, and FA + ROE by {glue:text}`gain_faroe_min:+.3f` to
# {glue:text}`gain_faroe_max:+.3f` ("relative cost" in the table is the training cost
# in sample-epochs, relative to DPA). These are differences of at most
# {glue:text}`gain_abs_max:.1f` points either way, FA's for {glue:text}`fa_d` times
# the training; the FA and ROE papers report
# gains of up to 3 to 5 points on MNIST, CIFAR-10 and GTSRB. Neither can certify
# beyond $k/2$: FA's radius has the same ceiling as DPA's, because every poisoned
# sample may corrupt a whole bucket and a unanimous vote of $kd$ models falls by $2d$
# per bucket. The number of partitions $k$ sets the scale of the radius; the next
# section shows how.
#
# ## The lethal-dose reading
#
# The margin estimate {eq}`eq-dpa-margin` of the previous chapter predicts a radius of
# about $\gamma k / 2 = \gamma N/(2n)$, where $\gamma$ is the margin of the vote. If the
# base models kept their accuracy as $k$ grows, the radius would grow in proportion
# to $k$: the poisons DPA tolerates would scale like $N/n$, as the conjecture says.
# They do not keep it, because $n = N/k$ shrinks. The table sets the median radius
# beside $k$, beside the training set ($r_{med}/N$), and beside the margin estimate
# $(2\bar a - 1)k/2$ with $\bar a$ the mean base accuracy.

# %% tags=["nbval-ignore-output"]
reading = pd.DataFrame({
    "N/k": base["N/k"], "base accuracy": base["base accuracy"],
    "median radius": table["median radius"],
    "margin estimate": (2 * base["base accuracy"] - 1) * base.index / 2,
    "radius / k": table["median radius"] / base.index,
    "radius / N (%)": 100 * table["median radius"] / N})
reading.round(3)

# %% tags=["nbval-ignore-output"]
ratio = reading["radius / k"]
accurate = reading["base accuracy"] >= ACCURATE * reading["base accuracy"].max()
assert (ratio <= 0.5).all()  # the ceiling floor(k/2)/k, a sanity check
if CLAIMS:
    assert (np.diff(reading["median radius"]) >= 0).all()  # more partitions, larger r
    assert ratio[accurate].min() >= 0.35  # r ~ k/2 * margin while accurate...
    assert not accurate.iloc[-1] and ratio.iloc[-1] < ratio[accurate].min()  # then less
glue("accurate_cut", float(ACCURATE * reading["base accuracy"].max()), display=False)
glue("ratio_lo", float(ratio[accurate].min()), display=False)
glue("ratio_hi", float(ratio[accurate].max()), display=False)
glue("k_accurate", int(reading.index[accurate].max()) if accurate.any() else 0,
     display=False)  # never empty: the most accurate k qualifies
glue("ratio_last", float(ratio.iloc[-1]), display=False)
glue("radius_last", int(reading["median radius"].iloc[-1]), display=False)
glue("radius_pct_best", float(reading["radius / N (%)"].max()), display=False)
estimate, measured = reading["margin estimate"], reading["median radius"]
glue("margin_err_first", float(abs(estimate.iloc[0] - measured.iloc[0])), display=False)
glue("margin_last", float(estimate.iloc[-1]), display=False)
glue("k_first", int(KS[0]), display=False)

# %% tags=["nbval-ignore-output"]
k_lo = KS[-1]  # where the margin estimate fails: how the votes really fall
counts = count_votes(votes(main[k_lo].scores), C)  # (n_test, C)
points = np.arange(len(labels))
right = counts[points, labels] / k_lo
wrong = counts.copy()
wrong[points, labels] = 0
share_rival, share_wrong = wrong.max(axis=1) / k_lo, wrong.sum(axis=1) / k_lo
if CLAIMS:
    assert estimate.iloc[-1] < 0 <= measured.iloc[-1]  # the estimate fails at k_lo
    assert share_rival.mean() < 0.5 * share_wrong.mean()  # wrong votes split
glue("share_wrong", float(share_wrong.mean()), display=False)
glue("share_rival", float(share_rival.mean()), display=False)
glue("right_q10", float(np.quantile(right, 0.1)), display=False)
glue("right_q90", float(np.quantile(right, 0.9)), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: certified accuracy against the attack size as a fraction of the number of partitions, B/k; the curves sink as the base learners weaken. Right: the median radius divided by k (its ceiling is 1/2) and the mean base accuracy, against the partition size N/k.", "name": "fig-dpa-lethal-dose"}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
for k in KS:
    ax1.step(B_all / k, curves[k], where="post", label=f"k = {k}")
ax1.set_xlim(0, 0.55)
ax1.set_xlabel("attack size over partitions, B/k")
ax1.set_ylabel("certified accuracy")
ax1.legend(fontsize=8)
ax2.plot(reading["N/k"], reading["radius / k"], "o-", label="median radius / k")
ax2.plot(reading["N/k"], reading["base accuracy"], "s--", label="base accuracy")
ax2.axhline(0.5, color="grey", lw=0.8)
size_axis(ax2, reading["N/k"])
ax2.set_ylabel("fraction")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# As long as the base models are accurate (mean accuracy at least 0.8 of the best
# one's, here {glue:text}`accurate_cut:.2f`, up to $k =$ {glue:text}`k_accurate`), the
# median radius is a nearly constant fraction of
# $k$, between {glue:text}`ratio_lo:.2f` $k$ and {glue:text}`ratio_hi:.2f` $k$ (the
# ceiling is $k/2$): the radius grows like $N/n$ with $n = N/k$. Drawn against $B/k$,
# the certified curves sink in the order of base accuracy: weaker voters hold a
# smaller fraction of the partitions. Past that point the fraction falls, to
# {glue:text}`ratio_last:.2f` at $k =$ {glue:text}`k_lo`, although the radius itself
# still grows to {glue:text}`radius_last`. At best the median radius is
# {glue:text}`radius_pct_best:.2f` % of the training set.
#
# The margin estimate {eq}`eq-dpa-margin` uses only the mean base accuracy and
# assumes that every wrong vote goes to one rival class. It is within
# {glue:text}`margin_err_first:.1f` of the measured radius at $k =$
# {glue:text}`k_first`, then falls behind, and for the largest $k$ it is negative
# ({glue:text}`margin_last:.1f`), although DPA still certifies half the test set. Two
# things it ignores make the real margins larger, both measured at $k =$
# {glue:text}`k_lo`: the wrong votes split over several rivals (they take
# {glue:text}`share_wrong:.2f` of the votes on average, the strongest rival only
# {glue:text}`share_rival:.2f`), and the accuracy of the base models varies across
# test points (the share of right votes goes from {glue:text}`right_q10:.2f` at the
# 10th percentile of the test points to {glue:text}`right_q90:.2f` at the 90th).
#
# The trade-off is now visible. A DPA with $k$ partitions certifies nothing beyond
# $k/2$, so a large attack needs many partitions; but many partitions mean few samples
# per base model and a thinner margin. The "best k" row of the certified-accuracy
# table shows the compromise: the best $k$ grows with the attack size, and at
# $B =$ {glue:text}`trade_size` it is $k =$ {glue:text}`trade_best`, inside the range
# we tried: fewer partitions cannot reach that far ($k/2$ is their ceiling) or reach
# it only with nearly unanimous votes, more are too weak. In the
# conjecture's terms, the tolerable attack is set by how few samples the base learner
# needs: about $N/n$ for the smallest $n$ at which it is still accurate.

# %% tags=["nbval-ignore-output"]
reached = table[best_k.index].max() > 0  # attack sizes some k certifies at all
if TRAINED:  # larger attacks call for larger k
    assert (np.diff(best_k[reached].to_numpy()) >= 0).all()
inside = best_k[(best_k > min(KS)) & (best_k < max(KS))]
if DIGITS:  # at some attack size an intermediate k is best (needs >= 3 values of k)
    assert len(inside) > 0
trade = inside if len(inside) else best_k  # else: the largest attack size's best k
glue("trade_size", int(trade.index[-1].removeprefix("B=")), display=False)
glue("trade_best", int(trade.iloc[-1]), display=False)

# %% [markdown]
# ## Data augmentation: a more data-efficient learner is a more robust DPA
#
# If the tolerable attack scales like $N/n$, a learner that needs fewer samples should
# make DPA more robust, with no change to DPA itself.
# {cite:t}`wang2022lethal` test this on CIFAR-10 and GTSRB with base learners
# trained with AutoAugment {cite:p}`cubuk2019autoaugment`, which keep their accuracy
# on smaller partitions, and run DPA with about twice (CIFAR-10) and three times
# (GTSRB) as many partitions as the baseline.
# At the default scale we make the same comparison between two learners that differ
# only in augmentation: no augmentation, and random crops (the baseline), with the
# same epochs and seeds. At full scale the pair is the paper's: the baseline schedule
# against the LDC AutoAugment schedule (on CIFAR-10 two of them, one per policy: the
# tables of this section use the first, the matched pairs below both), the augmented
# learners at their own values of $k$ (blank in the table where a learner has no run).

# %% tags=["nbval-ignore-output"]
plain = {k: run(k, **S["plain"]) for k in KS}
rich = {k: run(k, **S["rich"]) for k in S["rich_ks"] or KS}
extra = {name: {k: run(k, **schedule) for k in S["rich_ks"] or KS}
         for name, schedule in S["extra"].items()}  # other augmented learners
aug_ks = pd.Index(sorted(set(KS) | set(rich)), name="k")
aug_base = pd.DataFrame({
    "N/k": N / aug_ks.to_numpy(),
    "plain": base_table(plain)["base accuracy"],
    "augmented": base_table(rich)["base accuracy"]}, index=aug_ks)
both = aug_base.dropna()  # the values of k with both learners
if TRAINED:
    assert len(both) > 0 and (both["augmented"] > both["plain"]).all()
aug_base.round(3)

# %% [markdown]
# The augmented learner is more accurate at every partition size where both are
# trained. How many samples would the plain learner need to match it? Interpolating
# the plain learner's accuracy in $\log(N/k)$ gives its **equivalent partition size**,
# and the ratio to $N/k$ is the factor by which augmentation multiplies the data,
# hence $k$ at the same base accuracy, and so, roughly, the radius.

# %% tags=["nbval-ignore-output"]
known = aug_base.dropna(subset=["plain"]).sort_values("N/k")
log_n, acc_plain = np.log(known["N/k"].to_numpy()), known["plain"].to_numpy()
if TRAINED:
    assert (np.diff(acc_plain) > 0).all()  # increasing in N/k, so it can be inverted
equiv = np.exp(np.interp(aug_base["augmented"], acc_plain, log_n,
                         left=np.nan, right=np.nan))
aug_base["plain needs"] = equiv
aug_base["factor"] = equiv / aug_base["N/k"]
if TRAINED:
    assert (aug_base["factor"].dropna() > 1).all() and aug_base["factor"].notna().any()
aug_base[["N/k", "augmented", "plain needs", "factor"]].round(2)

# %% [markdown]
# Now DPA itself, at $k =$ {glue:text}`aug_k`, with each learner:

# %% tags=["nbval-ignore-output"]
aug_certs = {"plain": ex.certify_run(plain[AUG_K], "dpa"),
             "augmented": ex.certify_run(rich[AUG_K], "dpa")}
aug_curves = {name: certified_accuracy(*c, labels, B_all)
              for name, c in aug_certs.items()}
if DIGITS:  # at every attack size (measured on digits)
    assert (aug_curves["augmented"] >= aug_curves["plain"]).all()
aug_table = rows({name: cert_row(*c) for name, c in aug_certs.items()})
if TRAINED:
    assert (aug_table.loc["augmented", "median radius"]
            > aug_table.loc["plain", "median radius"])
aug_table.round(3)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: mean base accuracy against partition size, without and with augmentation. Right: DPA's certified accuracy against attack size at one k with each learner.", "name": "fig-dpa-augmentation"}}
names = dict(zip(("plain", "augmented"), S["names"]))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
for key, marker in [("plain", "o-"), ("augmented", "s-")]:
    points_ = aug_base[key].notna()
    ax1.plot(aug_base["N/k"][points_], aug_base[key][points_], marker, label=names[key])
    ax2.step(B_all[: AUG_K // 2 + 2], aug_curves[key][: AUG_K // 2 + 2], where="post",
             label=names[key])
size_axis(ax1, aug_base["N/k"])
ax1.set_ylabel("mean base accuracy")
ax1.legend(fontsize=8)
ax2.set_xlabel("attack size B (insertions + removals)")
ax2.set_ylabel("certified accuracy")
ax2.set_ylim(0, 1)
ax2.legend(title=f"DPA, k = {AUG_K}", fontsize=8)
plt.show()

# %% tags=["nbval-ignore-output"]
at = aug_base.loc[AUG_K]
k_match = int((aug_base["plain"] - at["augmented"]).abs().idxmin())  # same accuracy
med_match = median_radius(*ex.certify_run(plain[k_match], "dpa"), labels)
if TRAINED:  # the plain learner needs more data per model to match the augmented
    assert k_match < AUG_K and med_match < aug_table.loc["augmented", "median radius"]
glue("k_match", k_match, display=False)
glue("acc_match", float(aug_base.loc[k_match, "plain"]), display=False)
glue("med_match", int(med_match), display=False)
glue("aug_k", int(AUG_K), display=False)
glue("aug_acc_plain", float(at["plain"]), display=False)
glue("aug_acc_rich", float(at["augmented"]), display=False)
glue("aug_factor", float(at["factor"]), display=False)
glue("aug_factor_lo", float(aug_base["factor"].min()), display=False)
glue("aug_factor_hi", float(aug_base["factor"].max()), display=False)
glue("aug_med_plain", int(aug_table.loc["plain", "median radius"]), display=False)
glue("aug_med_rich", int(aug_table.loc["augmented", "median radius"]), display=False)
for name in ("plain", "augmented"):
    glue(f"aug_clean_{name}", float(aug_table.loc[name, "clean"]), display=False)

# %% [markdown]
# At $k =$ {glue:text}`aug_k` augmentation raises the mean base accuracy from
# {glue:text}`aug_acc_plain:.3f` to {glue:text}`aug_acc_rich:.3f`; the plain learner
# would need {glue:text}`aug_factor:.1f` times as many samples per partition to match
# it (between {glue:text}`aug_factor_lo:.1f` and {glue:text}`aug_factor_hi:.1f` times
# over the partition sizes where the comparison is possible). DPA inherits the gain:
# its clean accuracy rises from {glue:text}`aug_clean_plain:.3f` to
# {glue:text}`aug_clean_augmented:.3f`, its certified accuracy is at least as high at
# every attack size, and its median radius grows from {glue:text}`aug_med_plain` to
# {glue:text}`aug_med_rich`.
#
# The cleanest comparison holds the base accuracy fixed. The plain learner reaches
# the augmented one's accuracy only with larger partitions: at $k =$
# {glue:text}`k_match` its mean base accuracy is {glue:text}`acc_match:.3f`, and DPA
# certifies a median radius of {glue:text}`med_match`, against
# {glue:text}`aug_med_rich` for the augmented learner at $k =$ {glue:text}`aug_k`.
# Voters of nearly equal accuracy, more of them, a larger radius. This is the paper's
# point in miniature: the defence is as good as the sample efficiency of its base
# learner, and the way to a larger certified radius goes through a learner that
# needs fewer clean samples.

# %% [markdown]
# ### Matched pairs: the paper's Figure 2
#
# {cite:t}`wang2022lethal` overlay the certified-accuracy curves of the baseline DPA
# and of DPA over the augmented learners run with more partitions (about twice as
# many on CIFAR-10, where the augmented learners match the baseline's base accuracy
# with about half the data). Here the pairing is made by base accuracy: every $k$ of
# the plain learner is paired with the $k' > k$ of the augmented learner whose mean
# base accuracy is closest, if the two differ by at most {glue:text}`pair_tol`
# (a few standard deviations of the seed-to-seed spread measured below). The
# table gives the gaps (augmented minus plain), the ratio of the attack sizes at which
# the two curves still certify a given fraction of the test set (the level 0.5 is the
# median radius; blank where the plain curve holds the level only at size 0), and the
# parity of the radius per partition, $(r'/k')/(r/k)$ at the median (one block of
# rows per augmented learner).

# %% tags=["nbval-ignore-output"]
learners = {S["names"][1]: rich, **extra}
matched = {name: ex.matched_pairs(plain, runs, labels, tolerance=PAIR["tol"])
           for name, runs in learners.items()}
pairs = pd.concat({name: table_ for name, (table_, _) in matched.items()},
                  names=["learner"])
pairs.round(3)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Matched pairs (the paper's Figure 2 at this scale): DPA's certified accuracy with the plain learner at k partitions (dashed) and with the augmented learner at the k' where its base models are about as accurate (solid, same colour), against the attack size.", "name": "fig-matched-pairs"}}
fig, ax = plt.subplots()
curves_ = [(name, k, certs_) for name, (_, pair_certs) in matched.items()
           for k, certs_ in pair_certs.items()]
for (name, k, ((p0, r0), (p1, r1))), color in zip(curves_, plt.cm.tab10.colors):
    k_aug = int(pairs.loc[(name, k), "k'"])
    sizes = B_all[: k_aug // 2 + 2]
    ax.step(sizes, certified_accuracy(p0, r0, labels, sizes), "--", where="post",
            color=color, label=f"{S['names'][0]}, k = {k}")
    ax.step(sizes, certified_accuracy(p1, r1, labels, sizes), where="post",
            color=color, label=f"{name}, k' = {k_aug}")
ax.set_xlabel("attack size B (insertions + removals)")
ax.set_ylabel("certified accuracy")
ax.set_ylim(0, 1)
ax.legend(fontsize=7)
plt.show()

# %% tags=["nbval-ignore-output"]
if CLAIMS:
    assert len(pairs) > 0  # some k has a matched k'
    assert (pairs["ratio at 0.5"] >= PAIR["ratio"]).all()  # a larger median radius,
    assert (pairs["radius/k parity"] >= PAIR["parity"]).all()  # in step with k'/k,
    assert (pairs["clean gap"] >= PAIR["clean"]).all()  # at no cost in accuracy
for key, value in PAIR.items():
    glue(f"pair_{key}", abs(value) * (100 if key == "clean" else 1), display=False)
glue("pairs_n", len(pairs), display=False)
for col, name in [("ratio at 0.5", "ratio"), ("radius/k parity", "parity"),
                  ("clean gap", "clean")]:
    scale_ = 100 if name == "clean" else 1
    glue(f"pairs_{name}_lo", scale_ * float(pairs[col].min()), display=False)
    glue(f"pairs_{name}_hi", scale_ * float(pairs[col].max()), display=False)

# %% [markdown]
# {glue:text}`pairs_n` values of $k$ find a match. In every matched pair the augmented
# DPA certifies a median radius {glue:text}`pairs_ratio_lo:.1f` to
# {glue:text}`pairs_ratio_hi:.1f` times as large, with a radius per partition
# {glue:text}`pairs_parity_lo:.2f` to {glue:text}`pairs_parity_hi:.2f` times the
# plain one's, and its clean accuracy changes by {glue:text}`pairs_clean_lo:+.1f` to
# {glue:text}`pairs_clean_hi:+.1f` points: the shape of the paper's Figure 2, a
# larger radius at no cost in clean accuracy. At the default scale the chapter asserts
# it: median-radius ratio at least {glue:text}`pair_ratio`, parity at least
# {glue:text}`pair_parity` (the radius grows in step with the number of partitions,
# not only because $k'/2$ is a higher ceiling) and clean accuracy lower by at most
# {glue:text}`pair_clean:.0f` point.

# %% [markdown]
# ### The paper's recipe and its budget of SGD steps
#
# The LDC augmented learners differ from the baseline in more than their augmentation.
# {cite:t}`wang2022lethal` train them with learning rate 0.005 instead of 0.1, in
# batches of 16 instead of 128, for 600 epochs instead of 200 (1000 on GTSRB). On
# CIFAR-10 with $k = 50$, a base model of {glue:text}`paper_n` samples takes
# {glue:text}`paper_steps_base` SGD steps with the baseline and
# {glue:text}`paper_steps_ldc` with the augmented recipe:
# {glue:text}`paper_step_ratio:.0f` times as many at the same $k$. In the paper's
# comparison, then, the effect of the augmentation and that of the longer training
# are confounded. At the default scale both learners already use batches of 16, so we
# can hold the number of SGD steps fixed: at $k =$ {glue:text}`recipe_k` we train the
# baseline (random crop, at its own learning rate, listed in the table below) and
# the paper's augmented recipe (AutoAugment with the SVHN policy, the paper's choice
# for GTSRB and a policy learned on digits, SVHN's house numbers; learning rate
# {glue:text}`recipe_lr`) for {glue:text}`recipe_e1` epochs, the same number of
# steps, and each for {glue:text}`recipe_factor` times as many, the paper's ratio of
# epochs on CIFAR-10 (its ratio of steps would take
# {glue:text}`paper_step_ratio:.0f` times the baseline's training, beyond this
# chapter's budget).

# %% tags=["nbval-ignore-output"]
R = S["recipe"]
if R:  # at the default scale
    K_R, E1 = R["k"], int(main[R["k"]].spec["train"]["epochs"])
    assert main[K_R].spec["schedule"] == "baseline"  # the baseline at E1 is main[K_R]
    recipe_runs = {("random crop", E1): main[K_R]}
    for name, schedule in [("random crop", dict(schedule="baseline")),
                           ("AutoAugment", dict(schedule="ldc", lr=R["lr"]))]:
        for epochs in (E1, R["factor"] * E1):
            if (name, epochs) not in recipe_runs:  # one run directory per budget
                spec = ex.experiment_spec(S["dataset"], K_R, 1, S["learner"],
                                          epochs=epochs, **schedule)
                recipe_runs[name, epochs] = ex.train_run(ROOT / f"e{epochs}", ds, spec)


def sgd_steps(r):
    """Mean SGD steps per base model: epochs times batches per epoch."""
    t = r.spec["train"]
    return t["epochs"] * float(np.ceil(r.sizes / t["batch_size"]).mean())


recipe = pd.DataFrame([
    {"learner": name, "epochs": epochs, "lr": r.spec["train"]["lr"],
     "augment": r.spec["train"]["augment"], "SGD steps per model": sgd_steps(r),
     **ex.dpa_summary(r, labels)}
    for (name, epochs), r in (recipe_runs.items() if R else [])])
recipe = recipe.set_index(["learner", "epochs"]).sort_index() if R else recipe
recipe.round(3)

# %% tags=["nbval-ignore-output"]
paper = {name: ex.experiment_spec("cifar10", 50, 1, "nin", schedule=name,
                                  scale="full")["train"]
         for name in ("baseline", "ldc")}
n_paper = 50_000 // 50  # CIFAR-10's training set over k = 50
paper_steps = {name: t["epochs"] * -(-n_paper // t["batch_size"])
               for name, t in paper.items()}
glue("paper_n", f"{n_paper:,}", display=False)
glue("paper_steps_base", f"{paper_steps['baseline']:,}", display=False)
glue("paper_steps_ldc", f"{paper_steps['ldc']:,}", display=False)
glue("paper_step_ratio", paper_steps["ldc"] / paper_steps["baseline"], display=False)
if R:
    acc = recipe["base accuracy"]
    E3 = R["factor"] * E1
    gain_crop = acc["random crop", E3] - acc["random crop", E1]
    gain_aa = acc["AutoAugment", E3] - acc["AutoAugment", E1]
    # margins measured over training seeds 0, 1 and 2 (by hand, not in the reference):
    assert acc["AutoAugment", E1] < acc["random crop", E1] - 0.05  # equal steps: worse
    assert gain_aa > gain_crop + 0.03  # more steps help the augmented recipe far more,
    assert acc["AutoAugment", E3] < acc["random crop", E3]  # 3x each: still worse
    # the paper's comparison (recipe after 3x the steps against the baseline after 1x)
    # hides most of the deficit at equal steps
    deficit = acc["random crop", E1] - acc["AutoAugment", E1]
    assert abs(acc["AutoAugment", E3] - acc["random crop", E1]) < 0.5 * deficit
    glue("recipe_k", K_R, display=False)
    glue("recipe_lr", R["lr"], display=False)
    glue("recipe_e1", E1, display=False)
    glue("recipe_e3", E3, display=False)
    glue("recipe_factor", R["factor"], display=False)
    for (name, epochs), row in recipe.iterrows():
        key = f"{'crop' if name == 'random crop' else 'aa'}_{1 if epochs == E1 else 3}"
        glue(f"recipe_acc_{key}", float(row["base accuracy"]), display=False)
        glue(f"recipe_med_{key}", int(row["median radius"]), display=False)
    glue("recipe_gain_crop", float(gain_crop), display=False)
    glue("recipe_gain_aa", float(gain_aa), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The paper's augmented recipe (AutoAugment, learning rate 0.005) against the baseline (random crop, 0.05) at one k, by the number of SGD steps each base model takes: mean base accuracy (left) and DPA's median radius (right). At equal steps the comparison is fair; the paper compares its augmented learners after many more steps.", "name": "fig-recipe-steps"}}
if R:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.4))
    for name, marker in [("random crop", "o-"), ("AutoAugment", "s-")]:
        part = recipe.loc[name]
        for ax, col in [(ax1, "base accuracy"), (ax2, "median radius")]:
            ax.plot(part["SGD steps per model"], part[col], marker, label=name)
    for ax, col in [(ax1, "mean base accuracy"), (ax2, "median radius")]:
        ax.set_xlabel("SGD steps per base model")
        ax.set_ylabel(col)
        ax.legend(title=f"k = {K_R}", fontsize=8)
    plt.show()

# %% [markdown]
# At the same number of SGD steps the paper's recipe is the worse learner here: its
# mean base accuracy is {glue:text}`recipe_acc_aa_1:.3f` against
# {glue:text}`recipe_acc_crop_1:.3f` for random crop (median radius
# {glue:text}`recipe_med_aa_1` against {glue:text}`recipe_med_crop_1`). Three times the
# steps help both, but not equally: random crop gains
# {glue:text}`recipe_gain_crop:+.3f` (to {glue:text}`recipe_acc_crop_3:.3f`),
# AutoAugment at the small rate gains {glue:text}`recipe_gain_aa:+.3f` (to
# {glue:text}`recipe_acc_aa_3:.3f`, median radius {glue:text}`recipe_med_aa_3`), and
# is still behind random crop at the same budget. Compared as the paper compares them,
# the augmented learner after more steps against the baseline after fewer, the recipe
# looks nearly as good as the baseline ({glue:text}`recipe_acc_aa_3:.3f` against
# {glue:text}`recipe_acc_crop_1:.3f` in mean base accuracy, median radius
# {glue:text}`recipe_med_aa_3` against {glue:text}`recipe_med_crop_1`): the extra
# steps hide most of the deficit. The confound works in the recipe's favour, and the
# paper's gap in steps is larger: {glue:text}`paper_step_ratio:.0f` times at the same
# $k$. Digits, a small CNN and a few dozen epochs are not the paper's CIFAR-10 and
# GTSRB, so this does not say what the paper's learners would do at an equal budget;
# it says that they should also be compared at one before the gain is credited to the
# augmentation. The assertions of this section (the recipe worse at equal steps,
# gaining more from extra steps, still worse at three times the steps, and the
# unequal comparison hiding more than half of the deficit) run at the default scale;
# their thresholds were set by hand from runs with three training seeds, a check not
# repeated when the notebook runs.

# %% [markdown]
# ## How much of this is the seed?
#
# The accuracies and radii of this chapter come out of floating-point training.
# Another training seed gives slightly different base models, and so does another
# CPU, whose kernels round differently. The certificates stay sound on any machine
# (each base model is a function of its own partition alone, whatever the rounding);
# their values move. How much? `tools/seed_spread.py` trains this chapter's DPA runs
# at the default scale with {glue:text}`spread_seeds` seeds other than the chapter's
# own. The table compares this run with them: $z$ is the distance from their mean in
# standard deviations, pooled over the two learners for each $k$ and quantity (the
# spread depends on $k$ far more than on the learner) and floored at 0.001 for an
# accuracy (one test point in a thousand) and 0.5 for a radius (an integer). The
# largest $|z|$ come first. We assume, without showing it, that another
# CPU's rounding moves the numbers no more than another seed does.

# %% tags=["nbval-ignore-output"]
reference = json.loads(Path("reference/07_seed_spread.json").read_text())["numbers"]
reference = reference if scale() == "default" else {}  # measured at the default scale
ours = {f"{learner}/k={k}/{quantity}": value
        for learner, runs in (("crop", main), ("none", plain)) for k, r in runs.items()
        for quantity, value in ex.dpa_summary(r, labels).items()}
spread, z_limit = ex.seed_comparison(ours, reference)
spread.round(3).head(8)

# %% tags=["nbval-ignore-output"]
if reference:
    assert (spread["z"].abs() <= z_limit).all(), spread[spread["z"].abs() > z_limit]
sd = spread["seed sd"]
glue("spread_seeds", len(next(iter(reference.values()))["values"]) if reference
     else 0, display=False)
glue("spread_n", len(spread), display=False)
glue("z_limit", z_limit, display=False)
glue("z_max", float(spread["z"].abs().max()), display=False)
for name, end in [("base", "base accuracy"), ("acc", "DPA accuracy"),
                  ("radius", "radius")]:
    ends = [str(key).endswith(end) for key in spread.index]  # none at full scale
    glue(f"sd_{name}_max", float(sd[ends].max()) if any(ends) else float("nan"),
         display=False)
glue("gap_k_min", float(-np.diff(base["base accuracy"]).max()), display=False)
glue("gap_aug_min", float((aug_base["augmented"] - aug_base["plain"]).min()),
     display=False)

# %% [markdown]
# Over the {glue:text}`spread_n` comparisons, this run lies within
# {glue:text}`z_max:.1f` standard deviations of the seed mean. The chapter asserts
# $|z| \le$ {glue:text}`z_limit:.1f`: the two-sided Student-$t$ threshold that an
# independent run exceeds somewhere with probability at most 1 % (Bonferroni over the
# comparisons, with the uncertainty of the mean of the seeds). One standard deviation
# is at most {glue:text}`sd_base_max:.3f` in mean base accuracy,
# {glue:text}`sd_acc_max:.3f` in DPA's clean accuracy and
# {glue:text}`sd_radius_max:.1f` in the median radius. The base-accuracy gaps the first
# claims rest on are larger: at least {glue:text}`gap_k_min:.3f` between neighbouring
# values of $k$, and at least {glue:text}`gap_aug_min:.3f` between the two learners at
# the same $k$. Some other assertions of the chapter sit on smaller margins (the best
# $k$ at the smallest attack sizes, FA's and ROE's gains); these assertions and the
# test above, not the last digits, are what the book's regression tests check for the
# numbers of this chapter.

# %% [markdown]
# ## Explore the runs
#
# For readers running the notebook: pick one of the runs above and an aggregation
# (plurality vote, whose certificate is DPA's or FA's, or Run-Off Election) to see its
# certified-accuracy curve and median radius.

# %% tags=["nbval-ignore-output"]
RUNS = {f"DPA, k = {k}": main[k] for k in KS}
RUNS.update({f"DPA, k = {k}, {S['names'][0]}": plain[k] for k in KS if plain[k].spec
             != main[k].spec})
RUNS.update({f"DPA, k = {k}, {name}": r for name, runs in learners.items()
             for k, r in runs.items() if k not in main or r.spec != main[k].spec})
RUNS[f"FA, k = {FA_K}, d = {FA_D}"] = fa_run


def explore(run_name=f"FA, k = {FA_K}, d = {FA_D}", aggregation="vote"):
    r = RUNS[run_name]
    method = "roe" if aggregation == "ROE" else ("fa" if r.d > 1 else "dpa")
    pred, radius = ex.certify_run(r, method)
    sizes = B_all[: r.k // 2 + 2]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.step(sizes, certified_accuracy(pred, radius, labels, sizes), where="post")
    ax.set_xlabel("attack size B (insertions + removals)")
    ax.set_ylabel("certified accuracy")
    ax.set_ylim(0, 1)
    plt.show()
    print(f"{run_name}, {aggregation}: clean accuracy {np.mean(pred == labels):.3f}, "
          f"median radius {median_radius(pred, radius, labels)}")


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(explore, run_name=list(RUNS), aggregation=["vote", "ROE"])

# %% [markdown]
# (sec-dpa-experiments-full)=
# ## Running the paper's setting
#
# The runs of this chapter at full scale, the paper's grid on CIFAR-10 and on GTSRB, as
# commands for a SLURM job array of eight tasks per run (`--shard i/8` trains every
# eighth chunk of 50 models; the tasks of one run share its directory through a lock
# file). They are generated
# from the same settings and experiment specs the chapter trains, so the notebook,
# executed afterwards with `LDCBOOK_SCALE=full` (and `LDCBOOK_FULL_DATASET=gtsrb` for
# the second half), finds them finished.

# %%
def full_specs(F):
    """Every run the chapter trains at full scale with settings F, by run name."""
    def spec(k, d=1, **schedule):
        return ex.experiment_spec(F["dataset"], k, d, F["learner"], scale="full",
                                  **schedule)

    schedules = [F["rich"], *F["extra"].values()]
    specs = [spec(k, **F[key]) for key in ("base", "plain") for k in F["ks"]]
    specs += [spec(k, **s) for s in schedules for k in F["rich_ks"]]
    specs += [spec(*F["fa"], **F["base"])]
    return {ex.run_name(s): s for s in specs}


for dataset in ex.FULL_DATASETS:
    F = full_settings(ex.paper_grid(dataset))
    for name, spec in full_specs(F).items():
        args = ex.cli_args(spec, f"runs/ch07/{name}", chunk=F["chunk"])
        print(shlex.join(["python", "-m", "ldcbook", *args, "--no-progress"])
              + " --shard $SLURM_ARRAY_TASK_ID/8")

# %% tags=["remove-cell"]
trained = {r.path: r.num_models
           for r in [*main.values(), *plain.values(), fa_run,
                     *(r for runs in learners.values() for r in runs.values()),
                     *(recipe_runs.values() if R else [])]}
glue("models_trained", int(sum(trained.values())), display=False)
glue("epochs", int(main[KS[0]].spec["train"]["epochs"]), display=False)
cnn = build_model("cnn", 1, 10, 28)
glue("cnn_params", f"{sum(p.numel() for p in cnn.parameters()):,}", display=False)
if workdir is not None:
    workdir.cleanup()
