"""D4 migraine subtypes and vascular outcomes (claim 4).

Aura contrast: every person falls in one exposure category, none / migraine without aura / with
aura / unspecified (aura wins over without-aura when both are recorded; unspecified = migraine
with neither subtype). Per category the stratified Mantel-Haenszel OR against "none"; the key
estimate, the ratio of ORs aura vs no aura, is the MH OR of the outcome among people with aura
against people without aura (same strata), which shares no reference group and so needs no
covariance term; the ratio of the two category ORs is given beside it. Utilisation leaves out the
visit days recording migraine, either subtype or the outcome (:mod:`miglink.designs.strata`).

Vascular cohort: among people with a migraine record, new SLE / APS (D2 incident matched cohort on
that restricted population: D2's matching and counts) and ischaemic stroke / VTE afterwards; hazard
ratio by Poisson on matched-cell person-time, KM curves.
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, hypothesis_role, key_row
from miglink.designs.d2_counts import CohortCounts, cohort_counts
from miglink.designs.d2_estimate import concat_curves, hazard_row, pair_curve, split_counts
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import make_row
from miglink.designs.strata import contrast_2x2, grouped_counts, own_utilisation
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates

NAME = "D4"
AURA, NO_AURA = "migraine_with_aura", "migraine_without_aura"
CATEGORIES = {0: "none", 1: "without aura", 2: "with aura", 3: "unspecified"}
#: task kinds (Task.options["kind"]): the aura contrast, the vascular cohort, a shape D4 lacks
AURA_CONTRAST, VASCULAR, UNKNOWN = "aura", "vascular", "unknown"
_COHORT = ("strata", "km", "balance", "attrition")
VASCULAR_METHOD = "poisson_matched_strata_migraine"
VASCULAR_STRATUM = "among people with migraine"
VASCULAR_NOTE = "new diagnosis among people with a migraine record, matched 1:k to people with migraine free of it"


def with_category(ft: FeatureTables):
    """persons + ``cat`` (0 none, 1 without aura, 2 with aura, 3 unspecified migraine)."""
    C, P = ft.conditions, ft.persons
    idx = ft.settings.index_set

    def ids(s, name):
        return C.filter(C.set_id == s).select(**{name: C.person_id})

    m, a, w = ids(idx, "m_pid"), ids(AURA, "a_pid"), ids(NO_AURA, "w_pid")
    p = P.left_join(m, P.person_id == m.m_pid).left_join(a, P.person_id == a.a_pid)
    p = p.left_join(w, p.person_id == w.w_pid)
    cat = ibis.cases(
        (p.a_pid.notnull(), 2),
        (p.w_pid.notnull(), 1),
        (p.m_pid.notnull(), 3),
        else_=0,
    )
    return p.mutate(cat=cat.cast("int64")).drop("m_pid", "a_pid", "w_pid")


def tasks(study: Study) -> list[Task]:
    """One task per D4 hypothesis, in study order: its key estimate answers it."""
    out = []
    for _claim, h in study.hypotheses():
        if h.design != NAME:
            continue
        if h.contrast == "aura_vs_no_aura":
            kind = AURA_CONTRAST
        elif h.subgroup == study.settings.index_set:
            kind = VASCULAR
        else:
            kind = UNKNOWN
        out.append(
            Task(
                design=NAME,
                analysis=h.id,
                exposure=h.exposure,
                outcome=h.outcome,
                role=hypothesis_role(h.expected),
                hypotheses=(h.id,),
                contrast=h.contrast,
                subgroup=h.subgroup,
                options={"kind": kind},
            )
        )
    return out


def _of_kind(tasks: list[Task], kind: str) -> list[Task]:
    return [t for t in tasks if t.options["kind"] == kind]


def vascular_counts(ft: FeatureTables, pairs: list[tuple[str, str]]) -> CohortCounts:
    """D2's matched-cohort counts on the people with a record of the index condition."""
    C, P = ft.conditions, ft.persons
    idx = ft.settings.index_set
    m = C.filter(C.set_id == idx).select(mpid=C.person_id)
    pm = P.join(m, P.person_id == m.mpid).drop("mpid")
    sub = dataclasses.replace(ft, persons=pm)
    return cohort_counts(sub, pairs, balance_set=None)


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Persons and cases per stratum x migraine category for every aura outcome (two queries,
    when the subtype codes are resolved), and the vascular cohort's counts."""
    aura, vascular = _of_kind(tasks, AURA_CONTRAST), _of_kind(tasks, VASCULAR)
    resolved = AURA in ft.resolved_ids and NO_AURA in ft.resolved_ids
    counts = Counts(design=NAME, values={"aura_resolved": resolved})
    if aura and resolved:
        outcomes = list(dict.fromkeys(t.outcome for t in aura))
        # the category is read from the index set and both subtypes: none of their days counts
        util = own_utilisation(ft, [ft.settings.index_set, AURA, NO_AURA])
        totals, cases = grouped_counts(with_category(ft), ft.conditions, "cat", outcomes, util=util)
        counts.frames.update(aura_totals=totals, aura_cases=cases)
    if vascular:
        cc = vascular_counts(ft, [(t.exposure, t.outcome) for t in vascular])
        counts.frames.update({f"cohort_{f}": getattr(cc, f) for f in _COHORT})
    return counts


