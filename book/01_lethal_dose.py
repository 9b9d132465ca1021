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
# (chap-lethal-dose)=
# # The Lethal Dose Conjecture
#
# A poisoning attacker edits a small part of the training set so that the trained model
# errs on inputs of the attacker's choosing. How small can that part be before *no*
# defence can stop it? {cite:t}`wang2022lethal` conjecture that the answer is set by one
# number: how many clean samples the best learner needs. This chapter fixes the setting
# and the notation used through the book, states the conjecture, and checks its central
# intuition by simulation.

# %% tags=["remove-cell"]
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from myst_nb import glue

from ldcbook.config import by_scale, scale, seed_everything
from ldcbook.theory import conjecture

rng = seed_everything(2022)
TRIALS = by_scale(smoke=2_000, default=200_000, full=2_000_000)
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, Monte Carlo trials per point = {TRIALS:,}")

# %% [markdown]
# ## Setting and notation
#
# A **classification task** is a distribution $P$ over $\mathcal{X} \times \mathcal{Y}$,
# inputs and labels, with $|\mathcal{Y}| = k$ classes. A **training set** $D$ is a
# *multiset* of $N$ samples drawn independently from $P$; a **learner** $f$ maps a training
# set (and possibly its own randomness) to a classifier $f_D : \mathcal{X} \to \mathcal{Y}$.
#
# - **Clean learning** trains on $D \sim P^N$ and is judged at a test input $x_0$ by the
#   probability $\Pr[f_D(x_0) = y_0]$, over the draw of $D$ and the learner's coins.
# - **Poisoned learning** trains on $T(D)$ for a transform $T$ chosen by an attacker who
#   knows $f$, $P$ and $x_0$.
# - The **attack size** of $T$ is the largest symmetric difference $|T(D) \ominus D|$ of
#   multisets: every inserted and every removed sample costs 1, so *changing* one sample,
#   its image or its label, costs 2.
#
# The `ldcbook.theory.conjecture.attack_size` helper counts exactly this. Relabelling one
# sample is a removal plus an insertion:

# %%
clean = [("x1", "cat"), ("x2", "dog"), ("x2", "dog")]
relabelled = [("x1", "dog"), ("x2", "dog"), ("x2", "dog")]
inserted = clean + [("x3", "cat")]
print("relabel one sample :", conjecture.attack_size(clean, relabelled))
print("insert one sample  :", conjecture.attack_size(clean, inserted))
print("remove a duplicate :", conjecture.attack_size(clean, clean[:2]))

# %% [markdown]
# Two distributions $U$ and $V$ on the same space are compared through their **total
# variation distance**
#
# $$
# \delta = \TV(U, V) = \sup_{A} |U(A) - V(A)| = \tfrac12 \sum_{\omega} |U(\omega) - V(\omega)|,
# $$ (eq-tv)
#
# the largest gap between the probabilities they give one event. It is the quantity behind
# the general form of the conjecture in {ref}`chap-discrimination`. For two distributions
# on four points:

# %%
U = np.array([0.4, 0.3, 0.2, 0.1])
V = np.array([0.25, 0.25, 0.25, 0.25])
delta = 0.5 * np.abs(U - V).sum()
best_event = U > V  # the event A that attains the supremum
assert np.isclose(delta, U[best_event].sum() - V[best_event].sum())
glue("tv_example", float(delta), display=False)
print(f"TV(U, V) = {delta:.2f}, attained by A = {np.flatnonzero(best_event).tolist()}")

# %% [markdown]
# Here $\delta =$ {glue:text}`tv_example:.2f`, and the event that attains it is the set of
# points to which $U$ gives more mass than $V$.
#
# ## The conjecture
#
# ```{prf:conjecture} Lethal Dose Conjecture
# :label: conj-lethal-dose
#
# For a classification task, let $x_0$ be a test input with label $y_0$, and let $n$ be the
# smallest number of clean samples with which some learner predicts $y_0$ at $x_0$ with
# probability at least $\tau$. Then for any learner $f$ trained on $N$ samples there is a
# transform $T$ of attack size $\Theta(N/n)$ under which $f$ predicts $y_0$ at $x_0$ with
# probability at most about $1 - \tau$ (in the paper's finite tasks, at most $1/k$).
# Conversely, there are defences, built from learners that need $n$ samples, that stay
# correct at $x_0$ under every attack of size $O(N/n)$.
# ```
#
# Informally: **the lethal dose of poison is $\Theta(N/n)$**. A task that a learner masters
# from few samples (small $n$) is robust, because the defender can split the training set
# into $N/n$ disjoint parts, train one model on each, and let them vote; an attacker must
# then corrupt a constant fraction of the parts. A task that needs many samples (large $n$)
# is fragile, and no defence can change that. {cite:t}`wang2022lethal` prove the
# conjecture for the Bijection Uncovering and Instance Memorization tasks
# ({ref}`chap-bijection`, {ref}`chap-memorization`) and for isotropic Gaussians
# ({ref}`chap-gaussian`), with gaps this book repairs or flags.

