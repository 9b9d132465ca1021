"""Distribution discrimination: total variation, maximal couplings, Theorems 1 and 2.

Section 5 of the paper and Chapter 4 of the book. Two distributions ``U`` and ``V`` at
total variation ``delta`` can be told apart from ``n`` samples with advantage at most
``n * delta`` (Theorem 1), and a maximal coupling turns a sample of ``U^N`` into a
sample of ``V^N`` by replacing about ``delta * N`` samples (Theorem 2), an attack of
size ``2 * delta * N`` when insertions and removals are counted separately.

How many samples a test really needs is governed by the squared Hellinger distance
``H^2`` (Le Cam's inequalities, :func:`hellinger_sample_bounds`): order ``1 / H^2``.
Since ``delta^2 / 2 <= H^2 <= delta``, Theorem 1's ``advantage / delta`` is within a
constant factor of the truth exactly when ``H^2`` is of the order of ``delta``.

Samplers are exact and vectorised; every stochastic function takes ``seed`` (an int or
a ``numpy.random.Generator``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import special, stats

from ldcbook._checks import check_array, check_int, check_real, check_seed
from ldcbook.theory._common import check_target, first_reaching

Seed = int | np.random.Generator

__all__ = [
    "bernoulli_product_tv",
    "best_test",
    "coupling_transform",
    "couple_discrete",
    "couple_gaussian",
    "discrete_maximal_coupling",
    "energy_test",
    "gaussian_maximal_coupling",
    "hellinger_sample_bounds",
    "hellinger_squared",
    "maximal_coupling",
    "multiset_symmetric_difference",
    "projected_ks_test",
    "samples_to_distinguish",
    "simulate_test_advantage",
    "theorem1_bound",
    "total_variation",
]

_PROB_ATOL = 1e-9


# --------------------------------------------------------------------------------------
# input checks local to this module
# --------------------------------------------------------------------------------------
def _check_prob_vector(name: str, value: Any) -> np.ndarray:
    arr = check_array(name, value, ndim=1, kind="f", nonnegative=True).astype(float)
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one entry")
    total = arr.sum()
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, got {total}")
    return arr / total


def _check_pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _check_prob_vector("p", p)
    q = _check_prob_vector("q", q)
    if p.shape != q.shape:
        raise ValueError(f"q must have the same shape as p {p.shape}, got {q.shape}")
    return p, q


def _check_mean(name: str, value: Any) -> np.ndarray:
    arr = check_array(name, value, ndim=1, kind="f").astype(float)
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one coordinate")
    return arr


def _check_means(mu: Any, mu_prime: Any) -> tuple[np.ndarray, np.ndarray]:
    mu = _check_mean("mu", mu)
    mu_prime = _check_mean("mu_prime", mu_prime)
    if mu.shape != mu_prime.shape:
        raise ValueError(
            f"mu_prime must have the same shape as mu {mu.shape}, got {mu_prime.shape}"
        )
    return mu, mu_prime


def _check_probability(name: str, value: Any) -> float:
    return check_real(name, value, low=0.0, high=1.0)


# --------------------------------------------------------------------------------------
# total variation and the coupling lemma
# --------------------------------------------------------------------------------------
def total_variation(
    p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray
) -> float:
    """Total variation ``(1/2) sum |p - q|`` of two distributions on a finite set.

    The quantity ``delta`` of Section 5 of the paper (Chapter 4 of the book).

    Parameters
    ----------
    p, q : array_like
        Probability vectors of the same length (non-negative, summing to 1).

    Returns
    -------
    float
        The total variation distance, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If either vector is not a probability vector or their shapes differ.
    """
    p, q = _check_pair(p, q)
    return float(0.5 * np.abs(p - q).sum())


def discrete_maximal_coupling(
    p: Sequence[float] | np.ndarray,
    q: Sequence[float] | np.ndarray,
    size: int,
    seed: Seed,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``size`` pairs ``(X, Y)`` from a maximal coupling of ``p`` and ``q``.

    With probability ``1 - delta`` both coordinates take one value drawn from
    ``min(p, q) / (1 - delta)``; otherwise ``X`` is drawn from ``(p - q)+ / delta`` and
    ``Y`` independently from ``(q - p)+ / delta``. Then ``X ~ p``, ``Y ~ q`` and
    ``P[X != Y] = delta``, the smallest value any coupling attains (the coupling lemma,
    Chapter 4; Levin and Peres, Proposition 4.7).

    Parameters
    ----------
    p, q : array_like
        Probability vectors of the same length ``K``; outcomes are ``0, ..., K - 1``.
    size : int
        Number of pairs, ``>= 0``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    x, y : numpy.ndarray of int
        Arrays of shape ``(size,)``.
    """
    p, q = _check_pair(p, q)
    size = check_int("size", size, min_value=0)
    rng = check_seed("seed", seed)
    common = np.minimum(p, q)
    delta = 0.5 * np.abs(p - q).sum()
    outcomes = np.arange(p.size)
    same = rng.random(size) >= delta
    x = np.empty(size, dtype=np.int64)
    y = np.empty(size, dtype=np.int64)
    n_same = int(same.sum())
    if n_same:
        x[same] = y[same] = rng.choice(outcomes, n_same, p=common / common.sum())
    if n_same < size:
        excess_p = np.clip(p - q, 0.0, None)
        excess_q = np.clip(q - p, 0.0, None)
        x[~same] = rng.choice(outcomes, size - n_same, p=excess_p / excess_p.sum())
        y[~same] = rng.choice(outcomes, size - n_same, p=excess_q / excess_q.sum())
    return x, y


