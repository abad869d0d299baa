"""D10 comparative new-user cohort: target vs comparator new users, large-scale propensity score.

The study file's ``comparisons`` (designs/d10_settings.py) name each comparison's cohorts,
outcomes, negative-control outcomes, study population and adjustment; a D10 hypothesis names a
comparison and one of its outcomes. ``count`` (d10_count.py) builds per comparison the study
population, the covariates and the propensity model once, then per outcome the adjustment and
its aggregates; ``estimate`` (d10_estimate.py) fits the Cox models on those risk tables and
declares one negative-control group per comparison. Table 1, the balance table, the
preference-score distribution and the PS diagnostics leave as the run's ``d10_*`` tables
(through privacy/d10.py), the attrition per arm and the KM curves through the run's own.
"""

from __future__ import annotations

import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, hypothesis_role
from miglink.designs.d10_count import comparison_counts
from miglink.designs.d10_estimate import control_group, hazard_rows, reason_rows
from miglink.designs.d10_settings import Comparison
from miglink.designs.d10_tables import attrition_rows, curves, result_tables

NAME = "D10"
FRAMES = ("attrition", "risk", "summary", "balance", "preference", "km", "ps")


def tasks(study: Study) -> list[Task]:
    """One task per comparison and outcome (negative-control outcomes included)."""
    hyps: dict[tuple[str, str], list] = {}
    by_id = {c.id: c for c in study.comparisons}
    for _c, h in study.hypotheses():
        if h.design == NAME:
            oid = h.outcome_cohort or by_id[h.comparison].outcomes[0].id
            hyps.setdefault((h.comparison, oid), []).append(h)
    out = []
    for comp in study.comparisons:
        spec = comp.model_dump(mode="json")
        for o in comp.outcomes:
            hs = hyps.get((comp.id, o.id), [])
            opts = {"comparison": comp.id, "outcome": o.id, "spec": spec}
            out.append(
                Task(
                    NAME,
                    hs[0].id if hs else f"d10__{comp.id}__{o.id}",
                    hs[0].exposure if hs else comp.target.id,
                    hs[0].outcome if hs else o.id,
                    role=hypothesis_role(hs[0].expected) if hs else "secondary",
                    hypotheses=tuple(h.id for h in hs),
                    options=opts,
                )
            )
        for o in comp.negative_control_outcomes:
            opts = {"comparison": comp.id, "outcome": o.id, "spec": spec}
            out.append(
                Task(
                    NAME,
                    f"d10__{comp.id}__{o.id}",
                    comp.target.id,
                    o.concept_set or o.id,
                    role="negative_control",
                    options=opts,
                )
            )
    return out


def _by_comparison(tasks: list[Task]) -> dict[str, list[Task]]:
    out: dict[str, list[Task]] = {}
    for t in tasks:
        out.setdefault(t.options["comparison"], []).append(t)
    return out


def count(features, tasks: list[Task]) -> Counts:
    """Every comparison's frames, concatenated (each keeps its ``comparison`` column)."""
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in FRAMES}
    for _cid, ts in _by_comparison(tasks).items():
        comp = Comparison.model_validate(ts[0].options["spec"])
        keys = {t.options["outcome"] for t in ts if t.role != "negative_control"}
        for k, v in comparison_counts(features, comp, keys).items():
            parts[k].append(v)
    frames = {k: pd.concat(v, ignore_index=True) for k, v in parts.items() if v}
    return Counts(design=NAME, frames=frames)


def _select(frame: pd.DataFrame, **keys) -> pd.DataFrame:
    if frame.empty:
        return frame
    m = pd.Series(True, index=frame.index)
    for k, v in keys.items():
        m &= frame[k] == v
    return frame[m]


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows per task, one control group per comparison, the curves, attrition and tables."""
    res = DesignResult()
    for cid, ts in _by_comparison(tasks).items():
        method = Comparison.model_validate(ts[0].options["spec"]).adjustment.method
        ps = _select(counts.frame("ps"), comparison=cid)
        ps_row = ps.iloc[0] if len(ps) else pd.Series({"reason": "not counted"})
        rows: list[dict] = []
        for t in ts:
            rows += _task_rows(counts, t, ps_row, method, settings)
        res.rows += rows
        group = control_group(cid, rows)
        if group is not None:
            res.controls.append(group)
    res.curves = curves(counts, tasks, settings)
    res.attrition = attrition_rows(counts, tasks)
    res.tables = result_tables(counts, tasks)
    return res


def _task_rows(counts: Counts, t: Task, ps: pd.Series, method: str, st: Settings) -> list[dict]:
    cid, oid = t.options["comparison"], t.options["outcome"]
    if isinstance(ps.get("reason"), str) and ps.get("reason"):
        return reason_rows(t, str(ps["reason"]), str(ps.get("reason_kind") or "not_analysed"))
    summ = _select(counts.frame("summary"), comparison=cid, outcome=oid)
    if summ.empty:
        return reason_rows(t, "not counted", "not_analysed")
    s = summ.iloc[0]
    if isinstance(s.get("reason"), str) and s["reason"]:
        return reason_rows(t, str(s["reason"]), str(s.get("reason_kind") or "inconclusive"))
    risk = _select(counts.frame("risk"), comparison=cid, outcome=oid)
    return hazard_rows(t, s, risk, ps, method, st.max_smd)