def aura_rows(task: Task, counts: tuple[pd.DataFrame, pd.DataFrame]) -> list[dict]:
    """Rows of one aura task from :func:`grouped_counts` by migraine category (key row first)."""
    totals, cases = counts
    out: list[dict] = []
    per_cat = {}
    for code in (1, 2, 3):
        tab = contrast_2x2(totals, cases, "cat", [code], [0], [task.outcome])
        r = estimate_2x2(
            tab,
            design=NAME,
            exposure=f"migraine {CATEGORIES[code]}",
            outcome=task.outcome,
            role="secondary",
            stratum=f"migraine {CATEGORIES[code]} vs none",
            analysis=task.analysis,
            with_sensitivity=False,
        )[0]
        per_cat[code] = r
        out.append(r)
    tab = contrast_2x2(totals, cases, "cat", [2], [1], [task.outcome])
    key = estimate_2x2(
        tab,
        design=NAME,
        exposure=task.exposure,
        outcome=task.outcome,
        role=task.role,
        stratum="with vs without aura",
        analysis=task.analysis,
        with_sensitivity=False,
    )[0]
    key["measure"] = "ROR"
    key["method"] = "mh_or_with_vs_without_aura"
    key["note"] = (
        "ratio of ORs aura vs no aura, estimated as the MH OR among people with migraine of known subtype"
    )
    ror = ratio_of_estimates(as_est(per_cat[2]), as_est(per_cat[1]))
    out.append(
        make_row(
            design=NAME,
            exposure=task.exposure,
            outcome=task.outcome,
            measure="ROR",
            method="ratio_of_mh_odds_ratios",
            est=ror,
            role="sensitivity",
            stratum="OR(with aura vs none) / OR(without aura vs none)",
            analysis=task.analysis,
            note="treats the two ORs as independent although they share the reference group (conservative)",
        )
    )
    return [key_row(key, task), *out]


def vascular_rows(
    counts: Counts, tasks: list[Task], settings: Settings
) -> tuple[list[dict], pd.DataFrame]:
    """HR of stroke / VTE after new SLE / APS among people with migraine, and the KM curves."""
    if not tasks:
        return [], pd.DataFrame()
    pc = split_counts(CohortCounts(*(counts.frame(f"cohort_{f}") for f in _COHORT)))
    rows, curves = [], []
    for t in tasks:
        row = hazard_row(
            pc,
            t.exposure,
            t.outcome,
            role=t.role,
            analysis=t.analysis,
            max_smd=settings.max_smd,
            design=NAME,
            method=VASCULAR_METHOD,
            stratum=VASCULAR_STRATUM,
            note=VASCULAR_NOTE,
        )
        rows.append(key_row(row, t))
        curves.append(pair_curve(pc, t.exposure, t.outcome, t.analysis, settings.km_horizon_years))
    return rows, concat_curves(curves)


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Aura-contrast rows (or their not-analysed rows) in task order, then the vascular cohort's."""
    rows: list[dict] = []
    aura = (counts.frame("aura_totals"), counts.frame("aura_cases"))
    for t in tasks:
        if t.options["kind"] == AURA_CONTRAST:
            if not counts.values.get("aura_resolved"):
                rows.append(not_analysed_row(t, "ROR", "migraine subtype codes not resolved"))
            else:
                rows += aura_rows(t, aura)
        elif t.options["kind"] == UNKNOWN:
            why = f"unknown D4 hypothesis shape ({t.contrast}, {t.subgroup})"
            rows.append(not_analysed_row(t, "OR", why))
    cohort, curves = vascular_rows(counts, _of_kind(tasks, VASCULAR), settings)
    return DesignResult(rows=rows + cohort, curves=curves)
