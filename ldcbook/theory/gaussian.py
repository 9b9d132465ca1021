"""Isotropic Gaussian classification: Claim 1, Lemmas 5-7 and Definition 3.

Section 6 of the paper and Chapter 5 of the book. There are ``k`` classes with equal
priors; class ``i`` is ``N(mu_i, I)`` in ``R^d``. A test input ``x0`` has the Bayes
label of the nearest centre (Claim 1). With ``d1 < d2`` the distances from ``x0`` to
the nearest and second-nearest centres and ``s = d2 - d1``, the paper's key quantity is

``Delta = TV(N(mu, I), N(mu', I))`` at ``|mu - mu'| = s``, which is
``2 Phi(s / 2) - 1 = erf(s / (2 sqrt 2))`` (Lemma 5, corrected: the paper prints
``erf(s / sqrt 2)``, the value at distance ``2 s``).

The module also holds the learners the book tests (nearest class mean, per-class
coordinate-wise median, one nearest neighbour), the Lemma 6/7 construction of the
moved centre, the Lemma 7 coupling attack, and the one-dimensional per-class-median
experiment that exposes the Delta-scaling tension.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import integrate, special, stats

from ldcbook._checks import check_array, check_int, check_real, check_seed
from ldcbook.theory._common import (
    binomial_se,
    check_target,
    first_reaching,
    monte_carlo,
)
from ldcbook.theory.discrimination import couple_gaussian

Seed = int | np.random.Generator
Learner = Literal["nearest_mean", "median", "one_nn"]
LEARNERS: tuple[str, ...] = ("nearest_mean", "median", "one_nn")
"""Names accepted by :func:`fit_predict`."""
TESTS: tuple[str, ...] = ("likelihood_ratio",) + LEARNERS
"""Tests accepted by :func:`lemma6_test_advantage`: the best test, or a learner's."""

__all__ = [
    "LEARNERS",
    "TESTS",
    "bayes_label",
    "centre_distances",
    "clean_lower_bound",
    "fit_predict",
    "gaussian_product_tv",
    "gaussian_samples_to_distinguish",
    "hellinger_squared",
    "label_probabilities",
    "lemma6_centres",
    "lemma6_test_advantage",
    "lemma7_attack",
    "median_accuracy_1d",
    "median_centres",
    "median_flip_cost",
    "median_sample_complexity",
    "median_sample_complexity_asymptotic",
    "mixture_product_tv",
    "mixture_tv",
    "nearest_mean_centres",
    "nearest_two",
    "one_nn_predict",
    "paper_delta",
    "predict_nearest",
    "sample_mixture",
    "order_sharp_lower_bound",
    "tv_by_integration",
    "tv_distance",
]


