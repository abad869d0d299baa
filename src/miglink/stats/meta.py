"""Inverse-variance meta-analysis of log-scale estimates (pooling sites' aggregate results).

Fixed effect, DerSimonian–Laird and Paule–Mandel come from statsmodels ``combine_effects``
(its τ², pooled mean, SE, Q and Hartung–Knapp–Sidik–Jonkman variance); REML τ² is hand-written
Fisher scoring, as statsmodels has none, and its mean and SE are the inverse-variance formulas
at that τ². Two conventions differ from statsmodels and follow metafor: DerSimonian–Laird's τ²
is truncated at 0 (statsmodels leaves (Q − df)/C negative; then the random-effects model is the
fixed-effect one, taken from the same statsmodels fit), and I² = 100·τ²/(τ² + s²) with s² the
"typical" within-study variance. Prediction interval μ ± z·sqrt(SE² + τ²), or t_{k−1} with
HKSJ. Tested against metafor's documented BCG results (tests/reference/test_stats_meta.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from miglink.stats import level
from miglink.stats.estimate import MAX_LOG, Estimate

Method = Literal["REML", "DL", "PM", "FE"]
NAN = float("nan")


@dataclass(frozen=True)
class PooledEstimate:
    """A pooled log-scale estimate with heterogeneity statistics."""

    log_estimate: float
    se_log: float
    ci_low: float  # ratio scale
    ci_high: float
    p_value: float
    tau2: float
    i2: float  # percent
    q: float
    q_p: float
    k: int
    pi_low: float  # ratio scale prediction interval (NaN for FE or k < 2)
    pi_high: float
    method: str
    hksj: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def estimate(self) -> float:
        return math.exp(self.log_estimate) if math.isfinite(self.log_estimate) else NAN

    def to_estimate(self) -> Estimate:
        """As an :class:`Estimate`, so a pooled row renders like a single-site one."""
        extra = {
            "tau2": self.tau2,
            "i2": self.i2,
            "q": self.q,
            "q_p": self.q_p,
            "k": self.k,
            "pi_low": self.pi_low,
            "pi_high": self.pi_high,
            **self.extra,
        }
        return Estimate(
            self.estimate,
            self.log_estimate,
            self.se_log,
            self.ci_low,
            self.ci_high,
            self.p_value,
            f"meta_{self.method.lower()}" + ("_hksj" if self.hksj else ""),
            extra,
        )


def _reml_tau2(
    y: np.ndarray, v: np.ndarray, start: float, tol: float = 1e-10, max_iter: int = 200
) -> tuple[float, bool]:
    """REML τ² by Fisher scoring (Viechtbauer 2005, J Educ Behav Stat 30:261), τ² ≥ 0."""
    tau2 = max(start, 0.0)
    for _ in range(max_iter):
        w = 1 / (v + tau2)
        sw = w.sum()
        # P = W − W 1 1ᵀ W / Σw; only its trace, trace(P²) and P y are needed.
        py = w * (y - (w @ y) / sw)
        tr_p = sw - (w**2).sum() / sw
        tr_pp = (w**2).sum() - 2 * (w**3).sum() / sw + ((w**2).sum() / sw) ** 2
        step = (py @ py - tr_p) / tr_pp
        new = max(tau2 + step, 0.0)
        if abs(new - tau2) < tol:
            return new, True
        tau2 = new
    return tau2, False


def _combine(y: np.ndarray, v: np.ndarray, method_re: str):
    """statsmodels' combined fit; with one estimate its (k − 1) divisions are 0/0, unused here."""
    with np.errstate(all="ignore"):
        return combine_effects(y, v, method_re=method_re)


@dataclass(frozen=True)
class _Fit:
    """τ², the pooled mean, its SE and its HKSJ variance at one τ², and Cochran's Q."""

    tau2: float
    mu: float
    se: float
    var_hksj: float
    q: float


def _fit(y: np.ndarray, v: np.ndarray, method: str, extra: dict[str, Any]) -> _Fit:
    """The random-effects (or fixed-effect) fit of ``method`` (statsmodels except REML)."""
    res = _combine(y, v, "iterated" if method == "PM" else "dl")
    k = len(y)
    if method == "REML" and k > 1:
        tau2, converged = _reml_tau2(y, v, start=max(0.0, float(res.tau2)))
        extra["converged"] = converged
        w = 1 / (v + tau2)
        mu = float(w @ y / w.sum())
        hk = float(w @ (y - mu) ** 2) / ((k - 1) * w.sum())
        return _Fit(tau2, mu, math.sqrt(1 / w.sum()), hk, float(res.q))
    if method in ("DL", "PM") and k > 1 and res.tau2 > 0:
        re = (res.tau2, res.mean_effect_re, res.sd_eff_w_re, res.var_hksj_re, res.q)
        return _Fit(*(float(x) for x in re))
    # FE, a single estimate, or a random-effects τ² of 0 (DL's truncated): the fixed-effect fit
    fe = (0.0, res.mean_effect_fe, res.sd_eff_w_fe, res.var_hksj_fe, res.q)
    return _Fit(*(float(x) for x in fe))


