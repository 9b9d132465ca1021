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
# (chap-attacks)=
# # Poisoning the defences for real
#
# The book so far proves lower bounds and reproduces the paper's upper-bound attacks
# on toy tasks. A certified radius $r$ ({prf:ref}`thm-dpa-certificate`) is a lower
# bound on the **lethal dose** of a test point: the smallest number of insertions and
# removals that changes its prediction. This chapter attacks the trained DPA and FA
# ensembles of {ref}`chap-dpa-experiments` with real poisoned
# training samples, retrains what the poison touches, and re-certifies. It checks the
# certificates against the strongest attacks it finds within their radius, brackets
# the true lethal dose between the radius and the smallest attack found, measures it
# against $N/n$ for several $k$ and one CNN under two training schedules (with and
# without augmentation), and breaks the assumptions
# behind the certificate on purpose to show that they matter.
#
# ```{admonition} What runs here, and how to run the paper's setting
# :class: note
# At the default scale the chapter attacks the CNN ensembles of
# {ref}`chap-dpa-experiments` on `mnist5k` (the same runs, by the
# same specs, with $k$ = {glue:text}`main_k` for the certificates and
# $k$ = {glue:text}`ks_text` for the lethal dose), on two CPU threads; every attacked
# base model is retrained by the same batched engine. At full scale
# (`LDCBOOK_SCALE=full`) the same code attacks the CIFAR-10 Network-in-Network runs of
# `runs/ch07/`, retraining the attacked models on the GPU;
# `python -m ldcbook attack RUN --method near-copies --budget B --shard I/N` runs the
# per-point attacks from the shell and writes the attacked predictions and
# certificates into the run directory.
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
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
from myst_nb import glue

from ldcbook import attack_experiments as ae
from ldcbook import experiments as ex
from ldcbook.attacks import (Attack, check_budget, near_copies, pack_passes,
                             reached_models, removal, retrain_attacks)
from ldcbook.certify import votes_from_scores
from ldcbook.config import by_scale, scale, seed_everything, shrunk
from ldcbook.data import load
from ldcbook.ensemble import TrainConfig, fit_scores
from ldcbook.partition import partitions, pixel_sums

seed_everything(2022)
T0 = time.perf_counter()
BASE = dict(schedule="baseline")  # Chapter 7's runs: random crop on digits
SMOKE = dict(BASE, epochs=20)
SETTINGS = {
    "smoke": dict(dataset="mnist5k", learner="cnn", base=SMOKE,
                  plain=dict(SMOKE, augment="none"), k=200, points=40, families=10,
                  ks=[10, 25], per_k=4, pos_k=25, fa=(25, 2), fa_points=8,
                  runs=None, chunk=None,
                  names=("no augmentation", "random crop")),
    "default": dict(dataset="mnist5k", learner="cnn", base=BASE,
                    plain=dict(BASE, augment="none"), k=200, points=200, families=10,
                    ks=[10, 25, 50], per_k=4, pos_k=50, fa=(50, 2),
                    fa_points=20, runs=None, chunk=None,
                    names=("no augmentation", "random crop")),
    "full": dict(dataset="cifar10", learner="nin", base=BASE,
                 plain=dict(schedule="ldc"),
                 k=250, points=200, families=20, ks=[50, 100, 250], per_k=6, pos_k=50,
                 fa=(50, 16), fa_points=50,
                 runs="../runs/ch07", chunk=50,
                 names=("LDC (AutoAugment)", "baseline (crop + flip)")),
}
S = dict(by_scale(**SETTINGS))
if shrunk():  # the full-scale code path at a tiny size (as ex.shrink_grid)
    tiny = dict(epochs=1, batch_size=16, eval_batch_size=30)
    S.update(k=12, points=6, families=2, ks=[6, 12], per_k=2, pos_k=6, fa=(6, 2),
             fa_points=3, runs=None, base=dict(S["base"], **tiny),
             plain=dict(S["plain"], **tiny))
CLAIMS = scale() == "default"  # thresholds of the quantitative claims
CPU = scale() != "full"
if CPU:  # a fixed number of threads: the same bits at every run on a machine
    torch.set_num_threads(min(2, os.cpu_count() or 1))
workdir = tempfile.TemporaryDirectory(prefix="ldcbook-ch09-") if not S["runs"] else None
ROOT = Path(workdir.name if workdir else S["runs"])
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, dataset = {S['dataset']}, k = {S['k']}, ks = {S['ks']}")

# %% [markdown]
# The runs are trained exactly as in the {ref}`previous chapter <chap-dpa-experiments>`
# (same specs, so at full scale they are read from its run directories), and the
# training configuration of a run is what retrains its attacked models.

