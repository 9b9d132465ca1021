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
# (chap-bijection)=
# # Bijection Uncovering
#
# The first task for which {cite:t}`wang2022lethal` prove the conjecture
# ({prf:ref}`conj-lethal-dose`) is a puzzle with nothing to generalise from: $k$ inputs,
# $k$ labels, and a secret one-to-one labelling. A learner must *see* an input, or rule
# out every other label, to know its label. This chapter states the task and the paper's
# two lemmas about it, shows why they need the paper's restriction to *plausible*
# learners, computes the exact answer that Lemma 1 only bounds, checks everything by
# enumeration and simulation, runs the paper's attack against two learners, and repairs
# the logical step that turns the lemmas into the conjecture.

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
from collections import Counter, defaultdict
from fractions import Fraction

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sympy as sp
from IPython.display import display
from myst_nb import glue

from ldcbook.config import by_scale, scale, seed_everything
from ldcbook.theory import bijection

rng = seed_everything(2022)
TRIALS = by_scale(smoke=5_000, default=200_000, full=2_000_000)
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, Monte Carlo trials per point = {TRIALS:,}")

# %% [markdown]
# ## The task
#
# ```{prf:definition} Bijection Uncovering
# :label: def-bijection-uncovering
#
# Let $\mathcal{X} = \{x_0, \dots, x_{k-1}\}$ and $\mathcal{Y}$ be finite sets of the same
# size $k \ge 3$, and let $g : \mathcal{X} \to \mathcal{Y}$ be a bijection, fixed and
# unknown to the learner. A training set $D$ holds $n$ samples $(x, g(x))$ with $x$ drawn
# independently and uniformly from $\mathcal{X}$. A learner $f$ maps $D$ to a prediction
# $f_D(x_0)$, possibly at random, at a fixed test input $x_0$ with label $y_0 = g(x_0)$.
# Its accuracy under $g$ is $A_g(f) = \Pr[f_D(x_0) = y_0]$, over $D$ and the learner's
# coins.
# ```
#
# The paper does not require $k \ge 3$, but its bound below contains $\log(1 - 2/k)$,
# which needs it; for $k = 2$ one sample of either input reveals the answer.
#
# ## Plausible learners
#
# The bijection is fixed, so a learner that ignores the data and always answers one
# label $c$ is perfect under every $g$ with $g(x_0) = c$, and no poison can touch it; it
# has not learnt anything, it has guessed the secret. The paper rules out such learners
# by asking that the *names* of the labels carry no information. If every "cat" in the
# training set were called "dog" and every "dog" "cat", a sensible learner would say
# "dog" wherever it used to say "cat".
#
# ```{prf:definition} Plausible learner
# :label: def-plausible-learner
#
# A learner $f$ is *plausible* if for every training set $D$ and every permutation
# $\sigma$ of $\mathcal{Y}$, the prediction $f_{\sigma(D)}(x_0)$ has the same law as
# $\sigma(f_D(x_0))$, where $\sigma(D) = \{(x, \sigma(y)) : (x, y) \in D\}$.
# ```
#
# The learner at the heart of this chapter answers the label of $x_0$ when $x_0$ is in
# the training set and otherwise a *uniformly random label not seen in the training set*.
# `bijection.prediction_distribution` returns the exact law of its prediction, with any
# names for inputs and labels. Here is the paper's example, with four labels:

# %%
labels = ["cat", "dog", "fish", "bird"]
train = [("img1", "cat"), ("img2", "dog"), ("img2", "dog")]
swap = {"cat": "dog", "dog": "cat", "fish": "fish", "bird": "bird"}
swapped = [(x, swap[y]) for x, y in train]
before = bijection.prediction_distribution(train, labels, x0="img0")
after = bijection.prediction_distribution(swapped, labels, x0="img0")
print("before the swap:", {y: str(p) for y, p in before.items()})
print("after the swap :", {y: str(p) for y, p in after.items()})
assert after == {swap[y]: p for y, p in before.items()}

# %% [markdown]
# The test input `img0` is unseen and two labels are unused, so the learner splits its
# answer between "fish" and "bird"; swapping "cat" and "dog" changes nothing that matters.
# Now let `img0` be a cat: the swap turns it into a dog, and so does the prediction.

# %%
train0 = train + [("img0", "cat")]
swapped0 = [(x, swap[y]) for x, y in train0]
for name, data in [("before", train0), ("after ", swapped0)]:
    dist = bijection.prediction_distribution(data, labels, "img0")
    print(f"{name} the swap:", {y: str(p) for y, p in dist.items()})

