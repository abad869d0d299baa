"""D3 effect modification: the D1 association within sex, and within women 15-49 vs 50+.

Modification is tested **per disease** (the study file names one hypothesis per disease and
subgroup, in a Holm family): the composite "any autoimmune disease" mixes diseases whose
female-to-male ratios differ (SLE about 9:1, MS 3:1, type 1 diabetes 1:1), so its ratio of ORs
women vs men moves with the make-up of the composite in each sex and gave false verdicts in
worlds with no sex effect. The composite's ratio of ORs is kept as a secondary row (analysis
``d3__<subgroup>__<exposure>__any_autoimmune``) beside the per-disease keys.

Also the female excess of each condition (OR women vs men, stratified by age, utilisation and
observation band) and a descriptive count of menstrual-migraine codes. Every 2x2 here is
stratified without sex (the subgroups are sexes, or women only), with utilisation measured
without the visit days recording its exposure or outcome (:mod:`miglink.designs.strata`).
"""

from __future__ import annotations

import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA, own_utilisation, stratified_counts, with_flag
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates

NAME = "D3"
FEMALE_EXCESS = "female_excess"
COUNT = "count"
#: the stratum variables of every D3 2x2 table
D3_STRATA = [s for s in STRATA if s != "sex"]


def tasks(study: Study) -> list[Task]:
    """One task per distinct D3 hypothesis: female excess, a count of persons, or a subgroup
    modification (its two subgroup labels in ``options["groups"]``); and, per exposure and
    subgroup a modification hypothesis names, the composite's modification as a secondary task."""
    keyed: dict[tuple, list] = {}
    for _, h in study.hypotheses():
        if h.design == NAME:
            keyed.setdefault((h.exposure, h.outcome, h.subgroup, h.contrast), []).append(h)
    out = []
    for (exp, outc, sub, con), hs in keyed.items():
        ids = dict(
            design=NAME,
            analysis=hs[-1].id,  # the last hypothesis with the key names it, as always
            outcome=outc,
            hypotheses=tuple(h.id for h in hs),
            contrast=con,
            subgroup=sub,
        )
        if con == FEMALE_EXCESS:
            out.append(Task(exposure="female", role="primary", **ids))
        elif con == COUNT:  # persons with a record of the exposure set (outcome = exposure)
            out.append(Task(exposure=exp, role="descriptive", **{**ids, "outcome": exp}))
        elif sub:
            opts = {"groups": _groups(sub, study.settings)}
            out.append(Task(exposure=exp, role="primary", options=opts, **ids))
    return out + _composite_tasks(out, study.settings)


def _composite_tasks(keys: list[Task], settings: Settings) -> list[Task]:
    """The composite's modification (secondary) for each exposure and subgroup of a key task."""
    have = {(t.exposure, t.subgroup, t.outcome) for t in keys if t.subgroup}
    out = []
    for exp, sub in dict.fromkeys((t.exposure, t.subgroup) for t in keys if t.subgroup):
        if (exp, sub, ANY_AUTOIMMUNE) not in have:
            out.append(
                Task(
                    design=NAME,
                    analysis=f"d3__{sub}__{exp}__{ANY_AUTOIMMUNE}",
                    exposure=exp,
                    outcome=ANY_AUTOIMMUNE,
                    role="secondary",
                    subgroup=sub,
                    options={"groups": _groups(sub, settings)},
                )
            )
    return out


def _groups(subgroup: str, settings: Settings) -> list[dict]:
    """The two subgroups compared (first / second): label, sex and bounds on ``age_end``
    ("ge" / "le" inclusive, "gt" exclusive)."""
    if subgroup == "sex":
        return [
            {"label": "women", "sex": "F", "age": {}},
            {"label": "men", "sex": "M", "age": {}},
        ]
    if subgroup == "women_reproductive_age":
        lo, hi = settings.reproductive_age
        return [
            {"label": f"women {lo}-{hi}", "sex": "F", "age": {"ge": lo, "le": hi}},
            {"label": f"women {hi + 1}+", "sex": "F", "age": {"gt": hi}},
        ]
    raise ValueError(f"unknown D3 subgroup {subgroup!r}")