def pool(
    log_est,
    se,
    method: Method = "REML",
    hksj: bool = False,
) -> PooledEstimate:
    """Pool log-scale estimates with their SEs; non-finite or non-positive SEs are dropped."""
    y_all = np.asarray(log_est, dtype=float).ravel()
    s_all = np.asarray(se, dtype=float).ravel()
    # s > 0 whose square underflows to 0 would give an infinite weight: dropped too
    keep = np.isfinite(y_all) & np.isfinite(s_all) & (s_all**2 > 0)
    y, v = y_all[keep], s_all[keep] ** 2
    k = int(len(y))
    extra: dict[str, Any] = {"dropped": int((~keep).sum())}
    if method not in ("REML", "DL", "PM", "FE"):
        raise ValueError(f"unknown pooling method {method!r}; use REML, DL, PM or FE")
    if k == 0:
        extra["note"] = "not estimable: no usable estimates"
        return PooledEstimate(
            NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, NAN, NAN, method, hksj, extra
        )
    fit = _fit(y, v, method, extra)
    w_fe = 1 / v
    q = fit.q if k > 1 else 0.0
    q_p = float(stats.chi2.sf(q, k - 1)) if k > 1 else NAN
    mu, se_mu, tau2 = fit.mu, fit.se, fit.tau2
    if hksj and k > 1:
        se_mu = math.sqrt(fit.var_hksj)
        crit = float(stats.t.ppf(1 - level.alpha() / 2, k - 1))
        p = float(2 * stats.t.sf(abs(mu / se_mu), k - 1)) if se_mu > 0 else NAN
    else:
        crit = level.z_interval()
        p = float(2 * stats.norm.sf(abs(mu / se_mu)))
    if method == "FE" or k == 1:
        i2 = max(0.0, (q - (k - 1)) / q) * 100 if k > 1 and q > 0 else 0.0 if k > 1 else NAN
        pi_low = pi_high = NAN
    else:
        s2 = (k - 1) * w_fe.sum() / (w_fe.sum() ** 2 - (w_fe**2).sum())
        i2 = 100 * tau2 / (tau2 + s2)
        half = crit * math.sqrt(se_mu**2 + tau2)
        pi_low, pi_high = _exp(mu - half), _exp(mu + half)
    if k == 1:
        extra["note"] = "single estimate: nothing pooled"
    if abs(mu) + crit * se_mu > MAX_LOG:
        extra["note"] = "not estimable: the pooled CI diverges (site estimates far apart)"
    return PooledEstimate(
        log_estimate=mu,
        se_log=se_mu,
        ci_low=_exp(mu - crit * se_mu),
        ci_high=_exp(mu + crit * se_mu),
        p_value=p,
        tau2=tau2,
        i2=i2,
        q=q,
        q_p=q_p,
        k=k,
        pi_low=pi_low,
        pi_high=pi_high,
        method=method,
        hksj=hksj,
        extra=extra,
    )


def _exp(x: float) -> float:
    """exp on the ratio scale; NaN where it would overflow (sites far apart: tau² in the
    hundreds of thousands), as for any single estimate beyond Estimate.from_log's range."""
    return math.exp(x) if abs(x) <= MAX_LOG else NAN


def _cells(a, b, c, d, correction: float) -> tuple[np.ndarray, ...]:
    """Add ``correction`` to every cell of the tables that hold a zero (metafor's 'only0')."""
    cells = np.stack([np.asarray(x, dtype=float).ravel() for x in (a, b, c, d)])
    zero = (cells == 0).any(axis=0)
    cells[:, zero] += correction
    return tuple(cells)


def log_rr_from_counts(a, b, c, d, correction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Log risk ratio and SE per table (a/b exposed events/non-events, c/d unexposed)."""
    a, b, c, d = _cells(a, b, c, d, correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(a / (a + b)) - np.log(c / (c + d))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return y, se


def log_or_from_counts(a, b, c, d, correction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Log odds ratio and Woolf SE per table, same cell convention as :func:`log_rr_from_counts`."""
    a, b, c, d = _cells(a, b, c, d, correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(a * d / (b * c))
        se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return y, se
