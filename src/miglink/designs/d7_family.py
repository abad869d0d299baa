"""D7 family history (claim 2, the record-based half).

Exposure: a recorded family history (OMOP observation, e.g. family_history_autoimmune); outcome:
the person's own condition (migraine, or any autoimmune disease). The stratified 2x2 table gives
the Mantel-Haenszel OR (as D1). Because whether a family history gets recorded depends on how
much care a person receives, as does the recording of any diagnosis, the same exposure is also
run against every negative-control outcome; their ORs form an empirical null (Schuemie et al.
2014) that calibrates a copy of the key estimate, reported as a sensitivity row.

Utilisation is measured without the visit days recording the family history or the outcome
(:mod:`miglink.designs.strata`): counting migraine's own visits made the family-history ->
migraine OR 0.88-0.95 in null worlds (docs/statistics.md).
"""

from __future__ import annotations

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs.base import (
    HYPOTHESES_KEY,
    Counts,
    DesignResult,
    Task,
    hypothesis_role,
    key_row,
)
from miglink.designs.not_analysed import absent_reason, not_analysed_row
from miglink.designs.strata import own_utilisation, stratified_counts, with_flag
from miglink.designs.twobytwo import estimate_2x2
from miglink.features.build import FeatureTables

NAME = "D7"

#: note of the calibrated sensitivity row (fields filled by calibrate.calibrate_groups)
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
        out.append(
            Task(
                NAME,
                h.id,
                h.exposure,
                h.outcome,
                role=hypothesis_role(h.expected),
                hypotheses=(h.id,),
            )
        )
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
    """Rows per key task: MH OR (key), crude / logistic sensitivity, the calibrated copy (kept
    only when the null could be fitted), negative-control rows; one ControlGroup per task."""
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
        rows, cal, nc_rows = _task_rows(counts.frame(f"2x2 {k.analysis}"), k, tasks)
        res.rows += rows + [cal] + nc_rows
        res.controls.append(
            ControlGroup(
                f"{NAME} {k.analysis}",
                nc_rows,
                [cal],
                calibrated_note=CALIBRATED_NOTE,
                drop_uncalibrated=True,
            )
        )
    return res


def _task_rows(tab, k: Task, tasks: list[Task]) -> tuple[list[dict], dict, list[dict]]:
    """The key task's rows, the sensitivity copy of its MH row to calibrate, and the NC rows."""
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
    # The calibrated estimate is a sensitivity row; the verdict reads the stratified OR.
    # Negative-control outcomes of a family-history exposure measure how family-history
    # recording tracks healthcare contact. While utilisation counted the outcome's own visits
    # the key estimate had a downward bias the controls lacked and calibrating over-corrected;
    # with utilisation without the analysis's own days key and controls share one bias and the
    # calibrated copy is centred on 1 in null worlds (docs/statistics.md, issue 15 item 2).
    cal = {k2: v for k2, v in rows[0].items() if k2 != HYPOTHESES_KEY}
    cal.update(role="sensitivity", method="mantel_haenszel_nc_calibrated")
    return rows, cal, nc_rows
