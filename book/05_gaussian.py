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
# (chap-gaussian)=
# # Isotropic Gaussian classification
#
# The third case in which {cite:t}`wang2022lethal` verify the conjecture
# ({prf:ref}`conj-lethal-dose`) is the one closest to practice: classes are Gaussian
# clouds, and a learner must *estimate* where they are. Section 6 of the paper bounds
# the clean sample complexity from below (Lemma 6) and builds an attack from the
# coupling of {ref}`chap-discrimination` (Lemma 7). This chapter checks the Bayes rule
# (Claim 1) symbolically, corrects the paper's formula for the total variation $\Delta$
# (Lemma 5), gives Lemma 6 its constant and then its sharp form, runs the Lemma 7 attack,
# and shows that the two lemmas scale differently in $\Delta$: the Gaussian case
# supports the conjecture's dependence on the number of classes $k$, not on $\Delta$.
# Finally it tests the class of learners the lemmas are stated for.

# %% tags=["remove-cell"]
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sympy as sp
from myst_nb import glue
from scipy import stats

from ldcbook.config import by_scale, scale, seed_everything
from ldcbook.theory import gaussian as ga

rng = seed_everything(2022)
REPS = by_scale(smoke=200, default=1_000, full=2_000)
N_GRID = by_scale(smoke=[100, 300], default=[100, 300, 1_000, 3_000],
                  full=[100, 300, 1_000, 3_000, 10_000])
DEF3_REPS = by_scale(smoke=4_000, default=40_000, full=400_000)
SC_REPS = by_scale(smoke=4_000, default=20_000, full=200_000)
N_TENSION = by_scale(smoke=40_000, default=100_000, full=1_000_000)
FLIP_REPS = by_scale(smoke=20, default=60, full=100)
plt.rcParams.update({"figure.dpi": 110, "figure.figsize": (6.4, 3.8)})
print(f"scale = {scale()}, attacked training sets per N = {REPS:,}")

# %% [markdown]
# ## Setting and Claim 1
#
# There are $k$ classes with equal priors; class $i$ has inputs
# $x \sim \mathcal N(\mu_i, I)$ in $\mathbb R^d$. At a test input $x_0$, let the nearest
# centre be $\mu_1$ at distance $d_1$ and the second nearest $\mu_2$ at distance $d_2$,
# with $0 < d_1 < d_2$ and no tie for second place; write $s = d_2 - d_1$. (The paper
# calls these "the distances of $\mu_0$ and $\mu_1$"; they are those of $\mu_1$ and
# $\mu_2$.)
#
# ```{prf:proposition} Claim 1: the Bayes label is the nearest centre
# :label: claim-bayes-nearest
#
# With equal priors, the Bayes-optimal label at $x$ is $\arg\min_i \|x - \mu_i\|$.
# ```
#
# ```{prf:proof}
# The posterior of class $i$ is proportional to the density
# $(2\pi)^{-d/2} \exp(-\|x - \mu_i\|^2/2)$ (the paper writes $1/\sqrt{2\pi}$ for the
# constant, which is right only for $d = 1$; it cancels anyway). The log-ratio of two
# posteriors is $(\|x - \mu_j\|^2 - \|x - \mu_i\|^2)/2$, positive exactly when $\mu_i$ is
# nearer. `sympy` confirms the algebra in $d = 3$:
# ```

# %%
d = 3
x, a, b = (sp.Matrix(sp.symbols(f"{c}1:{d + 1}", real=True)) for c in "xab")


def density(m):
    return (2 * sp.pi) ** sp.Rational(-d, 2) * sp.exp(-((x - m).T * (x - m))[0] / 2)


log_ratio = sp.expand(sp.expand_log(sp.log(density(a) / density(b)), force=True))
half_gap = (((x - b).T * (x - b))[0] - ((x - a).T * (x - a))[0]) / 2
assert sp.simplify(log_ratio - half_gap) == 0
log_ratio

