"""Empirical null with its own uncertainty: calibration that claims no more than the controls give.

``fitNull`` (miglink.stats.calibration) gives the maximum-likelihood null (mu, sigma) and the
calibrated CI treats it as known. With 5-20 controls both are uncertain, and sigma's MLE often
sits on 0 while the data allow 0.1 or more (issue 15: "calibration becomes a pure shift").
Here the null is integrated over instead of plugged in.

Model (Schuemie et al. 2014, 2018): control i's log estimate y_i ~ N(mu, sigma^2 + s_i^2).
Prior: flat on mu, uniform on sigma in [0, SIGMA_MAX] (Gelman 2006's choice for a hierarchical
sd with a handful of groups; SIGMA_MAX = 2 on the log scale is a 7-fold systematic error, far
beyond any null we fit, so the bound is not informative). Given sigma the posterior of mu is
Gaussian (mean ``m``, variance ``V``: the inverse-variance mean and its variance), so only sigma
needs a grid (quadratic spacing, fine near 0 where the mass of a collapsed null lies).

A new estimate b with SE s of a true effect theta is then, before it is seen, a mixture over
the grid of N(theta + m_j, V_j + sigma_j^2 + s^2) (the posterior predictive; systematic error
the same at every true effect, as ``convertNullToErrorModel``). The calibrated p is its two-sided
tail at theta = 0, the calibrated CI the thetas whose central 1 - alpha range holds b, the
calibrated estimate the theta whose median is b. With the posterior a point mass at the MLE this
is exactly EmpiricalCalibration's calibrateP / calibrateConfidenceInterval; any spread can
only widen it (a mixture of normals, each at least as wide).

Why not the library's ``fitMcmcNull``: it calibrates only p (the median p over the chain, with a
credible interval of p), not CIs; its gamma(1e-4, 1e-4) prior on the precision is flat in
log sigma, improper as sigma -> 0 where the likelihood is flat (our degenerate case), so the
chain drifts there; and a 100 000-step Metropolis chain per group (and per left-out control)
costs seconds, where the grid is exact to quadrature and costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

SIGMA_MAX = 2.0
N_GRID = 401


@dataclass(frozen=True)
class NullPosterior:
    """Posterior of the empirical null on a sigma grid: weight, and mu's Gaussian given sigma."""

    sigma: np.ndarray
    weight: np.ndarray  # sums to 1
    mu_mean: np.ndarray
    mu_var: np.ndarray
    n_controls: int

    def summary(self) -> dict[str, float]:
        """Posterior mean and sd of mu; median and 97.5th percentile of sigma (calibration.json)."""
        mu = float(np.sum(self.weight * self.mu_mean))
        var = float(np.sum(self.weight * (self.mu_var + (self.mu_mean - mu) ** 2)))
        cum = np.cumsum(self.weight)
        return {
            "mu_posterior_mean": mu,
            "mu_posterior_sd": var**0.5,
            "sigma_posterior_median": float(self.sigma[np.searchsorted(cum, 0.5)]),
            "sigma_posterior_975": float(
                self.sigma[min(np.searchsorted(cum, 0.975), len(cum) - 1)]
            ),
        }