def _subset(P, group: dict):
    """Persons of one subgroup."""
    sub = P.filter(P.sex == group["sex"])
    age = group["age"]
    if "ge" in age:
        sub = sub.filter((sub.age_end >= age["ge"]) & (sub.age_end <= age["le"]))
    if "gt" in age:
        sub = sub.filter(sub.age_end > age["gt"])
    return sub


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Frame "tables" (analysis, group, outcome, strata without sex, a, b, c, d) for the 2x2
    tasks (one stratified count per exposure and subgroup, over all its outcomes); frame
    "persons" (analysis, n, N) for the count tasks."""
    P = ft.persons
    tables, persons = [], []
    batches: dict[tuple, list[Task]] = {}
    for t in tasks:
        if t.contrast == COUNT:
            C = ft.conditions
            n = int(C.filter(C.set_id == t.exposure).person_id.count().execute())
            N = int(P.person_id.count().execute())
            persons.append({"analysis": t.analysis, "n": n, "N": N})
        else:
            labels = tuple(g["label"] for g in t.options.get("groups", ()))
            batches.setdefault((t.exposure, t.contrast == FEMALE_EXCESS, labels), []).append(t)
    for (exposure, excess, _labels), batch in batches.items():
        if excess:
            cells = [("all", P.filter(P.sex.isin(["F", "M"])))]
        else:
            cells = [(g["label"], _subset(P, g)) for g in batch[0].options["groups"]]
        outcomes = list(dict.fromkeys(t.outcome for t in batch))
        util = own_utilisation(ft, [exposure])
        for label, sub in cells:
            p = with_flag(sub, ft.conditions, exposure, "exposed")
            tab = stratified_counts(p, ft.conditions, "exposed", outcomes, D3_STRATA, util)
            for t in batch:
                one = tab[tab["outcome"] == t.outcome].reset_index(drop=True)
                one.insert(0, "group", label)
                one.insert(0, "analysis", t.analysis)
                tables.append(one)
    return Counts(
        design=NAME,
        frames={
            "tables": pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(),
            "persons": pd.DataFrame(persons, columns=["analysis", "n", "N"]),
        },
    )


def _table(tables: pd.DataFrame, analysis: str, group: str) -> pd.DataFrame:
    if tables.empty:
        return pd.DataFrame(columns=["outcome", *D3_STRATA, "a", "b", "c", "d"])
    sel = tables[(tables["analysis"] == analysis) & (tables["group"] == group)]
    return sel.drop(columns=["analysis", "group"]).reset_index(drop=True)


def _mh(tab: pd.DataFrame, t: Task, **kw) -> dict:
    return estimate_2x2(
        tab,
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        analysis=t.analysis,
        with_sensitivity=False,
        strata=D3_STRATA,
        **kw,
    )[0]


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows of every task, in task order (D3 declares no calibration group)."""
    tables = counts.frame("tables")
    persons = counts.frame("persons")
    rows: list[dict] = []
    for t in tasks:
        if t.contrast == COUNT:
            rows.append(key_row(_count_row(t, persons), t))
        elif t.contrast == FEMALE_EXCESS:
            rows.append(key_row(_mh(_table(tables, t.analysis, "all"), t, role=t.role), t))
        else:
            rows += _modification(tables, t)
    return DesignResult(rows=rows)


def _modification(tables: pd.DataFrame, t: Task) -> list[dict]:
    """Rows per subgroup and the ratio of ORs (first group / second) with its interaction test."""
    labels = [g["label"] for g in t.options["groups"]]
    subs = [
        _mh(_table(tables, t.analysis, lab), t, role="secondary", stratum=lab) for lab in labels
    ]
    e = ratio_of_estimates(as_est(subs[0]), as_est(subs[1]))

    def total(col: str) -> int:
        return (subs[0][col] or 0) + (subs[1][col] or 0)

    ratio = make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="ROR",
        method="ratio_of_mh_odds_ratios",
        est=e,
        role=t.role,
        stratum=f"{labels[0]} vs {labels[1]}",
        analysis=t.analysis,
        n_exposed=total("n_exposed"),
        n_unexposed=total("n_unexposed"),
        events_exposed=total("events_exposed"),
        events_unexposed=total("events_unexposed"),
    )
    return [*subs, key_row(ratio, t)]


def _count_row(t: Task, persons: pd.DataFrame) -> dict:
    rec = persons[persons["analysis"] == t.analysis].iloc[0]
    n, N = int(rec["n"]), int(rec["N"])
    return make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="count",
        method="persons_with_record",
        role=t.role,
        analysis=t.analysis,
        n_exposed=n,
        n_unexposed=N - n,
        estimate=(n / N) if N else None,
        note="share of persons with at least one record of the set",
    )