# %% [markdown]
# The same check runs over random bijections, training sets and permutations in the
# test suite, for both learners of `bijection.LEARNERS`: the optimal one above and the
# *memorising* learner, which guesses among all $k$ labels when $x_0$ is unseen.
# A deterministic rule such as "the *first* unseen label" (`"first_unseen"`) fails it:
# swapping "fish" and "bird" leaves the training set above unchanged, so its answer
# "fish" stays where plausibility demands "bird".
#
# Plausibility is what makes a fixed, unknown bijection tractable: no plausible learner
# is better placed under one bijection than under another.
#
# ```{prf:proposition} Plausible learners do not depend on the bijection
# :label: prop-bijection-invariance
#
# A plausible learner has the same accuracy under every bijection: $A_g(f) = A_{g'}(f)$
# for all bijections $g, g'$. Hence $A_g(f)$ also equals the learner's accuracy averaged
# over a uniformly random bijection.
# ```
#
# ```{prf:proof}
# Let $\sigma = g' \circ g^{-1}$, a permutation of $\mathcal{Y}$. If $D$ is a training
# set drawn under $g$, then $\sigma(D)$ has the same inputs with labels $g'(x)$: it is
# distributed as a training set drawn under $g'$. By plausibility $f_{\sigma(D)}(x_0)$
# has the law of $\sigma(f_D(x_0))$, so $A_{g'}(f) = \Pr[\sigma(f_D(x_0)) = \sigma(y_0)]
# = A_g(f)$.
# ```
#
# `bijection.accuracy_for_bijection` computes $A_g(f)$ exactly for one fixed $g$ by
# listing all $k^n$ training sequences. Over all $4! = 24$ bijections of $k = 4$ labels,
# with $n = 3$ samples:

# %%
k_inv, n_inv = 4, 3
per_g = pd.DataFrame(
    {learner: [float(bijection.accuracy_for_bijection(g, n_inv, learner))
               for g in itertools.permutations(range(k_inv))]
     for learner in bijection.EXACT_LEARNERS})
a_star = float(bijection.optimal_accuracy(k_inv, n_inv))
assert (per_g["optimal"] == a_star).all()
assert (per_g["memorise"] == float(bijection.memorising_accuracy(k_inv, n_inv))).all()
assert per_g["first_unseen"].min() < a_star < per_g["first_unseen"].max()
inv_table = per_g.agg(["min", "max", "mean"]).T
inv_table

# %%
glue("inv_first_max", float(inv_table.loc["first_unseen", "max"]), display=False)
glue("inv_first_min", float(inv_table.loc["first_unseen", "min"]), display=False)
glue("inv_opt", a_star, display=False)

# %% [markdown]
# The two plausible learners score the same under all 24 bijections. The first-unseen
# learner ranges from {glue:text}`inv_first_min:.3f` to {glue:text}`inv_first_max:.3f`:
# when $g(x_0)$ is the first label, the first label not seen is always $y_0$ while $x_0$
# is unseen, and the learner never errs. Under such bijections it beats the optimal
# plausible learner's {glue:text}`inv_opt:.3f`, so statements "for every learner" about a
# fixed bijection are false without plausibility. Averaged over the bijections it
# matches the optimal learner, which anticipates the proposition below.
#
# ## Lemma 1: a lower bound on the sample count
#
# ```{prf:lemma} Bijection Uncovering lower bound
# :label: lem-bijection
#
# In Bijection Uncovering with $k \ge 3$, every plausible learner trained on $n$ samples
# satisfies, under every bijection $g$,
#
# $$
# \Pr[f_D(x_0) = y_0] \le 1 - \tfrac12 \left(1 - \tfrac{2}{k}\right)^{n}.
# $$ (eq-bijection-bound)
#
# Hence accuracy $\tau$ needs $n \ge \log(2 - 2\tau) / \log(1 - 2/k)$ samples, a bound
# that says something only for $\tau > 1/2$.
# ```
#
# The paper's proof fixes a second input $x_1$ with label $y_1 = g(x_1)$ and splits on
# the event $E$ that neither $x_0$ nor $x_1$ occurs in $D$, of probability
# $(1 - 2/k)^n$. Its Case 1 is "$E$ happens"; its Case 2 is introduced as "when $\neg E$
# does not happen", which is Case 1 again, and should read "when $E$ does not happen".
# With that correction:
#
# ```{prf:proof}
# Case 1, $E$ happens: the labels $y_0$ and $y_1$ do not occur in $D$, so the swap
# $\sigma = (y_0\ y_1)$ leaves $D$ unchanged and plausibility gives
# $\Pr[f_D(x_0) = y_0 \mid D] = \Pr[f_D(x_0) = y_1 \mid D]$; the two add up to at most
# 1, so each is at most $1/2$. Case 2, $E$ does not happen: the learner is right with
# probability at most 1. Hence
# $\Pr[f_D(x_0) = y_0] \le \frac12 \Pr[E] + 1 - \Pr[E]$.
# ```
#
# The paper also describes a learner that predicts "an arbitrary" label not seen in $D$
# when $x_0$ is unseen; a plausible learner must pick a *uniformly random* one (the
# first-unseen rule above is not plausible). That learner is the optimal one of the next
# section, and it does not reach the bound; no learner does. At $k = 10$ and $n = 8$
# the bound is {glue:text}`gap_bound:.3f`, the best plausible accuracy
# {glue:text}`gap_opt:.3f`. Solving {eq}`eq-bijection-bound` for $n$ with `sympy`:

