"""D4 migraine subtypes and vascular outcomes (claim 4).

Aura contrast: every person falls in one exposure category, none / migraine without aura / with
aura / unspecified (aura wins over without-aura when both are recorded; unspecified = migraine
with neither subtype). Per category the stratified Mantel-Haenszel OR against "none"; the key
estimate, the ratio of ORs aura vs no aura, is the MH OR of the outcome among people with aura
against people without aura (same strata), which shares no reference group and so needs no
covariance term; the ratio of the two category ORs is given beside it.

Vascular cohort: among people with a migraine record, new SLE / APS (D2 incident matched cohort on
that restricted population) and ischaemic stroke / VTE afterwards; hazard ratio by Poisson on
matched-cell person-time, KM curves.
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd

from miglink.designs.d5_common import not_analysed
from miglink.designs.rows import make_row
from miglink.designs.strata import contrast_2x2, grouped_counts
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates

AURA, NO_AURA = "migraine_with_aura", "migraine_without_aura"
CATEGORIES = {0: "none", 1: "without aura", 2: "with aura", 3: "unspecified"}


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


def aura_rows(h, role: str, counts: tuple[pd.DataFrame, pd.DataFrame]) -> list[dict]:
    """Rows of one aura hypothesis from :func:`grouped_counts` by migraine category."""
    totals, cases = counts
    out: list[dict] = []
    per_cat = {}
    for code in (1, 2, 3):
        tab = contrast_2x2(totals, cases, "cat", [code], [0], [h.outcome])
        r = estimate_2x2(
            tab,
            design="D4",
            exposure=f"migraine {CATEGORIES[code]}",
            outcome=h.outcome,
            role="secondary",
            stratum=f"migraine {CATEGORIES[code]} vs none",
            analysis=h.id,
            with_sensitivity=False,
        )[0]
        per_cat[code] = r
        out.append(r)
    tab = contrast_2x2(totals, cases, "cat", [2], [1], [h.outcome])
    key = estimate_2x2(
        tab,
        design="D4",
        exposure=h.exposure,
        outcome=h.outcome,
        role=role,
        stratum="with vs without aura",
        analysis=h.id,
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
            design="D4",
            exposure=h.exposure,
            outcome=h.outcome,
            measure="ROR",
            method="ratio_of_mh_odds_ratios",
            est=ror,
            role="sensitivity",
            stratum="OR(with aura vs none) / OR(without aura vs none)",
            analysis=h.id,
            note="treats the two ORs as independent although they share the reference group (conservative)",
        )
    )
    return [key, *out]


def vascular_rows(
    ft: FeatureTables, hyps: list, roles: dict
) -> tuple[list[dict], pd.DataFrame | None]:
    """HR of stroke / VTE after new SLE / APS among people with migraine (matched cohort)."""
    from miglink.designs.d2_cohort import cohort_counts
    from miglink.designs.d2_estimate import d2_rows

    C, P = ft.conditions, ft.persons
    idx = ft.settings.index_set
    m = C.filter(C.set_id == idx).select(mpid=C.person_id)
    pm = P.join(m, P.person_id == m.mpid).drop("mpid")
    sub = dataclasses.replace(ft, persons=pm)
    pairs = [(h.exposure, h.outcome) for h in hyps]
    cc = cohort_counts(sub, pairs, balance_set=None)
    rows, curves = d2_rows(
        cc, pairs, {p: roles[p] for p in pairs}, ft.settings.max_smd, ft.settings.km_horizon_years
    )
    by_pair = {(h.exposure, h.outcome): h for h in hyps}
    out = []
    for r in rows:
        h = by_pair[(r["exposure"], r["outcome"])]
        old = r["analysis"]
        r.update(
            design="D4",
            analysis=h.id,
            stratum="among people with migraine",
            method="poisson_matched_strata_migraine",
        )
        r["note"] = (
            "new diagnosis among people with a migraine record, matched 1:k to people with migraine free of it"
        )
        if curves is not None and not curves.empty:
            curves.loc[curves["analysis"] == old, "analysis"] = h.id
        out.append(r)
    return out, curves


def run(ft: FeatureTables, study, hyps) -> tuple[list[dict], pd.DataFrame | None]:
    rows: list[dict] = []
    curves = None
    cohort_h = []
    aura_h = [h for _c, h in hyps if h.contrast == "aura_vs_no_aura"]
    counts = None
    if aura_h and AURA in ft.resolved_ids and NO_AURA in ft.resolved_ids:
        # one pair of engine queries for every aura hypothesis (all outcomes, all categories)
        outcomes = list(dict.fromkeys(h.outcome for h in aura_h))
        counts = grouped_counts(with_category(ft), ft.conditions, "cat", outcomes)
    for _claim, h in hyps:
        role = "descriptive" if h.expected == "descriptive" else "primary"
        if h.contrast == "aura_vs_no_aura":
            if counts is None:
                rows.append(not_analysed(h, "D4", "ROR", "migraine subtype codes not resolved"))
                continue
            rows += aura_rows(h, role, counts)
        elif h.subgroup == ft.settings.index_set:
            cohort_h.append((h, role))
        else:
            rows.append(
                not_analysed(
                    h, "D4", "OR", f"unknown D4 hypothesis shape ({h.contrast}, {h.subgroup})"
                )
            )
    if cohort_h:
        r, curves = vascular_rows(
            ft, [h for h, _ in cohort_h], {(h.exposure, h.outcome): role for h, role in cohort_h}
        )
        rows += r
    return rows, curves