# %% [markdown]
# The same check numerically, against the densities of `scipy`, in the configuration
# used through this chapter: $k = 4$ centres in the plane at distances 1, 1.5, 2.5 and 3
# from $x_0 = 0$, so $d_1 = 1$, $d_2 = 1.5$ and $s = 0.5$.

# %%
k, x0 = 4, np.zeros(2)
angles, radii = np.deg2rad([0.0, 120.0, 240.0, 60.0]), np.array([1.0, 1.5, 2.5, 3.0])
MU = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
points = rng.normal(scale=3.0, size=(10_000, 2))
logpdf = np.stack([stats.multivariate_normal(m).logpdf(points) for m in MU], axis=1)
assert np.array_equal(ga.bayes_label(points, MU), logpdf.argmax(axis=1))
y0, y1, d1, d2 = ga.nearest_two(x0, MU)
s = d2 - d1
print(f"Bayes label at x0: class {y0} (d1 = {d1:.2f}); "
      f"second nearest: class {y1} (d2 = {d2:.2f})")

# %% [markdown]
# Labels in code run from 0, so the paper's classes 1 and 2 are classes `0` and `1`
# here. {numref}`fig-gaussian-setting` redraws Figure 1 of the paper from this
# configuration, together with the moved centre $\mu_2'$ of Lemmas 6 and 7 below.

# %%
eps = 0.25
MU_P = ga.lemma6_centres(MU, x0, eps)
assert ga.bayes_label(x0, MU_P) == y1
assert np.isclose(np.linalg.norm(MU_P[y1] - MU[y1]), s + eps)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The setting of Section 6 (Figure 1 of the paper), drawn from the code: four class centres, the test input x0 and the circles of radii d1 and d2 around it. Lemmas 6 and 7 move the second-nearest centre towards x0 until it is nearer than the nearest one (moved centre, here with eps = 0.25).", "name": "fig-gaussian-setting"}}
fig, ax = plt.subplots(figsize=(5.0, 5.0))
t = np.linspace(0, 2 * np.pi, 200)
for r, ls in [(d1, "-"), (d2, "--")]:
    ax.plot(r * np.cos(t), r * np.sin(t), color="grey", lw=0.8, ls=ls)
ax.scatter(*MU.T, s=60, color="tab:blue", zorder=3, label="clean centres")
for i, m in enumerate(MU):
    ax.annotate(f"class {i}", m, textcoords="offset points", xytext=(6, 6), fontsize=8)
ax.scatter(*MU_P[y1], s=60, color="tab:red", marker="D", zorder=3, label="moved centre")
ax.annotate("", MU_P[y1], MU[y1], arrowprops={"arrowstyle": "->", "color": "tab:red"})
ax.scatter(0, 0, marker="x", color="k", s=60, zorder=3, label="test input x0")
ax.set_aspect("equal")
ax.set_xlim(-3.2, 3.2)
ax.set_ylim(-3.2, 3.2)
ax.set_xlabel("first coordinate")
ax.set_ylabel("second coordinate")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# ## Lemma 5: the total variation $\Delta$
#
# The paper's attack moves class 2's centre a distance $s$ (plus a margin), so the
# quantity that matters is $\Delta$, the total variation between $\mathcal N(\mu, I)$
# and $\mathcal N(\mu', I)$ at $\|\mu - \mu'\| = s$. The paper gives
# $\Delta = \operatorname{erf}(s/\sqrt 2)$. That is wrong by almost a factor 2:
#
# ```{prf:lemma} Lemma 5, corrected
# :label: lem-gauss-tv
#
# $\TV\bigl(\mathcal N(\mu, I), \mathcal N(\mu', I)\bigr) = 2\Phi(s/2) - 1 =
# \operatorname{erf}\bigl(s / (2\sqrt 2)\bigr)$ for $\|\mu - \mu'\| = s$, in any
# dimension. The paper's $\operatorname{erf}(s/\sqrt 2)$ is the value at distance $2s$.
# ```
#
# ```{prf:proof}
# Rotate so that $\mu' - \mu$ points along the first axis: the other coordinates have the
# same law under both and integrate out. In the first coordinate the density of
# $\mathcal N(0, 1)$ exceeds that of $\mathcal N(s, 1)$ exactly left of $s/2$, so the
# distance is $\int_{-\infty}^{s/2} (\varphi(z) - \varphi(z - s))\,dz$, which `sympy`
# evaluates:
# ```

