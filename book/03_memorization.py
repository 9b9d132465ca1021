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
# (chap-memorization)=
# # Instance Memorization
#
# The second finite task of {cite:t}`wang2022lethal` removes the last bit of structure
# that Bijection Uncovering ({ref}`chap-bijection`) had: labels are now unrelated, so
# seeing the other inputs says nothing about $x_0$. The task is simple enough that the
# paper's bound, Lemma 3, is not just a bound but the exact answer, and Lemma 4's attack
# brings the learners it is stated for down to chance. Both statements are about a
# fixed labelling and a restricted class of learners, as in the previous chapter; we
# state the class, show what goes wrong without it, fix the attack so that it keeps the
# training-set size, and compute its cost in units of $N/n^*$.

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
import itertools
import math
from fractions import Fraction

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sympy as sp
from IPython.display import display
from myst_nb import glue

from ldcbook.config import by_scale, scale, seed_everything
from ldcbook.theory import memorization

rng = seed_everything(2022)
TRIALS = by_scale(smoke=5_000, default=200_000, full=2_000_000)
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, Monte Carlo trials per point = {TRIALS:,}")

# %% [markdown]
# ## The task
#
# ```{prf:definition} Instance Memorization
# :label: def-instance-memorization
#
# There are $m \ge 2$ inputs $x_0, \dots, x_{m-1}$ and $k \ge 2$ classes. A labelling
# $g$, fixed and unknown to the learner, gives each input its class. A training set $D$
# holds $n$ samples $(x, g(x))$ with $x$ drawn independently and uniformly from the $m$
# inputs. A learner $f$ is judged at the fixed test input $x_0$ with label
# $y_0 = g(x_0)$; its accuracy under $g$ is $A_g(f) = \Pr[f_D(x_0) = y_0]$.
# ```
#
# ## The class of learners
#
# For a fixed labelling no lower bound can hold for every learner: the one that always
# answers class $c$ is perfect under every $g$ with $g(x_0) = c$. The paper's
# Definition 2 restricts the learner to a class $\mathcal F$, which plays the
# part of plausibility ({prf:ref}`def-plausible-learner`): the names of the classes must
# carry no information. Here the labels of different inputs are unrelated, so the
# renaming may act on one input at a time. We use the class in this form:
#
# ```{prf:definition} Swap-equivariant learner
# :label: def-swap-equivariant
#
# For an input $x$ and a permutation $\sigma$ of the classes, let $\sigma_x(D)$ relabel
# by $\sigma$ the samples of $D$ whose input is $x$ and leave the others unchanged. A
# learner $f$ is *swap-equivariant*, $f \in \mathcal F$, if for every training set $D$,
# input $x$ and permutation $\sigma$, the prediction $f_{\sigma_x(D)}(x_0)$ has the law
# of $\sigma(f_D(x_0))$ when $x = x_0$ and the law of $f_D(x_0)$ when $x \ne x_0$.
# ```
#
# Swaps of two classes generate all permutations, hence the name. The *memorising*
# learner, which answers the label of $x_0$ when it was seen and a uniformly random class
# otherwise, is in $\mathcal F$. The *frequent* learner, which answers the most common
# label of the training set when $x_0$ is unseen, is not: relabelling the samples of
# another input changes the counts.
#
# ```{prf:proposition} Swap-equivariant learners do not depend on the labelling
# :label: prop-memorization-invariance
#
# Every $f \in \mathcal F$ has the same accuracy under every labelling:
# $A_g(f) = A_{g'}(f)$ for all $g, g'$. Hence $A_g(f)$ equals the learner's accuracy
# averaged over a labelling drawn uniformly at random (each input's class independent
# and uniform).
# ```
#
# ```{prf:proof}
# For each input $x$ pick a permutation $\sigma^x$ of the classes with
# $\sigma^x(g(x)) = g'(x)$, and let $\Sigma(D)$ apply $\sigma^x$ to the samples of each
# input $x$. If $D$ is drawn under $g$, then $\Sigma(D)$ is distributed as a training
# set drawn under $g'$. Applying the definition once per input, $f_{\Sigma(D)}(x_0)$ has
# the law of $\sigma^{x_0}(f_D(x_0))$, so $A_{g'}(f) = \Pr[\sigma^{x_0}(f_D(x_0)) =
# \sigma^{x_0}(y_0)] = A_g(f)$.
# ```
#
# `memorization.accuracy_for_labelling` computes $A_g(f)$ exactly by listing all $m^n$
# training sequences. Over all $3^4 = 81$ labellings of $m = 4$ inputs with $k = 3$
# classes, and $n = 3$ samples:

