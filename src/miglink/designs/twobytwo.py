"""Result rows from stratified 2x2 tables: the Mantel-Haenszel OR with its sensitivity estimators.

Shared by every design that estimates an odds ratio on 2x2 counts (D1, D3, D4, D7, D8): crude OR
(Woolf CI), Mantel-Haenszel OR (Robins-Breslow-Greenland variance, the primary estimate) with
Breslow-Day homogeneity, and logistic regression on the grouped counts with the stratum
variables as covariates (sensitivity).
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_odds_ratio
from miglink.stats.twobytwo import logistic_grouped, mantel_haenszel, odds_ratio_woolf


def estimate_2x2(
    tab: pd.DataFrame,
    *,
    design: str,
    exposure: str,
    outcome: str,
    role: str,
    stratum: str = "all",
    analysis: str | None = None,
    with_sensitivity: bool = True,
    strata: list[str] = STRATA,
) -> list[dict]:
    """Rows for one exposure-outcome pair from its per-stratum 2x2 table."""
    a, b, c, d = (int(tab[k].sum()) for k in "abcd")
    counts = dict(n_exposed=a + b, n_unexposed=c + d, events_exposed=a, events_unexposed=c)
    mdrr = mdrr_odds_ratio(a + b, c + d, a + c)
    mh = mantel_haenszel(tab[["a", "b", "c", "d"]])
    common = dict(
        design=design,
        exposure=exposure,
        outcome=outcome,
        measure="OR",
        stratum=stratum,
        analysis=analysis,
        mdrr=mdrr,
        **counts,
    )
    rows = [make_row(method="mantel_haenszel", est=mh, role=role, **common)]
    rows[0]["breslow_day_p"] = (mh.extra or {}).get("breslow_day_p")
    if with_sensitivity:
        g = _grouped_for_logistic(tab, strata)
        covs = [s for s in strata if g[s].nunique() > 1]
        for method, est in (
            ("crude_woolf", odds_ratio_woolf(a, b, c, d)),
            ("logistic_grouped", logistic_grouped(g, "events", "total", "exposed", covs)),
        ):
            rows.append(make_row(method=method, est=est, role="sensitivity", **common))
    return rows


def _grouped_for_logistic(tab: pd.DataFrame, strata: list[str]) -> pd.DataFrame:
    """Long grouped form: one row per stratum x exposure with events and totals."""
    e1 = tab[strata].copy()
    e1["exposed"] = 1
    e1["events"] = tab["a"].to_numpy()
    e1["total"] = (tab["a"] + tab["b"]).to_numpy()
    e0 = tab[strata].copy()
    e0["exposed"] = 0
    e0["events"] = tab["c"].to_numpy()
    e0["total"] = (tab["c"] + tab["d"]).to_numpy()
    g = pd.concat([e1, e0], ignore_index=True)
    g = g[g["total"] > 0].reset_index(drop=True)
    for s in strata:
        g[s] = g[s].astype(str)
    return g


def as_est(row: dict) -> Estimate:
    """A results row's estimate as a stats Estimate (NaN where the row has none), for ratios of
    estimates."""
    return Estimate(
        estimate=row["estimate"] if row["estimate"] is not None else float("nan"),
        log_estimate=row["log_estimate"] if row["log_estimate"] is not None else float("nan"),
        se_log=row["se_log"] if row["se_log"] is not None else float("nan"),
        ci_low=row["ci_low"] if row["ci_low"] is not None else float("nan"),
        ci_high=row["ci_high"] if row["ci_high"] is not None else float("nan"),
        p_value=row["p_value"] if row["p_value"] is not None else float("nan"),
        method="mantel_haenszel",
        extra={},
    )