# %% tags=["nbval-ignore-output"]
ds = load(S["dataset"])
N, C = len(ds.y_train), ds.num_classes


def run(k, d=1, **schedule):
    spec = ex.experiment_spec(S["dataset"], k, d, S["learner"], **schedule)
    return ex.train_run(ROOT, ds, spec, chunk=S["chunk"])


def config(r):
    return TrainConfig.from_dict(r.spec["train"])


K = S["k"]
main = run(K, **S["base"])
parts, cfg = partitions(ds, K), config(main)
pred, radius = ex.certify_run(main, "dpa")
print(f"k = {K}: {N:,} training images, about {N // K} per partition; clean "
      f"accuracy {np.mean(pred == ds.y_test.numpy()):.3f}")

# %% [markdown]
# ## Attacks as an adversary mounts them
#
# An attacker who inserts a sample does not choose its partition by decree: the
# partition is the sample's pixel sum modulo $k$. It steers the sample by changing a
# few pixels by one grey level (`ldcbook.attacks.nudge_to_bucket`), at most $k/2$
# grey levels in all. Our attacks aim at one test point $x$ with prediction $\hat y$;
# the **runner-up** $c$ is the class at which the minimum of {eq}`eq-dpa-radius` is
# attained. The families, each a function of `ldcbook.attacks`:
#
# - **near-copies** (`near_copies`): copies of $x$ itself, labelled $c$, steered into
#   chosen partitions; one sample each, cost 1;
# - **relabel** (`relabel`): the training samples of class $\hat y$ nearest to $x$ get
#   the label $c$, the label-swap attack of {ref}`the bijection chapter
#   <chap-bijection>` on real data; a relabel is a removal plus an insertion, cost 2,
#   and stays in its partition;
# - **removal** (`removal`): the samples of class $\hat y$ nearest to $x$ are taken
#   out, the removal attack of {ref}`the memorisation chapter <chap-memorization>`;
#   cost 1.
#
# Here is one near-copy of a test digit, steered into partition 7.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "A test digit (left) and the poisoned training sample the near-copy attack inserts (middle, labelled with the runner-up class): the difference (right) is at most one grey level per pixel.", "name": "fig-attacks-near-copy"}}
t0 = 0  # the first test digit
x0 = ds.x_test[t0].numpy()
copy = near_copies(x0, 1, [7], K).insert_x[0]
diff = copy.astype(int) - x0.astype(int)
fig, axes = plt.subplots(1, 3, figsize=(6, 2.2))
panels = [x0[0], copy[0], diff[0]]
for ax, img, title in zip(axes, panels, ["target", "poison", "difference"]):
    ax.imshow(img, cmap="gray" if title != "difference" else "coolwarm")
    ax.set_xlabel(title)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %%
assert np.abs(diff).max() <= 1 and np.abs(diff).sum() <= K // 2
assert int(pixel_sums(copy[None])[0]) % K == 7
print(f"{np.abs(diff).sum()} pixels changed by one grey level; lands in partition "
      f"{reached_models(near_copies(x0, 1, [7], K), ds, K).tolist()}")

# %% [markdown]
# A poisoned sample reaches one partition, so an attack of size $b$ can change at
# most $b$ base models. `ldcbook.attacks.check_budget` enforces this for every attack
# the chapter retrains with a budget (all but the two counterexamples at the end): an
# attack larger than its budget, or one that changes more models than its budget
# allows, is rejected. A partitioning that does not hash each
# sample on its own breaks this: with partitions by dataset position (the sample at
# position $j$ goes to model $j \bmod k$), removing the first training sample moves
# every remaining sample to the previous model, and a budget-1 attack
# reaches every model. It is rejected:

# %%
def blocks(dataset):
    return ae.position_partitions(dataset, K)


one = removal([0], ds.x_train.shape[1:])  # the first training sample
check_budget(one, 1, reached_models(one, ds, K))  # by the hash: one partition
try:
    retrain_attacks(ds, blocks(ds), cfg, [one], budgets=[1], partition_fn=blocks)
    raise AssertionError("not rejected")
except ValueError as err:
    print(err)