# %%
m_inv, k_inv, n_inv = 4, 3, 3
per_g = pd.DataFrame(
    {learner: [float(memorization.accuracy_for_labelling(g, k_inv, n_inv, learner))
               for g in itertools.product(range(k_inv), repeat=m_inv)]
     for learner in memorization.LEARNERS})
a_star = float(memorization.optimal_accuracy(m_inv, k_inv, n_inv))
assert (per_g["memorise"] == a_star).all()
assert per_g["frequent"].min() < a_star < per_g["frequent"].max()
assert abs(per_g["frequent"].mean() - a_star) < 1e-12
inv_table = per_g.agg(["min", "max", "mean"]).T
inv_table

# %%
glue("inv_freq_min", float(inv_table.loc["frequent", "min"]), display=False)
glue("inv_freq_max", float(inv_table.loc["frequent", "max"]), display=False)
glue("inv_opt", a_star, display=False)

# %% [markdown]
# The memorising learner scores {glue:text}`inv_opt:.4f` under all 81 labellings. The
# frequent learner ranges from {glue:text}`inv_freq_min:.4f` to
# {glue:text}`inv_freq_max:.4f`; its mean over the labellings equals the memorising
# learner's, which the next proof explains.
#
# ## Lemma 3: the sample count, exactly
#
# ```{prf:lemma} Instance Memorization lower bound
# :label: lem-memorization
#
# Every swap-equivariant learner that predicts $y_0$ at $x_0$ with probability at least
# $\tau$ after $n$ samples, under any labelling, satisfies
#
# $$
# n \ge \frac{\log\big((1 - \tau)\, k / (k - 1)\big)}{\log(1 - 1/m)}.
# $$ (eq-memorization-bound)
#
# So does every learner whatsoever whose accuracy *averaged over a uniformly random
# labelling* is at least $\tau$. The right-hand side is positive exactly when
# $\tau > 1/k$.
# ```
#
# ```{prf:proof}
# Fix $g$ and let $f \in \mathcal F$. If $x_0 \in D$, the learner is right with
# probability at most 1. If not, every permutation $\sigma$ of the classes has
# $\sigma_{x_0}(D) = D$, so the law of $f_D(x_0)$ is invariant under every permutation:
# it is uniform, and right with probability exactly $1/k$. Hence
#
# $$
# A_g(f) \le A^*(m, k, n) = 1 - \left(1 - \tfrac1m\right)^{n} \left(1 - \tfrac1k\right),
# $$ (eq-memorization-exact)
#
# and $A^* \ge \tau$ rearranges to {eq}`eq-memorization-bound`. For an arbitrary learner
# and a random labelling: if $x_0 \notin D$, then $y_0$ is independent of $D$ (the
# classes of different inputs are independent and $D$ holds only other inputs), so it is
# uniform and any prediction is right with probability exactly $1/k$; the same bound
# follows on average.
# ```
#
# The first half uses only swaps at $x_0$. Without the class, or the average, the bound
# is false: under a fixed labelling the frequent learner exceeded $A^*$ in the table
# above, and {ref}`sec-memorization-fixed` shows it far above. The proof also shows more
# than the lemma: {eq}`eq-memorization-exact` is *attained* by the memorising learner,
# which is in $\mathcal F$, under every labelling, so it is the optimal accuracy, not only
# a bound.
#
# ```{prf:proposition} Lemma 3 is tight
# :label: prop-memorization-tight
#
# For every $\tau \in (0, 1)$ and every labelling, the smallest number of samples with
# which some learner of $\mathcal F$ reaches accuracy $\tau$ at $x_0$ is
# $n^*(m, k, \tau) = \max(0, \lceil b \rceil)$, where $b$ is the right-hand side of
# {eq}`eq-memorization-bound`. The same holds for all learners and the average over a
# uniformly random labelling.
# ```
#
# The bound solved with `sympy`; written with the constant $L$ below, its expansion in
# $1/m$ and the limit of $n/m$:

# %%
m, k, n, tau, eps, L = sp.symbols("m k n tau epsilon L", positive=True)
accuracy = 1 - (1 - 1 / m) ** n * (1 - 1 / k)
n_bound = sp.solve(sp.Eq(accuracy, tau), n)[0]
L_value = sp.log((k - 1) / (k * (1 - tau)))
n_L = -L / sp.log(1 - 1 / m)  # the same bound, written with L = L_value
point = {m: 7, k: 3, tau: sp.Rational(4, 5)}
assert abs(sp.N(n_bound.subs(point) - n_L.subs(L, L_value).subs(point))) < 1e-12
series = sp.series(n_L.subs(m, 1 / eps), eps, 0, 2).removeO()
series = sp.expand(series).subs(eps, 1 / m)
display(sp.Eq(n, n_bound), sp.Eq(L, L_value), sp.Eq(n, series),
        sp.Eq(sp.Limit(n / m, m, sp.oo), sp.limit(n_L / m, m, sp.oo)))

# %% [markdown]
# So $n^* \approx mL - L/2$ with $L = \log\frac{k - 1}{k(1 - \tau)}$: linear in the number
# of inputs, as for Bijection Uncovering, but now with the exact constant. `memorization.lemma3_samples`
# evaluates the bound in floating point and `memorization.min_samples` finds $n^*$ in
# exact rational arithmetic; the proposition says they agree after rounding up.

# %%
rows = []
for m_, k_, t in itertools.product([2, 5, 10, 100, 1_000, 10_000], [2, 10, 100],
                                   ["0.3", "0.5", "0.9", "0.99"]):
    exact = memorization.min_samples(m_, k_, t)
    bound = memorization.lemma3_samples(m_, k_, t)
    assert exact == max(0, math.ceil(bound))
    assert memorization.optimal_accuracy(m_, k_, exact) >= Fraction(t)
    if exact > 0:
        assert memorization.optimal_accuracy(m_, k_, exact - 1) < Fraction(t)
    rows.append({"m": m_, "k": k_, "tau": t, "Lemma 3 bound": bound, "n*": exact})
tight = pd.DataFrame(rows)
tight_k10 = tight[tight["k"] == 10]
pd.concat({col: tight_k10.pivot(index="m", columns="tau", values=col)
           for col in ["Lemma 3 bound", "n*"]}, axis=1).round(2)

# %% [markdown]
# The table shows $k = 10$; the assertions cover all {glue:text}`tight_cases` cases.
# One caveat is numerical, not mathematical: when the bound is an integer, rounding the
# floating-point logarithm up can overshoot by one. Here is the first such case in a
# small grid, with $\tau$ chosen so that the bound is exactly an integer $j$:

# %%
def first_rounding_error():
    for j, m_, k_ in itertools.product(range(1, 40), range(2, 30), range(2, 12)):
        t = 1 - Fraction(k_ - 1, k_) * Fraction(m_ - 1, m_) ** j
        if math.ceil(memorization.lemma3_samples(m_, k_, t)) != j:
            return m_, k_, j, t


m_r, k_r, j_r, tau_r = first_rounding_error()
bound_r = memorization.lemma3_samples(m_r, k_r, tau_r)
assert memorization.min_samples(m_r, k_r, tau_r) == j_r
assert memorization.optimal_accuracy(m_r, k_r, j_r) == tau_r
print(f"m = {m_r}, k = {k_r}, tau = {tau_r}: float bound {bound_r!r}, "
      f"rounded up {math.ceil(bound_r)}; exact n* = {j_r}")

# %%
glue("tight_cases", len(tight), display=False)
glue("round_j", j_r, display=False)

# %% [markdown]
# Already at $n =$ {glue:text}`round_j` the optimal learner reaches $\tau$ exactly, so
# $n^* =$ {glue:text}`round_j`, which `min_samples` finds because it compares
# $(1 - 1/m)^n$ with $(1 - \tau)k/(k - 1)$ as fractions.
#
# ## Two learners, simulated on random labellings
#
# On average over a uniformly random labelling, any learner that memorises $x_0$ is
# optimal, whatever it does when $x_0$ is unseen. `memorization.simulate_learner` draws
# a labelling and a training set per trial (as integer arrays) and runs the memorising
# or the frequent learner. Both should match {eq}`eq-memorization-exact` within 4
# standard errors; for the memorising learner this is also its accuracy under each fixed
# labelling ({prf:ref}`prop-memorization-invariance`), for the frequent one only the
# average.