# %%
z, s_sym = sp.Symbol("z", real=True), sp.Symbol("s", positive=True)
phi = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
tv_expr = sp.integrate(phi - phi.subs(z, z - s_sym), (z, -sp.oo, s_sym / 2))
tv_expr = sp.simplify(tv_expr.rewrite(sp.erf))
assert sp.simplify(tv_expr - sp.erf(s_sym / (2 * sp.sqrt(2)))) == 0
paper_expr = sp.erf(s_sym / sp.sqrt(2))
assert sp.simplify(paper_expr - tv_expr.subs(s_sym, 2 * s_sym)) == 0
tv_expr

# %% [markdown]
# Numerical integration of $\tfrac12 \int |p - q|$ settles it independently: once
# reduced to one dimension along the mean difference, and once as a double integral over
# the plane.

# %%
rows = []
for si in [0.05, 0.25, 0.5, 1.0, 2.0]:
    m2 = np.array([0.6, 0.8]) * si  # |m2| = si, not along an axis
    rows.append({"s": si,
                 "quadrature, 1-D": ga.tv_by_integration(np.zeros(2), m2),
                 "quadrature, 2-D": ga.tv_by_integration(np.zeros(2), m2, method="2d"),
                 "2 Phi(s/2) - 1": ga.tv_distance(si),
                 "paper: erf(s/sqrt 2)": ga.paper_delta(si),
                 "2 Phi(s) - 1 (distance 2s)": ga.tv_distance(2 * si)})
lemma5 = pd.DataFrame(rows).set_index("s")
assert np.allclose(lemma5.iloc[:, 0], lemma5.iloc[:, 2], atol=1e-8)
assert np.allclose(lemma5.iloc[:, 1], lemma5.iloc[:, 2], atol=1e-6)
assert np.allclose(lemma5.iloc[:, 3], lemma5.iloc[:, 4], atol=1e-14)
lemma5.round(6)

# %%
glue("l5_true", float(ga.tv_distance(1.0)), display=False)
glue("l5_paper", float(ga.paper_delta(1.0)), display=False)
glue("l5_ratio", ga.paper_delta(1.0) / ga.tv_distance(1.0), display=False)
glue("delta_s", float(ga.tv_distance(s)), display=False)

# %% [markdown]
# At $s = 1$ the true distance is {glue:text}`l5_true:.4f` and the paper's formula gives
# {glue:text}`l5_paper:.4f`, {glue:text}`l5_ratio:.2f` times more; for small $s$ the
# ratio tends to 2. In our configuration ($s = 0.5$), $\Delta =$
# {glue:text}`delta_s:.4f`. Because a training sample carries its label, two mixtures
# that differ only in class 2's centre are $\Delta/k$ apart as laws of one labelled
# sample: `ga.mixture_tv` computes this.

# %%
assert np.isclose(ga.mixture_tv(MU, MU_P), ga.tv_distance(s + eps) / k)

