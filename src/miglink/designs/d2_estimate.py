"""D2 estimation on counts: hazard ratio (Poisson on matched-cell person-time), incidence rates,
MDRR, balance and Kaplan-Meier curves.

The row builders take the design, method, analysis, stratum and note, so a design reusing the
matched cohort (D4's vascular cohort, D5's new-user cohort) builds its own rows directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from miglink.designs.d2_counts import CohortCounts
from miglink.designs.rows import make_row
from miglink.stats.cohort import incidence_rate, poisson_rate_ratio
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_cohort

Pair = tuple[str, str]
D2_METHOD = "poisson_matched_strata"


@dataclass
class PairCounts:
    """The cohort counts split once by (index, outcome) pair, and the balance per index set."""

    strata: dict[Pair, pd.DataFrame]
    km: dict[Pair, pd.DataFrame]
    smd: dict[str, dict[str, float]]
    empty: pd.DataFrame


def split_counts(cc: CohortCounts) -> PairCounts:
    """Split the (large) count tables once instead of comparing string columns per pair."""
    smd = {idx: balance_smd(g) for idx, g in cc.balance.groupby("index_set")}
    by_pair = {k: g for k, g in cc.strata.groupby(["index_set", "outcome_set"], sort=False)}
    km_by_pair = {k: g for k, g in cc.km.groupby(["index_set", "outcome_set"], sort=False)}
    return PairCounts(strata=by_pair, km=km_by_pair, smd=smd, empty=cc.strata.iloc[:0])


def restrict_obs_band(cc: CohortCounts, min_oband: int) -> CohortCounts:
    """The counts of the matching cells whose observation started >= ``min_oband`` calendar years
    before the index year (the prevalent-pool guard: case and comparators alike); KM and
    balance stay those of the whole cohort."""
    s = cc.strata
    kept = s[s["oband"] >= min_oband] if "oband" in s else s.iloc[:0]
    return CohortCounts(strata=kept, km=cc.km, balance=cc.balance, attrition=cc.attrition)


def _rate_ratio(s: pd.DataFrame, idx: str) -> Estimate:
    df = pd.DataFrame(
        {
            "stratum": s["cell"].to_numpy(),
            "exposed": s["exposed"].astype(int).to_numpy(),
            "events": s["events"].astype(float).to_numpy(),
            "person_years": (s["person_days"].astype(float) / 365.25).to_numpy(),
        }
    )
    if len(df):
        return poisson_rate_ratio(df)
    return Estimate.missing(
        "poisson",
        f"not estimable: no new {idx} diagnosis with prior observation and a matched comparator",
    )


def hazard_row(
    pc: PairCounts,
    idx: str,
    out: str,
    *,
    role: str,
    analysis: str,
    max_smd: float,
    design: str = "D2",
    method: str = D2_METHOD,
    stratum: str = "all",
    exposure: str | None = None,
    **fields: Any,
) -> dict:
    """The HR row of one pair: Poisson rate ratio stratified on the matching cells, with counts,
    incidence rates, MDRR and balance. ``exposure`` labels the row when the index set is a
    stand-in (D5's new-user set; default: the index set); ``fields`` are further row fields
    (note, direction)."""
    s = pc.strata.get((idx, out), pc.empty)
    n1 = int(s.loc[s.exposed == 1, "n"].sum())
    n0 = int(s.loc[s.exposed == 0, "n"].sum())
    e1 = int(s.loc[s.exposed == 1, "events"].sum())
    e0 = int(s.loc[s.exposed == 0, "events"].sum())
    py1 = float(s.loc[s.exposed == 1, "person_days"].sum()) / 365.25
    py0 = float(s.loc[s.exposed == 0, "person_days"].sum()) / 365.25
    est = _rate_ratio(s, idx)
    smd = pc.smd.get(idx, {})
    row = make_row(
        design=design,
        exposure=idx if exposure is None else exposure,
        outcome=out,
        measure="HR",
        method=method,
        est=est,
        role=role,
        stratum=stratum,
        analysis=analysis,
        n_exposed=n1,
        n_unexposed=n0,
        events_exposed=e1,
        events_unexposed=e0,
        person_years_exposed=py1,
        person_years_unexposed=py0,
        mdrr=mdrr_cohort(n1, n0, e1 + e0),
        max_smd=max(smd.values()) if smd else float("nan"),
        **fields,
    )
    ir1 = incidence_rate(e1, py1) if py1 > 0 else None
    ir0 = incidence_rate(e0, py0) if py0 > 0 else None
    row["ir_exposed_per_1000py"] = ir1.estimate if ir1 else None
    row["ir_unexposed_per_1000py"] = ir0.estimate if ir0 else None
    row["balance_fail"] = ";".join(f"smd_{k}" for k, v in smd.items() if v >= max_smd)
    return row


def pair_curve(
    pc: PairCounts, idx: str, out: str, analysis: str, horizon_years: float
) -> pd.DataFrame | None:
    """The pair's Kaplan-Meier curves per arm under ``analysis`` (None without KM counts)."""
    k = pc.km.get((idx, out))
    if k is None or k.empty:
        return None
    cur = km_curve(k, int(horizon_years * 12))
    cur.insert(0, "analysis", analysis)
    return cur


def concat_curves(curves: list[pd.DataFrame | None]) -> pd.DataFrame:
    """The curves of several analyses as one frame (an empty frame when there are none)."""
    kept = [c for c in curves if c is not None]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()


def d2_rows(
    cc: CohortCounts,
    pairs: list[Pair],
    roles: dict[Pair, str],
    max_smd: float,
    horizon_years: float,
    *,
    design: str = "D2",
    method: str = D2_METHOD,
    analyses: Mapping[Pair, str] | None = None,
    stratum: str = "all",
    note: str | None = None,
) -> tuple[list[dict], pd.DataFrame]:
    """HR rows of ``pairs`` (analysis ``d2__<index>__<outcome>`` unless ``analyses`` names it)
    and the KM curves of the pairs that are not negative controls."""
    pc = split_counts(cc)
    extra = {} if note is None else {"note": note}
    rows: list[dict] = []
    curves: list[pd.DataFrame | None] = []
    for idx, out in pairs:
        analysis = (analyses or {}).get((idx, out), f"d2__{idx}__{out}")
        row = hazard_row(
            pc,
            idx,
            out,
            role=roles.get((idx, out), "secondary"),
            analysis=analysis,
            max_smd=max_smd,
            design=design,
            method=method,
            stratum=stratum,
            **extra,
        )
        rows.append(row)
        if row["role"] != "negative_control":
            curves.append(pair_curve(pc, idx, out, analysis, horizon_years))
    return rows, concat_curves(curves)


def km_curve(km: pd.DataFrame, horizon_months: int) -> pd.DataFrame:
    """Kaplan-Meier (product-limit at monthly resolution) from event / censoring counts, per arm.

    Uses lifelines' KaplanMeierFitter with case weights, so the curve is the library's estimator on
    the grouped times (events at month m are placed at m + 1, censorings at m + 0.5... both within
    the month, events first as in the usual convention).
    """
    from lifelines import KaplanMeierFitter

    out = []
    times = list(range(0, horizon_months + 1, 6))
    for exposed, g in km.groupby("exposed"):
        month = g["month"].to_numpy(dtype=float) + 1.0
        ev_n = g["events"].to_numpy(dtype=float)
        ce_n = g["censored"].to_numpy(dtype=float)
        # one weighted row per (month, event) and per (month, censoring) with a positive count
        dur = np.concatenate([month[ev_n > 0], month[ce_n > 0]])
        ev = np.concatenate([np.ones((ev_n > 0).sum()), np.zeros((ce_n > 0).sum())])
        w = np.concatenate([ev_n[ev_n > 0], ce_n[ce_n > 0]])
        if not len(dur):
            continue
        kmf = KaplanMeierFitter()
        kmf.fit(pd.Series(dur), pd.Series(ev), weights=pd.Series(w))
        sf = kmf.survival_function_at_times(times)
        ci = kmf.confidence_interval_survival_function_
        lo = ci.iloc[:, 0].reindex(ci.index.union(times)).ffill().reindex(times).fillna(1.0)
        hi = ci.iloc[:, 1].reindex(ci.index.union(times)).ffill().reindex(times).fillna(1.0)
        tab = kmf.event_table
        t_idx = tab.index.to_numpy(dtype=float)
        at_risk_col = tab["at_risk"].to_numpy(dtype=float)
        cum_obs = np.cumsum(tab["observed"].to_numpy(dtype=float))
        for t in times:
            first_ge = int(np.searchsorted(t_idx, t, side="left"))
            at_risk = float(at_risk_col[first_ge]) if first_ge < len(t_idx) else 0.0
            last_le = int(np.searchsorted(t_idx, t, side="right"))
            ev_cum = float(cum_obs[last_le - 1]) if last_le > 0 else 0.0
            # censorings at times <= t, on the same footing as ev_cum (the privacy gate needs both)
            ce_cum = float(ce_n[month <= t].sum())
            out.append(
                {
                    "group": "exposed" if exposed == 1 else "unexposed",
                    "time": t / 12.0,
                    "survival": float(sf.loc[t]),
                    "ci_low": float(lo.loc[t]),
                    "ci_high": float(hi.loc[t]),
                    "at_risk": int(round(at_risk)),
                    "events": int(round(ev_cum)),
                    "censored": int(round(ce_cum)),
                }
            )
    return pd.DataFrame(out)


def balance_smd(bal: pd.DataFrame) -> dict[str, float]:
    """Absolute standardised mean differences (cases vs comparators) from per-arm sums."""
    from miglink.stats.balance import smd_binary, smd_continuous

    if set(bal["exposed"]) != {0, 1}:
        return {}
    r1 = bal[bal["exposed"] == 1].iloc[0]
    r0 = bal[bal["exposed"] == 0].iloc[0]
    out = {}
    for var in ("age", "visits"):
        m1, m0 = r1[f"{var}_sum"] / r1["n"], r0[f"{var}_sum"] / r0["n"]
        v1 = max(r1[f"{var}_sumsq"] / r1["n"] - m1 * m1, 0.0)
        v0 = max(r0[f"{var}_sumsq"] / r0["n"] - m0 * m0, 0.0)
        out[var] = abs(float(smd_continuous(m1, v1, m0, v0)))
    for var in ("female", "prior"):
        out[var] = abs(float(smd_binary(r1[f"{var}_sum"] / r1["n"], r0[f"{var}_sum"] / r0["n"])))
    return {k: (0.0 if v != v else v) for k, v in out.items()}
