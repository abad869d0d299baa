"""Estimators robust to some invalid instruments, on the variants' ratio estimates by/bx.

Weighted median (Bowden et al. 2016, Genet Epidemiol 40:304): consistent when at least half the
weight comes from valid variants. Weighted mode (Hartwig, Davey Smith & Bowden 2017, Int J
Epidemiol 46:1985): consistent when the largest group of variants with one ratio is valid (ZEMPA).
Both take their SE from a parametric bootstrap with a seed, so a run is reproducible.
Weights are first order (byse/|bx|, the MendelianRandomization package's default and "NOME");
``second_order=True`` adds the bx uncertainty (TwoSampleMR's weighted median and weighted mode).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from miglink.genetics.estimators import Estimate, wald

DEFAULT_ITERATIONS = 10_000
DEFAULT_SEED = 314159265  # the MendelianRandomization package's default seed, for familiarity


def ratio_se(bx, bxse, by, byse, *, second_order: bool = False) -> np.ndarray:
    """SE of each variant's ratio estimate by/bx (delta method; first order unless told)."""
    bx, bxse, by, byse = (np.asarray(a, float) for a in (bx, bxse, by, byse))
    var = byse**2 / bx**2
    if second_order:
        var = var + by**2 * bxse**2 / bx**4
    return np.sqrt(var)


def weighted_median_of(values: np.ndarray, weights: np.ndarray) -> float:
    """Bowden's weighted median: the 50th percentile of the weight-ordered values, with linear
    interpolation between the two values whose standardised cumulative weights straddle 0.5."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order] / weights.sum()
    cum = np.cumsum(w) - 0.5 * w
    below = int(np.max(np.flatnonzero(cum < 0.5))) if (cum < 0.5).any() else 0
    if below + 1 >= len(v):
        return float(v[below])
    return float(
        v[below] + (v[below + 1] - v[below]) * (0.5 - cum[below]) / (cum[below + 1] - cum[below])
    )


def weighted_median(
    bx, bxse, by, byse, *, second_order: bool = False,
    iterations: int = DEFAULT_ITERATIONS, seed: int = DEFAULT_SEED,
) -> Estimate:  # fmt: skip
    """Weighted median estimate; SE the SD of medians of associations redrawn from their normal
    sampling distributions (weights held fixed, as in Bowden's code)."""
    bx, bxse, by, byse = (np.asarray(a, float) for a in (bx, bxse, by, byse))
    w = ratio_se(bx, bxse, by, byse, second_order=second_order) ** -2
    est = weighted_median_of(by / bx, w)
    rng = np.random.default_rng(seed)
    bxb = rng.normal(bx, bxse, size=(iterations, len(bx)))
    byb = rng.normal(by, byse, size=(iterations, len(bx)))
    boot = np.array([weighted_median_of(r, w) for r in byb / bxb])
    return wald("Weighted median", est, float(np.std(boot, ddof=1)), len(bx))


def mode_of(ratios: np.ndarray, ses: np.ndarray, phi: float = 1.0) -> float:
    """Hartwig's weighted mode: the maximum of a normal-kernel density of the ratio estimates
    weighted by their inverse variances, bandwidth phi * 0.9 min(SD, MAD) n^-1/5 (Silverman).

    The maximum is found exactly (local ascent from the three best of the ratios and a 512-point
    grid), not read off R's 512-point ``density`` grid: when one ratio lies far out, that grid's
    step exceeds the bandwidth and R's estimate (and its bootstrap MAD) carry the step's error.
    """
    n = len(ratios)
    mad = 1.4826 * np.median(np.abs(ratios - np.median(ratios)))
    h = max(1e-8, phi * 0.9 * min(np.std(ratios, ddof=1), mad) / n**0.2)
    w = ses**-2 / np.sum(ses**-2)

    def density(x):
        z = (np.atleast_1d(x)[:, None] - ratios[None, :]) / h
        return np.exp(-0.5 * z**2) @ w

    grid = np.concatenate([ratios, np.linspace(ratios.min(), ratios.max(), 512)])
    best_x, best_y = float(ratios[0]), -np.inf
    for start in grid[np.argsort(-density(grid))[:3]]:
        fit = minimize_scalar(lambda x: -density(x)[0], bounds=(start - h, start + h),
                              method="bounded", options={"xatol": 1e-10 * max(1.0, h)})  # fmt: skip
        x, y = (
            (float(fit.x), -float(fit.fun))
            if -fit.fun >= density(start)[0]
            else (float(start), float(density(start)[0]))
        )
        if y > best_y:
            best_x, best_y = x, y
    return best_x


def weighted_mode(
    bx, bxse, by, byse, *, second_order: bool = False, phi: float = 1.0,
    iterations: int = DEFAULT_ITERATIONS, seed: int = DEFAULT_SEED,
) -> Estimate:  # fmt: skip
    """Weighted mode estimate; SE the MAD of modes of ratios redrawn as N(ratio, its SE)
    (Hartwig's bootstrap)."""
    bx, bxse, by, byse = (np.asarray(a, float) for a in (bx, bxse, by, byse))
    ratios = by / bx
    ses = ratio_se(bx, bxse, by, byse, second_order=second_order)
    est = mode_of(ratios, ses, phi)
    rng = np.random.default_rng(seed)
    draws = rng.normal(ratios, ses, size=(iterations, len(bx)))
    boot = np.array([mode_of(d, ses, phi) for d in draws])
    mad = 1.4826 * float(np.median(np.abs(boot - np.median(boot))))
    return wald("Weighted mode", est, mad, len(bx))