# %% [markdown]
# ## Lemma 6: how many clean samples a learner needs
#
# The lemma is stated for a class of learners the paper calls unbiased and non-trivial.
# We state that class in the form in which the proofs of Lemmas 6 and 7 use it:
#
# ```{prf:definition} Unbiased, non-trivial learner (Definition 3, as used)
# :label: def-unbiased-learner
#
# A learner $f$ is *unbiased* if, for every configuration of centres and every
# training-set size $n$, it predicts each label other than the Bayes label at $x_0$ with
# probability at most $1/k$; it is *non-trivial* if it predicts the Bayes label with
# probability strictly greater than $1/k$.
# ```
#
# The paper shows that such a learner, right at $x_0$ with probability $\tau$, needs
# $n = \Omega(1/\Delta)$ samples, applying {prf:ref}`thm-discrimination` "with $n/k$
# samples in expectation" and naming no constant. Applying the theorem to the two whole
# mixtures gives the constant:
#
# ```{prf:lemma} Lemma 6, with its constant
# :label: lem-gauss-lower
#
# Let $0 < d_1 < d_2$ with a unique second-nearest centre, and $\tau > 1/k$. An unbiased
# learner that predicts the Bayes label at $x_0$ with probability at least $\tau$ from
# $n$ samples has $n \ge (k\tau - 1)/\Delta$.
# ```
#
# ```{prf:proof}
# Move $\mu_2$ along the segment to $x_0$ until its distance is $d_1 - \varepsilon$
# (`ga.lemma6_centres`, {numref}`fig-gaussian-setting`); call the new mixture $P'$.
# Under $P'$ class 2 is the Bayes label, so an unbiased learner predicts class 1 with
# probability at most $1/k$, while under $P$ it does so with probability at least
# $\tau$. The test "the learner predicts class 1" thus has advantage at least
# $\tau - 1/k$, and one labelled sample of $P$ and of $P'$ are $\Delta(s + \varepsilon)/k$
# apart. By {prf:ref}`thm-discrimination`, $n\,\Delta(s + \varepsilon)/k \ge \tau - 1/k$;
# let $\varepsilon \to 0$.
# ```
#
# The bound is valid but, like Theorem 1 for the fair coins of
# {ref}`chap-discrimination`, loose by a whole power of $\Delta$: the $n$ labelled
# samples of two such mixtures are
# $\mathbb E[\Delta(s'\sqrt{n_2})]$ apart, with $n_2 \sim \mathrm{Bin}(n, 1/k)$ the
# samples of the moved class and $s'$ the distance it moved (`ga.mixture_product_tv`),
# which grows like $\sqrt n$, not like $n$. This gives a sharp form that needs no
# assumption on the learner beyond accuracy:
#
# ```{prf:proposition} Lemma 6, sharp form (this book)
# :label: prop-gauss-sharp
#
# A learner that predicts the Bayes label at $x_0$ with probability at least
# $\tau > 1/2$ from $n$ samples, both when class 2 sits at distance $d_1 + s$ and when
# it sits at $d_1 - s$ from $x_0$ (all else equal, $s < d_1$), needs
# $n \ge k\,\bigl(\Phi^{-1}(\tau)/s\bigr)^2$, of order $k/\Delta^2$.
# ```
#
# ```{prf:proof}
# The test "the learner predicts class 1" has advantage at least $2\tau - 1$. Class 2
# moves by $2s$, so the two $n$-sample laws are
# $\mathbb E[\Delta(2s\sqrt{n_2})] \le \Delta(2s\sqrt{n/k})$ apart, by Jensen's
# inequality ($x \mapsto 2\Phi(c\sqrt x/2) - 1$ is concave). Solving
# $2\Phi(s\sqrt{n/k}) - 1 \ge 2\tau - 1$ gives the bound; $\Delta \approx s/\sqrt{2\pi}$
# for small $s$.
# ```
#
# A concrete learner shows that order $k/\Delta^2$ is also achieved. The
# **per-class-median** learner estimates each centre by the coordinate-wise median of
# its class and predicts the nearest estimate. In one dimension ($x_0 = 0$, $\mu_1 = 1$,
# $\mu_2 = 1 + s$, the other classes far away) its accuracy can be simulated exactly
# from the order-statistic laws of the two medians (`ga.median_accuracy_1d`, checked
# against simulated training sets in the tests), and its sample complexity found by
# search. For $k = 4$ and $\tau = 0.9$:

# %%
tau, k_t = 0.9, 4
S_GRID = np.array([0.8, 0.4, 0.2, 0.1, 0.05])
n_median = np.array([ga.median_sample_complexity(k_t, si, tau, SC_REPS, seed=rng)
                     for si in S_GRID])