def sigma_grid(n: int = N_GRID, sigma_max: float = SIGMA_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Grid points of sigma (quadratic spacing) and their trapezoid quadrature weights."""
    sigma = sigma_max * np.linspace(0.0, 1.0, n) ** 2
    d = np.diff(sigma)
    dw = np.zeros(n)
    dw[:-1] += d / 2
    dw[1:] += d / 2
    return sigma, dw


def _terms(y: np.ndarray, s: np.ndarray, sigma: np.ndarray):
    """Per grid point (rows) and control (columns): inverse variances w and log variances."""
    v = sigma[:, None] ** 2 + s[None, :] ** 2
    return 1.0 / v, np.log(v)


def _log_marginal(sw, swy, swy2, slogv):
    """log p(sigma | controls) up to a constant, mu integrated out under its flat prior."""
    return -0.5 * slogv - 0.5 * np.log(sw) - 0.5 * (swy2 - swy**2 / sw)


def _normalise(logp: np.ndarray, dw: np.ndarray) -> np.ndarray:
    """Posterior weights over the grid (axis 0) from log densities and quadrature weights."""
    top = np.max(logp, axis=0, keepdims=True)
    p = np.exp(logp - top) * dw.reshape(-1, *([1] * (logp.ndim - 1)))
    return p / np.sum(p, axis=0, keepdims=True)


def fit_null_posterior(log_est, se) -> NullPosterior:
    """The posterior of (mu, sigma) on the controls (module docstring); inputs must be usable."""
    y = np.asarray(log_est, dtype=float).ravel()
    s = np.asarray(se, dtype=float).ravel()
    sigma, dw = sigma_grid()
    centre = float(np.median(y))  # centring keeps swy2 - swy^2/sw free of cancellation
    yc = y - centre
    w, logv = _terms(yc, s, sigma)
    sw, swy, swy2 = w.sum(1), (w * yc).sum(1), (w * yc**2).sum(1)
    weight = _normalise(_log_marginal(sw, swy, swy2, logv.sum(1)), dw)
    return NullPosterior(sigma, weight, centre + swy / sw, 1.0 / sw, int(len(y)))


def predictive_cdf(post: NullPosterior, x, se) -> np.ndarray:
    """P(B <= x) for an estimate with SE ``se`` of a true null effect, B ~ the predictive mixture."""
    x = np.atleast_1d(np.asarray(x, dtype=float))[:, None]
    s = np.atleast_1d(np.asarray(se, dtype=float))[:, None]
    sd = np.sqrt(post.mu_var + post.sigma**2 + s**2)
    return np.sum(post.weight * ndtr((x - post.mu_mean) / sd), axis=1)


def _predictive_sf(post: NullPosterior, x: np.ndarray, s: np.ndarray) -> np.ndarray:
    sd = np.sqrt(post.mu_var + post.sigma**2 + s[:, None] ** 2)
    return np.sum(post.weight * ndtr((post.mu_mean - x[:, None]) / sd), axis=1)


def predictive_quantile(post: NullPosterior, u: float, se) -> np.ndarray:
    """The ``u`` quantile of the predictive mixture for each SE (vectorised bisection)."""
    s = np.atleast_1d(np.asarray(se, dtype=float))
    spread = np.sqrt(np.max(post.mu_var + post.sigma**2) + s**2)
    lo = np.min(post.mu_mean) - 40 * spread
    hi = np.max(post.mu_mean) + 40 * spread
    for _ in range(100):
        mid = (lo + hi) / 2
        below = predictive_cdf(post, mid, s) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def calibrate_posterior(
    post: NullPosterior, log_est, se, ci_width: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated (p, CI low, CI high, point estimate); CI and estimate on the ratio scale."""
    y = np.atleast_1d(np.asarray(log_est, dtype=float))
    s = np.atleast_1d(np.asarray(se, dtype=float))
    y, s = np.broadcast_arrays(y, s)
    lower, upper = predictive_cdf(post, y, s), _predictive_sf(post, y, s)
    p = np.minimum(1.0, 2 * np.minimum(lower, upper))
    a = (1 - ci_width) / 2
    q_lo, q_mid, q_hi = (predictive_quantile(post, u, s) for u in (a, 0.5, 1 - a))
    return p, np.exp(y - q_hi), np.exp(y - q_lo), np.exp(y - q_mid)


def loo_coverage(log_est, se, ci_width: float) -> tuple[int, int]:
    """(controls covered, controls) when each control is calibrated on the null of the others.

    Control i is covered when its calibrated CI holds 1, i.e. its log estimate lies in the
    central ``ci_width`` range of the predictive of the other controls' posterior. The sums over
    controls are downdated, so all n fits cost one (a phenome background has thousands).
    """
    y = np.asarray(log_est, dtype=float).ravel()
    s = np.asarray(se, dtype=float).ravel()
    if len(y) < 3:
        return 0, 0
    sigma, dw = sigma_grid()
    yc = y - float(np.median(y))
    w, logv = _terms(yc, s, sigma)  # (grid, control)
    sw = w.sum(1, keepdims=True) - w
    swy = (w * yc).sum(1, keepdims=True) - w * yc
    swy2 = (w * yc**2).sum(1, keepdims=True) - w * yc**2
    slogv = logv.sum(1, keepdims=True) - logv
    weight = _normalise(_log_marginal(sw, swy, swy2, slogv), dw)
    m, var = swy / sw, 1.0 / sw
    sd = np.sqrt(var + sigma[:, None] ** 2 + s[None, :] ** 2)
    cdf = np.sum(weight * ndtr((yc[None, :] - m) / sd), axis=0)
    a = (1 - ci_width) / 2
    covered = (cdf >= a) & (cdf <= 1 - a)
    return int(covered.sum()), int(len(y))