# %%
glue("gap_bound", float(bijection.paper_bound(10, 8)), display=False)
glue("gap_opt", float(bijection.optimal_accuracy(10, 8)), display=False)
k, n, tau, eps = sp.symbols("k n tau epsilon", positive=True)
bound = 1 - sp.Rational(1, 2) * (1 - 2 / k) ** n
n_bound = sp.solve(sp.Eq(bound, tau), n)[0]
n_bound

# %% [markdown]
# For large $k$ the bound grows linearly in $k$; its expansion in $\epsilon = 1/k$ and the
# limit of $n/k$ are:

# %%
series = sp.series(n_bound.subs(k, 1 / eps), eps, 0, 2).removeO()
slope_bound = sp.limit(n_bound / k, k, sp.oo)
display(sp.Eq(n, series), sp.Eq(sp.Limit(n / k, k, sp.oo), slope_bound))

# %% [markdown]
# that is, $n \ge \frac{k}{2}\log\frac{1}{2(1-\tau)} - \frac12\log\frac{1}{2(1-\tau)} +
# O(1/k)$. The closed form is what `bijection.lemma1_samples` evaluates:

# %%
for k_, tau_ in [(10, "0.9"), (100, "0.99")]:
    symbolic = float(n_bound.subs({k: k_, tau: sp.Rational(tau_)}))
    assert abs(symbolic - bijection.lemma1_samples(k_, tau_)) < 1e-9
    print(f"k = {k_}, tau = {tau_}: n >= {symbolic:.3f}")

# %% [markdown]
# ## The optimal plausible learner, exactly
#
# Lemma 1 is an inequality. The task is small enough to solve exactly.
#
# ```{prf:proposition} Optimal accuracy in Bijection Uncovering
# :label: prop-bijection-optimal
#
# Let $C_k(n) = \sum_{j=0}^{k} (-1)^j \binom{k}{j} (1 - j/k)^n$ be the probability that
# $n$ uniform draws see all $k$ inputs. The learner that answers the label of $x_0$ when
# seen, and otherwise a uniformly random label not seen in $D$, is plausible and has
# accuracy, under every bijection,
#
# $$
# A^*(k, n) = 1 - \left(1 - \tfrac1k\right)^{n} + \frac{1 - C_k(n)}{k}.
# $$ (eq-bijection-exact)
#
# No plausible learner does better, under any bijection. Averaged over a uniformly random
# bijection, no learner at all, plausible or not, does better. $A^*(k, n)$ is strictly
# increasing in $n$.
# ```
#
# ```{prf:proof}
# Draw $g$ uniformly at random. Every bijection consistent with $D$ gives $D$ the same
# likelihood $k^{-n}$, so given $D$ the labelling is uniform over those bijections. If
# $x_0 \in D$ its label is known. Otherwise let $U$ be the $u \ge 1$ unseen inputs: $g$
# maps them onto the $u$ unseen labels by a uniform bijection, so $g(x_0)$ is uniform
# over the unseen labels and no learner is right with probability above $1/u$; ours
# attains it. So no learner's average accuracy exceeds that of ours, which is
# $A^* = \Pr[x_0 \in D] + \mathbb{E}[\ind\{x_0 \in U\}/|U|]$. A plausible learner's
# accuracy under a fixed $g$ equals its average
# ({prf:ref}`prop-bijection-invariance`), so it is at most $A^*$, with equality for
# ours. By symmetry over the inputs,
# $\mathbb{E}[\ind\{x_0 \in U\}/|U|] = \frac1k \mathbb{E}\big[\sum_{x}
# \ind\{x \in U\}/|U|\big] = \frac1k \Pr[U \ne \emptyset] = (1 - C_k(n))/k$, with
# $C_k(n)$ the coupon-collector probability {cite:p}`levin2017markov` by
# inclusion-exclusion. For monotonicity, $A^*(k, n+1) - A^*(k, n) = \frac1k(\Pr[x_0
# \in U] - \Pr[U = \{x_0\}])$ after $n$ draws, which is positive for $k \ge 3$.
# ```
#
# Under one fixed bijection the restriction cannot be dropped: the learner that always
# answers $g(x_0)$ is perfect there, and the first-unseen learner beat $A^*$ under some
# bijections above. The proof's key step, that on average over the bijection the best
# *unrestricted* learner is no better, can be checked by brute force: enumerate every
# bijection and every training sequence, and for each sequence count how often each label
# of $x_0$ produced it.