def couple_discrete(
    x: Sequence[int] | np.ndarray,
    p: Sequence[float] | np.ndarray,
    q: Sequence[float] | np.ndarray,
    seed: Seed,
) -> np.ndarray:
    """Map draws ``x ~ p`` to draws ``y ~ q`` through the maximal coupling.

    This is the conditional law of ``Y`` given ``X = x`` in
    :func:`discrete_maximal_coupling`: keep ``x`` with probability
    ``min(p, q)(x) / p(x)``, otherwise draw ``y`` from ``(q - p)+ / delta``. Applied
    sample by sample it is the transform of Theorem 2 (Chapter 4).

    Parameters
    ----------
    x : array_like of int
        Outcomes in the support of ``p``, any shape.
    p, q : array_like
        Probability vectors of the same length.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray of int
        Same shape as ``x``; distributed as i.i.d. ``q`` when ``x`` is i.i.d. ``p``.

    Raises
    ------
    ValueError
        If an entry of ``x`` is outside ``0..K-1`` or has ``p(x) = 0``.
    """
    p, q = _check_pair(p, q)
    x = check_array("x", x, kind="i")
    rng = check_seed("seed", seed)
    if x.size and (x.min() < 0 or x.max() >= p.size):
        raise ValueError(f"x must hold outcomes in 0..{p.size - 1}")
    if x.size and np.any(p[x] == 0):
        raise ValueError("x must lie in the support of p (found an outcome with p = 0)")
    keep = rng.random(x.shape) * p[x] < np.minimum(p, q)[x]
    y = x.copy()
    n_moved = int((~keep).sum())
    if n_moved:
        excess_q = np.clip(q - p, 0.0, None)
        y[~keep] = rng.choice(p.size, n_moved, p=excess_q / excess_q.sum())
    return y