bounds = pd.DataFrame({
    "s": S_GRID, "Delta": ga.tv_distance(S_GRID),
    "Lemma 6, paper's Delta": (k_t * tau - 1) / ga.paper_delta(S_GRID),
    "Lemma 6, corrected": ga.clean_lower_bound(k_t, tau, S_GRID),
    "sharp bound": ga.sharp_lower_bound(k_t, tau, S_GRID),
    "median learner": n_median,
    "median, large-n formula": [ga.median_sample_complexity_asymptotic(k_t, si, tau)
                                for si in S_GRID],
}).set_index("s")
assert (bounds["median learner"] >= bounds["sharp bound"]).all()
assert (bounds["sharp bound"] >= bounds["Lemma 6, corrected"]).all()
bounds.round({c: 4 if c == "Delta" else 1 for c in bounds.columns})

# %%
small = S_GRID <= 0.4
log_delta = np.log(ga.tv_distance(S_GRID[small]))
slope_n = np.polyfit(log_delta, np.log(n_median[small]), 1)[0]
ratio_sharp = bounds["median learner"] / bounds["sharp bound"]
assert -2.2 < slope_n < -1.8
glue("slope_n", float(slope_n), display=False)
glue("ratio_sharp_lo", float(ratio_sharp.min()), display=False)
glue("ratio_sharp_hi", float(ratio_sharp.max()), display=False)
gap_small = bounds.loc[0.05, "median learner"] / bounds.loc[0.05, "Lemma 6, corrected"]
glue("gap_small", float(gap_small), display=False)

# %% [markdown]
# The median learner's sample complexity grows like $\Delta^{-2}$ (fitted log–log slope
# {glue:text}`slope_n:.2f` for $s \le 0.4$) and stays within a factor
# {glue:text}`ratio_sharp_lo:.1f`–{glue:text}`ratio_sharp_hi:.1f` of the sharp bound, the
# factor $\pi = (\pi/2) \cdot 2$: the median's asymptotic variance $\pi/(2 n_i)$, and two
# estimated centres instead of one. The corrected Lemma 6
# bound, of order $1/\Delta$, is {glue:text}`gap_small:.0f` times too small at
# $s = 0.05$; with the paper's $\Delta$ it would be smaller still.
#
# ## Lemma 7: the coupling attack
#
# ```{prf:lemma} Lemma 7 of the paper
# :label: lem-gauss-attack
#
# For every $N$ there is a transform $T$ that replaces $N\Delta(s+\varepsilon)/k$
# samples in expectation ($\to N\Delta/k$ as $\varepsilon \to 0$) such that every
# unbiased learner trained on $T(D)$, $D \sim P^N$, predicts the Bayes label $y_0$ at
# $x_0$ with probability at most $1/k$.
# ```
#
# ```{prf:proof}
# Move every class-2 sample through the maximal coupling of $\mathcal N(\mu_2, I)$ and
# $\mathcal N(\mu_2', I)$ ({prf:ref}`thm-transform`), with $\mu_2'$ as in
# {prf:ref}`lem-gauss-lower`. Then $T(D) \sim P'^N$, under which $y_0$ is not the Bayes
# label, and a sample changes with probability $\Delta(s + \varepsilon)/k$.
# ```
#
# The proof writes $\delta/k$ for the expected change; it is $N\Delta/k$ **samples**, and
# the attack size, counting a replacement as a removal and an insertion, is
# $2N\Delta/k$ (as $\varepsilon \to 0$; $2N\Delta(s + \varepsilon)/k$ for a margin
# $\varepsilon$). We run it against the nearest-class-mean learner with
# $\varepsilon =$ {glue:text}`eps:.2f`, on {glue:text}`reps:d` training sets for each
# size $N$.

