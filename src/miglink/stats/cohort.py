"""Cohort estimators: incidence rates, Poisson rate ratios, stratified Cox, Kaplan–Meier.

The Poisson rate ratio with stratum fixed effects fits on person-time and events per
stratum, so it is the large-data hazard ratio (D2); the Cox and Kaplan–Meier fits need one
narrow row per person in the matched cohort, which designs pull only for those people.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.rates import confint_poisson

from miglink.errors import MiglinkError
from miglink.stats.absorbed import fit_absorbed
from miglink.stats.coxfast import fit_cox_efron
from miglink.stats.estimate import Estimate
from miglink.stats.soft import attempt


def _require(df: pd.DataFrame, cols: list[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MiglinkError(
            f"{table}: missing column(s) {', '.join(missing)} ({len(df)} rows)",
            table=table,
            column=missing[0],
            n_rows=len(df),
        )


def incidence_rate(events: float, person_years: float, per: float = 1000) -> Estimate:
    """Events per ``per`` person-years with the exact (Garwood) Poisson 95% CI.

    ``se_log`` is 1/sqrt(events) (delta method); ``p_value`` is NaN since a rate has no null.
    With zero events the rate is 0 and only the upper limit is informative.
    """
    method = "poisson_exact"
    extra = {"events": events, "person_years": person_years, "per": per}
    if not (person_years > 0) or events < 0:
        return Estimate.missing(method, "not estimable: no person-time at risk", extra)
    lo, hi = confint_poisson(events, person_years, method="exact-c")
    rate = events / person_years * per
    if events == 0:
        extra["note"] = "zero events: rate 0, upper limit only"
        return Estimate(
            0.0, float("nan"), float("nan"), 0.0, float(hi) * per, float("nan"), method, extra
        )
    return Estimate(
        estimate=rate,
        log_estimate=math.log(rate),
        se_log=1 / math.sqrt(events),
        ci_low=float(lo) * per,
        ci_high=float(hi) * per,
        p_value=float("nan"),
        method=method,
        extra=extra,
    )


def poisson_rate_ratio(df: pd.DataFrame) -> Estimate:
    """Rate ratio exposed vs unexposed, Poisson GLM with log person-time offset and strata.

    ``df`` has columns stratum, exposed (0/1), events, person_years (one row per stratum ×
    exposure, more rows are summed). Strata without events are dropped: their fixed effect
    is −inf at the MLE and they carry no information on the ratio.
    """
    method = "poisson"
    table = "poisson_rate_ratio input"
    _require(df, ["stratum", "exposed", "events", "person_years"], table)
    bad = (
        (df["events"] < 0)
        | (df["person_years"] < 0)
        | ((df["events"] > 0) & (df["person_years"] <= 0))
    )
    if bad.any():
        raise MiglinkError(
            f"{table}: {int(bad.sum())} rows have negative counts or events without person-time",
            table=table,
            column="person_years",
            n_rows=int(bad.sum()),
        )
    data = (
        df.assign(exposed=df["exposed"].astype(int))
        .groupby(["stratum", "exposed"], as_index=False, observed=True)[["events", "person_years"]]
        .sum()
    )
    data = data[data["person_years"] > 0]
    by_exp = data.groupby("exposed")["events"].sum()
    extra = {
        "events_exposed": float(by_exp.get(1, 0)),
        "events_unexposed": float(by_exp.get(0, 0)),
    }
    if by_exp.get(1, 0) == 0 or by_exp.get(0, 0) == 0:
        return Estimate.missing(method, "not estimable: no events in one exposure group", extra)
    informative = data.groupby("stratum", observed=True)["events"].transform("sum") > 0
    data = data[informative]
    # Stratum intercepts are absorbed (fast with many strata; equal to the dummy-coded GLM).
    res = attempt(
        lambda: fit_absorbed(
            data["events"].to_numpy(float),
            data[["exposed"]].to_numpy(float),
            data["stratum"].astype(str).to_numpy(),
            "poisson",
            offset=np.log(data["person_years"].to_numpy(float)),
        ),
        singular="exposure is collinear with the strata",
        converged=lambda f: f.converged,
    )
    if not res.ok:
        return Estimate.missing(method, res.reason, extra)
    fit = res.value
    extra.update({"n_strata": int(data["stratum"].nunique()), "converged": fit.converged})
    return Estimate.from_log(float(fit.params[0]), float(np.sqrt(fit.cov[0, 0])), method, extra)


def cox_matched(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    exposure_col: str,
    strata_col: str | None,
) -> Estimate:
    """Hazard ratio from a Cox model stratified on the matched set (Efron ties).

    Fitted by :func:`miglink.stats.coxfast.fit_cox_efron` (vectorised over strata; equal to
    lifelines / PHReg / R coxph, 10,000 matched sets in ~0.1 s instead of minutes). Matched
    sets without an event add nothing to the stratified partial likelihood and are dropped.
    """
    method = "cox_matched"
    cols = [duration_col, event_col, exposure_col] + ([strata_col] if strata_col else [])
    _require(df, cols, "cox_matched input")
    data = df[cols].copy()
    data[event_col] = data[event_col].astype(int)
    data[exposure_col] = data[exposure_col].astype(float)
    if strata_col:
        data = data[data.groupby(strata_col, observed=True)[event_col].transform("sum") > 0]
    ev = data.groupby(exposure_col)[event_col].sum()
    extra = {"events_exposed": int(ev.get(1.0, 0)), "events_unexposed": int(ev.get(0.0, 0))}
    if ev.get(1.0, 0) == 0 or ev.get(0.0, 0) == 0:
        return Estimate.missing(method, "not estimable: no events in one exposure group", extra)
    if data[exposure_col].nunique() < 2:
        return Estimate.missing(method, "not estimable: exposure does not vary", extra)
    res = attempt(
        lambda: fit_cox_efron(
            data[duration_col].to_numpy(float),
            data[event_col].to_numpy(int),
            data[[exposure_col]].to_numpy(float),
            data[strata_col].to_numpy() if strata_col else None,
        ),
        singular="exposure does not vary within any set",
        converged=lambda f: f.converged,
    )
    if not res.ok:
        return Estimate.missing(method, res.reason, extra)
    fit = res.value
    if strata_col:
        extra["n_strata"] = int(data[strata_col].nunique())
    coef = float(fit.params[0])
    se = float(np.sqrt(fit.cov[0, 0]))
    return Estimate.from_log(coef, se, method, extra)


def kaplan_meier(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    group_col: str,
    times: list[float],
) -> pd.DataFrame:
    """Kaplan–Meier survival per group at given times (lifelines), as a tidy frame.

    Columns: group, time, survival, ci_low, ci_high (log(−log) Greenwood, lifelines'
    default, the same as R's ``conf.type = "log-log"``), at_risk (persons with duration ≥
    time) and events (cumulative events up to and including time). The counts are raw:
    pass the frame through the privacy gate before it leaves the program.
    """
    from lifelines import KaplanMeierFitter

    _require(df, [duration_col, event_col, group_col], "kaplan_meier input")
    rows = []
    for group, sub in df.groupby(group_col, observed=True, sort=True):
        dur = sub[duration_col].to_numpy(float)
        ev = sub[event_col].to_numpy(int)
        kmf = KaplanMeierFitter().fit(dur, ev)
        ci = kmf.confidence_interval_survival_function_
        for t in times:
            surv = float(kmf.survival_function_at_times(t).iloc[0])
            # Step functions: value at the last grid time <= t.
            pos = ci.index.searchsorted(t, side="right") - 1
            lo, hi = (ci.iloc[pos, 0], ci.iloc[pos, 1]) if pos >= 0 else (1.0, 1.0)
            rows.append(
                {
                    "group": group,
                    "time": float(t),
                    "survival": surv,
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "at_risk": int((dur >= t).sum()),
                    "events": int(((dur <= t) & (ev == 1)).sum()),
                }
            )
    return pd.DataFrame(
        rows, columns=["group", "time", "survival", "ci_low", "ci_high", "at_risk", "events"]
    )
