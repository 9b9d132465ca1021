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
# errs on inputs of the attacker's choosing. How large must that part be?
# {cite:t}`wang2022lethal` conjecture that the answer is set by one number: how many
# clean samples the most data-efficient plausible learner needs. This chapter fixes the
# setting and the notation used through the book, states the conjecture, and checks its
# central intuition by simulation.

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
# A **classification task** is a distribution $P$ over $\Omega = \mathcal{X} \times
# \mathcal{Y}$, inputs and labels, with $|\mathcal{Y}| = k$ classes. A **training set**
# $D$ is a *multiset* of $N$ samples drawn independently from $P$, $D \sim P^N$; a
# **learner** $f$ maps a training set (and possibly its own randomness) to a classifier
# $f_D : \mathcal{X} \to \mathcal{Y}$.
#
# - The learner is judged at a **test input** $x_0$ against its most likely label
#   $y_0 = \arg\max_y P(y \mid x_0)$ (the Bayes label; we assume it is unique), by
#   the probability $\Pr[f_D(x_0) = y_0]$ over the draw of $D$ and the learner's coins.
# - **Poisoned learning** trains on $T(D)$ for a transform $T : \Omega^N \to \Omega^N$
#   chosen by an attacker who knows $f$, $P$ and $x_0$.
# - The **attack size** of $T$ is the *expected* symmetric difference
#   $\mathbb{E}_{D \sim P^N} |T(D) \ominus D|$ of multisets: every inserted and every
#   removed sample costs 1, so *changing* one sample, its image or its label, costs 2.
#
# The `ldcbook.theory.conjecture.attack_size` helper counts $|T(D) \ominus D|$ for one
# training set. Relabelling one sample is a removal plus an insertion:

# %%
clean = [("x1", "cat"), ("x2", "dog"), ("x2", "dog")]
relabelled = [("x1", "dog"), ("x2", "dog"), ("x2", "dog")]
inserted = clean + [("x3", "cat")]
print("relabel one sample :", conjecture.attack_size(clean, relabelled))
print("insert one sample  :", conjecture.attack_size(clean, inserted))
print("remove a duplicate :", conjecture.attack_size(clean, clean[:2]))

# %% [markdown]
# The attack size is an average over the clean training set, not a worst case. Take the
# label swap of {prf:ref}`lem-bijection-swap` on a task whose input $x$ has label $x$:
# it exchanges the labels of $x_0 = 0$ and $x_1 = 1$ wherever they occur. We count its
# cost on random training sets and on the one whose samples are all copies of $x_0$.

# %%
k_swap, N_swap = 10, 40
relabel = np.arange(k_swap)
relabel[[0, 1]] = [1, 0]  # label y0 = 0 <-> y1 = 1
sets = rng.integers(0, k_swap, size=(2_000, N_swap))  # inputs; each x has label x
cost = np.array([conjecture.attack_size(zip(x, x), zip(x, relabel[x])) for x in sets])
x_worst = np.zeros(N_swap, dtype=int)
worst = conjecture.attack_size(zip(x_worst, x_worst), zip(x_worst, relabel[x_worst]))
se = cost.std(ddof=1) / np.sqrt(len(cost))
assert abs(cost.mean() - 4 * N_swap / k_swap) < 4 * se and worst == 2 * N_swap
for name, value in [("swap_k", k_swap), ("swap_N", N_swap), ("swap_sets", len(sets)),
                    ("swap_mean", float(cost.mean())),
                    ("swap_expected", 4 * N_swap / k_swap), ("swap_worst", worst)]:
    glue(name, value, display=False)