def couple_gaussian(
    u: np.ndarray, mu: np.ndarray, mu_prime: np.ndarray, seed: Seed
) -> np.ndarray:
    """Map draws ``u ~ N(mu, I)`` to draws ``v ~ N(mu_prime, I)`` by a maximal coupling.

    With ``s = |mu_prime - mu|``, ``e = (mu_prime - mu) / s`` and ``z = <u - mu, e>``,
    keep ``u`` with probability ``min(1, exp(s z - s^2 / 2))`` (the density ratio),
    otherwise reflect its ``e``-component: ``v = u + (s - 2 z) e``. Then
    ``v ~ N(mu_prime, I)`` exactly and ``P[v != u]`` is the total variation
    ``2 Phi(s/2) - 1`` (Chapter 4,
    Theorem 2; Chapter 5, Lemma 7).

    Parameters
    ----------
    u : numpy.ndarray
        Shape ``(..., d)``.
    mu, mu_prime : numpy.ndarray
        Shape ``(d,)``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., d)``; rows that are kept are returned unchanged (bit for bit).
    """
    mu, mu_prime = _check_means(mu, mu_prime)
    u = check_array("u", u, kind="f").astype(float)
    if u.ndim == 0 or u.shape[-1] != mu.size:
        raise ValueError(f"u must have shape (..., {mu.size}), got {u.shape}")
    rng = check_seed("seed", seed)
    diff = mu_prime - mu
    s = float(np.linalg.norm(diff))
    if s == 0.0:
        return u.copy()
    e = diff / s
    z = (u - mu) @ e
    keep = np.log(rng.random(z.shape)) < s * z - 0.5 * s * s
    return np.where(keep[..., None], u, u + (s - 2.0 * z)[..., None] * e)


