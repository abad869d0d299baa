"""Covariate balance on every covariate: standardised mean differences before and after.

CohortMethod's computeCovariateBalance: SMD = (mean_t - mean_c) / sqrt((var_t + var_c) / 2),
each arm's mean and variance weighted after adjustment (matched sets: comparators 1/k, strata:
re-weighted to the treated count, IPTW: the weights; see ps_adjust.adjustment_weights).
Vectorised as two sparse matrix-vector products per arm (X'w and (X o X)'w), so 20k covariates
x 500k persons take seconds; absent entries are zeros, as in FeatureExtraction's sparse output.
Variances use the weighted population form sum w (x - m)^2 / sum w.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class Balance:
    """table: one row per covariate (covariate, mean_t_before, mean_c_before, sd_before,
    smd_before, and the same *_after when weights were given); max_abs_smd_before /
    max_abs_smd_after: the largest |SMD| (NaN-free; nan when nothing was computed)."""

    table: pd.DataFrame
    max_abs_smd_before: float
    max_abs_smd_after: float


def arm_moments(
    x: sp.csr_matrix, treatment: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean and variance of every covariate in each arm: (mean_t, var_t, mean_c, var_c)."""
    x = sp.csr_matrix(x)
    t = np.asarray(treatment).astype(bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, float)
    xt = x.T.tocsr()
    xt2 = xt.multiply(xt).tocsr()
    out = []
    for arm in (t, ~t):
        wa = np.where(arm, w, 0.0)
        total = wa.sum()
        mean = (xt @ wa) / total if total > 0 else np.full(x.shape[1], np.nan)
        var = np.maximum((xt2 @ wa) / total - mean**2, 0.0) if total > 0 else mean
        out += [mean, var]
    return out[0], out[1], out[2], out[3]


def smd(mean_t: np.ndarray, var_t: np.ndarray, mean_c: np.ndarray, var_c: np.ndarray):
    """SMD with pooled SD sqrt((var_t + var_c)/2); 0 when both arms are constant and equal,
    +-inf when constant and different. Returns (smd, sd_pooled)."""
    sd = np.sqrt((var_t + var_c) / 2.0)
    diff = mean_t - mean_c
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(sd > 0, diff / sd, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    return d, sd


def covariate_balance(
    x: sp.csr_matrix, treatment: np.ndarray, weights_after: np.ndarray | None = None
) -> Balance:
    """SMD of every covariate before adjustment and, given person weights, after it.

    ``weights_after``: from ps_adjust.adjustment_weights (matched sets, strata) or
    ps_adjust.iptw_weights; 0 drops a person (unmatched).
    """
    mt, vt, mc, vc = arm_moments(x, treatment)
    d, sd = smd(mt, vt, mc, vc)
    table = pd.DataFrame(
        {
            "covariate": np.arange(x.shape[1]),
            "mean_t_before": mt,
            "mean_c_before": mc,
            "sd_before": sd,
            "smd_before": d,
        }
    )
    after = np.nan
    if weights_after is not None:
        mt, vt, mc, vc = arm_moments(x, treatment, weights_after)
        d2, sd2 = smd(mt, vt, mc, vc)
        table = table.assign(mean_t_after=mt, mean_c_after=mc, sd_after=sd2, smd_after=d2)
        after = _max_abs(d2)
    return Balance(table, _max_abs(d), after)


def _max_abs(d: np.ndarray) -> float:
    a = np.abs(d[~np.isnan(d)])
    return float(a.max()) if len(a) else float("nan")
