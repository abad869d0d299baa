"""D4 migraine subtypes and vascular outcomes (claim 4).

Aura contrast: every person falls in one exposure category, none / migraine without aura / with
aura / unspecified (aura wins over without-aura when both are recorded; unspecified = migraine
with neither subtype). Per category the stratified Mantel-Haenszel OR against "none"; the key
estimate, the ratio of ORs aura vs no aura, is the MH OR of the outcome among people with aura
against people without aura (same strata), which shares no reference group and so needs no
covariance term; the ratio of the two category ORs is given beside it. Utilisation leaves out the
visit days recording migraine, either subtype or the outcome (:mod:`miglink.designs.strata`).

Incident vascular cohorts (``contrast: incident``, :mod:`miglink.designs.d4_incident`): new
SLE / APS diagnoses in the whole population followed for ischaemic stroke and VTE, with migraine
and aura at index as modifiers (secondary rows: HR within each group and the ratio of HRs against
people without migraine), and new migraine with aura followed for ischaemic stroke; hazard ratio
by Poisson on matched-cell person-time (D2's matching and counts), KM curves.
"""

from __future__ import annotations

import ibis
import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, hypothesis_role, key_row
from miglink.designs.d4_incident import AURA, NO_AURA, incident_counts, incident_rows
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import make_row
from miglink.designs.strata import contrast_2x2, grouped_counts, own_utilisation
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates

NAME = "D4"
CATEGORIES = {0: "none", 1: "without aura", 2: "with aura", 3: "unspecified"}
#: task kinds (Task.options["kind"]): the aura contrast, the incident cohort, a shape D4 lacks
AURA_CONTRAST, INCIDENT, UNKNOWN = "aura", "incident", "unknown"


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
        elif h.contrast == INCIDENT:
            kind = INCIDENT
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


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Persons and cases per stratum x migraine category for every aura outcome (two queries,
    when the subtype codes are resolved), and the incident cohorts' counts."""
    aura, incident = _of_kind(tasks, AURA_CONTRAST), _of_kind(tasks, INCIDENT)
    resolved = AURA in ft.resolved_ids and NO_AURA in ft.resolved_ids
    counts = Counts(design=NAME, values={"aura_resolved": resolved})
    if aura and resolved:
        outcomes = list(dict.fromkeys(t.outcome for t in aura))
        # the category is read from the index set and both subtypes: none of their days counts
        util = own_utilisation(ft, [ft.settings.index_set, AURA, NO_AURA])
        totals, cases = grouped_counts(with_category(ft), ft.conditions, "cat", outcomes, util=util)
        counts.frames.update(aura_totals=totals, aura_cases=cases)
    if incident:
        counts.frames.update(incident_counts(ft, incident))
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


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Aura-contrast rows (or their not-analysed rows) in task order, then the incident cohorts'."""
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
    cohort, curves = incident_rows(counts.frames, _of_kind(tasks, INCIDENT), settings)
    return DesignResult(rows=rows + cohort, curves=curves, attrition=_attrition(counts))


def _attrition(counts: Counts) -> pd.DataFrame:
    """The whole-population cohort's attrition per index set, under analysis ``d4__<index set>``."""
    att = counts.frame("cohort_all_attrition").rename(columns={"index_set": "analysis"})
    if "analysis" in att:
        att["analysis"] = "d4__" + att["analysis"].astype(str)
    return att
