"""D1 prevalence association: the stratified 2x2 table of exposure x outcome.

Estimators on the counts: crude OR (Woolf CI), Mantel-Haenszel OR (Robins-Breslow-Greenland
variance, the primary estimate) with Breslow-Day homogeneity, and logistic regression on the
grouped counts with the stratum variables as covariates (sensitivity).
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA, stratified_counts, with_flag
from miglink.features.build import FeatureTables
from miglink.stats.power import mdrr_odds_ratio
from miglink.stats.twobytwo import logistic_grouped, mantel_haenszel, odds_ratio_woolf


def d1_counts(ft: FeatureTables, exposure: str, outcomes: list[str], persons=None) -> pd.DataFrame:
    """Stratified 2x2 counts of ``exposure`` against each outcome (optionally in a subset)."""
    p = with_flag(ft.persons if persons is None else persons, ft.conditions, exposure, "exposed")
    return stratified_counts(p, ft.conditions, "exposed", outcomes)


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


def run_d1(
    ft: FeatureTables, exposure: str, outcomes: list[str], roles: dict[str, str]
) -> tuple[list[dict], pd.DataFrame]:
    """All D1 rows for ``exposure`` against ``outcomes`` (roles: outcome -> row role)."""
    counts = d1_counts(ft, exposure, outcomes)
    rows: list[dict] = []
    by_outcome = dict(list(counts.groupby("outcome", sort=False)))
    for o in outcomes:
        tab = by_outcome.get(o, counts.iloc[:0])
        role = roles.get(o, "secondary")
        rows += estimate_2x2(
            tab,
            design="D1",
            exposure=exposure,
            outcome=o,
            role=role,
            with_sensitivity=role != "negative_control",
        )
    return rows, counts
