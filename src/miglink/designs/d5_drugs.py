"""D5 medication overlap (claim 7).

1. Self-controlled case series of migraine encounters (every distinct migraine record day after the
   first) around eras of each drug set: risk window = era + 30 days, pre-exposure window -30..-1
   days (reverse-causation check), 5-year age bands, conditional Poisson (stats.sccs). Cases are
   people with migraine who have at least one encounter after their first record and an era of the
   drug touching their observation. Observation starts the day after the first migraine record:
   before it, encounters cannot exist by definition, and counting that time as baseline would make
   any drug started after diagnosis look harmful. (:mod:`~miglink.designs.d5_sccs`,
   :mod:`~miglink.designs.d5_sccs_counts`, :mod:`~miglink.designs.d5_sccs_rows`)
2. New-user cohort of immunomodulator starters vs matched non-starters, calibrated on its own
   negative-control outcomes (:mod:`~miglink.designs.d5_new_user`).
3. Burden: among people with both migraine and autoimmune disease, the share with NSAID use and
   with medication-overuse headache, beside people with migraine only (descriptive,
   :mod:`~miglink.designs.d5_burden`).
"""

from __future__ import annotations

import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, hypothesis_task
from miglink.designs.d5_burden import burden_counts, burden_rows
from miglink.designs.d5_new_user import new_user_counts, new_user_rows
from miglink.designs.d5_sccs_counts import sccs_counts
from miglink.designs.d5_sccs_rows import sccs_rows
from miglink.designs.not_analysed import absent_reason, not_analysed_row
from miglink.features.build import FeatureTables

NAME = "D5"
SCCS, NEW_USER_COHORT, NEW_USER_NC, BURDEN = "sccs", "new_user", "new_user_nc", "burden"
_KINDS = {None: SCCS, "new_user": NEW_USER_COHORT, "burden": BURDEN}


def _kind(t: Task) -> str:
    return t.options["kind"]


def tasks(study: Study) -> list[Task]:
    """Per D5 hypothesis: an SCCS (no contrast), the new-user cohort with one task per
    negative-control outcome, or the burden shares."""
    out: list[Task] = []
    for _claim, h in study.hypotheses():
        if h.design != NAME or h.contrast not in _KINDS:
            continue
        kind = _KINDS[h.contrast]
        out.append(hypothesis_task(h, options={"kind": kind}))
        if kind == NEW_USER_COHORT:
            out += [
                Task(
                    NAME,
                    f"{h.id}__nc",
                    h.exposure,
                    nc,
                    role="negative_control",
                    contrast=h.contrast,
                    options={"kind": NEW_USER_NC, "of": h.id},
                )
                for nc in study.negative_controls
            ]
    return out


def _controls_of(task: Task, tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if _kind(t) == NEW_USER_NC and t.options["of"] == task.analysis]


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Burden shares, new-user cohort counts and SCCS case profiles.

    values: "drugs_absent" (why the drug designs cannot run, or None), "sccs" (status per SCCS
    analysis; profiles in frames "sccs <analysis>"), "burden" frames "burden <analysis>".
    """
    counts = Counts(NAME)
    why = absent_reason(ft, "drug_exposure", "drug concept set")
    counts.values.update(drugs_absent=why, sccs={})
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
    return counts


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows per hypothesis in study order; the new-user cohorts declare their ControlGroups."""
    res = DesignResult()
    curves: list[pd.DataFrame] = []
    why = counts.values.get("drugs_absent")
    for t in tasks:
        kind = _kind(t)
        if kind == NEW_USER_NC:
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
    if curves:
        res.curves = pd.concat(curves, ignore_index=True)
    return res
