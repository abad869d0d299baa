"""D10 estimator: hazard-ratio rows from the counted risk tables, and the comparison's
negative-control group.

Per outcome task: the PS-adjusted HR (Cox stratified on matched sets or PS strata, from the risk
table, Efron ties; IPTW from the weighted fit of the count step) and, for outcomes that are not
negative controls, the unadjusted HR as a secondary row. The adjusted row carries the
diagnostics that gate its verdict: max |SMD| after adjustment below the study's ``max_smd``
(``balance_fail``) and equipoise of at least 0.2 (``DESIGN_FAILS_KEY``, CohortMethod's
thresholds); EASE and calibration come from the pipeline (``ControlGroup`` "D10 <comparison>").
"""

from __future__ import annotations

import math

import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.designs.base import Task, key_row
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import finite, make_row
from miglink.stats.estimate import Estimate
from miglink.stats.level import z_interval
from miglink.stats.power import mdrr_cohort
from miglink.stats.ps_outcome import CoxOutcome, cox_from_risk_table

#: Row key (not a results column): design diagnostics that failed, ";"-separated; the
#: pipeline adds them to the row's failed diagnostics (claims.attach.apply_diagnostics).
DESIGN_FAILS_KEY = "_design_fails"
MIN_EQUIPOISE = 0.2
METHODS = {
    "match": "cox_ps_matched",
    "stratify": "cox_ps_stratified",
    "iptw": "cox_iptw",
    "none": "cox_unadjusted",
}
UNADJUSTED = "cox_unadjusted"
STRATUM = {
    "match": "PS matched",
    "stratify": "PS stratified",
    "iptw": "PS weighted (IPTW)",
    "none": "unadjusted",
}


def _estimate(fit: CoxOutcome) -> Estimate:
    if not math.isfinite(fit.log_hr) or not math.isfinite(fit.se):
        nan = float("nan")
        note = fit.note or "not estimable"
        return Estimate(nan, nan, nan, nan, nan, nan, fit.method, extra={"note": note})
    return Estimate(fit.hr, fit.log_hr, fit.se, fit.ci_low, fit.ci_high, fit.p, fit.method)


def _cox(table: pd.DataFrame) -> CoxOutcome:
    """The Cox fit of a risk table; a degenerate table (no information, no convergence: e.g.
    every event in one arm of each informative set) is not estimable, never an exception."""
    nan = math.nan
    try:
        fit = cox_from_risk_table(table)
    except (ZeroDivisionError, FloatingPointError, ValueError) as e:
        return CoxOutcome(nan, nan, nan, nan, nan, nan, nan, nan, False, "efron", f"no fit: {e}")
    if math.isfinite(fit.log_hr) and not fit.converged:
        note = "not estimable: the Cox fit did not converge (events in one arm of each set)"
        return CoxOutcome(
            nan, nan, nan, nan, nan, nan, fit.events_t, fit.events_c, False, "efron", note
        )
    return fit


def _iptw_fit(summary: pd.Series) -> CoxOutcome:
    b, se = float(summary.get("iptw_log_hr", math.nan)), float(summary.get("iptw_se", math.nan))
    if not (math.isfinite(b) and math.isfinite(se)):
        nan = math.nan
        return CoxOutcome(nan, nan, nan, nan, nan, nan, nan, nan, False, "iptw", "not estimable")
    z = z_interval()
    from scipy.stats import norm

    p = float(2 * norm.sf(abs(b / se)))
    lo, hi = math.exp(b - z * se), math.exp(b + z * se)
    return CoxOutcome(b, se, math.exp(b), lo, hi, p, math.nan, math.nan, True, "iptw")