# %% [markdown]
# ## The intuition: a random $n$-subset hits the poison
#
# Why $N/n$? A learner that needs $n$ samples relies, in effect, on about $n$ of the $N$
# training samples, and which ones is not under its control. If an attacker has poisoned
# $N/n$ of them, the chance that a uniformly random $n$-subset contains at least one poison
# is the hypergeometric probability
#
# $$
# \Pr[\text{hit}] = 1 - \binom{N - N/n}{n} \Big/ \binom{N}{n}
# \;\xrightarrow[N,\,n \to \infty]{}\; 1 - (1 - 1/n)^{n} \to 1 - e^{-1} \approx 0.632,
# $$ (eq-hit)
#
# a constant, however large the problem. We draw the subsets and compare with the exact
# value, for training sets from $10^2$ to $10^6$ samples.

# %%
settings = [(100, 10), (1_000, 10), (1_000, 100), (10_000, 100), (100_000, 1_000),
            (1_000_000, 1_000)]
rows = []
for N, n in settings:
    exact = conjecture.hit_probability(N, n, poisons=N // n)
    est, se = conjecture.simulate_hits(N, n, N // n, TRIALS, rng)
    rows.append({"N": N, "n": n, "poisons N/n": N // n, "exact": exact,
                 "simulated": est, "std. error": se, "z": (est - exact) / se})
table = pd.DataFrame(rows)
assert (table["z"].abs() < 4).all(), "simulation disagrees with the exact value"
table.round({"exact": 4, "simulated": 4, "std. error": 4, "z": 2})

# %%
limit = conjecture.limit_hit_probability()
glue("hit_limit", limit, display=False)
glue("hit_max_z", float(table["z"].abs().max()), display=False)
glue("hit_small", float(table["exact"].iloc[0]), display=False)

# %% [markdown]
# Every simulated probability lies within {glue:text}`hit_max_z:.1f` standard errors of the
# exact one (the chapter asserts fewer than 4), and all of them sit near the limit
# $1 - 1/e =$ {glue:text}`hit_limit:.3f`: already {glue:text}`hit_small:.3f` for a training
# set of 100 samples. {numref}`fig-hit-probability` shows the same across $n$: the
# probability of hitting the poison depends on the *ratio* of poisons to $N/n$, not on
# the size of the problem.

# %%
N_fig = 10_000
n_grid = np.unique(np.geomspace(1, 2_000, 25).astype(int))
ratios = [0.5, 1.0, 2.0]  # poisons as a multiple of N/n
curves = {c: [conjecture.hit_probability(N_fig, n, min(N_fig, round(c * N_fig / n)))
              for n in n_grid] for c in ratios}
checks = [(n, *conjecture.simulate_hits(N_fig, n, N_fig // n, TRIALS // 10, rng))
          for n in n_grid[::4]]

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Probability that n samples drawn without replacement from N = 10,000 include a poison, when the poison count is a multiple of N/n. Lines: exact hypergeometric values; dots: Monte Carlo with 4-standard-error bars; dashed: the limits 1 - exp(-c).", "name": "fig-hit-probability"}}
fig, ax = plt.subplots()
for c, color in zip(ratios, ["tab:blue", "tab:orange", "tab:green"]):
    ax.plot(n_grid, curves[c], color=color, label=f"poisons = {c:g} N/n")
    ax.axhline(1 - np.exp(-c), color=color, ls="--", lw=0.8)
n_mc, p_mc, se_mc = np.array(checks).T
ax.errorbar(n_mc, p_mc, yerr=4 * se_mc, fmt="o", color="tab:orange", ms=4,
            label="simulation, poisons = N/n")
ax.set_xscale("log")
ax.set_xlabel("samples drawn by the learner, n")
ax.set_ylabel("probability of drawing a poison")
ax.set_ylim(0, 1)
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown]
# Fewer poisons than $N/n$ give a smaller but still constant probability; more give a
# larger one. The conjecture turns this counting argument into a statement about *every*
# learner: the attacker need not know which $n$ samples matter, because a poison spread at
# rate $1/n$ meets any learner that depends on about $n$ of them.
#
# ## Explore
#
# With a running kernel, the sliders below recompute the exact probability and a fresh
# simulation for any training-set size $N$, sample size $n$ and poison count. On the static
# page the output shows the default setting.

# %%
def explore(N=10_000, n=100, poisons=100):
    n, poisons = min(n, N), min(poisons, N)
    exact = conjecture.hit_probability(N, n, poisons)
    est, se = conjecture.simulate_hits(N, n, poisons, 20_000, seed=0)
    print(f"N = {N:,}, n = {n:,}, poisons = {poisons:,} (= {poisons * n / N:.2f} N/n)")
    print(f"exact P[hit] = {exact:.4f}; simulated {est:.4f} ± {se:.4f}")


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(
    explore,
    N=widgets.IntSlider(10_000, 100, 100_000, step=100),
    n=widgets.IntSlider(100, 1, 5_000),
    poisons=widgets.IntSlider(100, 0, 5_000),
)
