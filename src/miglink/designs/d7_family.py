"""D7 family history (claim 2, the record-based half).

Exposure: a recorded family history (OMOP observation, e.g. family_history_autoimmune); outcome:
the person's own condition (migraine, or any autoimmune disease). The stratified 2x2 table gives
the Mantel-Haenszel OR (as D1). Because whether a family history gets recorded depends on how
much care a person receives, as does the recording of any diagnosis, the same exposure is also
run against every negative-control outcome; their ORs form an empirical null (Schuemie et al.
2014) that calibrates the key estimate (the verdict reads the calibrated CI; with too few usable
controls the raw one, as in D1).

Utilisation is measured without the visit days recording the family history or the outcome
(:mod:`miglink.designs.strata`): counting migraine's own visits made the family-history ->
migraine OR 0.88 in null worlds while its controls sat at 1.07, so calibration over-corrected.
Without those days key and controls share one bias (null worlds: key 1.11 and 1.15, controls
1.17 and 1.12; recording follows care-seeking beyond what visit counts capture), which the
calibration removes (calibrated 0.95 and 1.03; docs/statistics.md).
"""

from __future__ import annotations

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs.base import (
    Counts,
    DesignResult,
    Task,
    hypothesis_task,
    key_row,
)
from miglink.designs.not_analysed import absent_reason, not_analysed_row
from miglink.designs.strata import own_utilisation, stratified_counts, with_flag
from miglink.designs.twobytwo import estimate_2x2
from miglink.features.build import FeatureTables

NAME = "D7"

#: note of the calibrated key row (fields filled by calibrate.calibrate_groups)
CALIBRATED_NOTE = (
    "calibrated on {n_controls} negative-control outcomes of the same exposure "
    "(null mean {mean:.3f}, sd {sd:.3f})"
)


def tasks(study: Study) -> list[Task]:
    """Per D7 hypothesis: its key OR, then the same exposure against every negative control."""
    out: list[Task] = []
    for _claim, h in study.hypotheses():
        if h.design != NAME:
            continue
        out.append(hypothesis_task(h))
        out += [
            Task(NAME, h.id, h.exposure, nc, role="negative_control")
            for nc in study.negative_controls
        ]
    return out


def _key_tasks(tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if t.role != "negative_control"]


def _controls_of(key: Task, tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if t.role == "negative_control" and t.analysis == key.analysis]


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Per key task: the stratified 2x2 counts of its exposure against its outcome and controls.

    values["absent"] says why no task could run (no observation table / no family-history set);
    values["no_records"] lists the analyses whose exposure has no observation record.
    """
    counts = Counts(NAME)
    keys = _key_tasks(tasks)
    why = absent_reason(ft, "observation", "family-history concept set") if keys else None
    counts.values.update(absent=why, no_records=[])
    if why is not None:
        return counts
    obs = ft.observations
    for k in keys:
        if int(obs.filter(obs.set_id == k.exposure).count().execute()) == 0:
            counts.values["no_records"].append(k.analysis)
            continue
        p = with_flag(ft.persons, obs, k.exposure, "exposed")
        outcomes = [k.outcome, *(t.outcome for t in _controls_of(k, tasks))]
        util = own_utilisation(ft, [k.exposure])
        counts.frames[f"2x2 {k.analysis}"] = stratified_counts(
            p, ft.conditions, "exposed", outcomes, util=util
        )
    return counts


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows per key task: MH OR (key, calibrated), crude / logistic sensitivity, negative-control
    rows; one ControlGroup per task (:func:`control_groups`)."""
    res = DesignResult()
    for k in _key_tasks(tasks):
        why = counts.values.get("absent")
        if why:
            res.rows.append(
                not_analysed_row(k, "OR", why, f"{why}: family-history design (D7) cannot run")
            )
            continue
        if k.analysis in counts.values.get("no_records", []):
            why = f"no {k.exposure} records"
            res.rows.append(not_analysed_row(k, "OR", why, f"{why} in the observation table"))
            continue
        res.rows += _task_rows(counts.frame(f"2x2 {k.analysis}"), k, tasks)
    res.controls = control_groups(res.rows)
    return res


def control_groups(rows: list[dict]) -> list[ControlGroup]:
    """ "D7 <analysis>": the exposure's negative-control outcomes calibrate its key MH OR. From
    rows alone, so a pooled run rebuilds the same groups from its pooled rows."""
    d7 = [r for r in rows if r.get("design") == NAME and r.get("method") == "mantel_haenszel"]
    groups = []
    for a in dict.fromkeys(r.get("analysis") for r in d7):
        mine = [r for r in d7 if r.get("analysis") == a]
        controls = [r for r in mine if r.get("role") == "negative_control"]
        targets = [r for r in mine if r.get("role") != "negative_control"]
        groups.append(
            ControlGroup(
                f"{NAME} {a}",
                controls,
                targets,
                calibrated_note=CALIBRATED_NOTE,
            )
        )
    return groups


def _task_rows(tab, k: Task, tasks: list[Task]) -> list[dict]:
    """The key task's rows, then its negative-control rows."""
    by_outcome = dict(list(tab.groupby("outcome", sort=False))) if len(tab) else {}
    empty = tab.iloc[:0]
    rows = estimate_2x2(
        by_outcome.get(k.outcome, empty),
        design=NAME,
        exposure=k.exposure,
        outcome=k.outcome,
        role=k.role,
        analysis=k.analysis,
    )
    key_row(rows[0], k)
    nc_rows = [
        estimate_2x2(
            by_outcome.get(t.outcome, empty),
            design=NAME,
            exposure=t.exposure,
            outcome=t.outcome,
            role="negative_control",
            analysis=t.analysis,
            stratum=f"negative control {t.outcome}",
            with_sensitivity=False,
        )[0]
        for t in _controls_of(k, tasks)
    ]
    return rows + nc_rows
