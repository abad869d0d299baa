"""D2 estimation: hazard ratio (Poisson on matched-cell person-time), incidence rates, MDRR, balance."""

from __future__ import annotations

import pandas as pd

from miglink.designs.d2_cohort import CohortCounts, balance_smd, km_curve
from miglink.designs.rows import make_row
from miglink.stats.cohort import incidence_rate, poisson_rate_ratio
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_cohort


def d2_rows(
    cc: CohortCounts,
    pairs: list[tuple[str, str]],
    roles: dict[tuple[str, str], str],
    max_smd: float,
    horizon_years: float,
) -> tuple[list[dict], pd.DataFrame]:
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    smd_by_index = {}
    for idx, g in cc.balance.groupby("index_set"):
        smd_by_index[idx] = balance_smd(g)
    # split the (large) count tables once instead of comparing string columns per pair
    by_pair = {k: g for k, g in cc.strata.groupby(["index_set", "outcome_set"], sort=False)}
    km_by_pair = {k: g for k, g in cc.km.groupby(["index_set", "outcome_set"], sort=False)}
    empty = cc.strata.iloc[:0]
    for idx, out in pairs:
        s = by_pair.get((idx, out), empty)
        n1 = int(s.loc[s.exposed == 1, "n"].sum())
        n0 = int(s.loc[s.exposed == 0, "n"].sum())
        e1 = int(s.loc[s.exposed == 1, "events"].sum())
        e0 = int(s.loc[s.exposed == 0, "events"].sum())
        py1 = float(s.loc[s.exposed == 1, "person_days"].sum()) / 365.25
        py0 = float(s.loc[s.exposed == 0, "person_days"].sum()) / 365.25
        df = pd.DataFrame(
            {
                "stratum": s["cell"].to_numpy(),
                "exposed": s["exposed"].astype(int).to_numpy(),
                "events": s["events"].astype(float).to_numpy(),
                "person_years": (s["person_days"].astype(float) / 365.25).to_numpy(),
            }
        )
        est = (
            poisson_rate_ratio(df)
            if len(df)
            else Estimate.missing(
                "poisson",
                f"not estimable: no new {idx} diagnosis with prior observation and a matched "
                "comparator",
            )
        )
        smd = smd_by_index.get(idx, {})
        max_s = max(smd.values()) if smd else float("nan")
        analysis = f"d2__{idx}__{out}"
        row = make_row(
            design="D2",
            exposure=idx,
            outcome=out,
            measure="HR",
            method="poisson_matched_strata",
            est=est,
            role=roles.get((idx, out), "secondary"),
            analysis=analysis,
            n_exposed=n1,
            n_unexposed=n0,
            events_exposed=e1,
            events_unexposed=e0,
            person_years_exposed=py1,
            person_years_unexposed=py0,
            mdrr=mdrr_cohort(n1, n0, e1 + e0),
            max_smd=max_s,
        )
        ir1 = incidence_rate(e1, py1) if py1 > 0 else None
        ir0 = incidence_rate(e0, py0) if py0 > 0 else None
        row["ir_exposed_per_1000py"] = ir1.estimate if ir1 else None
        row["ir_unexposed_per_1000py"] = ir0.estimate if ir0 else None
        row["balance_fail"] = ";".join(f"smd_{k}" for k, v in smd.items() if v >= max_smd)
        rows.append(row)
        if row["role"] != "negative_control":
            k = km_by_pair.get((idx, out))
            if k is not None and not k.empty:
                cur = km_curve(k, int(horizon_years * 12))
                cur.insert(0, "analysis", analysis)
                curves.append(cur)
    curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return rows, curves_df
