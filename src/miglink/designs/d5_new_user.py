"""D5 new-user cohort: new-onset migraine after an immunomodulator start vs matched non-starters.

First immunomodulator record (interferon beta, TNF inhibitors, methotrexate,
hydroxychloroquine, rituximab) after >= 365 days of observation without one, among people with
a recorded autoimmune disease, matched 1:k (D2 matching) to people with autoimmune disease who
have not started one; outcome new migraine; hazard ratio by Poisson on matched-cell time. The
same cohort's negative-control outcomes calibrate the hazard ratio: starting an
immunomodulator comes with follow-up care, so every condition is recorded more often
afterwards (detection bias), which the negative controls measure.

Users start a median 0.13 years after their first autoimmune record, so the matching aligns
disease duration too: ``eligible_from`` (the first autoimmune record) gives D2's matching its
duration band (index year minus the year of that record), beside the observation band
(:mod:`miglink.designs.d2_matching`); comparators keep the user's index day (a drug start is
not a visit, so D2's visit-day index of comparators would not be like the user's). Without it comparators were
a median 3.3 years past their diagnosis and the new-user HR was 1.8-2.2 with nothing planted.
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings
from miglink.designs.base import Counts, Task, key_row
from miglink.designs.d2_cohort import CohortCounts, cohort_counts
from miglink.designs.d2_estimate import hazard_row, pair_curve, split_counts
from miglink.designs.not_analysed import not_analysed_row
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables

IMMUNOMODULATORS = (
    "interferon_beta",
    "tnf_inhibitors",
    "methotrexate",
    "hydroxychloroquine",
    "rituximab",
)
NEW_USER = "immunomodulators"
METHOD = "new_user_poisson_matched_strata"
_PARTS = ("strata", "km", "balance", "attrition")
NOTE = (
    "new users of an immunomodulator (first record after >= 365 days of observation) among people "
    "with a recorded autoimmune disease, matched to non-users whose autoimmune disease was recorded "
    "by the index date"
)


def _epoch_date(days):
    return ibis.date(1970, 1, 1) + days.as_interval("D")


def new_user_counts(ft: FeatureTables, task: Task, controls: list[Task], counts: Counts) -> None:
    """The matched cohort's counts (D2 machinery) for the task and its negative-control outcomes,
    stored in ``counts`` as frames ``new_user <analysis> <part>``."""
    D, C, P = ft.drugs, ft.conditions, ft.persons
    members = list(IMMUNOMODULATORS) if task.exposure == NEW_USER else [task.exposure]
    d = D.filter(D.set_id.isin(members))
    starts = d.group_by(person_id=d.person_id).aggregate(
        first_day=d.start_day.min(), n_dates=d.start_day.nunique()
    )
    starts = starts.select(
        "person_id",
        set_id=ibis.literal(NEW_USER),
        first_date=_epoch_date(starts.first_day),
        second_date=ibis.null().cast("date"),
        n_dates=starts.n_dates.cast("int64"),
        first_day=starts.first_day.cast("int64"),
    )
    cols = C.columns
    conds = C.select(*cols).union(starts.select(*cols))
    ai = C.filter(C.set_id == ANY_AUTOIMMUNE).select(apid=C.person_id)
    pa = P.join(ai, P.person_id == ai.apid).drop("apid")
    sub = dataclasses.replace(ft, persons=pa, conditions=conds)
    pair = (NEW_USER, task.outcome)
    # comparators (and cases) must have their autoimmune diagnosis on or before the index date
    since = C.filter(C.set_id == ANY_AUTOIMMUNE).select(person_id=C.person_id, day=C.first_day)
    nc_pairs = [(NEW_USER, t.outcome) for t in controls]
    # a drug start is not a visit: comparators keep the user's day (no visit index); new users
    # start soon after their first autoimmune diagnosis, so matching adds the duration band
    cc = cohort_counts(
        sub,
        [pair, *nc_pairs],
        balance_set=None,
        eligible_from=since,
        curve_pairs=[pair],
        visit_index=False,
        duration_band=True,
    )
    for part in _PARTS:
        counts.frames[f"new_user {task.analysis} {part}"] = getattr(cc, part)


def _cohort(counts: Counts, task: Task) -> CohortCounts:
    return CohortCounts(*(counts.frame(f"new_user {task.analysis} {p}") for p in _PARTS))


def new_user_rows(
    counts: Counts, task: Task, controls: list[Task], settings: Settings
) -> tuple[list[dict], pd.DataFrame | None, ControlGroup | None]:
    """Rows (key, then negative controls), the key curve and the calibration group of the task."""
    cc = _cohort(counts, task)
    if cc.strata.empty:
        note = (
            "no immunomodulator new users with 365 days of prior observation and a matched non-user"
        )
        return [not_analysed_row(task, "HR", "no new users", note)], None, None
    pc = split_counts(cc)
    common = dict(max_smd=settings.max_smd, design=task.design, method=METHOD)
    common["exposure"] = task.exposure
    key = hazard_row(
        pc,
        NEW_USER,
        task.outcome,
        role=task.role,
        analysis=task.analysis,
        stratum="new users vs matched non-users",
        note=NOTE,
        **common,
    )
    rows = [key_row(key, task)]
    nc_analysis = controls[0].analysis if controls else f"{task.analysis}__nc"
    nc_rows = [
        hazard_row(
            pc,
            NEW_USER,
            t.outcome,
            role="negative_control",
            analysis=nc_analysis,
            stratum="negative control",
            **common,
        )
        for t in controls
    ]
    curves = pair_curve(pc, NEW_USER, task.outcome, task.analysis, settings.km_horizon_years)
    # the row's own note stays (today's design note); only cal_* is written by the pipeline
    group = ControlGroup(f"{task.design} {task.analysis}", nc_rows, rows)
    return rows + nc_rows, curves, group