# %%
glue("eps", float(eps), display=False)
glue("reps", int(REPS), display=False)
rows = []
for N in N_GRID:
    X, y = ga.sample_mixture(MU, N, seed=rng, reps=REPS)
    Xp, size = ga.lemma7_attack(X, y, MU, MU_P, seed=rng)
    clean = ga.fit_predict("nearest_mean", X, y, k, x0) == y0
    poisoned = ga.fit_predict("nearest_mean", Xp, y, k, x0) == y0
    rows.append({"N": N, "clean accuracy": clean.mean(),
                 "poisoned accuracy": poisoned.mean(), "attack size": size.mean(),
                 "std. error": size.std(ddof=1) / np.sqrt(REPS),
                 "2 N Delta(s+eps) / k": 2 * N * ga.mixture_tv(MU, MU_P),
                 "paper's count: N Delta / k": N * ga.tv_distance(s) / k})
lemma7 = pd.DataFrame(rows).set_index("N")
gap = lemma7["attack size"] - lemma7["2 N Delta(s+eps) / k"]
lemma7["z"] = gap / lemma7["std. error"]
assert (lemma7["z"].abs() < 4).all() and (lemma7["poisoned accuracy"] <= 1 / k).all()
lemma7.round(3)

# %%
moved = Xp[y == y1]  # the attacked class, last N of the loop: it follows N(mu_2', I)
assert np.all(np.abs(moved.mean(axis=0) - MU_P[y1]) < 4 / np.sqrt(len(moved)))
glue("l7_worst", float(lemma7["poisoned accuracy"].max()), display=False)
glue("l7_zmax", float(lemma7["z"].abs().max()), display=False)

# %% [markdown]
# The attack size matches $2N\Delta(s + \varepsilon)/k$ at every $N$ (within
# {glue:text}`l7_zmax:.1f` standard errors): twice the number of replaced samples,
# which tends to the paper's $N\Delta/k$ as $\varepsilon \to 0$. The
# nearest-mean learner's accuracy at $x_0$ falls to at most
# {glue:text}`l7_worst:.3f`, below $1/k = 0.25$.
#
# ## The $\Delta$-scaling tension
#
# Put the two lemmas together as the paper does: Lemma 6 says $n \gtrsim k/\Delta$. If
# that bound were tight, Lemma 7's attack of about $N\Delta/k$ would be $\Theta(N/n)$,
# as the conjecture predicts; the paper reads it that way. But a lower bound on $n$ only
# shows that the attack is $\Omega(N/n)$ (the logical direction of
# {ref}`chap-bijection`). With the sharp sample complexity $n \asymp k/\Delta^2$ the picture changes:
# $N/n$ is of order $N\Delta^2/k$, while the Lemma 7 attack costs order $N\Delta/k$, a
# factor $1/\Delta$ more.
#
# Is the attack wasteful, or does defeating the learner really cost that much? The
# per-class-median learner answers it. In one class a single insertion or removal moves
# the median by at most half a rank, about $\sqrt{2\pi}/(2 n_i)$ near the centre, so
# bringing class 2's median a distance $s$ closer takes about
# $2 n_i s/\sqrt{2\pi} \approx 2N\Delta/k$ edits. `ga.median_flip_cost` computes the
# exact minimum (insertions and removals, in either class) for a given training set. We
# use $N =$ {glue:text}`tension_N:,d` training samples, {glue:text}`tension_reps:d`
# training sets per separation, and class sizes fixed at $N/k$.

# %%
N_t, n_i = N_TENSION, N_TENSION // k_t
glue("tension_N", int(N_t), display=False)
glue("tension_reps", int(FLIP_REPS), display=False)
flip_mean, flip_se, acc_at_N = [], [], []
for si in S_GRID:
    class_1 = rng.normal(1.0, 1.0, (FLIP_REPS, n_i))
    class_2 = rng.normal(1.0 + si, 1.0, (FLIP_REPS, n_i))
    cost = ga.median_flip_cost(class_1, class_2, x0=0.0)
    flip_mean.append(cost.mean())
    flip_se.append(cost.std(ddof=1) / np.sqrt(FLIP_REPS))
    acc_at_N.append(ga.median_accuracy_1d(N_t, k_t, si, SC_REPS, seed=rng)[0])