# --------------------------------------------------------------------------------------
# input checks local to this module
# --------------------------------------------------------------------------------------
def _check_distance(name: str, value: Any) -> tuple[np.ndarray, bool]:
    """Return ``value`` as a float array of non-negative finite distances."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if np.ndim(value) == 0:
        return np.array(check_real(name, value, low=0.0)), True
    arr = check_array(name, value, kind="f").astype(float)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative, found {arr.min()}")
    return arr, False


def _out(arr: np.ndarray, scalar: bool) -> Any:
    return float(arr) if scalar else arr


def _check_centres(mu: Any) -> np.ndarray:
    mu = check_array("mu", mu, ndim=2, kind="f").astype(float)
    if mu.shape[0] < 2 or mu.shape[1] < 1:
        raise ValueError(f"mu must have shape (k, d), k >= 2, d >= 1; got {mu.shape}")
    return mu


def _check_centre_pair(mu: Any, mu_prime: Any) -> tuple[np.ndarray, np.ndarray]:
    mu = _check_centres(mu)
    mu_prime = check_array("mu_prime", mu_prime, ndim=2, kind="f").astype(float)
    if mu_prime.shape != mu.shape:
        raise ValueError(f"mu_prime must have shape {mu.shape}, got {mu_prime.shape}")
    return mu, mu_prime


def _check_point(name: str, value: Any, d: int) -> np.ndarray:
    arr = check_array(name, value, kind="f").astype(float)
    if arr.ndim == 0 or arr.shape[-1] != d:
        raise ValueError(f"{name} must have shape (..., {d}), got {arr.shape}")
    return arr


def _check_training_set(X: Any, y: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    X = check_array("X", X, kind="f").astype(float)
    y = check_array("y", y, kind="i")
    if X.ndim < 2 or y.shape != X.shape[:-1]:
        raise ValueError(
            f"X must have shape (..., N, d) and y (..., N); got {X.shape}, {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"y must hold labels in 0..{k - 1}")
    return X, y


# --------------------------------------------------------------------------------------
# Lemma 5: the total variation Delta
# --------------------------------------------------------------------------------------
def tv_distance(s: float | Sequence[float] | np.ndarray) -> Any:
    """``Delta``: total variation of two isotropic Gaussians with means ``s`` apart.

    The Gaussians are ``N(mu, I)`` and ``N(mu', I)`` with ``|mu - mu'| = s``. Only the
    projection on ``mu' - mu`` differs, so ``Delta = P[|Z| <= s / 2] = 2 Phi(s / 2) - 1
    = erf(s / (2 sqrt 2))`` in any dimension (Lemma 5, corrected; Chapter 5).

    Parameters
    ----------
    s : float or array_like
        Distances between the means, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        ``Delta`` in ``[0, 1)``, of the shape of ``s``.

    Raises
    ------
    ValueError
        If some ``s`` is negative or not finite.
    """
    arr, scalar = _check_distance("s", s)
    return _out(special.erf(arr / (2.0 * np.sqrt(2.0))), scalar)


def paper_delta(s: float | Sequence[float] | np.ndarray) -> Any:
    """The formula the paper prints for ``Delta``: ``erf(s / sqrt 2)`` (Lemma 5).

    It equals :func:`tv_distance` at ``2 s``: the total variation at twice the distance
    (Chapter 5 shows both against numerical integration).

    Parameters
    ----------
    s : float or array_like
        Distances between the means, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
    """
    arr, scalar = _check_distance("s", s)
    return _out(special.erf(arr / np.sqrt(2.0)), scalar)


def tv_by_integration(
    mu: Sequence[float] | np.ndarray,
    mu_prime: Sequence[float] | np.ndarray,
    *,
    method: Literal["1d", "2d"] = "1d",
) -> float:
    """Total variation ``(1/2) integral |p - q|`` of two Gaussians, by quadrature.

    ``method="1d"`` integrates the standard normal densities along the mean difference
    (the other coordinates integrate to 1 in both); ``method="2d"`` integrates the two
    bivariate densities over the plane (``d = 2`` only). Used to check Lemma 5
    (Chapter 5) independently of the closed form.

    Parameters
    ----------
    mu, mu_prime : array_like
        Means of shape ``(d,)``.
    method : {"1d", "2d"}
        Reduction to one dimension, or a double integral.

    Returns
    -------
    float
        The total variation, accurate to about ``1e-8``.
    """
    mu = check_array("mu", mu, ndim=1, kind="f").astype(float)
    mu_prime = check_array("mu_prime", mu_prime, ndim=1, kind="f").astype(float)
    if mu.shape != mu_prime.shape or mu.size == 0:
        raise ValueError(
            f"mu_prime must have the shape of mu {mu.shape}, got {mu_prime.shape}"
        )
    s = float(np.linalg.norm(mu_prime - mu))
    if method == "1d":
        def gap(t: float) -> float:
            return 0.5 * abs(stats.norm.pdf(t) - stats.norm.pdf(t - s))

        left = integrate.quad(gap, -np.inf, s / 2, epsabs=1e-12, limit=200)[0]
        right = integrate.quad(gap, s / 2, np.inf, epsabs=1e-12, limit=200)[0]
        return float(left + right)
    if method == "2d":
        if mu.size != 2:
            raise ValueError(f"method='2d' needs means in R^2, got d = {mu.size}")

        def gap2(y: float, x: float) -> float:
            p = np.exp(-0.5 * ((x - mu[0]) ** 2 + (y - mu[1]) ** 2))
            q = np.exp(-0.5 * ((x - mu_prime[0]) ** 2 + (y - mu_prime[1]) ** 2))
            return 0.5 * abs(p - q) / (2.0 * np.pi)

        lo = np.minimum(mu, mu_prime) - 9.0
        hi = np.maximum(mu, mu_prime) + 9.0
        value = integrate.dblquad(gap2, lo[0], hi[0], lo[1], hi[1], epsabs=1e-10)[0]
        return float(value)
    raise ValueError(f"method must be '1d' or '2d', got {method!r}")


def hellinger_squared(s: float | Sequence[float] | np.ndarray) -> Any:
    """Squared Hellinger distance of two isotropic Gaussians with means ``s`` apart.

    ``H^2 = 1 - exp(-s^2 / 8)`` in any dimension: about ``s^2 / 8``, hence about
    ``pi Delta^2 / 4``, for small ``s``. So ``H^2`` is of the order of ``Delta^2``, not
    of ``Delta``: the case in which Theorem 1 is loose (Chapters 4 and 5).

    Parameters
    ----------
    s : float or array_like
        Distances between the means, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        ``H^2`` in ``[0, 1)``, of the shape of ``s``.
    """
    arr, scalar = _check_distance("s", s)
    return _out(-np.expm1(-(arr**2) / 8.0), scalar)


def gaussian_product_tv(s: float, n: int | Sequence[int] | np.ndarray) -> Any:
    """Exact total variation of ``n``-fold products of ``N(mu, I)`` and ``N(mu', I)``.

    The product is an isotropic Gaussian in ``R^{nd}`` whose means are ``s sqrt(n)``
    apart, so the distance is ``tv_distance(s * sqrt(n))``. It grows like ``sqrt(n)``,
    not like the ``n * Delta`` of Theorem 1 (Chapter 5).

    Parameters
    ----------
    s : float
        Distance between the means, ``>= 0``.
    n : int or array_like of int
        Numbers of samples, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
    """
    s = check_real("s", s, low=0.0)
    if np.ndim(n) == 0:
        return tv_distance(s * np.sqrt(check_int("n", n, min_value=0)))
    n_arr = check_array("n", n, kind="i", nonnegative=True)
    return tv_distance(s * np.sqrt(n_arr))


def gaussian_samples_to_distinguish(s: float, advantage: float) -> int:
    """Smallest ``n`` at which some test tells ``N(mu, I)`` from ``N(mu', I)``.

    ``tv_distance(s sqrt(n)) >= a`` exactly when
    ``n >= (2 Phi^{-1}((1 + a) / 2) / s)^2``: order ``1 / s^2``, where Theorem 1 gives
    only ``n >= a / Delta``, order ``1 / s`` (Chapter 5).

    Parameters
    ----------
    s : float
        Distance between the means, ``> 0``.
    advantage : float
        Target advantage in ``(0, 1)``.

    Returns
    -------
    int
    """
    s = check_real("s", s, low=0.0, low_open=True)
    advantage = check_target("advantage", advantage)
    n = int(np.ceil((2.0 * special.ndtri((1.0 + advantage) / 2.0) / s) ** 2))
    # guard against rounding at the boundary
    while n > 1 and tv_distance(s * np.sqrt(n - 1)) >= advantage:
        n -= 1
    while tv_distance(s * np.sqrt(n)) < advantage:
        n += 1
    return n


# --------------------------------------------------------------------------------------
# Claim 1 and the geometry of Lemmas 6 and 7
# --------------------------------------------------------------------------------------
def centre_distances(x0: Sequence[float] | np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Euclidean distances from ``x0`` (shape ``(..., d)``) to each centre (``(k, d)``).

    Returns
    -------
    numpy.ndarray
        Shape ``(..., k)`` (Chapter 5, Claim 1).
    """
    mu = _check_centres(mu)
    x0 = _check_point("x0", x0, mu.shape[1])
    return np.linalg.norm(x0[..., None, :] - mu, axis=-1)


def bayes_label(x0: Sequence[float] | np.ndarray, mu: np.ndarray) -> Any:
    """Bayes-optimal label at ``x0``: the index of the nearest centre (Claim 1).

    With equal priors the posterior of class ``i`` is proportional to
    ``exp(-|x0 - mu_i|^2 / 2)``; ties go to the smaller index (Chapter 5).

    Parameters
    ----------
    x0 : array_like
        Test input(s), shape ``(d,)`` or ``(..., d)``.
    mu : numpy.ndarray
        Centres, shape ``(k, d)``.

    Returns
    -------
    int or numpy.ndarray of int
    """
    dist = centre_distances(x0, mu)
    label = np.argmin(dist, axis=-1)
    return int(label) if label.ndim == 0 else label


def nearest_two(
    x0: Sequence[float] | np.ndarray, mu: np.ndarray
) -> tuple[int, int, float, float]:
    """Nearest and second-nearest centres to ``x0`` and their distances ``d1 < d2``.

    These are the paper's classes 1 and 2 of Section 6 (Chapter 5). Lemma 6 needs
    ``d1 > 0``, ``d2 > d1`` and a unique second-nearest centre.

    Parameters
    ----------
    x0 : array_like
        Shape ``(d,)``.
    mu : numpy.ndarray
        Shape ``(k, d)``.

    Returns
    -------
    y0, y1 : int
        Indices of the nearest and second-nearest centres.
    d1, d2 : float
        Their distances to ``x0``.

    Raises
    ------
    ValueError
        If ``x0`` is a centre, or if the nearest or second-nearest centre is tied.
    """
    mu = _check_centres(mu)
    x0 = _check_point("x0", x0, mu.shape[1])
    if x0.ndim != 1:
        raise ValueError(f"x0 must have shape ({mu.shape[1]},), got {x0.shape}")
    dist = centre_distances(x0, mu)
    order = np.argsort(dist, kind="stable")
    d = dist[order]
    if d[0] <= 0:
        raise ValueError("x0 must not coincide with a centre (Lemma 6 needs d1 > 0)")
    if np.isclose(d[1], d[0], rtol=0, atol=1e-12):
        raise ValueError("mu has two nearest centres at one distance (need d2 > d1)")
    if d.size > 2 and np.isclose(d[2], d[1], rtol=0, atol=1e-12):
        raise ValueError("mu has a tie for the second-nearest centre")
    return int(order[0]), int(order[1]), float(d[0]), float(d[1])


def lemma6_centres(
    mu: np.ndarray, x0: Sequence[float] | np.ndarray, eps: float
) -> np.ndarray:
    """Centres ``mu'`` of the poisoned distribution of Lemmas 6 and 7.

    The second-nearest centre ``mu_2`` moves along the segment towards ``x0`` until its
    distance is ``d1 - eps``; every other centre stays (``mu'_1 = mu_1``). Class 2 then
    becomes the Bayes label at ``x0``, and ``|mu'_2 - mu_2| = s + eps`` with
    ``s = d2 - d1``; as ``eps -> 0`` the two mixtures are ``Delta(s) / k`` apart
    (Chapter 5).

    Parameters
    ----------
    mu : numpy.ndarray
        Centres, shape ``(k, d)``, with the conditions of :func:`nearest_two`.
    x0 : array_like
        Test input, shape ``(d,)``.
    eps : float
        Margin in ``(0, d1]``.

    Returns
    -------
    numpy.ndarray
        ``mu'``, shape ``(k, d)``.
    """
    mu = _check_centres(mu)
    x0 = _check_point("x0", x0, mu.shape[1])
    _, y1, d1, d2 = nearest_two(x0, mu)
    eps = check_real("eps", eps, low=0.0, high=d1, low_open=True)
    mu_prime = mu.copy()
    mu_prime[y1] = x0 + (d1 - eps) / d2 * (mu[y1] - x0)
    return mu_prime


def mixture_tv(mu: np.ndarray, mu_prime: np.ndarray) -> float:
    """Total variation between two labelled mixtures with equal priors.

    A sample carries its label, so the two joint laws differ only inside the classes
    whose centre moved: ``TV = (1/k) sum_i Delta(|mu_i - mu'_i|)`` (Lemmas 6-7,
    Chapter 5).

    Parameters
    ----------
    mu, mu_prime : numpy.ndarray
        Centres, shape ``(k, d)`` each.

    Returns
    -------
    float
    """
    mu, mu_prime = _check_centre_pair(mu, mu_prime)
    shift = np.linalg.norm(mu_prime - mu, axis=1)
    return float(tv_distance(shift).mean())


def clean_lower_bound(
    k: int, tau: float, s: float | Sequence[float] | np.ndarray
) -> Any:
    """Corrected Lemma 6: sample complexity at least ``(k tau - 1) / Delta``.

    An unbiased learner right with probability ``tau`` needs that many samples.

    Theorem 1 applied to the clean mixture and the mixture of :func:`lemma6_centres`
    (total variation ``Delta / k`` as ``eps -> 0``): the test "the learner predicts the
    clean Bayes label" has advantage at least ``tau - 1/k`` (Chapter 5).

    Parameters
    ----------
    k : int
        Number of classes, ``>= 2``.
    tau : float
        Target accuracy in ``(1/k, 1)``.
    s : float or array_like
        ``d2 - d1 >= 0``; at ``s = 0`` the bound is infinite.

    Returns
    -------
    float or numpy.ndarray
    """
    k = check_int("k", k, min_value=2)
    tau = check_target("tau", tau, low=1.0 / k)
    arr, scalar = _check_distance("s", s)
    delta = tv_distance(arr)
    with np.errstate(divide="ignore"):
        bound = np.where(delta > 0, (k * tau - 1.0) / np.where(delta > 0, delta, 1.0),
                         np.inf)
    return _out(bound, scalar)


def mixture_product_tv(k: int, shift: float, n: int) -> float:
    """Exact total variation between ``n`` labelled samples of two mixtures.

    The mixtures have ``k`` equally likely classes and differ only in one class, whose
    centre moves by ``shift``. Given the labels (equally distributed under both), only
    the ``n_2 ~ Binomial(n, 1/k)`` samples of that class differ, so the distance is
    ``E[Delta(shift sqrt(n_2))]`` (Lemma 6 made exact; Chapter 5).

    Parameters
    ----------
    k : int
        Number of classes, ``>= 2``.
    shift : float
        Distance moved by the one centre, ``>= 0``.
    n : int
        Number of samples, ``>= 0``.

    Returns
    -------
    float
    """
    k = check_int("k", k, min_value=2)
    shift = check_real("shift", shift, low=0.0)
    n = check_int("n", n, min_value=0)
    j = np.arange(n + 1)
    weights = stats.binom.pmf(j, n, 1.0 / k)
    return float(np.sum(weights * tv_distance(shift * np.sqrt(j))))


def order_sharp_lower_bound(
    k: int, tau: float, s: float | Sequence[float] | np.ndarray
) -> Any:
    """Sample complexity at least ``k (Phi^{-1}(tau) / s)^2``, of order ``k / Delta^2``.

    A learner right at ``x0`` with probability ``tau`` both when class 2 sits at
    distance ``d1 + s`` and when it sits at ``d1 - s`` tells the two mixtures apart with
    advantage ``2 tau - 1``. Their ``n``-sample laws are
    ``E[Delta(2 s sqrt(n_2))] <= Delta(2 s sqrt(n / k))`` apart (Jensen: ``x ->
    Delta(c sqrt(x))`` is concave), so ``n >= k (Phi^{-1}(tau) / s)^2``. The order
    ``k / Delta^2`` is the right one as ``s -> 0`` (the per-class median attains it),
    where :func:`clean_lower_bound` has order ``k / Delta`` only; for larger ``s`` (from
    about ``s = 0.97`` at ``k = 4``, ``tau = 0.9``) this bound is the weaker of the two
    (Chapter 5). The two also assume different things of the learner.

    Parameters
    ----------
    k : int
        Number of classes, ``>= 2``.
    tau : float
        Target accuracy in ``(1/2, 1)``.
    s : float or array_like
        ``d2 - d1 > 0``.

    Returns
    -------
    float or numpy.ndarray
    """
    k = check_int("k", k, min_value=2)
    tau = check_target("tau", tau, low=0.5)
    arr, scalar = _check_distance("s", s)
    if arr.size and arr.min() <= 0:
        raise ValueError("s must be positive")
    return _out(k * (special.ndtri(tau) / arr) ** 2, scalar)


# --------------------------------------------------------------------------------------
# data and learners
# --------------------------------------------------------------------------------------
def sample_mixture(
    mu: np.ndarray, N: int, seed: Seed, *, reps: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``N`` labelled samples from the equal-prior mixture of ``N(mu_i, I)``.

    Parameters
    ----------
    mu : numpy.ndarray
        Centres, shape ``(k, d)``.
    N : int
        Samples per training set, ``>= 1``.
    seed : int or numpy.random.Generator
        Source of randomness.
    reps : int, optional
        Number of independent training sets; adds a leading axis.

    Returns
    -------
    X : numpy.ndarray
        Shape ``(N, d)`` or ``(reps, N, d)``.
    y : numpy.ndarray of int
        Shape ``(N,)`` or ``(reps, N)``.
    """
    mu = _check_centres(mu)
    N = check_int("N", N, min_value=1)
    rng = check_seed("seed", seed)
    shape = (N,) if reps is None else (check_int("reps", reps, min_value=1), N)
    y = rng.integers(mu.shape[0], size=shape)
    X = mu[y] + rng.standard_normal(shape + (mu.shape[1],))
    return X, y


def nearest_mean_centres(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per-class sample means (NaN for a class with no sample), batched.

    Parameters
    ----------
    X : numpy.ndarray
        Shape ``(..., N, d)``.
    y : numpy.ndarray of int
        Shape ``(..., N)``, labels in ``0..k-1``.
    k : int
        Number of classes, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., k, d)`` (Chapter 5, the nearest-class-mean learner).
    """
    k = check_int("k", k, min_value=2)
    X, y = _check_training_set(X, y, k)
    onehot = (y[..., None] == np.arange(k)).astype(float)
    counts = onehot.sum(axis=-2)
    sums = np.einsum("...nk,...nd->...kd", onehot, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[..., None]


def median_centres(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per-class coordinate-wise medians (NaN for a class with no sample), batched.

    The median of an even number of values is the mean of the two middle ones.

    Parameters
    ----------
    X : numpy.ndarray
        Shape ``(..., N, d)``.
    y : numpy.ndarray of int
        Shape ``(..., N)``, labels in ``0..k-1``.
    k : int
        Number of classes, ``>= 2``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., k, d)`` (Chapter 5, the per-class-median learner).
    """
    k = check_int("k", k, min_value=2)
    X, y = _check_training_set(X, y, k)
    out = np.full(X.shape[:-2] + (k, X.shape[-1]), np.nan)
    for c in range(k):  # a loop over classes, not over draws
        member = (y == c)[..., None]
        values = np.sort(np.where(member, X, np.inf), axis=-2)
        count = member.sum(axis=-2)  # (..., 1)
        lo = np.clip((count - 1) // 2, 0, None)
        hi = np.clip(count // 2, 0, X.shape[-2] - 1)
        lo = np.broadcast_to(lo, count.shape[:-1] + (X.shape[-1],))[..., None, :]
        hi = np.broadcast_to(hi, count.shape[:-1] + (X.shape[-1],))[..., None, :]
        med = 0.5 * (np.take_along_axis(values, lo, axis=-2)
                     + np.take_along_axis(values, hi, axis=-2))[..., 0, :]
        out[..., c, :] = np.where(count > 0, med, np.nan)
    return out


def predict_nearest(
    centres: np.ndarray, x0: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Label of the estimated centre nearest to ``x0``; NaN centres are never chosen.

    Ties go to the smaller label. If every centre is NaN the answer is 0.

    Parameters
    ----------
    centres : numpy.ndarray
        Shape ``(..., k, d)``.
    x0 : array_like
        Shape ``(d,)``.

    Returns
    -------
    numpy.ndarray of int
        Shape ``centres.shape[:-2]`` (Chapter 5).
    """
    centres = check_array("centres", centres, kind="f", finite=False)
    if centres.ndim < 2:
        raise ValueError(f"centres must have shape (..., k, d), got {centres.shape}")
    x0 = _check_point("x0", x0, centres.shape[-1])
    dist = np.linalg.norm(centres - x0, axis=-1)
    return np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=-1)


def one_nn_predict(
    X: np.ndarray, y: np.ndarray, x0: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Label of the training point nearest to ``x0`` (ties: the earlier point), batched.

    Parameters
    ----------
    X : numpy.ndarray
        Shape ``(..., N, d)``.
    y : numpy.ndarray of int
        Shape ``(..., N)``.
    x0 : array_like
        Shape ``(d,)``.

    Returns
    -------
    numpy.ndarray of int
        Shape ``X.shape[:-2]`` (Chapter 5, Definition 3).
    """
    X = check_array("X", X, kind="f")
    y = check_array("y", y, kind="i")
    if X.ndim < 2 or y.shape != X.shape[:-1] or X.shape[-2] == 0:
        raise ValueError(
            f"X must be (..., N, d), N >= 1, and y (..., N); got {X.shape}, {y.shape}"
        )
    x0 = _check_point("x0", x0, X.shape[-1])
    nearest = np.argmin(np.linalg.norm(X - x0, axis=-1), axis=-1)
    return np.take_along_axis(y, nearest[..., None], axis=-1)[..., 0]


def fit_predict(
    learner: Learner,
    X: np.ndarray,
    y: np.ndarray,
    k: int,
    x0: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Train ``learner`` on each training set and predict at ``x0`` (Chapter 5).

    Parameters
    ----------
    learner : {"nearest_mean", "median", "one_nn"}
        Nearest class mean, per-class coordinate-wise median then nearest centre, or one
        nearest neighbour.
    X, y : numpy.ndarray
        Training sets, shapes ``(..., N, d)`` and ``(..., N)``.
    k : int
        Number of classes.
    x0 : array_like
        Test input, shape ``(d,)``.

    Returns
    -------
    numpy.ndarray of int
        Predictions, shape ``X.shape[:-2]``.
    """
    if learner == "nearest_mean":
        return predict_nearest(nearest_mean_centres(X, y, k), x0)
    if learner == "median":
        return predict_nearest(median_centres(X, y, k), x0)
    if learner == "one_nn":
        check_int("k", k, min_value=2)
        return one_nn_predict(X, y, x0)
    raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")


def label_probabilities(
    learner: Learner,
    mu: np.ndarray,
    x0: Sequence[float] | np.ndarray,
    n: int,
    reps: int,
    seed: Seed,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo probability that ``learner`` on ``n`` samples predicts each label.

    Used to test Definition 3 ("unbiased, non-trivial") for common learners
    (Chapter 5): with ``n = 1`` every label has probability exactly ``1/k``.

    Parameters
    ----------
    learner : {"nearest_mean", "median", "one_nn"}
    mu : numpy.ndarray
        Centres, shape ``(k, d)``.
    x0 : array_like
        Test input, shape ``(d,)``.
    n : int
        Training-set size, ``>= 1``.
    reps : int
        Number of training sets, ``>= 2``.
    seed : int or numpy.random.Generator

    Returns
    -------
    probabilities, standard_errors : numpy.ndarray
        Shape ``(k,)`` each.
    """
    mu = _check_centres(mu)
    reps = check_int("reps", reps, min_value=2)
    X, y = sample_mixture(mu, n, seed, reps=reps)
    pred = fit_predict(learner, X, y, mu.shape[0], x0)
    probs = np.bincount(pred, minlength=mu.shape[0]) / reps
    return probs, binomial_se(probs, reps)


def lemma6_test_advantage(
    test: str,
    mu: np.ndarray,
    mu_prime: np.ndarray,
    x0: Sequence[float] | np.ndarray,
    n: int,
    trials: int,
    seed: Seed,
) -> tuple[float, float]:
    """Monte Carlo advantage of the test in the proof of Lemma 6, on drawn samples.

    The test sees ``n`` labelled samples, either from the clean mixture ``P`` (centres
    ``mu``) or from ``P'`` (centres ``mu_prime``, one class moved), and says "P" or
    "P'". For a learner of :data:`LEARNERS` it says "P" when the learner trained on the
    samples predicts the Bayes label of ``mu`` at ``x0``: the test of Lemma 6's proof.
    ``"likelihood_ratio"`` is the best test: with ``c`` the moved class,
    ``t = |mu'_c - mu_c|`` and ``e = (mu'_c - mu_c) / t``, it says "P" when
    ``sum over class-c samples of (<x - mu_c, e> - t / 2) <= 0``. The advantage
    ``P_P[say P] - P_P'[say P]`` is at most ``TV(P^n, P'^n)``
    (:func:`mixture_product_tv`), with equality for the likelihood-ratio test, and at
    most ``n * mixture_tv(mu, mu_prime)`` by Theorem 1 (Chapter 5).

    Parameters
    ----------
    test : {"likelihood_ratio", "nearest_mean", "median", "one_nn"}
        The test, or the learner whose prediction makes it.
    mu, mu_prime : numpy.ndarray
        Centres of ``P`` and ``P'``, shape ``(k, d)``; exactly one row differs.
    x0 : array_like
        Test input, shape ``(d,)``.
    n : int
        Samples per draw, ``>= 1``.
    trials : int
        Draws from each mixture, ``>= 2``.
    seed : int or numpy.random.Generator

    Returns
    -------
    advantage, standard_error : float
        Mean over trials of ``1[say P | P-sample] - 1[say P | P'-sample]`` (independent
        samples), and its standard error.
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    mu, mu_prime = _check_centre_pair(mu, mu_prime)
    moved = np.flatnonzero(np.any(mu != mu_prime, axis=1))
    if moved.size != 1:
        raise ValueError(
            f"mu_prime must move exactly one centre of mu, got {moved.size} moved"
        )
    k, d = mu.shape
    x0 = _check_point("x0", x0, d)
    if x0.ndim != 1:
        raise ValueError(f"x0 must have shape ({d},), got {x0.shape}")
    n = check_int("n", n, min_value=1)
    trials = check_int("trials", trials, min_value=2)
    rng = check_seed("seed", seed)
    y0, c = bayes_label(x0, mu), int(moved[0])
    shift = mu_prime[c] - mu[c]
    t = float(np.linalg.norm(shift))
    e = shift / t

    def say_p(X: np.ndarray, y: np.ndarray) -> np.ndarray:
        if test == "likelihood_ratio":
            z = (X - mu[c]) @ e - t / 2
            return np.where(y == c, z, 0.0).sum(axis=-1) <= 0
        return fit_predict(test, X, y, k, x0) == y0  # type: ignore[arg-type]

    def batch(size: int) -> list[np.ndarray]:
        X, y = sample_mixture(mu, n, rng, reps=size)
        Xp, yp = sample_mixture(mu_prime, n, rng, reps=size)
        return [say_p(X, y).astype(np.int64) - say_p(Xp, yp).astype(np.int64)]

    advantage, standard_error = monte_carlo(trials, 2 * n * d, batch)
    return advantage, standard_error


def lemma7_attack(
    X: np.ndarray, y: np.ndarray, mu: np.ndarray, mu_prime: np.ndarray, seed: Seed
) -> tuple[np.ndarray, np.ndarray]:
    """The coupling attack of Lemma 7: turn ``D ~ P^N`` into ``T(D) ~ P'^N``.

    Every sample of a class whose centre moved (``mu_i != mu'_i``) goes through the
    maximal coupling of ``N(mu_i, I)`` and ``N(mu'_i, I)``
    (:func:`~ldcbook.theory.discrimination.couple_gaussian`); labels never change. A
    sample of such a class is replaced with probability ``Delta(|mu_i - mu'_i|)``, so
    the expected number of replaced samples is ``N * mixture_tv(mu, mu')`` and the
    expected attack size twice that (Chapter 5).

    Parameters
    ----------
    X, y : numpy.ndarray
        Training sets, shapes ``(..., N, d)`` and ``(..., N)``.
    mu, mu_prime : numpy.ndarray
        Clean and poisoned centres, shape ``(k, d)`` each.
    seed : int or numpy.random.Generator

    Returns
    -------
    X_poisoned : numpy.ndarray
        Same shape as ``X``; the labels are ``y`` unchanged.
    attack_size : numpy.ndarray of int
        ``|T(D) ⊖ D|`` per training set: twice the replaced samples (replaced points
        never coincide with clean ones, with probability one).
    """
    mu, mu_prime = _check_centre_pair(mu, mu_prime)
    X, y = _check_training_set(X, y, mu.shape[0])
    if X.shape[-1] != mu.shape[1]:
        raise ValueError(f"X must have {mu.shape[1]} columns, got {X.shape[-1]}")
    rng = check_seed("seed", seed)
    out = X.copy()
    for c in np.flatnonzero(np.any(mu != mu_prime, axis=1)):  # loop over moved classes
        member = y == c
        out[member] = couple_gaussian(X[member], mu[c], mu_prime[c], rng)
    changed = np.any(out != X, axis=-1).sum(axis=-1)
    return out, 2 * np.asarray(changed, dtype=np.int64)


# --------------------------------------------------------------------------------------
# the Delta-scaling tension: a per-class-median learner in one dimension
# --------------------------------------------------------------------------------------
def _sample_medians(
    counts: np.ndarray, centre: float, rng: np.random.Generator
) -> np.ndarray:
    """Exact draws of the median of ``counts`` i.i.d. ``N(centre, 1)`` values (NaN: 0).

    The lower-middle order statistic of ``c`` uniforms is ``Beta(j, c - j + 1)`` with
    ``j = ceil(c / 2)``; given it equals ``u``, the next one is
    ``u + (1 - u) Beta(1, c - j)``.
    """
    c = np.maximum(counts, 1)
    j = (c + 1) // 2
    u_lo = rng.beta(j, c - j + 1)
    u_hi = u_lo + (1.0 - u_lo) * rng.beta(1, np.maximum(c - j, 1))
    z_lo, z_hi = special.ndtri(u_lo), special.ndtri(u_hi)
    med = np.where(c % 2 == 0, 0.5 * (z_lo + z_hi), z_lo)
    return np.where(counts > 0, centre + med, np.nan)


def median_accuracy_1d(
    n: int, k: int, s: float, reps: int, seed: Seed, *, d1: float = 1.0
) -> tuple[float, float]:
    """Accuracy at ``x0 = 0`` of the per-class-median learner in one dimension.

    Class 1 (the Bayes label) is centred at ``d1``, class 2 at ``d1 + s``, and classes
    ``3..k`` so far away that their medians never win (they only take their share of
    the ``n`` samples). Class sizes are multinomial; medians are drawn exactly from
    their order-statistic laws, so no sample is simulated. The learner is right when
    class 1 has data and its median is at least as close to ``x0`` as class 2's (ties go
    to class 1). Used for the Delta-scaling tension (Chapter 5).

    Parameters
    ----------
    n : int
        Training-set size, ``>= 1``.
    k : int
        Number of classes, ``>= 2``.
    s : float
        ``d2 - d1 > 0``.
    reps : int
        Monte Carlo training sets, ``>= 2``.
    seed : int or numpy.random.Generator
    d1 : float, keyword-only
        Distance of class 1 from ``x0``, ``> 0``.

    Returns
    -------
    accuracy, standard_error : float
    """
    n = check_int("n", n, min_value=1)
    k = check_int("k", k, min_value=2)
    s = check_real("s", s, low=0.0, low_open=True)
    reps = check_int("reps", reps, min_value=2)
    d1 = check_real("d1", d1, low=0.0, low_open=True)
    rng = check_seed("seed", seed)
    probs = [1.0 / k, 1.0 / k, max(0.0, 1.0 - 2.0 / k)]
    counts = rng.multinomial(n, probs, size=reps)
    m1 = _sample_medians(counts[:, 0], d1, rng)
    m2 = _sample_medians(counts[:, 1], d1 + s, rng)
    right = (counts[:, 0] > 0) & ((counts[:, 1] == 0) | (np.abs(m1) <= np.abs(m2)))
    acc = float(right.mean())
    return acc, float(binomial_se(acc, reps))


def median_sample_complexity_asymptotic(k: int, s: float, tau: float) -> float:
    """Large-``n`` sample complexity ``k pi (z_tau / s)^2`` of the 1-D per-class median.

    Each median is about ``N(mu_i, pi / (2 n_i))`` with ``n_i = n / k``, so the accuracy
    is about ``Phi(s sqrt(n / (k pi)))``. Since ``Delta ~ s / sqrt(2 pi)`` for small
    ``s``, this is ``k z_tau^2 / (2 Delta^2)``: order ``k / Delta^2`` (Chapter 5).

    Parameters
    ----------
    k : int
        Number of classes, ``>= 2``.
    s : float
        ``d2 - d1 > 0``.
    tau : float
        Target accuracy in ``(1/2, 1)``.

    Returns
    -------
    float
    """
    k = check_int("k", k, min_value=2)
    s = check_real("s", s, low=0.0, low_open=True)
    tau = check_target("tau", tau, low=0.5)
    return float(k * np.pi * (special.ndtri(tau) / s) ** 2)


def median_sample_complexity(
    k: int, s: float, tau: float, reps: int, seed: Seed, *, d1: float = 1.0
) -> int:
    """Smallest ``n`` at which :func:`median_accuracy_1d` reaches ``tau`` (Monte Carlo).

    A doubling search brackets the answer and a bisection narrows it; every accuracy is
    a fresh Monte Carlo estimate from ``reps`` training sets, so the answer carries
    Monte Carlo error (a few per cent for ``reps = 20_000``) (Chapter 5).

    Parameters
    ----------
    k : int
        Number of classes, ``>= 2``.
    s : float
        ``d2 - d1 > 0``.
    tau : float
        Target accuracy in ``(1/k, 1)``.
    reps : int
        Training sets per accuracy estimate, ``>= 2``.
    seed : int or numpy.random.Generator
    d1 : float, keyword-only
        Distance of class 1 from ``x0``.

    Returns
    -------
    int
    """
    k = check_int("k", k, min_value=2)
    s = check_real("s", s, low=0.0, low_open=True)
    tau = check_target("tau", tau, low=1.0 / k)
    reps = check_int("reps", reps, min_value=2)
    rng = check_seed("seed", seed)

    def reaches(n: int) -> bool:
        return median_accuracy_1d(n, k, s, reps, rng, d1=d1)[0] >= tau

    hi = 2
    while not reaches(hi):
        hi *= 2
        if hi > 2**40:
            raise ValueError(f"tau = {tau} is not reached by n <= 2**40")
    lo = hi // 2
    while lo > 1 and reaches(lo):
        hi, lo = lo, lo // 2
    return first_reaching(reaches, lo, hi)


def _median_range(values: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Medians of sorted ``values`` (``(..., n)``) after ``r`` insertions at -/+ inf."""
    n = values.shape[-1]
    pos = np.stack([(n + r - 1) // 2, (n + r) // 2])  # (2, len(r))
    hi = np.where(pos < n, values[..., np.minimum(pos, n - 1)], np.inf)
    lo = np.where(pos >= r, values[..., np.clip(pos - r, 0, n - 1)], -np.inf)
    return 0.5 * (lo[..., 0, :] + lo[..., 1, :]), 0.5 * (hi[..., 0, :] + hi[..., 1, :])


def median_flip_cost(a: np.ndarray, b: np.ndarray, x0: float = 0.0) -> np.ndarray:
    """Smallest attack that brings class ``b``'s median nearer to ``x0`` than ``a``'s.

    One-dimensional, batched over leading axes; the attack size counts insertions and
    removals in the two classes. After ``r`` changes to one class its median can be any
    value between the medians obtained by inserting ``r`` points at ``-inf`` and at
    ``+inf`` (removing a point moves the median no further than inserting one on the
    other side, and moving inserted points sweeps the interval continuously). So class
    ``a`` can be pushed to the farther end of its interval and class ``b`` to the point
    of its interval nearest ``x0``. Removing all of class ``a`` (``n_a`` removals) also
    works, since only the two classes are modelled. Ties keep ``a`` (the current
    prediction, with the smaller label). Used for the Delta-scaling tension
    (Chapter 5).

    Parameters
    ----------
    a, b : numpy.ndarray
        Clean samples of the two classes, shapes ``(..., n_a)`` and ``(..., n_b)`` with
        the same leading shape and ``n_a, n_b >= 1``.
    x0 : float
        The test input.

    Returns
    -------
    numpy.ndarray of int
        ``min(r_a + r_b)``, shape ``a.shape[:-1]``; 0 if ``b`` already wins.
    """
    a = check_array("a", a, kind="f").astype(float)
    b = check_array("b", b, kind="f").astype(float)
    x0 = check_real("x0", x0)
    if a.ndim == 0 or b.ndim == 0 or a.shape[:-1] != b.shape[:-1]:
        raise ValueError(
            f"a and b must share their leading shape, got {a.shape}, {b.shape}"
        )
    if a.shape[-1] == 0 or b.shape[-1] == 0:
        raise ValueError("a and b must each hold at least one sample")
    n_a, n_b = a.shape[-1], b.shape[-1]
    r_a, r_b = np.arange(n_a + 2), np.arange(n_b + 2)
    lo, hi = _median_range(np.sort(a - x0, axis=-1), r_a)
    dist_a = np.maximum(np.abs(lo), np.abs(hi))  # never decreases with r_a
    lo, hi = _median_range(np.sort(b - x0, axis=-1), r_b)
    dist_b = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))

    # for each r_b, the number of r_a with dist_a <= dist_b: the r_a that b needs
    values = np.concatenate([dist_a, dist_b], axis=-1)
    is_a = np.concatenate([np.ones(n_a + 2, bool), np.zeros(n_b + 2, bool)])
    order = np.argsort(values, axis=-1, kind="stable")  # ties: class-a entries first
    seen_a = np.cumsum(is_a[order], axis=-1)
    rank = np.argsort(order, axis=-1, kind="stable")
    need_a = np.take_along_axis(seen_a, rank[..., n_a + 2:], axis=-1)
    return np.minimum((r_b + need_a).min(axis=-1), n_a)
