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
from miglink.stats.estimate import Estimate

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
    strata = sorted(cells["stratum"].astype(str).unique())
    x = pd.DataFrame({"const": 1.0, "group": cells["group"].astype(float)})
    for s in strata[1:]:
        x[f"s[{s}]"] = (cells["stratum"].astype(str) == s).to_numpy(float)
    ybar = cells["sum"].to_numpy(float) / n
    fit = sm.WLS(ybar, x, weights=n).fit()
    within = float(np.sum(cells["sumsq"].to_numpy(float) - cells["sum"].to_numpy(float) ** 2 / n))
    between = float(np.sum(n * (ybar - fit.fittedvalues.to_numpy()) ** 2))
    df_resid = n.sum() - x.shape[1]
    if df_resid <= 0:
        return Estimate.missing(method, "not estimable: no residual degrees of freedom", extra)
    sigma2 = (max(within, 0.0) + between) / df_resid
    xtwx = x.to_numpy().T @ (x.to_numpy() * n[:, None])
    cov = sigma2 * np.linalg.inv(xtwx)
    beta = float(fit.params["group"])
    se = math.sqrt(cov[1, 1])
    extra.update({"sigma2": sigma2, "df_resid": float(df_resid), "n_strata": len(strata)})
    if not se > 0:
        return Estimate.missing(method, "not estimable: zero residual variance", extra)
    t = stats.t.ppf(0.975, df_resid)
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