def gaussian_maximal_coupling(
    mu: Sequence[float] | np.ndarray,
    mu_prime: Sequence[float] | np.ndarray,
    size: int,
    seed: Seed,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``size`` pairs ``(U, V)`` from a maximal coupling of two Gaussians.

    The Gaussians are ``N(mu, I)`` and ``N(mu_prime, I)``.

    ``U`` is drawn from ``N(mu, I)`` and mapped by :func:`couple_gaussian` (the sampler
    recorded in the book's notes on the paper; Chapter 4).

    Parameters
    ----------
    mu, mu_prime : array_like
        Means of shape ``(d,)``.
    size : int
        Number of pairs, ``>= 0``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    u, v : numpy.ndarray
        Arrays of shape ``(size, d)``.
    """
    mu, mu_prime = _check_means(mu, mu_prime)
    size = check_int("size", size, min_value=0)
    rng = check_seed("seed", seed)
    u = mu + rng.standard_normal((size, mu.size))
    return u, couple_gaussian(u, mu, mu_prime, rng)


def maximal_coupling(
    p: Sequence[float] | np.ndarray,
    q: Sequence[float] | np.ndarray,
    size: int,
    seed: Seed,
    *,
    family: Literal["discrete", "gaussian"] = "discrete",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact sampler of a maximal coupling (the coupling lemma, Chapter 4).

    Parameters
    ----------
    p, q : array_like
        For ``family="discrete"``, two probability vectors of the same length; for
        ``family="gaussian"``, the means ``mu`` and ``mu_prime`` of ``N(mu, I)`` and
        ``N(mu_prime, I)``.
    size : int
        Number of pairs, ``>= 0``.
    seed : int or numpy.random.Generator
        Source of randomness.
    family : {"discrete", "gaussian"}
        Which pair of distributions ``p`` and ``q`` describe.

    Returns
    -------
    x, y : numpy.ndarray
        ``size`` draws of each coordinate; ``P[x != y]`` is their total variation.

    See Also
    --------
    discrete_maximal_coupling, gaussian_maximal_coupling
    """
    if family == "discrete":
        return discrete_maximal_coupling(p, q, size, seed)
    if family == "gaussian":
        return gaussian_maximal_coupling(p, q, size, seed)
    raise ValueError(f"family must be 'discrete' or 'gaussian', got {family!r}")


# --------------------------------------------------------------------------------------
# Theorem 2: the coupling transform and its attack size
# --------------------------------------------------------------------------------------
def multiset_symmetric_difference(a: np.ndarray, b: np.ndarray) -> int:
    """Size ``|A ⊖ B|`` of the symmetric difference of two multisets of samples.

    The attack size of the paper (insertions plus removals; Chapter 1 of the book).
    Samples are the entries of a 1-D array or the rows of a 2-D array, compared exactly.

    Parameters
    ----------
    a, b : numpy.ndarray
        Arrays with the same trailing shape: ``(N,)`` and ``(M,)``, or ``(N, d)`` and
        ``(M, d)``.

    Returns
    -------
    int
        ``sum over distinct samples of |count in a - count in b|``.
    """
    a = check_array("a", a, ndim=(1, 2), finite=False)
    b = check_array("b", b, ndim=(1, 2), finite=False)
    if a.ndim != b.ndim or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"b must have shape (M,{a.shape[1:]}) like a, got {b.shape}")
    both = np.concatenate([a, b]) if a.ndim == 1 else np.concatenate([a, b], axis=0)
    if both.shape[0] == 0:
        return 0
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    count_a = np.bincount(inverse[: a.shape[0]], minlength=inverse.max() + 1)
    count_b = np.bincount(inverse[a.shape[0]:], minlength=inverse.max() + 1)
    return int(np.abs(count_a - count_b).sum())


def coupling_transform(
    D: np.ndarray,
    p: Sequence[float] | np.ndarray,
    q: Sequence[float] | np.ndarray,
    seed: Seed,
    *,
    family: Literal["discrete", "gaussian"] = "discrete",
) -> tuple[np.ndarray, np.ndarray]:
    """The transform ``T`` of Theorem 2: turn ``D ~ U^N`` into ``T(D) ~ V^N``.

    Each sample is moved through the maximal coupling independently, so ``T(D)`` has
    exactly the law ``V^N`` and a sample changes with probability ``delta``. The paper
    counts ``delta N`` changed samples; the attack size ``|T(D) ⊖ D|`` is twice that,
    ``2 delta N`` in expectation (Chapter 4).

    Parameters
    ----------
    D : numpy.ndarray
        For ``family="discrete"``, outcomes of shape ``(..., N)``; for
        ``family="gaussian"``, points of shape ``(..., N, d)``. Leading axes index
        independent training sets.
    p, q : array_like
        The two distributions (probability vectors, or the means of ``N(mu, I)`` and
        ``N(mu_prime, I)``).
    seed : int or numpy.random.Generator
        Source of randomness.
    family : {"discrete", "gaussian"}
        Which pair of distributions ``p`` and ``q`` describe.

    Returns
    -------
    poisoned : numpy.ndarray
        ``T(D)``, same shape as ``D``.
    attack_size : numpy.ndarray of int
        ``|T(D) ⊖ D|`` for each training set, shape ``D.shape[:-1]`` (discrete) or
        ``D.shape[:-2]`` (Gaussian). For the discrete coupling the moved samples leave
        ``supp (p - q)+`` for ``supp (q - p)+``, so no change cancels another and this
        is exactly twice the number of changed samples; for Gaussians the same holds
        with probability one (continuous values never coincide).
    """
    if family == "discrete":
        D = check_array("D", D, kind="i")
        if D.ndim == 0:
            raise ValueError("D must have at least one dimension (..., N)")
        poisoned = couple_discrete(D, p, q, seed)
        changed = (poisoned != D).sum(axis=-1)
    elif family == "gaussian":
        D = check_array("D", D, kind="f")
        if D.ndim < 2:
            raise ValueError(f"D must have shape (..., N, d), got {D.shape}")
        poisoned = couple_gaussian(D, p, q, seed)
        changed = np.any(poisoned != D, axis=-1).sum(axis=-1)
    else:
        raise ValueError(f"family must be 'discrete' or 'gaussian', got {family!r}")
    return poisoned, 2 * np.asarray(changed, dtype=np.int64)


# --------------------------------------------------------------------------------------
# Theorem 1: products of Bernoullis
# --------------------------------------------------------------------------------------
def _binom_pmf(j: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """``b(j; n, p)`` via log space (0 for ``j > n``), robust for extreme ``p``."""
    j, n = np.broadcast_arrays(j, n)
    valid = j <= n
    jj, nn = np.where(valid, j, 0), np.where(valid, n, 0)
    log_pmf = (
        special.gammaln(nn + 1) - special.gammaln(jj + 1) - special.gammaln(nn - jj + 1)
        + special.xlogy(jj, p) + special.xlog1py(nn - jj, -p)
    )
    return np.where(valid, np.exp(log_pmf), 0.0)


def _binomial_pmfs(p: float, q: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(n + 1)
    return _binom_pmf(j, np.array(n), p), _binom_pmf(j, np.array(n), q)


def bernoulli_product_tv(
    p: float, q: float, n: int | Sequence[int] | np.ndarray
) -> Any:
    """Exact total variation between ``Bernoulli(p)^n`` and ``Bernoulli(q)^n``.

    The number of ones is a sufficient statistic, so the distance equals that between
    ``Binomial(n, p)`` and ``Binomial(n, q)``:
    ``(1/2) sum_j |b(j; n, p) - b(j; n, q)|``.
    It is the best advantage of any test that sees ``n`` samples (Theorem 1, Chapter 4).

    Parameters
    ----------
    p, q : float
        Success probabilities in ``[0, 1]``.
    n : int or array_like of int
        Numbers of samples, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``n``, else an array of the shape of ``n``.
    """
    p = _check_probability("p", p)
    q = _check_probability("q", q)
    if np.ndim(n) == 0:
        n_arr = np.array([check_int("n", n, min_value=0)])
    else:
        n_arr = check_array("n", n, kind="i", nonnegative=True)
    flat = n_arr.reshape(-1)
    if flat.size == 0:
        return np.zeros(n_arr.shape)
    j = np.arange(int(flat.max()) + 1)[:, None]
    diff = np.abs(_binom_pmf(j, flat, p) - _binom_pmf(j, flat, q))
    tv = np.clip(0.5 * diff.sum(axis=0), 0.0, 1.0)
    return float(tv[0]) if np.ndim(n) == 0 else tv.reshape(n_arr.shape)


def theorem1_bound(delta: float, n: int | np.ndarray) -> Any:
    """The bound ``n * delta`` of Theorem 1 on the advantage of any ``n``-sample test.

    Parameters
    ----------
    delta : float
        Total variation of one sample, in ``[0, 1]``.
    n : int or array_like of int
        Numbers of samples, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        ``n * delta`` (it may exceed 1, where the bound says nothing).
    """
    delta = _check_probability("delta", delta)
    if np.ndim(n) == 0:
        return float(check_int("n", n, min_value=0) * delta)
    return check_array("n", n, kind="i", nonnegative=True) * delta


def best_test(p: float, q: float, n: int) -> tuple[float, np.ndarray]:
    """The likelihood-ratio test of ``Bernoulli(p)^n`` against ``Bernoulli(q)^n``.

    The test answers "V" (the ``q`` sample) when the number of ones ``j`` has
    ``b(j; n, q) > b(j; n, p)``. Its advantage ``P_V[say V] - P_U[say V]`` is the
    largest of any test, and equals :func:`bernoulli_product_tv` (Theorem 1, Chapter 4).

    Parameters
    ----------
    p, q : float
        Success probabilities in ``[0, 1]``.
    n : int
        Number of samples, ``>= 0``.

    Returns
    -------
    advantage : float
        ``P_V[say V] - P_U[say V]``, computed from the test's acceptance region.
    accept : numpy.ndarray of bool
        Shape ``(n + 1,)``; ``accept[j]`` says whether ``j`` ones lead to "V".
    """
    p = _check_probability("p", p)
    q = _check_probability("q", q)
    n = check_int("n", n, min_value=0)
    pmf_p, pmf_q = _binomial_pmfs(p, q, n)
    accept = pmf_q > pmf_p
    return float(pmf_q[accept].sum() - pmf_p[accept].sum()), accept


def simulate_test_advantage(
    p: float, q: float, n: int, accept: np.ndarray, trials: int, seed: Seed
) -> tuple[float, float]:
    """Monte Carlo advantage of a count-based test, with its standard error.

    Draws ``trials`` samples of ``n`` Bernoulli(p) and ``trials`` of Bernoulli(q) (as
    their counts of ones), applies the test ``accept`` and returns the difference of the
    two rates of saying "V" (Theorem 1, Chapter 4).

    Parameters
    ----------
    p, q : float
        Success probabilities in ``[0, 1]``.
    n : int
        Samples per trial, ``>= 0``.
    accept : numpy.ndarray of bool
        Shape ``(n + 1,)``, as returned by :func:`best_test`.
    trials : int
        Trials per distribution, ``>= 2``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    advantage, standard_error : float
    """
    p = _check_probability("p", p)
    q = _check_probability("q", q)
    n = check_int("n", n, min_value=0)
    trials = check_int("trials", trials, min_value=2)
    accept = np.asarray(accept)
    if accept.dtype != bool or accept.shape != (n + 1,):
        raise ValueError(f"accept must be a boolean array of shape ({n + 1},)")
    rng = check_seed("seed", seed)
    say_v_under_u = accept[rng.binomial(n, p, trials)]
    say_v_under_v = accept[rng.binomial(n, q, trials)]
    a, b = say_v_under_v.mean(), say_v_under_u.mean()
    se = np.sqrt((a * (1 - a) + b * (1 - b)) / trials)
    return float(a - b), float(se)


def hellinger_squared(
    p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray
) -> float:
    """Squared Hellinger distance ``H^2 = (1/2) sum (sqrt(p) - sqrt(q))^2``.

    Equal to ``1 - rho`` with ``rho = sum sqrt(p q)`` the Bhattacharyya coefficient,
    which multiplies over independent coordinates: ``rho(U^n, V^n) = rho^n``. Always
    ``delta^2 / 2 <= H^2 <= delta`` with ``delta`` the total variation (Chapter 4, the
    criterion for Theorem 1 to be sharp).

    Parameters
    ----------
    p, q : array_like
        Probability vectors of the same length (non-negative, summing to 1).

    Returns
    -------
    float
        ``H^2`` in ``[0, 1]``: 0 for equal laws, 1 for disjoint supports.

    Raises
    ------
    ValueError
        If either vector is not a probability vector or their shapes differ.
    """
    p, q = _check_pair(p, q)
    return float(min(1.0, 0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))


def hellinger_sample_bounds(h2: float, advantage: float) -> tuple[float, int]:
    """Le Cam's bracket on the samples some test needs to reach ``advantage``.

    With ``rho = 1 - H^2``, every pair of laws has ``1 - rho <= TV <= sqrt(1 - rho^2)``,
    and for ``n``-fold products ``rho`` becomes ``rho^n``. So the smallest ``n`` with
    ``TV(U^n, V^n) >= a`` lies between ``log(1 / (1 - a^2)) / (2 log(1 / rho))`` and
    ``ceil(log(1 / (1 - a)) / log(1 / rho))``, both of order ``1 / H^2`` (Chapter 4).

    Parameters
    ----------
    h2 : float
        Squared Hellinger distance of one sample, in ``(0, 1]``.
    advantage : float
        Target advantage ``a`` in ``(0, 1)``.

    Returns
    -------
    lower : float
        No test with fewer samples reaches ``a``.
    upper : int
        The likelihood-ratio test reaches ``a`` with this many samples.
    """
    h2 = check_real("h2", h2, low=0.0, high=1.0, low_open=True)
    advantage = check_target("advantage", advantage)
    if h2 == 1.0:  # disjoint supports: one sample tells the laws apart
        return 0.0, 1
    info = -np.log1p(-h2)  # log(1 / rho)
    lower = float(-np.log1p(-advantage**2) / (2.0 * info))
    upper = int(np.ceil(-np.log1p(-advantage) / info))
    return lower, max(upper, 1)


def samples_to_distinguish(p: float, q: float, advantage: float) -> int:
    """Smallest ``n`` at which some test tells ``Bernoulli(p)`` from ``Bernoulli(q)``.

    Smallest with the given advantage. The total variation of ``n``-fold products never
    decreases with ``n``, so a doubling search followed by bisection on
    :func:`bernoulli_product_tv` is exact. Theorem 1 only says
    ``n >= advantage / delta`` (Chapter 4).

    Parameters
    ----------
    p, q : float
        Success probabilities in ``[0, 1]`` with ``p != q``.
    advantage : float
        Target advantage in ``(0, 1)``.

    Returns
    -------
    int
        The smallest ``n`` with ``TV(Bern(p)^n, Bern(q)^n) >= advantage``.

    Raises
    ------
    ValueError
        If ``p == q`` (no ``n`` suffices) or ``advantage`` is outside ``(0, 1)``, or no
        ``n`` below ``2**24`` reaches the target.
    """
    p = _check_probability("p", p)
    q = _check_probability("q", q)
    if p == q:
        raise ValueError("q must differ from p (identical laws cannot be told apart)")
    advantage = check_target("advantage", advantage)

    def reaches(n: int) -> bool:
        return bernoulli_product_tv(p, q, n) >= advantage

    hi = 1
    while not reaches(hi):
        hi *= 2
        if hi > 2**24:
            raise ValueError(f"advantage {advantage} needs more than 2**24 samples")
    return first_reaching(reaches, hi // 2, hi)  # tv(hi // 2) < advantage, or 0


# --------------------------------------------------------------------------------------
# two-sample tests used to show that T(D) looks like a sample of V^N
# --------------------------------------------------------------------------------------
def projected_ks_test(
    x: np.ndarray, y: np.ndarray, direction: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test on the projections onto ``direction``.

    For isotropic Gaussians that differ in their means, the projection on the mean
    difference carries all the information (Chapter 4, Theorem 2 demonstration).

    Parameters
    ----------
    x, y : numpy.ndarray
        Samples of shapes ``(m, d)`` and ``(n, d)``.
    direction : array_like
        Shape ``(d,)``, non-zero.

    Returns
    -------
    statistic, pvalue : float
    """
    x = check_array("x", x, ndim=2, kind="f")
    y = check_array("y", y, ndim=2, kind="f")
    e = _check_mean("direction", direction)
    if x.shape[1] != e.size or y.shape[1] != e.size:
        raise ValueError(
            f"x and y must have {e.size} columns, got {x.shape}, {y.shape}"
        )
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("x and y must each hold at least one sample")
    norm = np.linalg.norm(e)
    if norm == 0:
        raise ValueError("direction must be non-zero")
    res = stats.ks_2samp(x @ e / norm, y @ e / norm)
    return float(res.statistic), float(res.pvalue)


def energy_test(
    x: np.ndarray, y: np.ndarray, permutations: int, seed: Seed
) -> tuple[float, float]:
    """Permutation test with the multivariate energy distance (Székely and Rizzo).

    The statistic is ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` with empirical means over
    all pairs (including the zero diagonal); in the population it vanishes only when the
    two laws are equal.
    The p-value is ``(1 + #{permuted >= observed}) / (1 + permutations)`` (Chapter 4).

    Parameters
    ----------
    x, y : numpy.ndarray
        Samples of shapes ``(m, d)`` and ``(n, d)``, ``m, n >= 1``.
    permutations : int
        Number of random relabellings, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    statistic, pvalue : float
    """
    x = check_array("x", x, ndim=2, kind="f").astype(float)
    y = check_array("y", y, ndim=2, kind="f").astype(float)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y must have {x.shape[1]} columns like x, got {y.shape[1]}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("x and y must each hold at least one sample")
    permutations = check_int("permutations", permutations, min_value=1)
    rng = check_seed("seed", seed)
    z = np.concatenate([x, y])
    sq = (z * z).sum(axis=1)
    dist = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0, None))
    m, total = x.shape[0], z.shape[0]
    labels = np.zeros((permutations + 1, total))
    labels[:, :m] = 1.0
    labels[1:] = rng.permuted(labels[1:], axis=1)
    within_a = labels @ dist  # row r: sums of distances from each point to group A
    s_aa = (within_a * labels).sum(axis=1)
    s_ab = (within_a * (1.0 - labels)).sum(axis=1)
    s_bb = dist.sum() - s_aa - 2.0 * s_ab
    n = total - m
    energy = 2.0 * s_ab / (m * n) - s_aa / m**2 - s_bb / n**2
    observed = energy[0]
    pvalue = (1 + np.sum(energy[1:] >= observed - 1e-12)) / (1 + permutations)
    return float(observed), float(pvalue)