# %% [markdown]
# With $k =$ {glue:text}`swap_k` and $N =$ {glue:text}`swap_N`, the swap costs
# {glue:text}`swap_mean:.2f` on average over {glue:text}`swap_sets:,` training sets,
# as the lemma's $4N/k =$ {glue:text}`swap_expected:.0f` says, but
# {glue:text}`swap_worst` $= 2N$ on the training set made of $x_0$ alone. Read as a
# worst case, the swap would cost $2N$ and the removal attack of
# {ref}`chap-memorization` $N$: nothing would be $O(N/n)$. The paper, and this book,
# measure an attack by its expectation.
#
# ### Plausible learners
#
# The conjecture cannot quantify over every learner. The constant learner $f \equiv y_0$
# is right with probability 1 from no data at all, and no transform of the training set
# changes its answer. It "knows" the answer, and {cite:t}`wang2022lethal` exclude such
# learners by fixing, for each task, a class $\mathcal{F}$ of **plausible** learners:
# those whose answers carry no information beyond the data. For the finite tasks it is
# {prf:ref}`def-plausible-learner` (the answer permutes with the labels, which the
# constant learner violates); for Gaussians, {prf:ref}`def-unbiased-learner`.
#
# ### Total variation
#
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
# Fix a classification task $P$ on $\Omega = \mathcal{X} \times \mathcal{Y}$, a class
# $\mathcal{F}$ of plausible learners for it, a constant $\tau$, and a test input $x_0$
# with $y_0 = \arg\max_y P(y \mid x_0)$. Let $n$ be the smallest training-set size at
# which some learner $f \in \mathcal{F}$ reaches
# $\Pr_{D_n \sim P^n}[f_{D_n}(x_0) = y_0] \ge \tau$. Then for every training-set size
# $N$ and every learner $f \in \mathcal{F}$ there is a transform
# $T : \Omega^N \to \Omega^N$ with
#
# $$
# \Pr_{D_N \sim P^N}\bigl[f_{T(D_N)}(x_0) = y_0\bigr] \le \frac{1}{|\mathcal{Y}|}
# \quad \text{and} \quad
# \mathbb{E}_{D_N \sim P^N} \bigl|T(D_N) \ominus D_N\bigr| \le \Theta(1/n) \cdot N .
# $$
# ```
#
# Informally: **an expected $O(N/n)$ poisoned samples suffice to bring every plausible
# learner down to the chance level $1/k$ at $x_0$**, where $n$ is the sample count of
# the most data-efficient plausible learner. A task that some plausible learner masters
# from few samples (small $n$) leaves room for robustness; a task that needs many
# (large $n$) is fragile, if the conjecture holds. {cite:t}`wang2022lethal` argue the
# conjecture for the Bijection Uncovering and Instance Memorization tasks
# ({ref}`chap-bijection`, {ref}`chap-memorization`) and for isotropic Gaussians
# ({ref}`chap-gaussian`); the book repairs the argument for the first two and finds a
# tension in the third.
#
# ```{prf:remark} The converse is not part of the conjecture
# :label: rem-lethal-dose-converse
#
# The paper's summary, "only $\Theta(N/n)$ poisoned samples can be tolerated", also
# suggests a converse that {prf:ref}`conj-lethal-dose` does not state: for some
# $c > 0$ there is a defence, built from a learner that reaches $\tau$ with $n$
# samples, whose prediction at $x_0$ is $y_0$ and stays $y_0$ on every training set
# $D'$ with $|D' \ominus D_N| \le c \cdot N/n$ (with high probability over $D_N$).
# The conjecture bounds what can be tolerated from above only. The paper argues for the
# converse with Deep Partition Aggregation (its §7.1, examined in
# {ref}`chap-dpa-optimal`).
# ```
#
# ### Notes on the paper's statement
#
# - The conjecture asks for a mapping $T : \Omega^N \to \Omega^N$, while the attacks in
#   the proofs are random: the label swap draws the second input $x_1$ at random
#   ({prf:ref}`lem-bijection-swap`), and the coupling transform of
#   {ref}`chap-discrimination` draws from a coupling. The book reads $T$ as a randomised
#   transform, with the probability and the expected size taken over $D_N$ and $T$'s
#   coins.
# - The paper itself writes "attack size $\Theta(N/n)$" loosely. The conjecture bounds
#   the expected size from above, $\mathbb{E}|T(D_N) \ominus D_N| \le \Theta(1/n) \cdot
#   N$, which is $O(N/n)$; that fewer poisons do *not* suffice is the converse of
#   {prf:ref}`rem-lethal-dose-converse`, not part of the conjecture.

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
#
# The hit probability alone is a weak check of such a simulation. It is symmetric in the
# learner's $n$ and the poison count $p$, $\binom{N - p}{n} / \binom{N}{n} =
# \binom{N - n}{p} / \binom{N}{p}$, so draws of $p$ samples from a set holding $n$
# poisons, the two sizes swapped, would match it just as well. The number of *clean*
# samples drawn tells them apart: its mean is $n(1 - p/N)$, and $p(1 - n/N)$ after the
# swap. `conjecture.draw_z_scores` compares both statistics of the draws with scipy's
# exact hypergeometric laws, in standard errors.

# %%
settings = [(100, 10), (1_000, 10), (1_000, 100), (10_000, 100), (100_000, 1_000),
            (1_000_000, 1_000)]
rows = []
for N, n in settings:
    draws = conjecture.simulate_draws(N, n, N // n, TRIALS, rng)
    rows.append({"N": N, "n": n, "poisons N/n": N // n,
                 **conjecture.draw_z_scores(draws, N, n, N // n)})
table = pd.DataFrame(rows)
z_cols = ["z (hit)", "z (clean)"]
assert (table[z_cols].abs() < 4).all().all(), "simulation disagrees with the exact law"
table.round(4).round({c: 2 for c in z_cols})

# %% [markdown]
# The check fails when it should. Here are draws with the two sizes swapped, $N/n$
# samples drawn from a set with $n$ poisons, judged against the exact laws of the
# intended setting:

# %%
N_sw, n_sw = 1_000, 10
assert np.isclose(conjecture.hit_probability(N_sw, n_sw, N_sw // n_sw),
                  conjecture.hit_probability(N_sw, N_sw // n_sw, n_sw))
swapped = conjecture.draw_z_scores(
    conjecture.simulate_draws(N_sw, N_sw // n_sw, n_sw, TRIALS, rng), N_sw, n_sw,
    N_sw // n_sw)
assert abs(swapped["z (hit)"]) < 4 < abs(swapped["z (clean)"])
glue("swap_z_hit", abs(swapped["z (hit)"]), display=False)
glue("swap_z_clean", swapped["z (clean)"], display=False)
pd.Series(swapped).round(4)

# %%
limit = conjecture.limit_hit_probability()
glue("hit_limit", limit, display=False)
glue("hit_max_z", float(table[z_cols].abs().max().max()), display=False)
glue("hit_small", float(table["P[hit] exact"].iloc[0]), display=False)

# %% [markdown]
# The swapped draws agree with the hit probability
# ({glue:text}`swap_z_hit:.1f` standard errors) and miss the clean count by
# {glue:text}`swap_z_clean:,.0f`. The draws of the table pass both: every simulated
# value lies within {glue:text}`hit_max_z:.1f` standard errors of the exact one (the
# chapter asserts fewer than 4), and every hit probability sits near the limit
# $1 - 1/e =$ {glue:text}`hit_limit:.3f`: already {glue:text}`hit_small:.3f` for a
# training set of 100 samples. {numref}`fig-hit-probability` shows the same across
# $n$: the probability of hitting the poison depends on the *ratio* of poisons to
# $N/n$, not on the size of the problem.

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
# plausible learner: the attacker need not know which $n$ samples matter, because a
# poison spread at rate $1/n$ meets any learner that depends on about $n$ of them.
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