# %%
def bayes_accuracy(k: int, n: int) -> Fraction:
    """Best accuracy of any learner, by enumeration (k! bijections, k**n sequences)."""
    counts = defaultdict(Counter)
    for g in itertools.permutations(range(k)):
        for seq in itertools.product(range(k), repeat=n):
            counts[tuple((x, g[x]) for x in seq)][g[0]] += 1
    best = sum(max(c.values()) for c in counts.values())
    return Fraction(best, math.factorial(k) * k**n)


for k_, n_ in [(3, 2), (4, 3), (5, 3)]:
    exact = bijection.optimal_accuracy(k_, n_)
    assert bayes_accuracy(k_, n_) == exact
    print(f"k = {k_}, n = {n_}: A* = {exact} = Bayes optimum over a random bijection")

# %% [markdown]
# `bijection.optimal_accuracy` evaluates {eq}`eq-bijection-exact` in exact rational
# arithmetic; the test suite checks it against an independent Markov chain over the
# number of distinct inputs seen. {numref}`fig-bijection-accuracy` sets it beside the
# bound of {prf:ref}`lem-bijection` and the memorising learner, whose accuracy is
# $1 - (1 - 1/k)^{n+1}$.

# %%
accuracies = (bijection.optimal_accuracy, bijection.paper_bound,
              bijection.memorising_accuracy)
