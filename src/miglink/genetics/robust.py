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


def modes_of(ratios: np.ndarray, ses: np.ndarray, phi: float = 1.0) -> np.ndarray:
    """Hartwig's weighted mode of each row of ``ratios`` (draws x variants): the maximum of a
    normal-kernel density of the ratio estimates weighted by their inverse variances (weights
    from ``ses``), bandwidth phi * 0.9 min(SD, MAD) n^-1/5 (Silverman's rule).

    The maximum is found exactly: ascent (mean-shift steps, then guarded Newton steps) from the
    three highest of the ratios and a 64-point grid (a mode lies near the data). R reads it off
    ``density``'s 512-point grid instead; when one ratio lies far out, that grid's step exceeds
    the bandwidth and R's estimate (and its bootstrap MAD) carry the step's error.
    """
    r = np.atleast_2d(np.asarray(ratios, float))
    n = r.shape[1]
    med = np.median(r, axis=1, keepdims=True)
    mad = 1.4826 * np.median(np.abs(r - med), axis=1)
    h = np.maximum(1e-8, phi * 0.9 * np.minimum(np.std(r, axis=1, ddof=1), mad) / n**0.2)[
        :, None, None
    ]
    w = (ses**-2 / np.sum(ses**-2))[None, None, :]
    lo, hi = r.min(axis=1, keepdims=True), r.max(axis=1, keepdims=True)
    grid = np.concatenate([r, lo + (hi - lo) * np.linspace(0, 1, 64)[None, :]], axis=1)

    def kernel(x):  # x: draws x starts -> weighted kernel values, draws x starts x variants
        return w * np.exp(-0.5 * ((x[:, :, None] - r[:, None, :]) / h) ** 2)

    dens0 = kernel(grid).sum(axis=2)
    x = np.take_along_axis(grid, np.argsort(-dens0, axis=1)[:, :3], axis=1)
    for step in range(60):
        k = kernel(x)
        total = k.sum(axis=2)
        shift = (k * r[:, None, :]).sum(axis=2) / np.maximum(total, 1e-300) - x
        if step >= 10:  # Newton where the density is concave and the step modest
            d = (r[:, None, :] - x[:, :, None]) / h
            f1 = (k * d).sum(axis=2)
            f2 = (k * (d**2 - 1)).sum(axis=2)
            newton = -f1 / np.where(f2 < 0, f2, -np.inf) * h[:, :, 0]
            shift = np.where((f2 < 0) & (np.abs(newton) < h[:, :, 0]), newton, shift)
        x = x + shift
        if np.all(np.abs(shift) <= 1e-12 * np.maximum(1.0, np.abs(x))):
            break
    best = np.argmax(kernel(x).sum(axis=2), axis=1)
    return x[np.arange(len(x)), best]


def mode_of(ratios: np.ndarray, ses: np.ndarray, phi: float = 1.0) -> float:
    """The weighted mode of one set of ratio estimates (see :func:`modes_of`)."""
    return float(modes_of(np.asarray(ratios, float)[None, :], np.asarray(ses, float), phi)[0])


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
    boot = np.concatenate(
        [modes_of(draws[i : i + 500], ses, phi) for i in range(0, iterations, 500)]
    )
    mad = 1.4826 * float(np.median(np.abs(boot - np.median(boot))))
    return wald("Weighted mode", est, mad, len(bx))