# %%
rows = []
settings = [(2, 2, 1), (10, 3, 5), (50, 10, 60), (100, 10, 220), (500, 100, 1000)]
for m_, k_, n_ in settings:
    exact = float(memorization.optimal_accuracy(m_, k_, n_))
    for learner in memorization.LEARNERS:
        est, se = memorization.simulate_learner(m_, k_, n_, TRIALS // 4, rng, learner)
        rows.append({"m": m_, "k": k_, "n": n_, "learner": learner, "exact": exact,
                     "simulated": est, "std. error": se, "z": (est - exact) / se})
mc_table = pd.DataFrame(rows)
assert (mc_table["z"].abs() < 4).all(), "simulation disagrees with the exact accuracy"
glue("mc_max_z", float(mc_table["z"].abs().max()), display=False)
mc_table.round({"exact": 5, "simulated": 5, "std. error": 5, "z": 2})

# %% [markdown]
# The largest deviation is {glue:text}`mc_max_z:.2f` standard errors.
# {numref}`fig-memorization-accuracy` shows the exact accuracy curves and where they cross
# $\tau = 0.9$.

# %%
tau_fig = Fraction(9, 10)
m_fig = 100
n_grid = np.arange(0, 6 * m_fig + 1, 5)
fig_curves = {k_: np.array([float(memorization.optimal_accuracy(m_fig, k_, int(j)))
                            for j in n_grid]) for k_ in (2, 10, 100)}
fig_nstar = {k_: memorization.min_samples(m_fig, k_, tau_fig) for k_ in fig_curves}
fig_mc = {k_: memorization.simulate_learner(m_fig, k_, fig_nstar[k_], TRIALS // 10, rng)
          for k_ in fig_curves}

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Exact accuracy at x0 of the optimal (memorising) learner for m = 100 inputs, against the number of samples per input. Vertical lines: the exact n* for tau = 0.9, which is the rounded-up bound of Lemma 3; dots: Monte Carlo at n*, with 4-standard-error bars.", "name": "fig-memorization-accuracy"}}
fig, ax = plt.subplots()
colors = ["tab:blue", "tab:orange", "tab:green"]
for (k_, acc), color in zip(fig_curves.items(), colors):
    ax.plot(n_grid / m_fig, acc, color=color, label=f"k = {k_}")
    ax.axvline(fig_nstar[k_] / m_fig, color=color, ls=":", lw=1)
    est, se = fig_mc[k_]
    ax.errorbar(fig_nstar[k_] / m_fig, est, yerr=4 * se, fmt="o", ms=3, color=color)
ax.axhline(float(tau_fig), color="grey", lw=0.5)
ax.set_xlabel("clean samples per input, n / m")
ax.set_ylabel("accuracy at x0")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# ## Lemma 4: removing $x_0$
#
# ```{prf:lemma} Removal attack
# :label: lem-memorization-removal
#
# Let $T(D)$ remove every copy of $(x_0, y_0)$ from a training set $D$ of size $N$. Then
# $\mathbb{E}|T(D) \ominus D| = N/m$, and every swap-equivariant learner predicts $y_0$
# at $x_0$ from $T(D)$ with probability exactly $1/k$, under every labelling. Averaged
# over a uniformly random labelling, so does every learner.
# ```
#
# ```{prf:proof}
# The copies of $x_0$ number $\mathrm{Binomial}(N, 1/m)$, mean $N/m$, and each removal
# costs 1. $T(D)$ contains no copy of $x_0$, so for $f \in \mathcal F$ the law of
# $f_{T(D)}(x_0)$ is invariant under every permutation of the classes, as in the proof
# of {prf:ref}`Lemma 3 <lem-memorization>`: it is uniform. For a random labelling, $T(D)$ holds
# only other inputs, whose classes are independent of $y_0$, so $y_0$ is uniform given
# $T(D)$ and the learner's coins.
# ```
#
# Here the paper's count $N/m$ is right, because the attack only removes. But $T$ shrinks
# the training set, so it is not a map from training sets of size $N$ to training sets of
# size $N$, the form the paper's own attack definition takes. A size-preserving variant
# replaces each removed copy by a fresh sample drawn uniformly from the other $m - 1$
# inputs, with its true label. Its result is distributed as a clean training set
# conditioned on $x_0$ being absent, so the conclusion is unchanged, but every replacement
# is one removal and one insertion: the cost doubles to $2N/m$.
# `memorization.removal_attack` simulates both and measures the symmetric difference of
# the multisets directly.

# %%
m_att, k_att, N_att = 20, 5, 60
rows = []
for preserve in (False, True):
    for learner in memorization.LEARNERS:
        r = memorization.removal_attack(m_att, k_att, N_att, TRIALS // 4, rng,
                                        preserve, learner)
        cost = (2 if preserve else 1) * N_att / m_att
        A = float(memorization.optimal_accuracy(m_att, k_att, N_att))
        checks = [(r.clean_accuracy, r.clean_accuracy_se, A),
                  (r.accuracy, r.accuracy_se, 1 / k_att),
                  (r.removed, r.removed_se, N_att / m_att),
                  (r.symmetric_difference, r.symmetric_difference_se, cost)]
        assert all(abs(est - exact) < 4 * se for est, se, exact in checks)
        rows.append({"variant": "size-preserving" if preserve else "removal only",
                     "learner": learner, **r._asdict(), "predicted size": cost})
attack_table = pd.DataFrame(rows).set_index(["variant", "learner"]).T
attack_table.round(4)

# %%
glue("att_m", m_att, display=False)
glue("att_k", k_att, display=False)
glue("att_N", N_att, display=False)
glue("att_chance", 1 / k_att, display=False)
glue("att_clean", float(attack_table.iloc[0, 0]), display=False)
glue("att_Nm", N_att / m_att, display=False)

# %% [markdown]
# With $m =$ {glue:text}`att_m` inputs, $k =$ {glue:text}`att_k` classes and
# $N =$ {glue:text}`att_N` samples, clean accuracy {glue:text}`att_clean:.3f` falls to
# chance, $1/k =$ {glue:text}`att_chance:.2f`, for both learners and both variants, on
# random labellings. The removal costs $N/m =$ {glue:text}`att_Nm:.0f` samples on
# average, the size-preserving variant twice as much; all entries are asserted within
# 4 standard errors.
#
# (sec-memorization-fixed)=
# ### A fixed labelling, and a learner outside the class
#
# The frequent learner is right on average only because a random labelling hides $y_0$.
# Fix the labelling instead, in the paper's pointwise setting: let every input carry the
# last class, $g \equiv k - 1$. Then the frequent learner answers $y_0$ from any
# non-empty training set, whether or not it holds $x_0$, and removing the copies of
# $x_0$ leaves it right unless nothing else is left. With $m = 100$ inputs and $k = 10$
# classes, the exact accuracies at $n = 1$ and the removal attack on $N = 60$ samples:

# %%
m_c, k_c, n_c, N_c = 100, 10, 1, 60
g_const = np.full(m_c, k_c - 1)
rows = []
for learner in memorization.LEARNERS:
    clean = memorization.accuracy_for_labelling(g_const, k_c, n_c, learner)
    r = memorization.removal_attack(m_c, k_c, N_c, TRIALS // 10, rng, learner=learner,
                                    labelling=g_const)
    bound = float(memorization.optimal_accuracy(m_c, k_c, n_c))
    rows.append({"learner": learner, "accuracy at n = 1 (exact)": float(clean),
                 "Lemma 3 bound A*": bound, "after removal, N = 60": r.accuracy,
                 "std. error": r.accuracy_se})
fixed = pd.DataFrame(rows).set_index("learner")
assert fixed.loc["frequent", "accuracy at n = 1 (exact)"] == 1
assert fixed.loc["frequent", "after removal, N = 60"] == 1
gap = fixed.loc["memorise", "after removal, N = 60"] - 1 / k_c
assert abs(gap) < 4 * fixed.loc["memorise", "std. error"]
fixed.round(4)

# %%
glue("fix_bound", float(fixed.loc["frequent", "Lemma 3 bound A*"]), display=False)

# %% [markdown]
# At $n = 1$ the frequent learner is right with probability 1, where
# {prf:ref}`Lemma 3 <lem-memorization>` bounds every learner of $\mathcal F$ by
# $A^* =$ {glue:text}`fix_bound:.3f`, and the removal attack does not move it (it fails
# only if all 60 samples are copies of $x_0$, probability $100^{-60}$). The memorising
# learner, in $\mathcal F$, falls to $1/k$ as the lemma says. So "every learner" in
# Lemmas 3 and 4 means every learner of $\mathcal F$ under a fixed labelling, or every
# learner on average over a random one; the two readings coincide on $\mathcal F$ by
# {prf:ref}`prop-memorization-invariance`.
#
# ### The attack's constant
#
# Because Lemma 3 is tight, it bounds $n^*$ from above as well as from below, and the
# step from the lemmas to the conjecture (the *logical direction* discussed in
# {ref}`chap-bijection`) needs nothing more. With $L = \log\frac{k-1}{k(1 - \tau)} > 0$
# and $1/m \le -\log(1 - 1/m) \le 1/(m - 1)$, the proposition gives
# $(m - 1)L \le n^* \le mL + 1$, hence
#
# $$
# \frac{N}{m} = \frac{n^*}{m}\cdot\frac{N}{n^*}, \qquad
# \Big(1 - \frac1m\Big)L \le \frac{n^*}{m} \le L + \frac1m .
# $$
#
# The removal attack costs $c \cdot N/n^*$ with the constant $c = n^*/m$, and the
# size-preserving one twice that; the table above measured the costs $N/m$ and $2N/m$
# on the multisets. We compute $c$ from the exact $n^*$ for $m$ up to $10^5$ at
# $\tau = 0.9$ and check the sandwich.

# %%
tau_c = Fraction(9, 10)
m_const = np.unique(np.geomspace(2, 100_000, 40).astype(int))
const, limits = {}, {}
for k_ in (2, 10, 100):
    limits[k_] = math.log((k_ - 1) / (k_ * (1 - tau_c)))
    const[k_] = np.array([memorization.min_samples(int(m_), k_, tau_c)
                          for m_ in m_const]) / m_const
    assert np.all((1 - 1 / m_const) * limits[k_] <= const[k_])
    assert np.all(const[k_] <= limits[k_] + 1 / m_const)
glue("const_L10", limits[10], display=False)
glue("const_m_max", float(const[10][-1]), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The constant c = n*/m of the removal attack (attack size = c N/n*; twice that for the size-preserving variant) against the number of inputs m, at tau = 0.9 for three numbers of classes k. Lines: exact n*/m; shaded: the proven envelope (1 - 1/m) L <= n*/m <= L + 1/m; dashed: the limit L = log((k - 1)/(k (1 - tau))).", "name": "fig-memorization-constant"}}
fig, ax = plt.subplots()
for k_, color in zip(const, ["tab:blue", "tab:orange", "tab:green"]):
    L_k = limits[k_]
    ax.fill_between(m_const, (1 - 1 / m_const) * L_k, L_k + 1 / m_const, color=color,
                    alpha=0.15, lw=0)
    ax.plot(m_const, const[k_], color=color, label=f"k = {k_}: limit L = {L_k:.3f}")
    ax.axhline(L_k, color=color, ls="--", lw=0.8)
ax.set_xscale("log")
ax.set_xlabel("number of inputs, m")
ax.set_ylabel("attack size per N/n*, n*/m")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# At $k = 10$ the constant is {glue:text}`const_m_max:.5f` at $m = 10^5$, against
# $L =$ {glue:text}`const_L10:.5f`. Instance Memorization therefore satisfies the
# lethal-dose bound with explicit constants: no learner of $\mathcal F$ survives
# $(L + 1/m)\,N/n^*$ removals, under any labelling, or twice that many changed samples if
# the attacker must keep the training-set size.
#
# ## Explore
#
# With a running kernel, the sliders recompute $n^*$ and run both variants of the attack
# for any number of inputs $m$, classes $k$, target $\tau$ and training-set size $N$. On
# the static page the output shows the default setting.

# %%
def explore(m=100, k=10, tau=0.9, N=2_000):
    if tau <= 1 / k:
        print(f"tau = {tau:.2f} <= 1/k: no sample is needed (n* = 0)")
        return
    n_star = memorization.min_samples(m, k, tau)
    bound = memorization.lemma3_samples(m, k, tau)
    print(f"m = {m}, k = {k}, tau = {tau:.2f}: Lemma 3 bound {bound:.2f}, "
          f"n* = {n_star}")
    for preserve in (False, True):
        r = memorization.removal_attack(m, k, N, 2_000, seed=0, preserve_size=preserve)
        per_dose = r.symmetric_difference * n_star / N if N else 0.0
        print(f"{'size-preserving' if preserve else 'removal only'}: accuracy "
              f"{r.clean_accuracy:.3f} -> {r.accuracy:.3f} (1/k = {1 / k:.3f}); "
              f"attack size {r.symmetric_difference:.1f} = {per_dose:.2f} N/n*")


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(
    explore,
    m=widgets.IntSlider(100, 2, 1_000),
    k=widgets.IntSlider(10, 2, 100),
    tau=widgets.FloatSlider(0.9, min=0.05, max=0.99, step=0.01),
    N=widgets.IntSlider(2_000, 0, 20_000, step=100),
)
