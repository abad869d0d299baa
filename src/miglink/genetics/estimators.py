"""Closed-form two-sample MR estimators on harmonised associations (bx, bxse, by, byse).

Conventions are the MendelianRandomization R package's (Yavorska & Burgess 2017), so its lipid
example reproduces: IVW is the weighted regression of by on bx through the origin (weights
byse^-2, first-order); the fixed-effect SE is the regression SE over the residual SE, the
multiplicative random-effects SE the regression SE over min(1, residual SE) (under-dispersion is
never credited); MR-Egger orients every variant to a positive bx, regresses with an intercept and
scales both SEs the same way; I^2_GX (Bowden et al. 2016) is on the regression's scale (bx/byse).
Intervals are normal, at the study's level (``stats.level``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import statsmodels.api as sm
from scipy.stats import chi2, norm

from miglink.errors import MiglinkError
from miglink.stats.level import z_interval


@dataclass(frozen=True)
class Estimate:
    """One estimator's row of the results table; ``q`` is its heterogeneity statistic."""

    method: str
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    n_variants: int
    q: float = float("nan")
    q_df: int = 0
    q_p_value: float = float("nan")
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def wald(method: str, est: float, se: float, k: int, **extra) -> Estimate:
    """An estimate with its normal interval and two-sided p-value."""
    z = z_interval()
    p = float(2 * norm.sf(abs(est / se))) if se > 0 else float("nan")
    return Estimate(method, float(est), float(se), est - z * se, est + z * se, p, k, **extra)


def _check(bx, bxse, by, byse, need: int, method: str) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.asarray(a, dtype=float) for a in (bx, bxse, by, byse))
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise MiglinkError(f"{method}: bx, bxse, by and byse must be vectors of one length")
    if len(arrays[0]) < need:
        raise MiglinkError(f"{method} needs at least {need} variants, got {len(arrays[0])}")
    if not all(np.isfinite(a).all() for a in arrays) or (arrays[3] <= 0).any():
        raise MiglinkError(f"{method}: associations must be finite and SEs positive")
    return arrays


def _q(sigma: float, df: int) -> dict:
    q = sigma**2 * df
    return {"q": float(q), "q_df": df, "q_p_value": float(chi2.sf(q, df))}


def ivw(bx, bxse, by, byse, *, random_effects: bool = True) -> Estimate:
    """Inverse-variance weighted estimate; multiplicative random effects unless told not."""
    bx, bxse, by, byse = _check(bx, bxse, by, byse, 2, "IVW")
    fit = sm.WLS(by, bx[:, None], weights=byse**-2).fit()
    sigma = float(np.sqrt(fit.scale))
    se = float(fit.bse[0]) / (min(1.0, sigma) if random_effects else sigma)
    name = "IVW (multiplicative random effects)" if random_effects else "IVW (fixed effect)"
    return wald(name, float(fit.params[0]), se, len(bx), **_q(sigma, len(bx) - 1))


@dataclass(frozen=True)
class Egger:
    """MR-Egger's slope and intercept (directional pleiotropy), residual SE and I^2_GX."""

    slope: Estimate
    intercept: Estimate
    residual_se: float
    i2_gx: float


def i2_gx(bx, bxse, byse) -> float:
    """Bowden's I^2_GX: how much of the spread in |bx| is real rather than noise; Egger's slope
    is diluted towards zero by about 1 - I^2_GX (regression dilution, NOME violated)."""
    y = np.abs(np.asarray(bx, float)) / byse
    w = (np.asarray(bxse, float) / byse) ** -2
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    return max(0.0, (q - (len(y) - 1)) / q) if q > 0 else 0.0


def egger(bx, bxse, by, byse) -> Egger:
    """MR-Egger regression on the variants oriented to a positive association with the exposure."""
    bx, bxse, by, byse = _check(bx, bxse, by, byse, 3, "MR-Egger")
    sign = np.where(bx < 0, -1.0, 1.0)
    x, y = np.abs(bx), by * sign
    fit = sm.WLS(y, sm.add_constant(x, has_constant="add"), weights=byse**-2).fit()
    sigma = float(np.sqrt(fit.scale))
    scale = min(1.0, sigma)
    k = len(bx)
    slope = wald("MR-Egger", float(fit.params[1]), float(fit.bse[1]) / scale, k, **_q(sigma, k - 2))
    inter = wald("MR-Egger intercept", float(fit.params[0]), float(fit.bse[0]) / scale, k)
    return Egger(slope, inter, sigma, i2_gx(bx, bxse, byse))


def leave_one_out(bx, bxse, by, byse, names) -> list[Estimate]:
    """The random-effects IVW estimate without each variant in turn: one variant driving the
    whole estimate shows as the row whose removal moves it."""
    bx, bxse, by, byse = _check(bx, bxse, by, byse, 3, "leave-one-out")
    rows = []
    for j, name in enumerate(names):
        keep = np.arange(len(bx)) != j
        e = ivw(bx[keep], bxse[keep], by[keep], byse[keep])
        rows.append(Estimate(**{**e.as_dict(), "method": f"IVW without {name}"}))
    return rows


def mean_f(bx, bxse) -> float:
    """Mean first-stage F statistic, (bx/bxse)^2 averaged: below 10 warns of weak instruments."""
    return float(np.mean((np.asarray(bx, float) / np.asarray(bxse, float)) ** 2))