# %%
delta_grid = ga.tv_distance(S_GRID)
tension = pd.DataFrame({
    "s": S_GRID, "Delta": delta_grid, "median n": n_median, "N / n": N_t / n_median,
    "Lemma 7: 2 N Delta / k": 2 * N_t * delta_grid / k_t,
    "median flip cost": flip_mean, "std. error": flip_se,
    "flip cost / (N / n)": np.array(flip_mean) * n_median / N_t,
    "clean accuracy at N": acc_at_N,
}).set_index("s")
assert (tension["clean accuracy at N"] > tau).all()
ratio_l7 = tension["median flip cost"] / tension["Lemma 7: 2 N Delta / k"]
budget = tension["Lemma 7: 2 N Delta / k"]
gap_l7 = (tension["median flip cost"] - budget).abs()
assert (gap_l7 < 0.2 * budget + 4 * tension["std. error"]).all()  # within 20 %
assert np.all(np.diff(tension["flip cost / (N / n)"]) > 0)  # grows as Delta shrinks
tension.round(3)

# %%
log_flip = np.log(np.array(flip_mean)[small])
slope_flip = np.polyfit(np.log(delta_grid[small]), log_flip, 1)[0]
assert 0.9 < slope_flip < 1.1
glue("slope_flip", float(slope_flip), display=False)
glue("ratio_l7_lo", float(ratio_l7.min()), display=False)
glue("ratio_l7_hi", float(ratio_l7.max()), display=False)
excess = tension["flip cost / (N / n)"]
glue("excess_big", float(excess.iloc[0]), display=False)
glue("excess_small", float(excess.iloc[-1]), display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The Delta-scaling tension (k = 4, tau = 0.9, one dimension). Left: clean sample complexity against Delta: the per-class-median learner (dots) follows the sharp bound k (Phi^{-1}(tau)/s)^2, of order 1/Delta^2, while the corrected Lemma 6 bound has order 1/Delta. Right: samples an attacker must insert or remove to flip the median learner at x0 (dots, mean over training sets), against the Lemma 7 attack size 2 N Delta / k and the conjecture's scale N / n.", "name": "fig-tension"}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8))
ax1.plot(delta_grid, n_median, "o", color="tab:blue", label="median learner")
ax1.plot(delta_grid, bounds["sharp bound"], "-", color="tab:blue", label="sharp bound")
ax1.plot(delta_grid, bounds["Lemma 6, corrected"], "--", color="tab:orange",
         label="Lemma 6 (kτ − 1)/Δ")
ax1.set_ylabel("clean samples needed, n")
ax2.errorbar(delta_grid, flip_mean, yerr=4 * np.array(flip_se), fmt="o",
             color="tab:red", label="median flip cost")
ax2.plot(delta_grid, 2 * N_t * delta_grid / k_t, "-", color="tab:red",
         label="Lemma 7: 2NΔ/k")
ax2.plot(delta_grid, N_t / n_median, "--", color="tab:green", label="N / n")
ax2.set_ylabel("attack size (samples)")
for ax in (ax1, ax2):
    ax.set_xscale("log")
    ax.set_xticks([0.02, 0.05, 0.1, 0.2, 0.3], ["0.02", "0.05", "0.1", "0.2", "0.3"])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_yscale("log")
    ax.set_xlabel("total variation Δ")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The cheapest attack on the median learner costs almost exactly the Lemma 7 budget
# (ratio {glue:text}`ratio_l7_lo:.2f`–{glue:text}`ratio_l7_hi:.2f`) and scales like
# $\Delta^{1}$ (fitted slope {glue:text}`slope_flip:.2f`), while $N/n$ scales like
# $\Delta^2$: the attack needs {glue:text}`excess_big:.1f` times $N/n$ at $s = 0.8$ and
# {glue:text}`excess_small:.0f` times at $s = 0.05$, although the learner is accurate
# on clean data of size $N$ throughout. So the coupling attack is not wasteful: this learner
# really tolerates order $N\Delta/k$ poisons, which is order $N/\sqrt{nk}$, not $N/n$.
#
# This is a tension, not a counterexample. For one fixed task, $N\Delta/k$ and $N/n$
# are both proportional to $N$, so "$\Theta(N/n)$" holds with a constant that depends on
# $\Delta$. What the Gaussian case does verify is the dependence on $k$ at fixed
# $\Delta$; the dependence on $\Delta$ that the conjecture's form suggests, $N/n \propto
# \Delta^2$, is not what attacks on Gaussians need. The gap is the one
# {ref}`chap-discrimination` found in Theorem 1: for overlapping distributions
# discrimination takes order $1/\Delta^2$ samples, not $1/\Delta$.
#
# ## Is the class of learners empty?
#
# Lemmas 6 and 7 hold for every unbiased, non-trivial learner, but the paper never shows
# that one exists. Under {prf:ref}`def-unbiased-learner` the three obvious learners
# fail. With **one** training sample, nearest class mean, per-class median and one
# nearest neighbour all predict the label of that sample, which is uniform: every label
# has probability exactly $1/k$, so the strict inequality of non-triviality fails at
# $n = 1$. With a few more samples they predict the second-nearest class with
# probability above $1/k$, which unbiasedness forbids.

# %%
rows = []
for learner in ga.LEARNERS:
    for n in [1, 2, 5, 20]:
        probs, se = ga.label_probabilities(learner, MU, x0, n, DEF3_REPS, seed=rng)
        rows.append({"learner": learner, "n": n, "P[Bayes label]": probs[y0],
                     "P[second nearest]": probs[y1], "std. error": se.max()})
def3 = pd.DataFrame(rows).set_index(["learner", "n"])
one = def3.xs(1, level="n")
se_k = np.sqrt((1 / k) * (1 - 1 / k) / DEF3_REPS)
z_one = np.abs(one[["P[Bayes label]", "P[second nearest]"]] - 1 / k) / se_k
assert (z_one < 4).all().all()
assert (def3.xs(5, level="n")["P[second nearest]"] > 1 / k + 4 * se_k).all()
def3.round(4)

# %% [markdown]
# At $n = 1$ every probability is $1/k$ within Monte Carlo error, as the argument says it
# must be exactly; at $n = 5$ all three learners give the second-nearest class more than
# $1/k$. Read literally, with "every $n$", the class of
# {prf:ref}`def-unbiased-learner` excludes every learner here, and Lemmas 6 and 7 are
# statements about a class not shown to be non-empty. The sharp form
# {prf:ref}`prop-gauss-sharp` avoids the issue: it assumes accuracy only.
#
# ## Explore
#
# With a running kernel, the sliders recompute the quantities of this chapter for any
# separation $s$, number of classes $k$, target accuracy $\tau$ and training-set size
# $N$. On the static page the output shows the default setting.

# %%
def explore(s=0.5, k=4, tau=0.9, N=100_000):
    tau = max(tau, 1 / k + 0.01)
    delta = ga.tv_distance(s)
    print(f"Delta = {delta:.4f} (paper's formula {ga.paper_delta(s):.4f})")
    print(f"Lemma 6 (corrected): n >= {ga.clean_lower_bound(k, tau, s):,.1f}")
    if tau > 0.5:
        n_sharp = ga.sharp_lower_bound(k, tau, s)
        print(f"sharp bound: n >= {n_sharp:,.1f}; N / n <= {N / n_sharp:,.1f}")
    print(f"Lemma 7 attack size 2 N Delta / k = {2 * N * delta / k:,.1f} "
          f"(paper's count N Delta / k = {N * delta / k:,.1f})")


explore()

# %% tags=["nbval-ignore-output"]
widgets.interactive(
    explore,
    s=widgets.FloatSlider(0.5, min=0.01, max=3.0, step=0.01),
    k=widgets.IntSlider(4, 2, 50),
    tau=widgets.FloatSlider(0.9, min=0.05, max=0.99, step=0.01),
    N=widgets.IntSlider(100_000, 1_000, 1_000_000, step=1_000),
)
