"""Ratio of geometric means from per-cell sufficient statistics (D6 biomarkers).

The engine returns, per stratum × group, n, Σy and Σy² of a person-level log value y (e.g.
a person's mean log CRP). Because every regressor is constant within a cell, OLS of y on
group + stratum dummies over persons equals weighted least squares on the cell means with
weights n, and its residual sum of squares is the within-cell sum of squares plus the
weighted squared residuals of the cell means. So the person-level OLS is reproduced exactly
from counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from miglink.errors import MiglinkError
from miglink.stats import level
from miglink.stats.estimate import MAX_LOG, Estimate

COLUMNS = ["stratum", "group", "n", "sum", "sumsq"]


def ratio_of_geometric_means(df: pd.DataFrame) -> Estimate:
    """exp(β_group) from OLS of a log value on group (0/1) + stratum, fitted on cell sums.

    CI and p use the t distribution with N − p residual degrees of freedom, as OLS does;
    ``extra`` holds the residual variance, degrees of freedom and persons per group.
    """
    method = "rgm_ols_sufficient"
    table = "ratio_of_geometric_means input"
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise MiglinkError(
            f"{table}: missing column(s) {', '.join(missing)} ({len(df)} rows)",
            table=table,
            column=missing[0],
            n_rows=len(df),
        )
    cells = (
        df.assign(group=df["group"].astype(int))
        .groupby(["stratum", "group"], as_index=False, observed=True)[["n", "sum", "sumsq"]]
        .sum()
    )
    cells = cells[cells["n"] > 0].reset_index(drop=True)
    n = cells["n"].to_numpy(float)
    extra = {
        "n_group1": float(n[cells["group"] == 1].sum()),
        "n_group0": float(n[cells["group"] == 0].sum()),
    }
    both = cells.groupby("stratum", observed=True)["group"].nunique()
    if not (both == 2).any():
        return Estimate.missing(method, "not estimable: no stratum holds both groups", extra)
    # Stratum dummies absorbed (Frisch-Waugh-Lovell): the group coefficient of the weighted
    # cell-mean regression is the weighted slope after centring group and cell mean within each
    # stratum, with the same residuals; one dummy column per stratum would cost seconds at
    # ~1,000 strata for identical numbers.
    key = cells["stratum"].astype(str).to_numpy()
    k = len(set(key))
    ybar = cells["sum"].to_numpy(float) / n
    g = cells["group"].to_numpy(float)
    w = pd.Series(n).groupby(key).transform("sum").to_numpy()
    gd = g - pd.Series(g * n).groupby(key).transform("sum").to_numpy() / w
    yd = ybar - pd.Series(ybar * n).groupby(key).transform("sum").to_numpy() / w
    sxx = float(np.sum(n * gd * gd))
    df_resid = n.sum() - (k + 1)
    if df_resid <= 0:
        return Estimate.missing(method, "not estimable: no residual degrees of freedom", extra)
    beta = float(np.asarray(sm.WLS(yd, gd, weights=n).fit().params)[0])
    between = float(np.sum(n * (yd - beta * gd) ** 2))
    within = float(np.sum(cells["sumsq"].to_numpy(float) - cells["sum"].to_numpy(float) ** 2 / n))
    sigma2 = (max(within, 0.0) + between) / df_resid
    se = math.sqrt(sigma2 / sxx)
    extra.update({"sigma2": sigma2, "df_resid": float(df_resid), "n_strata": int(k)})
    if not se > 0:
        return Estimate.missing(method, "not estimable: zero residual variance", extra)
    t = stats.t.ppf(1 - level.alpha() / 2, df_resid)
    if abs(beta) + t * se > MAX_LOG:
        return Estimate.missing(
            method,
            "not estimable: the estimate or its CI diverges (sparse or extreme values)",
            extra,
        )
    return Estimate(
        estimate=math.exp(beta),
        log_estimate=beta,
        se_log=se,
        ci_low=math.exp(beta - t * se),
        ci_high=math.exp(beta + t * se),
        p_value=float(2 * stats.t.sf(abs(beta / se), df_resid)),
        method=method,
        extra=extra,
    )