def _counts(summary: pd.Series, model: str) -> dict:
    """n, events and person-years per arm of the crude or adjusted population."""
    g = lambda k: summary.get(f"{model}_{k}")  # noqa: E731
    out = {
        "n_exposed": g("n_target"),
        "n_unexposed": g("n_comparator"),
        "events_exposed": g("events_target"),
        "events_unexposed": g("events_comparator"),
        "person_years_exposed": g("days_target") / 365.25,
        "person_years_unexposed": g("days_comparator") / 365.25,
    }
    for arm in ("exposed", "unexposed"):
        py = out[f"person_years_{arm}"]
        out[f"ir_{arm}_per_1000py"] = 1000 * out[f"events_{arm}"] / py if py else None
    total = float(out["events_exposed"] + out["events_unexposed"])
    out["mdrr"] = mdrr_cohort(float(out["n_exposed"]), float(out["n_unexposed"]), total)
    return out


def hazard_rows(
    task: Task, summary: pd.Series, risk: pd.DataFrame, ps: pd.Series, method: str, max_smd: float
) -> list[dict]:
    """The adjusted row (the task's key row) and, unless a negative control, the crude row."""
    common = dict(design=task.design, exposure=task.exposure, outcome=task.outcome, measure="HR")
    if method == "iptw":
        fit = _iptw_fit(summary)
    elif method == "none":
        fit = _cox(risk[risk["model"] == "crude"])
    else:
        fit = _cox(risk[risk["model"] == "adjusted"])
    smd_after = float(summary.get("max_abs_smd_after", math.nan))
    eq = float(ps.get("equipoise", math.nan))
    row = make_row(
        **common,
        method=METHODS[method],
        est=_estimate(fit),
        role=task.role,
        stratum=STRATUM[method],
        analysis=task.analysis,
        max_smd=smd_after,
        note=(
            f"PS AUC {float(ps.get('auc', math.nan)):.2f}, equipoise {eq:.2f}, "
            f"{int(ps.get('n_covariates', 0))} covariates; max |SMD| before "
            f"{float(summary.get('max_abs_smd_before', math.nan)):.2f}, after {smd_after:.2f}"
        ),
        **_counts(summary, "adjusted" if method != "iptw" else "crude"),
    )
    if math.isfinite(smd_after) and smd_after >= max_smd:
        row["balance_fail"] = f"max |SMD| {smd_after:.2f} >= {max_smd:g}"
    if not (math.isfinite(eq) and eq >= MIN_EQUIPOISE):
        row[DESIGN_FAILS_KEY] = f"equipoise<{MIN_EQUIPOISE:g}"
    rows = [key_row(row, task)]
    if task.role != "negative_control":
        crude = _cox(risk[risk["model"] == "crude"])
        rows.append(
            make_row(
                **common,
                method=UNADJUSTED,
                est=_estimate(crude),
                role="secondary",
                stratum="unadjusted",
                analysis=f"{task.analysis}__unadjusted",
                note="no adjustment: the crude HR of target vs comparator new users",
                **_counts(summary, "crude"),
            )
        )
    return rows


def reason_rows(task: Task, reason: str, kind: str) -> list[dict]:
    """A row saying why the task has no estimate: 'not analysed' (no cohorts, no new users) or
    an estimate-less HR row whose verdict is inconclusive (too few to fit)."""
    if kind == "not_analysed":
        return [not_analysed_row(task, "HR", reason)]
    row = make_row(
        design=task.design,
        exposure=task.exposure,
        outcome=task.outcome,
        measure="HR",
        method="cox_ps",
        role=task.role,
        analysis=task.analysis,
        note=reason,
    )
    return [key_row(row, task)]


def control_group(cid: str, rows: list[dict]) -> ControlGroup | None:
    """Negative controls calibrate the comparison's adjusted rows (never the crude ones)."""
    controls = [r for r in rows if r["role"] == "negative_control"]
    targets = [r for r in rows if r["role"] != "negative_control" and r["method"] != UNADJUSTED]
    if not any(finite(r.get("log_estimate")) for r in controls):
        return None  # nothing estimated (no new users): no group to calibrate with
    return ControlGroup(f"D10 {cid}", controls, targets)
