"""D5 medication overlap (claim 7).

1. Self-controlled case series of migraine encounters (every distinct migraine record day after the
   first) around eras of each drug set: risk window = era + 30 days, pre-exposure window -30..-1
   days (reverse-causation check), 5-year age bands, conditional Poisson (stats.sccs). Cases are
   people with migraine who have at least one encounter after their first record and an era of the
   drug touching their observation. Observation starts the day after the first migraine record:
   before it, encounters cannot exist by definition, and counting that time as baseline would make
   any drug started after diagnosis look harmful. The risk window starts the day after the era
   starts and the pre-exposure days stay baseline in the key IRR (event-dependent exposure:
   a drug prescribed at an encounter; :mod:`~miglink.designs.d5_sccs_rows`). Calibrated on its
   own negative controls: the same SCCS of each drug with a negative-control condition's
   repeat records as the outcome (no drug affects them), one group "D5 SCCS" over all drugs.
   (:mod:`~miglink.designs.d5_sccs`, :mod:`~miglink.designs.d5_sccs_counts`,
   :mod:`~miglink.designs.d5_sccs_rows`)
2. New-user cohort of immunomodulator starters vs matched non-starters, calibrated on its own
   negative-control outcomes (:mod:`~miglink.designs.d5_new_user`).
3. Burden: among people with both migraine and autoimmune disease, the share with NSAID use and
   with medication-overuse headache, beside people with migraine only (descriptive,
   :mod:`~miglink.designs.d5_burden`).
"""

from __future__ import annotations

import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, hypothesis_task
from miglink.designs.d5_burden import burden_counts, burden_rows
from miglink.designs.d5_new_user import new_user_counts, new_user_rows
from miglink.designs.d5_sccs_counts import control_data, sccs_counts
from miglink.designs.d5_sccs_rows import SCCS_METHOD, sccs_control_row, sccs_rows
from miglink.designs.not_analysed import absent_reason, not_analysed_row
from miglink.features.build import FeatureTables

NAME = "D5"
SCCS, NEW_USER_COHORT, NEW_USER_NC, BURDEN = "sccs", "new_user", "new_user_nc", "burden"
SCCS_NC = "sccs_nc"
SCCS_GROUP = "D5 SCCS"
_KINDS = {None: SCCS, "new_user": NEW_USER_COHORT, "burden": BURDEN}


def _kind(t: Task) -> str:
    return t.options["kind"]


def tasks(study: Study) -> list[Task]:
    """Per D5 hypothesis: an SCCS (no contrast) with one task per negative-control outcome, the
    new-user cohort with one task per negative-control outcome, or the burden shares."""
    out: list[Task] = []
    for _claim, h in study.hypotheses():
        if h.design != NAME or h.contrast not in _KINDS:
            continue
        kind = _KINDS[h.contrast]
        out.append(hypothesis_task(h, options={"kind": kind}))
        if kind == SCCS:
            out += _control_tasks(h, study.negative_controls, SCCS_NC, contrast=None)
        if kind == NEW_USER_COHORT:
            out += _control_tasks(h, study.negative_controls, NEW_USER_NC, contrast=h.contrast)
    return out


def _control_tasks(h, controls: list[str], kind: str, contrast: str | None) -> list[Task]:
    """One negative-control task per control outcome of hypothesis ``h``'s analysis."""
    return [
        Task(
            NAME,
            f"{h.id}__nc",
            h.exposure,
            nc,
            role="negative_control",
            contrast=contrast,
            options={"kind": kind, "of": h.id},
        )
        for nc in controls
    ]


def _controls_of(task: Task, tasks: list[Task], kind: str = NEW_USER_NC) -> list[Task]:
    return [t for t in tasks if _kind(t) == kind and t.options["of"] == task.analysis]