# %% [markdown]
# ## Retraining only what changed
#
# After an attack, a base model whose partition is unchanged trains to the same bits:
# it depends on its own partition, its id and the run's configuration only, not on
# what shares its batched kernel calls (the isolation guarantee of
# `ldcbook.ensemble.schedule`, tested op by op). So only the affected models are
# retrained. More: one engine pass can retrain the affected models of many attacks at
# once, as long as it trains each model id once (`ldcbook.attacks.pack_passes`): each
# pass trains, per model id, the new partition of one attack that claimed it, and
# two attacks that give a model the same partition share its retraining. We check this on an attack that inserts two
# near-copies into two partitions and removes a sample of a third, retrained in a
# pass shared with two other attacks, against a retraining of all {glue:text}`main_k`
# models on the poisoned data.

# %% tags=["nbval-ignore-output"]
tgt = ae.targets(main.scores, [t0])[0]
ids = [int(i) for i in tgt.voters if len(parts[i])]  # the most vulnerable voters
ids += [i for i in range(K) if len(parts[i]) and i not in ids]  # then any others
attack = (near_copies(x0, tgt.runner_up, ids[:2], K)
          + removal(parts[ids[2]][:1], x0.shape))
others = [near_copies(ds.x_test[t].numpy(), 0, [ids[j]], K) for j, t in [(3, 1), (4, 2)]]
res = retrain_attacks(ds, parts, cfg, [attack, *others], budgets=[3, 1, 1])
poisoned = attack.apply(ds)
full = fit_scores(poisoned, partitions(poisoned, K), range(K), cfg)
untouched = np.setdiff1d(np.arange(K), res[0].affected)
n_passes = len(pack_passes([r.affected for r in res]))
print(f"affected models {res[0].affected.tolist()}; {n_passes} pass for three attacks")

# %% tags=["nbval-ignore-output"]
assert len(res[0].affected) == attack.size == 3 and n_passes == 1
untouched_same = np.array_equal(full[:, untouched], main.scores[:, untouched])
assert untouched_same or not CPU  # bit for bit on the CPU
same = np.array_equal(res[0].patch(main.scores), full)
assert same or not CPU  # bit for bit on the CPU; GPUs may differ in the last bits
assert (votes_from_scores(res[0].patch(main.scores)) == votes_from_scores(full)).all()
print("packed retraining equals full retraining bit for bit:", same)

# %% [markdown]
# ## Certificates confirmed by retraining
#
# A certificate says that no attack of size $\le r$ changes the prediction. We attack
# the {glue:text}`n_points` test points with the smallest radii $r \ge 1$ (the most
# fragile certified points; radii {glue:text}`r_lo` to {glue:text}`r_hi`) with the
# strongest attack we know within budget $r$: one near-copy labelled with the
# runner-up in each of $r$ partitions that vote for $\hat y$. No attack of size $r$
# can do more to the votes, since a sample changes one model and a model casts one
# vote; this one does as much whenever every poisoned model switches its vote to $c$.
# Given that premise, checked bit for bit above and by the budget check of every
# attack, the certificate cannot be violated: it is arithmetic. What the retraining
# confirms is the premise, on real models, and how close real attacks come to the
# certificate's worst case. The same search then adds one more poisoned partition
# (and doubles the copies where a model resisted): that is the bracket of the next
# section.

# %% tags=["nbval-ignore-output"]
cand = np.flatnonzero(radius >= 1)
points = cand[np.argsort(radius[cand], kind="stable")][: S["points"]]
tlist = ae.targets(main.scores, points)
search = ae.flip_search(ds, parts, cfg, main.scores, tlist)
kept = np.array([ae.certify_votes(s.confirm_votes, C)[0] == s.target.prediction
                 for s in search], dtype=bool)
print(f"{len(search)} points attacked within their radius: "
      f"{int((~kept).sum())} predictions changed")

# %% tags=["nbval-ignore-output"]
assert len(search) >= 200 or scale() != "default"
assert kept.all()  # 0 violations
flipped_votes = sum(int((s.confirm_votes == s.target.runner_up).sum()
                        - (votes_from_scores(main.scores[s.target.index][None])[0]
                           == s.target.runner_up).sum()) for s in search)
poisoned_parts = int(radius[points].sum())
assert flipped_votes <= poisoned_parts  # one vote at most per poisoned partition
assert flipped_votes > 0 or not CLAIMS
print(f"votes moved to the runner-up by the budget-r attacks: {flipped_votes} of "
      f"{poisoned_parts} poisoned partitions")
glue("votes_moved", flipped_votes, display=False)
glue("votes_total", poisoned_parts, display=False)

# %% [markdown]
# Every prediction held, and the attacks came close to the worst case: the poisoned
# models switched their vote to the runner-up in {glue:text}`votes_moved` of the
# {glue:text}`votes_total` poisoned partitions. The other families are weaker per
# unit of budget (a relabel costs 2; a removal adds no evidence for $c$), and confirm
# the certificates as well, on the first {glue:text}`n_families` of these points:

# %% tags=["nbval-ignore-output"]
def family_attack(family):
    sub = tlist[: S["families"]]
    per = ae.cost(family)
    plans = [[(int(i), 1) for i in t.voters[: t.radius // per]] for t in sub]
    got = ae.run_attacks(ds, parts, cfg, main.scores, sub, plans, family)
    return [ae.certify_votes(ae.attacked_votes(
        main.scores, t, {i: v for (i, _), v in g.items()}), C)[0] != t.prediction
        for t, g in zip(sub, got)]


violations = {f: int(np.sum(family_attack(f))) for f in ("relabel", "removal")}
violations["near-copies"] = int((~kept).sum())
assert sum(violations.values()) == 0
violations

# %% [markdown]
# The search assembles each attack from models retrained in shared passes. For a
# sample of points we retrain the final attack as one attack, all its partitions at
# once, and find the same models retrained and the prediction changed.

# %% tags=["nbval-ignore-output"]
def whole(s):
    return sum((ae.plan_attack("near-copies", ds, parts, s.target, [i], m)
                for i, m in s.plan[1:]),
               ae.plan_attack("near-copies", ds, parts, s.target, [s.plan[0][0]],
                              s.plan[0][1]))


sample = [s for s in search if s.flipped][:3]
again = retrain_attacks(ds, parts, cfg, [whole(s) for s in sample],
                        budgets=[s.size for s in sample],
                        rows=[s.target.index for s in sample])
for j, (s, r) in enumerate(zip(sample, again)):
    assert r.affected.tolist() == sorted(i for i, _ in s.plan)
    votes = votes_from_scores(r.patch(main.scores)[j][None])[0]
    assert ae.certify_votes(votes, C)[0] != s.target.prediction or not CPU
print(f"{len(sample)} attacks retrained whole: each changes its prediction")

# %% [markdown]
# ## The bracket: radius $<$ lethal dose $\le$ attack found
#
# For every attacked point the search found an attack that does change the
# prediction, of size $a$: the true lethal dose lies between $r + 1$ (the certificate
# rules out anything smaller) and $a$.

# %% tags=["nbval-ignore-output"]
size = np.array([s.size for s in search])
rad = np.array([s.target.radius for s in search])
ok = size > 0
assert (size[ok] >= rad[ok] + 1).all()  # never below the certificate
tight = np.mean(size[ok] == rad[ok] + 1)
print(f"found for {ok.mean():.0%} of the points; a = r + 1 exactly for "
      f"{tight:.0%}, so the lethal dose is known exactly there")

# %% tags=["nbval-ignore-output"]
assert ok.mean() >= 0.95 or not CLAIMS
assert tight >= 0.4 or not CLAIMS
glue("found_frac", float(ok.mean()), display=False)
glue("tight_frac", float(tight), display=False)
glue("ratio_med", float(np.median(size[ok] / rad[ok])), display=False)
glue("ratio_max", float(np.max(size[ok] / rad[ok], initial=0)), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The bracket for each attacked point: the smallest attack found that changes the prediction, divided by the certified radius. No attack changes the prediction with fewer than r + 1 poisons, so the ratio is at least 1 + 1/r; it equals that where the certificate is exactly tight.", "name": "fig-attacks-ratio"}}
fig, ax = plt.subplots()
ax.hist(size[ok] / rad[ok], bins=30, color="tab:blue")
ax.set_xlabel("attack found / certified radius")
ax.set_ylabel("test points")
plt.show()

# %% [markdown]
# The ratio is at most {glue:text}`ratio_max:.2f` and its median
# {glue:text}`ratio_med:.2f`: on these points the certificate is nearly the whole
# truth. The reason is how little it takes to flip one base model. The table counts,
# over the poisoned partitions whose model did switch its vote to the runner-up, the
# fewest near-copies tried (1, 2, 4 or 8) that switched it; one copy sufficed for a
# fraction {glue:text}`one_copy:.2f` of them.

# %% tags=["nbval-ignore-output"]
copies = pd.Series([m for s in search for m in s.copies_to_flip.values()])
glue("one_copy", float(np.mean(copies == 1)), display=False)
copies.value_counts().sort_index().rename("models")

# %% [markdown]
# ## Finite Aggregation under the same attacks
#
# FA {cite:p}`wang2022fa` (worked by hand in {ref}`the chapter on DPA's optimality
# <chap-dpa-optimal>`) feeds each of $k d$ hash buckets to $d$ of its $k d$ models,
# and its radius counts buckets: $r$ poisoned samples may corrupt every model of $r$
# buckets. The certificate's worst case is mounted here with one near-copy, labelled
# with the class $c$ at which the radius is attained, in each of the $r$ buckets
# whose models weigh most against the prediction
# (`ldcbook.attack_experiments.fa_plan`); the same attack on $r + 1$ such buckets
# could break it. We attack the {glue:text}`fa_points` points of smallest FA radius
# $r \ge 1$ of an FA run with $k$ = {glue:text}`fa_k` and $d$ = {glue:text}`fa_d`
# (Chapter 7's learner and schedule), both ways.

# %% tags=["nbval-ignore-output"]
FK, FD = S["fa"]
fa_run = run(FK, FD, **S["base"])
fa_shift = fa_run.spec["shifts"]
fa_pred, fa_radius = ex.certify_run(fa_run, "fa")
fa_cand = np.flatnonzero(fa_radius >= 1)
fa_pts = fa_cand[np.argsort(fa_radius[fa_cand], kind="stable")][: S["fa_points"]]
fa_out = ae.fa_attack_points(ds, config(fa_run), fa_run.scores, fa_pts, FK, FD,
                             fa_shift, extras=(0, 1))
fa_kept = fa_out["attacked_prediction"][:, 0] == fa_out["prediction"]
fa_broke = fa_out["attacked_prediction"][:, 1] != fa_out["prediction"]
print(f"radii {sorted(set(fa_radius[fa_pts].tolist()))}: within the radius "
      f"{int((~fa_kept).sum())} of {len(fa_pts)} predictions changed; with one bucket "
      f"more, {int(fa_broke.sum())}")

# %% tags=["nbval-ignore-output"]
assert np.array_equal(fa_out["radius"], fa_radius[fa_pts])
assert fa_kept.all()  # 0 violations of the FA certificate
assert (fa_out["models"] <= fa_out["size"] * FD).all()  # checked against the budget
glue("fa_k", FK, display=False)
glue("fa_d", FD, display=False)
glue("fa_points", len(fa_pts), display=False)
glue("fa_broke", float(fa_broke.mean()), display=False)
glue("fa_models", float(np.median(fa_out["models"][fa_broke, 1])), display=False)
shared = fa_out["models"][:, 1] < fa_out["size"][:, 1] * FD  # buckets share a model
glue("fa_held", int((~fa_broke).sum()), display=False)
glue("fa_shared", int((shared & ~fa_broke).sum()), display=False)

# %% [markdown]
# Every FA certificate held. One bucket more changed the prediction for
# {glue:text}`fa_broke:.0%` of these points; those attacks retrained a median of
# {glue:text}`fa_models:.0f` models. Of the {glue:text}`fa_held` attacks on $r + 1$
# buckets that did not, {glue:text}`fa_shared` reached fewer than $(r + 1) d$ models:
# two of their buckets feed a common model, which the certificate's weights count
# twice, so the radius is loose there. In the others some model reached by a
# near-copy did not switch to $c$ (had all switched, the gap would have closed).

# %% [markdown]
# ## The lethal dose against $N/n$
#
# Here $n = N/k$ is DPA's mean partition size, a design choice, not the $n$ of
# {prf:ref}`conj-lethal-dose` (the sample count of the most data-efficient plausible
# learner, fixed by the task). The paper's §7 argues that DPA tolerates $\Theta(N/n)$
# poisons when its base learner is accurate with $n$ samples
# ({prf:ref}`rem-lethal-dose-converse`): the lethal dose of a point would then grow
# like $k$, slope 1 against $k$ on log-log axes, if the base models' accuracy did not
# fall as the partitions shrink. The same search (at most 3 rounds), now on
# {glue:text}`per_k` random test points per run, for $k$ = {glue:text}`ks_text` and
# the CNN with and without augmentation, gives for each point the smallest attack
# found $a$, and for each poisoned base model the copies that flipped it.

# %% tags=["nbval-ignore-output"]
rng = np.random.default_rng(9)
rows, radii, base_acc = [], {}, {}
for name, schedule in zip(S["names"], (S["plain"], S["base"])):
    for k in S["ks"]:
        r = run(k, **schedule)
        radii[name, k] = ex.certify_run(r, "dpa")[1]  # every test point's radius
        base_acc[name, k] = (r.scores.argmax(2) == ds.y_test.numpy()[:, None]).mean()
        pts = rng.choice(len(ds.y_test), S["per_k"], replace=False)
        found = ae.flip_search(ds, partitions(ds, k), config(r), r.scores,
                               ae.targets(r.scores, pts), rounds=3)
        for s in found:
            rows.append({"learner": name, "k": k, "n": N / k, "radius": s.target.radius,
                         "attack": s.size if s.flipped else np.inf, "copies": np.mean(
                             list(s.copies_to_flip.values()) or [np.nan])})
dose = pd.DataFrame(rows)  # attack = inf: none found within the search's limits
dose["found"] = np.isfinite(dose["attack"])
table = dose.groupby(["learner", "k"])[["radius", "attack", "copies"]].median()
table.join(dose.groupby(["learner", "k"])["found"].mean()).join(
    pd.Series(base_acc, name="base accuracy").rename_axis(["learner", "k"]))

# %% [markdown]
# The fraction of points flipped against the budget as a fraction of $N$, and the
# budget at which half are flipped (the median attack found, counting points without
# an attack found as beyond every budget) against $k$. The bracket gives two
# measurements from different point sets: the median attack found over the
# {glue:text}`per_k` attacked points of each run, an upper bound on their median
# lethal dose, and the median certified radius over all {glue:text}`n_test` test
# points, a lower bound on theirs. We fit both slopes by least squares on the
# logarithms of the medians (a run whose median is infinite drops out), with a
# bootstrap over the points for their uncertainty; it covers the sampling of points
# only, for the one trained ensemble of each $k$.

# %% tags=["nbval-ignore-output"]
every = pd.DataFrame([{"learner": n, "k": k, "radius": v}
                      for (n, k), r in radii.items() for v in r])
fits = {name: (*ae.median_slope(frame, "attack"),
               *ae.median_slope(every[every.learner == name], "radius"))
        for name, frame in dose.groupby("learner")}
pd.DataFrame(fits, index=["attack slope", "s.e.", "radius slope", "s.e. "]).T.round(2)

# %% tags=["nbval-ignore-output"]
for name, (b, se, b_r, se_r) in fits.items():
    # the median of the attacks found (points without one left out)
    sizes = dose[(dose.learner == name) & dose.found].groupby("k")["attack"].median()
    if CLAIMS:  # both ends of the bracket grow with k
        assert np.isfinite([b, se, b_r, se_r]).all()
        assert b_r > 0.5, (name, b_r)
        assert sizes[max(S["ks"])] > sizes[min(S["ks"])], (name, sizes)
text = "; ".join(f"{n}: {b:.2f} ± {se:.2f}" for n, (b, se, _, _) in fits.items())
glue("slope_text", text, display=False)
glue("radius_slope_text", "; ".join(f"{n}: {b:.2f} ± {se:.2f}"
                                    for n, (_, _, b, se) in fits.items()), display=False)
lo, hi = min(S["ks"]), max(S["ks"])
glue("acc_text", "; ".join(f"{n}: {base_acc[n, lo]:.2f} at k = {lo}, "
                           f"{base_acc[n, hi]:.2f} at k = {hi}" for n in S["names"]),
     display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: fraction of the attacked points for which the search found an attack of at most this budget (as a fraction of the training set), one curve per k and learner. Right: the bracket against k on log-log axes: the budget at which half the attacked points are flipped (filled; an upper bound for those points) and the median certified radius of all test points (open; a lower bound for those), with the dotted line of slope 1.", "name": "fig-attacks-lethal-dose"}}
fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
colors = dict(zip(S["names"], ("tab:orange", "tab:blue")))
for (name, k), frame in dose.groupby(["learner", "k"]):
    b = np.sort(frame["attack"][frame["found"]].to_numpy()) / N
    a1.step(100 * b, np.arange(1, len(b) + 1) / len(frame), where="post",
            ls="-" if name == S["names"][1] else "--", label=f"{name}, k = {k}")
for name in S["names"]:
    med = dose[dose.learner == name].groupby("k")["attack"].median()
    a2.plot(med.index, med.to_numpy(), "o-", color=colors[name],
            label=f"{name}: attack found")
    low = [np.median(radii[name, k]) for k in S["ks"]]
    a2.plot(S["ks"], low, "o--", mfc="none", color=colors[name],
            label=f"{name}: certified radius")
ks = np.array(S["ks"])
a2.plot(ks, dose["attack"][dose["found"]].median() * ks / np.median(ks), ":",
        color="gray")
a1.set_xlabel("poison budget (% of N)")
a1.set_ylabel("fraction flipped within budget")
a1.legend(fontsize=6)
a2.set_xscale("log")
a2.set_yscale("log")
a2.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
for axis in (a2.xaxis, a2.yaxis):  # plain numbers on the log axes
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())
a2.set_xticks(S["ks"])
a2.set_xlabel("k (= N / mean partition size)")
a2.set_ylabel("median (poisoned samples)")
a2.legend(fontsize=6)
plt.show()

# %% [markdown]
# Both ends of the bracket grow with $k$: the median certified radius with log-log
# slope {glue:text}`radius_slope_text`, the budget that flips half the attacked
# points with slope {glue:text}`slope_text` (bootstrap standard errors). Slope 1
# would mean a vote margin that grows in proportion to $k$; it grows more slowly
# where the base models' accuracy falls as their partitions shrink (mean accuracy of
# a base model: {glue:text}`acc_text`). With {glue:text}`per_k` points per run the
# second slope is a rough measurement; the chapter asserts that the radius slope
# exceeds 0.5 and that the median of the attacks found is larger at the largest $k$
# than at the smallest, for both schedules.

# %% [markdown]
# ## Why the assumptions matter
#
# The certificate rests on each poisoned sample reaching one base model. Break that
# on purpose: partition by dataset position (the sample at position $j$ goes to model
# $j \bmod k$, with $k$ = {glue:text}`pos_k`) instead of by content. The vote
# certifies the same way, but now one removal, of the first training sample, moves
# every remaining sample to another model and retrains them all. We look for test points
# whose "certified" radius is at least 1 and whose prediction this single removal
# changes, then restore the hash partitioning and apply the same removal.

# %% tags=["nbval-ignore-output"]
PK = S["pos_k"]
pos_parts = ae.position_partitions(ds, PK)
pos_cfg = config(run(PK, **S["base"]))  # Chapter 7's k = PK run: same schedule
pos_clean = fit_scores(ds, pos_parts, range(PK), pos_cfg)


def position_fn(dataset):
    return ae.position_partitions(dataset, PK)


pos_res = retrain_attacks(ds, pos_parts, pos_cfg, [one], partition_fn=position_fn)[0]
assert len(pos_res.affected) == PK
print(f"one removal changed {len(pos_res.affected)} of {PK} models")

# %% tags=["nbval-ignore-output"]
from ldcbook.certify import count_votes, dpa  # noqa: E402

before = dpa(count_votes(votes_from_scores(pos_clean), C))
after = dpa(count_votes(votes_from_scores(pos_res.patch(pos_clean)), C))
broken = np.flatnonzero((before[1] >= 1) & (after[0] != before[0]))
print(f"{len(broken)} test points with 'certified' radius >= 1 change their "
      f"prediction under one removal (radii {sorted(set(before[1][broken].tolist()))})")
assert len(broken) >= 1 or not CLAIMS  # a counterexample to the certificate

# %% [markdown]
# Restored, the hash partitioning takes the same removal into one partition: one
# model is retrained, and no prediction certified at radius $\ge 1$ moves, as the
# certificate guarantees.

# %% tags=["nbval-ignore-output"]
hash_parts = partitions(ds, PK)
hash_clean = run(PK, **S["base"]).scores
fixed = retrain_attacks(ds, hash_parts, pos_cfg, [one], budgets=[1])[0]
h_before = dpa(count_votes(votes_from_scores(hash_clean), C))
h_after = dpa(count_votes(votes_from_scores(fixed.patch(hash_clean)), C))
assert len(fixed.affected) == 1
assert not ((h_before[1] >= 1) & (h_after[0] != h_before[0])).any()
print(f"hash partitions: {len(fixed.affected)} model retrained, "
      f"{int((h_after[0] != h_before[0]).sum())} predictions changed, all of radius 0")

# %% [markdown]
# The second assumption: nothing is fitted on the whole training set. A common
# pipeline normalises every input by the mean and standard deviation of the whole
# training set. Then every base model depends on every training sample, through the
# per-channel mean and standard deviation. We train the $k$ = {glue:text}`pos_k` ensemble so (the statistics passed to
# every model as `TrainConfig.norm_stats`), insert one all-white image labelled 0,
# recompute the statistics on the poisoned training set, and retrain.

# %% tags=["nbval-ignore-output"]
white = Attack(np.full((1, *ds.x_train.shape[1:]), 255, np.uint8), np.array([0]),
               np.zeros(0, np.int64))
poisoned_w = white.apply(ds)
whole_cfg = pos_cfg.replace(norm_stats=ae.whole_set_stats(ds))
w_clean = fit_scores(ds, hash_parts, range(PK), whole_cfg)
w_after = fit_scores(poisoned_w, partitions(poisoned_w, PK), range(PK),
                     pos_cfg.replace(norm_stats=ae.whole_set_stats(poisoned_w)))
moved = (votes_from_scores(w_after) != votes_from_scores(w_clean)).any(axis=0)
print(f"mean {whole_cfg.norm_stats[0][0]:.5f} -> "
      f"{ae.whole_set_stats(poisoned_w)[0][0]:.5f}; {int(moved.sum())} of {PK} "
      f"models changed a vote")

# %% tags=["nbval-ignore-output"]
w_before = dpa(count_votes(votes_from_scores(w_clean), C))
w_post = dpa(count_votes(votes_from_scores(w_after), C))
w_broken = np.flatnonzero((w_before[1] >= 1) & (w_post[0] != w_before[0]))
print(f"{len(w_broken)} test points with 'certified' radius >= 1 change their "
      f"prediction (radii {sorted(w_before[1][w_broken].tolist())})")
assert len(w_broken) >= 1 or not CLAIMS  # a counterexample to the certificate

# %% [markdown]
# With each model's own statistics (the engine's default), the white image reaches
# the one partition its pixel sum picks, and no prediction certified at radius
# $\ge 1$ changes:

# %% tags=["nbval-ignore-output"]
w_fixed = retrain_attacks(ds, hash_parts, pos_cfg, [white], budgets=[1])[0]
wf_after = dpa(count_votes(votes_from_scores(w_fixed.patch(hash_clean)), C))
assert len(w_fixed.affected) == 1
assert not ((h_before[1] >= 1) & (wf_after[0] != h_before[0])).any()
print(f"own statistics: model {w_fixed.affected.tolist()} retrained, "
      f"{int((wf_after[0] != h_before[0]).sum())} predictions changed, all of radius 0")

# %% [markdown]
# ## What this chapter found
#
# Every one of the {glue:text}`n_points` attacked certificates held: {glue:text}`viol`
# violations, for the strongest attack within the radius and, on the first
# {glue:text}`n_families`, for the relabel and removal families. Since a poisoned
# sample reached one model, checked bit for bit, this had to be; the retraining shows
# how close real attacks come: the certificates are nearly tight on these most
# fragile points at $k$ = {glue:text}`main_k` (about {glue:text}`per_part` images per
# partition). An attack that changes the prediction was found for
# {glue:text}`found_frac:.0%` of these points, and for {glue:text}`tight_frac:.0%` it
# had exactly $r + 1$ poisons, so the lethal dose is known exactly there; the ratio
# attack/radius has median {glue:text}`ratio_med:.2f`. One mislabelled near-copy
# flipped a small CNN trained on a partition in a fraction {glue:text}`one_copy:.2f`
# of the models that switched, which is why the bracket is often closed. The FA certificates held as well
# ({glue:text}`fa_points` points), and one bucket beyond the FA radius changed
# {glue:text}`fa_broke:.0%` of their predictions. Against $k$ both ends of the
# bracket grow: the median certified radius of all test points with log-log slope
# {glue:text}`radius_slope_text`, the budget that flips half the attacked points with
# slope {glue:text}`slope_text` (bootstrap standard errors; {glue:text}`per_k` points
# per run make the second a rough measurement); slope 1 is the growth the paper's
# argument for DPA describes. And the certificate's assumptions are not a formality: with partitions by position, one
# removal changed {glue:text}`pos_changed` of {glue:text}`pos_k` models and the
# prediction of {glue:text}`pos_broken` points "certified" at radius $\ge 1$; with
# statistics of the whole training set, one inserted image changed votes of
# {glue:text}`w_models` models and the prediction of {glue:text}`w_broken` such points.
# The whole chapter ran in {glue:text}`elapsed:.0f` s.

# %% tags=["remove-cell", "nbval-ignore-output"]
glue("main_k", K, display=False)
glue("per_part", N // K, display=False)
glue("ks_text", ", ".join(map(str, S["ks"])), display=False)
glue("n_points", len(search), display=False)
glue("r_lo", int(rad.min()) if len(rad) else 0, display=False)
glue("r_hi", int(rad.max()) if len(rad) else 0, display=False)
glue("n_families", S["families"], display=False)
glue("per_k", S["per_k"], display=False)
glue("n_test", len(ds.y_test), display=False)
glue("pos_k", PK, display=False)
glue("viol", sum(violations.values()), display=False)
glue("pos_changed", len(pos_res.affected), display=False)
glue("pos_broken", len(broken), display=False)
glue("w_models", int(moved.sum()), display=False)
glue("w_broken", len(w_broken), display=False)
glue("elapsed", time.perf_counter() - T0, display=False)
if workdir is not None:
    workdir.cleanup()
