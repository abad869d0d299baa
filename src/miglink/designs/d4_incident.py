"""D4 vascular cohorts on the whole population, with migraine and aura at index as modifiers.

Key estimate of an ``incident`` hypothesis: D2's incident matched cohort (new diagnoses of the
exposure, >= 365 days of prior observation, matched 1:k on sex, birth-year band, index year and
prior-year utilisation to people free of it at that date) on the **whole population**, followed
for the outcome; HR by Poisson on matched-cell person-time (:func:`d2_counts.cohort_counts`,
:func:`d2_estimate.hazard_row`). The former cohort restricted to people with a migraine record had
too few new SLE / APS diagnoses to estimate at 400k persons, and by selecting on a migraine record
at any time it conditioned on the future.

Modifier (secondary rows, for an exposure that is not itself migraine): the same matched cohort
within three groups defined **at the index date**, so cases and their comparators share the
modifier and no future information selects them:

- "migraine at index": cases and comparators with a first migraine record on or before the index
  date (``cohort_counts(eligible_from=...)``);
- "aura at index": the same with a first record of migraine with aura;
- "no migraine at index": cases and comparators free of migraine at the index date, each followed
  until their first migraine record (their observation ends the day before it), so the group's
  person-time is migraine-free. Its person-time is disjoint from the other groups', and a case is
  in exactly one of "migraine" / "no migraine", so the ratio of HRs (migraine or aura vs no
  migraine) treats the two HRs as independent (SE of the log ratio from both SEs).

Hypotheses with a migraine set as the exposure (e.g. ``migraine_with_aura -> ischaemic_stroke``)
get only the whole-population row: new diagnoses of migraine with aura against people free of it.
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd

from miglink.claims.model import Settings
from miglink.designs.base import Task, key_row
from miglink.designs.d2_counts import CohortCounts, cohort_counts
from miglink.designs.d2_estimate import (
    PairCounts,
    concat_curves,
    hazard_row,
    pair_curve,
    split_counts,
)
from miglink.designs.rows import make_row
from miglink.designs.twobytwo import as_est
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates

AURA, NO_AURA = "migraine_with_aura", "migraine_without_aura"
FRAMES = ("strata", "km", "balance", "attrition")
METHOD = "poisson_matched_strata"
RATIO_METHOD = "ratio_of_hazard_ratios"
WHOLE, MIGRAINE, WITH_AURA, NO_MIGRAINE = "all", "migraine", "aura", "no_migraine"
#: group -> the row's stratum label
STRATA = {
    WHOLE: "whole population",
    MIGRAINE: "migraine at index",
    WITH_AURA: "migraine with aura at index",
    NO_MIGRAINE: "no migraine at index",
}
NOTE = "new diagnosis matched 1:k to people free of it (whole population)"
GROUP_NOTE = {
    MIGRAINE: "cases and comparators with a migraine record on or before the index date",
    WITH_AURA: "cases and comparators with a migraine-with-aura record on or before the index date",
    NO_MIGRAINE: "cases and comparators free of migraine at index, censored at a first migraine record",
}


def modified(t: Task, index_set: str) -> bool:
    """Whether the task gets the migraine / aura modifier rows (its exposure is not migraine)."""
    return t.exposure not in (index_set, AURA, NO_AURA)


def _first_records(ft: FeatureTables, set_id: str):
    C = ft.conditions
    return C.filter(C.set_id == set_id).select(person_id=C.person_id, day=C.first_day)


def migraine_free(ft: FeatureTables) -> FeatureTables:
    """The features with every person's observation ended the day before their first migraine
    record: a matched cohort on them is free of migraine at index and follows migraine-free time."""
    P = ft.persons
    m = _first_records(ft, ft.settings.index_set).rename(fpid="person_id", f_day="day")
    j = P.left_join(m, P.person_id == m.fpid)
    end = ibis.cases(
        (j.f_day.notnull(), ibis.least(j.obs_end_day, j.f_day - 1)), else_=j.obs_end_day
    )
    persons = j.mutate(obs_end_day=end.cast(P.obs_end_day.type())).drop("fpid", "f_day")
    return dataclasses.replace(ft, persons=persons)


def incident_counts(ft: FeatureTables, tasks: list[Task]) -> dict[str, pd.DataFrame]:
    """Frames ``cohort_<group>_<frame>`` of the whole-population cohort (KM counts for its
    pairs) and of the three modifier groups (no KM counts) for the tasks that take them."""
    pairs = list(dict.fromkeys((t.exposure, t.outcome) for t in tasks))
    mod = list(
        dict.fromkeys((t.exposure, t.outcome) for t in tasks if modified(t, ft.settings.index_set))
    )
    out: dict[str, CohortCounts] = {WHOLE: cohort_counts(ft, pairs)} if pairs else {}
    if mod:
        idx = ft.settings.index_set
        out[MIGRAINE] = cohort_counts(
            ft, mod, eligible_from=_first_records(ft, idx), curve_pairs=[]
        )
        out[WITH_AURA] = cohort_counts(
            ft, mod, eligible_from=_first_records(ft, AURA), curve_pairs=[]
        )
        out[NO_MIGRAINE] = cohort_counts(migraine_free(ft), mod, curve_pairs=[])
    return {f"cohort_{g}_{f}": getattr(cc, f) for g, cc in out.items() for f in FRAMES}


def _group_counts(frames: dict[str, pd.DataFrame], group: str) -> PairCounts | None:
    if f"cohort_{group}_strata" not in frames:
        return None
    return split_counts(CohortCounts(*(frames[f"cohort_{group}_{f}"] for f in FRAMES)))


def incident_rows(
    frames: dict[str, pd.DataFrame], tasks: list[Task], settings: Settings
) -> tuple[list[dict], pd.DataFrame]:
    """Per task: the whole-population HR (key row), then (for a non-migraine exposure) the HR in
    each modifier group and the ratios migraine / aura vs no migraine; KM curves of the key rows."""
    pcs = {g: _group_counts(frames, g) for g in STRATA}
    rows: list[dict] = []
    curves = []
    for t in tasks:
        key = _hr(pcs[WHOLE], t, WHOLE, t.role, settings)
        rows.append(key_row(key, t))
        if pcs[WHOLE] is not None:
            curves.append(
                pair_curve(pcs[WHOLE], t.exposure, t.outcome, t.analysis, settings.km_horizon_years)
            )
        if modified(t, settings.index_set):
            rows += _modifier_rows(pcs, t, settings)
    return rows, concat_curves(curves)


def _hr(pc: PairCounts | None, t: Task, group: str, role: str, settings: Settings) -> dict:
    if pc is None:  # the group was not counted: a row saying so
        pc = PairCounts(strata={}, km={}, smd={}, empty=pd.DataFrame(columns=STRATA_COLUMNS))
    return hazard_row(
        pc,
        t.exposure,
        t.outcome,
        role=role,
        analysis=t.analysis,
        max_smd=settings.max_smd,
        design="D4",
        method=METHOD,
        stratum=STRATA[group],
        note=GROUP_NOTE.get(group, NOTE),
    )


STRATA_COLUMNS = ["index_set", "outcome_set", "cell", "exposed", "n", "events", "person_days"]


def _modifier_rows(pcs: dict, t: Task, settings: Settings) -> list[dict]:
    """HR among migraine, aura and no migraine at index, and the two ratios of HRs."""
    sub = {g: _hr(pcs[g], t, g, "secondary", settings) for g in (MIGRAINE, WITH_AURA, NO_MIGRAINE)}
    ref = sub[NO_MIGRAINE]
    ratios = [
        make_row(
            design="D4",
            exposure=t.exposure,
            outcome=t.outcome,
            measure="RHR",
            method=RATIO_METHOD,
            est=ratio_of_estimates(as_est(sub[g]), as_est(ref), RATIO_METHOD),
            role="secondary",
            stratum=f"{STRATA[g]} vs {STRATA[NO_MIGRAINE]}",
            analysis=t.analysis,
            note="ratio of two HRs on disjoint person-time (independent: SEs added in quadrature)",
        )
        for g in (MIGRAINE, WITH_AURA)
    ]
    return [sub[MIGRAINE], sub[WITH_AURA], ref, *ratios]