def _control_rows(counts: Counts, task: Task, tasks: list[Task]) -> list[dict]:
    """The SCCS negative-control rows of ``task`` (a control with no exposed case gives none)."""
    status = counts.values.get("sccs_nc", {})
    rows = []
    for t in _controls_of(task, tasks, SCCS_NC):
        key = f"{t.analysis} {t.outcome}"
        if status.get(key) == "ok":
            rows.append(sccs_control_row(t, counts.frame(f"sccs_nc {key}")))
    return rows


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Burden shares, new-user cohort counts and SCCS case profiles.

    values: "drugs_absent" (why the drug designs cannot run, or None), "sccs" (status per SCCS
    analysis; profiles in frames "sccs <analysis>"), "sccs_nc" (status per "<analysis> <outcome>"
    of the negative controls; profiles in frames "sccs_nc <analysis> <outcome>"), "burden"
    frames "burden <analysis>".
    """
    counts = Counts(NAME)
    why = absent_reason(ft, "drug_exposure", "drug concept set")
    counts.values.update(drugs_absent=why, sccs={}, sccs_nc={})
    for t in tasks:
        if _kind(t) == BURDEN:
            counts.frames[f"burden {t.analysis}"] = burden_counts(ft, t)
        elif _kind(t) == NEW_USER_COHORT and why is None:
            new_user_counts(ft, t, _controls_of(t, tasks), counts)
    sccs = [t for t in tasks if _kind(t) == SCCS]
    if why is None and sccs:
        status, frames = sccs_counts(ft, [t.exposure for t in sccs])
        for t in sccs:
            counts.values["sccs"][t.analysis] = status[t.exposure]
            if t.exposure in frames:
                counts.frames[f"sccs {t.analysis}"] = frames[t.exposure]
    if why is None:
        _count_sccs_controls(ft, [t for t in tasks if _kind(t) == SCCS_NC], counts)
    return counts


def _count_sccs_controls(ft: FeatureTables, nc: list[Task], counts: Counts) -> None:
    """One pull for every negative-control outcome and drug; profiles of the OK ones."""
    outcomes = list(dict.fromkeys(t.outcome for t in nc))
    data = control_data(ft, sorted({t.exposure for t in nc}), outcomes)
    for outcome in outcomes:
        mine = [t for t in nc if t.outcome == outcome]
        status, frames = sccs_counts(ft, [t.exposure for t in mine], outcome, data[outcome])
        for t in mine:
            counts.values["sccs_nc"][f"{t.analysis} {outcome}"] = status[t.exposure]
            if t.exposure in frames:
                counts.frames[f"sccs_nc {t.analysis} {outcome}"] = frames[t.exposure]


def control_groups(rows: list[dict]) -> list[ControlGroup]:
    """ "D5 SCCS": the negative-control outcomes' risk-window IRRs, over all drugs, calibrate
    every drug's key SCCS IRR. From rows alone, so a pooled run rebuilds the same group.

    One group, not one per drug: each drug has at most as many usable controls as there are
    chronic negative-control conditions with repeat records among its users (few for the rare
    biologics), and the systematic error the controls measure (record days gathering in drug
    eras: monitoring visits, surveillance) belongs to the design more than to one drug."""
    sccs = [
        r
        for r in rows
        if r.get("design") == NAME
        and r.get("method") == SCCS_METHOD
        and str(r.get("stratum", "")).startswith("risk window")
    ]
    controls = [r for r in sccs if r.get("role") == "negative_control"]
    targets = [r for r in sccs if r.get("role") != "negative_control"]
    return [ControlGroup(SCCS_GROUP, controls, targets, label="outcome")] if sccs else []


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows per hypothesis in study order; the new-user cohorts declare their ControlGroups."""
    res = DesignResult()
    curves: list[pd.DataFrame] = []
    why = counts.values.get("drugs_absent")
    for t in tasks:
        kind = _kind(t)
        if kind in (NEW_USER_NC, SCCS_NC):
            continue
        if kind == BURDEN:
            res.rows += burden_rows(counts.frame(f"burden {t.analysis}"), t, why is None)
        elif why:
            measure = "HR" if t.contrast else "IRR"
            note = f"{why}: drug design (D5) cannot run"
            res.rows.append(not_analysed_row(t, measure, why, note))
        elif kind == NEW_USER_COHORT:
            rows, cur, group = new_user_rows(counts, t, _controls_of(t, tasks), settings)
            res.rows += rows
            if cur is not None:
                curves.append(cur)
            if group is not None:
                res.controls.append(group)
        else:
            status = counts.values["sccs"][t.analysis]
            res.rows += sccs_rows(t, status, counts.frame(f"sccs {t.analysis}"))
            res.rows += _control_rows(counts, t, tasks)
    res.controls += control_groups(res.rows)
    if curves:
        res.curves = pd.concat(curves, ignore_index=True)
    return res
