"""D2's PS-stratified sensitivity row: a Cox model stratified on PS strata, from the counts.

The HR is :func:`~miglink.stats.ps_outcome.cox_from_risk_table` on the pair's risk table (Efron
ties; equal to the person-level stratified Cox). The row is a sensitivity row beside the key
row (the matched Poisson rate ratio) and is not calibrated: the negative controls are estimated
by the key row's estimator only, so they do not describe this one's systematic error.
"""

from __future__ import annotations

import math

import pandas as pd

from miglink.designs.base import Task
from miglink.designs.rows import make_row
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_cohort
from miglink.stats.ps_outcome import cox_from_risk_table

PS_METHOD = "cox_ps_stratified"
PS_SUFFIX = "__ps_stratified"


def ps_row(risk: pd.DataFrame, summary: pd.DataFrame, task: Task, design: str = "D2") -> dict:
    """The PS-stratified row of ``task``'s pair (not estimable, with the reason, when the count
    step could not fit a PS)."""
    key = dict(index_set=task.exposure, outcome_set=task.outcome)
    s = _select(summary, key)
    info = s.iloc[0].to_dict() if len(s) else {"note": "no PS counts for this pair"}
    common = dict(
        design=design, exposure=task.exposure, outcome=task.outcome, measure="HR",
        method=PS_METHOD, role="sensitivity", analysis=task.analysis + PS_SUFFIX,
        direction=task.options.get("direction"),
    )  # fmt: skip
    if info.get("note") or "n_t" not in info:
        return make_row(**common, est=_missing(str(info.get("note", "no PS counts"))))
    fit = cox_from_risk_table(
        _select(risk, key)[["stratum", "treatment", "time", "events", "censored"]]
    )
    est = Estimate(fit.hr, fit.log_hr, fit.se, fit.ci_low, fit.ci_high, fit.p, PS_METHOD)
    if fit.note:
        est = _missing(fit.note)
    n1, n0, e1, e0 = (int(info[k]) for k in ("n_t", "n_c", "e_t", "e_c"))
    row = make_row(
        **common, est=est, n_exposed=n1, n_unexposed=n0, events_exposed=e1, events_unexposed=e0,
        person_years_exposed=info["pd_t"] / 365.25, person_years_unexposed=info["pd_c"] / 365.25,
        mdrr=mdrr_cohort(n1, n0, e1 + e0), max_smd=info["max_abs_smd_after"],
    )  # fmt: skip
    row["note"] = ps_note(info) + (f"; {row['note']}" if row.get("note") else "")
    return row


def ps_note(info: dict) -> str:
    """What the row's adjustment did: strata, covariates, balance, equipoise, AUC."""
    return (
        f"Cox stratified on {int(info['n_strata'])} PS strata (L1 PS on "
        f"{int(info['n_covariates'])} covariates, AUC {info['auc']:.2f}); max |SMD| "
        f"{_f(info['max_abs_smd_before'])} before, {_f(info['max_abs_smd_after'])} after; "
        f"equipoise {_f(info['equipoise'])}; not calibrated"
    )


def _f(x: float) -> str:
    return f"{x:.2f}" if isinstance(x, float) and math.isfinite(x) else "n/a"


def _select(df: pd.DataFrame, key: dict) -> pd.DataFrame:
    if df.empty or "index_set" not in df:
        return df.iloc[:0]
    return df[(df["index_set"] == key["index_set"]) & (df["outcome_set"] == key["outcome_set"])]


def _missing(note: str) -> Estimate:
    nan = float("nan")
    return Estimate(nan, nan, nan, nan, nan, nan, PS_METHOD, {"note": note})