curves = {}
for k_ in (10, 100):
    n_grid = np.arange(0, 4 * k_ + 1, max(1, k_ // 25))
    curves[k_] = (n_grid, *(np.array([float(fn(k_, int(j))) for j in n_grid])
                            for fn in accuracies))
mc_n = [0, 5, 10, 16, 25, 40]
mc = np.array([bijection.simulate_learner(10, j, TRIALS // 10, rng) for j in mc_n])
glue("bound_at_k", float(bijection.paper_bound(100, 100)), display=False)
glue("opt_at_k", float(bijection.optimal_accuracy(100, 100)), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Accuracy at x0 against the number of clean samples, scaled by k. Solid: the optimal plausible learner (exact); dashed: the bound of Lemma 1; dotted: the memorising learner. Dots: Monte Carlo of the optimal learner for k = 10, with 4-standard-error bars.", "name": "fig-bijection-accuracy"}}
fig, ax = plt.subplots()
for (k_, (n_grid, *accs)), color in zip(curves.items(), ["tab:blue", "tab:red"]):
    for acc, ls, name in zip(accs, ["-", "--", ":"],
                             ["optimal", "Lemma 1 bound", "memorising"]):
        ax.plot(n_grid / k_, acc, color=color, ls=ls, lw=1.5 if ls == "-" else 1,
                label=f"{name}, k = {k_}")
ax.errorbar(np.array(mc_n) / 10, mc[:, 0], yerr=4 * mc[:, 1], fmt="o", ms=3,
            color="tab:blue", label="simulation, k = 10")
ax.set_xlabel("clean samples per class, n / k")
ax.set_ylabel("accuracy at x0")
ax.legend(fontsize=7, ncol=2, loc="lower right")
plt.show()

# %% [markdown]
# The bound sits far above the truth: with $n = k = 100$ samples it promises accuracy
# {glue:text}`bound_at_k:.3f`, while the best learner reaches only
# {glue:text}`opt_at_k:.3f`. The exact smallest $n$ for a target accuracy,
# `bijection.min_samples`, is found by binary search between the memorising learner's
# count and a lower bracket, both closed forms; the bound rounded up is
# `bijection.paper_min_samples`.

# %%
tau_table = Fraction(9, 10)
rows = []
for k_ in [3, 5, 10, 20, 50, 100, 300, 1000]:
    lower = bijection.paper_min_samples(k_, tau_table)
    exact = bijection.min_samples(k_, tau_table)
    upper = bijection.memorising_min_samples(k_, tau_table)
    assert lower <= exact <= upper
    rows.append({"k": k_, "Lemma 1 bound": lower, "exact n*": exact,
                 "memorising": upper, "n* / bound": exact / lower,
                 "n* / k": exact / k_})
samples = pd.DataFrame(rows).set_index("k")
samples.round(3)

# %%
limit_exact = math.log(1 / (1 - tau_table))
limit_bound = float(slope_bound.subs(tau, sp.Rational(9, 10)))
glue("tab_tau", float(tau_table), display=False)
glue("ratio_k100", float(samples.loc[100, "n* / bound"]), display=False)
glue("nstar_k100", int(samples.loc[100, "exact n*"]), display=False)
glue("nbound_k100", int(samples.loc[100, "Lemma 1 bound"]), display=False)
glue("slope_k1000", float(samples.loc[1000, "n* / k"]), display=False)
glue("slope_exact", limit_exact, display=False)
glue("slope_bound", limit_bound, display=False)

# %% [markdown]
# At $\tau =$ {glue:text}`tab_tau:.1f` and $k = 100$ the best plausible learner needs
# $n^* =$ {glue:text}`nstar_k100` samples, where Lemma 1 asks only for
# {glue:text}`nbound_k100`: the bound is loose by a factor
# {glue:text}`ratio_k100:.2f`, and the factor grows with $k$. As $k \to \infty$,
# $A^*(k, ck) \to 1 - e^{-c}$ (the second term of {eq}`eq-bijection-exact` is at most
# $1/k$), so $n^*/k \to \log\frac{1}{1-\tau} =$ {glue:text}`slope_exact:.3f`
# (already {glue:text}`slope_k1000:.3f` at $k = 1000$), against the bound's
# $\frac12 \log\frac{1}{2(1-\tau)} =$ {glue:text}`slope_bound:.3f`.
# {numref}`fig-bijection-samples` shows the three counts for every $k$ up to 100.

# %%
k_grid = np.arange(3, 101)
taus = [Fraction(3, 4), Fraction(9, 10), Fraction(99, 100)]
count_fns = (bijection.paper_min_samples, bijection.min_samples,
             bijection.memorising_min_samples)
counts = {t: np.array([[fn(k_, t) for k_ in k_grid] for fn in count_fns]) for t in taus}

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Smallest number of clean samples, divided by k, that reaches accuracy tau at x0. Solid: exact optimum; dashed: Lemma 1; dotted: the memorising learner; thin grey: the limits log(1/(1 - tau)) and (1/2) log(1/(2 - 2 tau)).", "name": "fig-bijection-samples"}}
fig, ax = plt.subplots()
for t, color in zip(taus, ["tab:green", "tab:blue", "tab:red"]):
    lower, exact, upper = counts[t] / k_grid
    ax.plot(k_grid, exact, color=color, label=f"tau = {float(t):g}")
    ax.plot(k_grid, lower, color=color, ls="--", lw=1)
    ax.plot(k_grid, upper, color=color, ls=":", lw=1)
    ax.axhline(math.log(1 / (1 - t)), color="grey", lw=0.5)
    ax.axhline(0.5 * math.log(1 / (2 - 2 * t)), color="grey", lw=0.5)
ax.set_xlabel("number of classes and inputs, k")
ax.set_ylabel("samples per class, n / k")
ax.legend(fontsize=8, loc="center right", bbox_to_anchor=(1, 0.62))
plt.show()

# %% [markdown]
# The memorising learner, which ignores which labels are used up, is within a few samples
# of the optimum: the optimal learner's extra knowledge is worth at most $1/k$ in
# accuracy. Lemma 1's bound is a constant factor below both.
#
# ### Monte Carlo check
#
# `bijection.simulate_learner` draws random bijections and training sets (as an
# integer array, one row per trial) and runs either learner; both are plausible, so by
# {prf:ref}`prop-bijection-invariance` the average over bijections is also the accuracy
# under each one. Every estimate must lie within 4 standard errors
# of the exact value.

# %%
rows = []
for k_, n_ in [(3, 2), (10, 16), (10, 30), (50, 100), (100, 230)]:
    for learner, exact_fn in [("optimal", bijection.optimal_accuracy),
                              ("memorise", bijection.memorising_accuracy)]:
        est, se = bijection.simulate_learner(k_, n_, TRIALS, rng, learner=learner)
        exact = float(exact_fn(k_, n_))
        rows.append({"k": k_, "n": n_, "learner": learner, "exact": exact,
                     "simulated": est, "std. error": se, "z": (est - exact) / se})
mc_table = pd.DataFrame(rows)
assert (mc_table["z"].abs() < 4).all(), "simulation disagrees with the exact accuracy"
glue("mc_max_z", float(mc_table["z"].abs().max()), display=False)
mc_table.round({"exact": 5, "simulated": 5, "std. error": 5, "z": 2})

# %% [markdown]
# The largest deviation is {glue:text}`mc_max_z:.2f` standard errors.
#
# ## Lemma 2: the label swap
#
# The attack mirrors the proof of {prf:ref}`lem-bijection`: exchange the labels of $x_0$
# and of a second input everywhere in the training set. A plausible learner cannot tell
# the result from a clean training set of a different bijection.
#
# ```{prf:lemma} Label-swap attack
# :label: lem-bijection-swap
#
# Let the attacker pick $x_1 \ne x_0$ uniformly, let $y_1 = g(x_1)$, and let $T(D)$ swap
# the labels $y_0$ and $y_1$ in every sample of a training set $D$ of size $N$. For every
# plausible learner with clean accuracy $A$ at $x_0$,
#
# $$
# \Pr[f_{T(D)}(x_0) = y_0] = \frac{1 - A}{k - 1} \le \frac1k \quad (A \ge 1/k).
# $$
#
# The expected number of relabelled samples is $2N/k$, and the expected attack size,
# counted as the symmetric difference $|T(D) \ominus D|$, is $4N/k$.
# ```
#
# ```{prf:proof}
# $T(D) = \sigma(D)$ with $\sigma = (y_0\ y_1)$, so by plausibility $f_{T(D)}(x_0)$ has
# the law of $\sigma(f_D(x_0))$, which equals $y_0$ exactly when $f_D(x_0) = y_1$. Given
# $f$, the label $y_1$ is uniform over the $k - 1$ labels other than $y_0$, which share
# the probability $1 - A$ of a wrong answer. The relabelled samples are the copies of
# $x_0$ and $x_1$, $2N/k$ in expectation; relabelling one sample removes it and inserts
# another, so the symmetric difference is twice that.
# ```
#
# {cite:t}`wang2022lethal` count the attack as $2N/k$, the relabelled samples; in the
# symmetric-difference measure the paper itself defines, it costs $4N/k$. The constant
# changes, not the order. `bijection.swap_attack` runs the attack on sampled training
# sets and measures both counts on the multisets themselves.

# %%
k_att, N_att = 10, 20
rows = []
for learner, exact_fn in [("optimal", bijection.optimal_accuracy),
                          ("memorise", bijection.memorising_accuracy)]:
    r = bijection.swap_attack(k_att, N_att, TRIALS // 4, rng, learner=learner)
    A = float(exact_fn(k_att, N_att))
    checks = [(r.clean_accuracy, r.clean_accuracy_se, A),
              (r.accuracy, r.accuracy_se, (1 - A) / (k_att - 1)),
              (r.relabelled, r.relabelled_se, 2 * N_att / k_att),
              (r.symmetric_difference, r.symmetric_difference_se, 4 * N_att / k_att)]
    assert all(abs(est - exact) < 4 * se for est, se, exact in checks), learner
    rows.append({"learner": learner, **r._asdict(), "(1 - A)/(k - 1)": checks[1][2]})
swap_table = pd.DataFrame(rows).set_index("learner").T
swap_table.round(5)

# %%
for name, row, col in [("att_acc_opt", "accuracy", "optimal"),
                       ("att_acc_mem", "accuracy", "memorise"),
                       ("att_clean_opt", "clean_accuracy", "optimal"),
                       ("att_clean_mem", "clean_accuracy", "memorise"),
                       ("att_relabelled", "relabelled", "optimal"),
                       ("att_symdiff", "symmetric_difference", "optimal")]:
    glue(name, float(swap_table.loc[row, col]), display=False)
glue("att_k", k_att, display=False)
glue("att_N", N_att, display=False)
glue("att_2Nk", 2 * N_att / k_att, display=False)
glue("att_4Nk", 4 * N_att / k_att, display=False)

# %% [markdown]
# With $k =$ {glue:text}`att_k` and $N =$ {glue:text}`att_N`, the optimal learner falls
# from {glue:text}`att_clean_opt:.4f` to {glue:text}`att_acc_opt:.5f`, and the memorising
# learner from {glue:text}`att_clean_mem:.4f` to {glue:text}`att_acc_mem:.5f`, both as
# predicted and both below chance $1/k$: the learners now confidently answer $y_1$.
# The attack relabels {glue:text}`att_relabelled:.2f` samples on average
# ($2N/k =$ {glue:text}`att_2Nk:.0f`) at a symmetric-difference cost of
# {glue:text}`att_symdiff:.2f` ($4N/k =$ {glue:text}`att_4Nk:.0f`). Every
# entry of the table is asserted within 4 standard errors.

# %% [markdown]
# ## The logical direction
#
# {prf:ref}`lem-bijection` bounds $n^*$ from **below**. A lower bound on $n^*$ is an upper
# bound on $N/n^*$, so it cannot show that an attack of size $4N/k$ is $O(N/n^*)$; for
# that one needs $n^* \le C k$, an **upper** bound on the sample count, which the paper
# does not give (the same gap recurs in its Lemmas 3 and 6). Here it is easy to close:
#
# ```{prf:proposition} Upper bound on the sample count
# :label: prop-bijection-upper
#
# In Bijection Uncovering, $n^*(k, \tau) \le n_{\mathrm{mem}}(k, \tau) \le
# k \log\frac{1}{1 - \tau} + 1$, where $n_{\mathrm{mem}}$ is the sample count of the
# memorising learner. Consequently the swap attack of {prf:ref}`lem-bijection-swap` costs
#
# $$
# \frac{4N}{k} \le \frac{4 n_{\mathrm{mem}}}{k} \cdot \frac{N}{n^*}
# \le 4\left(\log\frac{1}{1-\tau} + \frac1k\right) \frac{N}{n^*},
# $$
#
# so the conjecture holds for this task with an explicit constant.
# ```
#
# ```{prf:proof}
# The memorising learner is plausible and has accuracy $1 - (1 - 1/k)^{n+1}$, which
# reaches $\tau$ once $n + 1 \ge \log(1 - \tau)/\log(1 - 1/k)$; and
# $-\log(1 - 1/k) \ge 1/k$. Then $n^* \le n_{\mathrm{mem}}$ gives
# $1/k \le (n_{\mathrm{mem}}/k)/n^*$.
# ```
#
# Together with Lemma 1 this pins the attack's constant $4n^*/k$ between two explicit
# curves; we check the sandwich for every $k \le 100$ and three targets:

# %%
rows = []
for t in taus:
    lower, exact, upper = 4 * counts[t] / k_grid
    cap = 4 * (np.log(1 / (1 - float(t))) + 1 / k_grid)
    assert np.all((lower <= exact) & (exact <= upper) & (upper <= cap + 1e-12))
    rows.append({"tau": float(t), "4 n_LB / k (k=100)": lower[-1],
                 "4 n* / k (k=100)": exact[-1], "4 n_mem / k (k=100)": upper[-1],
                 "4 log(1/(1-tau))": 4 * np.log(1 / (1 - float(t)))})
pd.DataFrame(rows).round(3)

# %% [markdown]
# ### The attack's constant as $k$ grows
#
# The swap costs $4N/k$ in expectation (measured on the multisets in the table of
# {prf:ref}`lem-bijection-swap`), which is $c \cdot N/n^*$ with the constant
# $c(k, \tau) = 4n^*/k$. With $L = \log\frac{1}{1-\tau}$, the proposition gives
# $n^*/k \le L + 1/k$. From below, $A^*(k, n) \le 1 - (1 - 1/k)^n + 1/k$ and
# $-\log(1 - 1/k) \le 1/(k - 1)$ give $n^*/k \ge L - (L + \frac{1}{1-\tau})/k$. So $c$
# tends to $4L$ at rate $1/k$; we check both inequalities on the exact $n^*$ for $k$ up
# to 2000.

# %%
tau_c = Fraction(9, 10)
L_c, inv_gap = math.log(1 / (1 - tau_c)), 1 / (1 - float(tau_c))
k_const = np.unique(np.geomspace(3, 2_000, 24).astype(int))
const = pd.DataFrame(
    [{name: 4 * fn(int(k_), tau_c) / k_ for name, fn in
      zip(["Lemma 1", "exact", "memorising"], count_fns)} for k_ in k_const],
    index=pd.Index(k_const, name="k"))
slack = const["exact"] / 4 - L_c  # n*/k - L
assert np.all(slack <= 1 / k_const) and np.all(slack >= -(L_c + inv_gap) / k_const)
glue("const_limit", 4 * L_c, display=False)
glue("const_kmax", float(const["exact"].iloc[-1]), display=False)
glue("const_lb_limit", 2 * math.log(1 / (2 - 2 * float(tau_c))), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The constant c = 4 n*/k of the label swap, attack size = c N/n*, against the number of classes k at tau = 0.9. Solid: exact n*; dotted: the memorising learner's count; dashed: Lemma 1's bound; shaded: the proven envelope L - (L + 1/(1 - tau))/k <= n*/k <= L + 1/k, times 4; grey lines: the limits 4 log(1/(1 - tau)) = 4 ln 10 and, for Lemma 1, 2 log(1/(2 - 2 tau)).", "name": "fig-bijection-constant"}}
fig, ax = plt.subplots()
kk = np.geomspace(3, 2_000, 200)
ax.fill_between(kk, 4 * (L_c - (L_c + inv_gap) / kk), 4 * (L_c + 1 / kk),
                color="tab:blue", alpha=0.12, lw=0, label="proven envelope")
for col, ls in [("exact", "-"), ("memorising", ":"), ("Lemma 1", "--")]:
    ax.plot(k_const, const[col], ls=ls, color="tab:blue", label=col)
ax.axhline(4 * L_c, color="grey", lw=0.6)
ax.axhline(2 * math.log(1 / (2 - 2 * float(tau_c))), color="grey", lw=0.6)
ax.set_xscale("log")
ax.set_ylim(0, 11)
ax.set_xlabel("number of classes and inputs, k")
ax.set_ylabel("attack size per N/n*, 4 n*/k")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# The exact constant is {glue:text}`const_kmax:.3f` at $k = 2000$, against the limit
# $4\ln 10 =$ {glue:text}`const_limit:.3f`; Lemma 1's bound would suggest
# {glue:text}`const_lb_limit:.3f`.
#
# So the lethal dose for Bijection Uncovering is $\Theta(N/n^*)$ in both directions: no
# plausible learner survives $4(\log\frac{1}{1-\tau} + \frac1k) N/n^*$ poisons. Whether a
# defence can *tolerate* $\Omega(N/n^*)$ is the other half of the conjecture, taken up by
# the aggregation defences later in the book.
#
# ## Explore
#
# With a running kernel, the sliders recompute the exact sample counts and run the swap
# attack for any $k$, target $\tau$ and training-set size $N$. On the static page the
# output shows the default setting.

# %%
def explore(k=100, tau=0.9, N=1_000):
    n_lb, n_star = bijection.paper_min_samples(k, tau), bijection.min_samples(k, tau)
    n_mem = bijection.memorising_min_samples(k, tau)
    r = bijection.swap_attack(k, N, 1_000, seed=0)
    print(f"k = {k}, tau = {tau:.2f}: Lemma 1 n >= {n_lb}, exact n* = {n_star}, "
          f"memorising {n_mem}")
    A = bijection.optimal_accuracy(k, N)
    after = float((1 - A) / (k - 1))
    print(f"N = {N:,}: clean accuracy {float(A):.4f}; after the swap {r.accuracy:.4f} "
          f"± {r.accuracy_se:.4f} (exact (1 - A)/(k - 1) = {after:.2e})")
    per_dose = r.symmetric_difference * n_star / N if N else 0.0
    print(f"attack size {r.symmetric_difference:.1f} ± {r.symmetric_difference_se:.1f} "
          f"(4N/k = {4 * N / k:.1f}) = {per_dose:.2f} N/n*")


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(
    explore,
    k=widgets.IntSlider(100, 3, 300),
    tau=widgets.FloatSlider(0.9, min=0.05, max=0.99, step=0.01),
    N=widgets.IntSlider(1_000, 0, 20_000, step=100),
)
