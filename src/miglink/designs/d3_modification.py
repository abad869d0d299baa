"""D3 effect modification: the D1 association within sex, and within women 15-49 vs 50+.

Also the female excess of each condition (OR women vs men, stratified by age, utilisation and
observation band) and a descriptive count of menstrual-migraine codes.
"""

from __future__ import annotations

from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA, stratified_counts, with_flag
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import ratio_of_estimates


def _mh(ft: FeatureTables, persons, exposure: str, outcome: str, strata: list[str], **kw) -> dict:
    p = with_flag(persons, ft.conditions, exposure, "exposed")
    tab = stratified_counts(p, ft.conditions, "exposed", [outcome], strata)
    return estimate_2x2(
        tab,
        design="D3",
        exposure=exposure,
        outcome=outcome,
        with_sensitivity=False,
        strata=strata,
        **kw,
    )[0]


def female_excess(ft: FeatureTables, outcome: str, role: str, analysis: str) -> list[dict]:
    p = ft.persons.filter(ft.persons.sex.isin(["F", "M"]))
    strata = [s for s in STRATA if s != "sex"]
    row = _mh(ft, p, "female", outcome, strata, role=role, analysis=analysis)
    return [row]


def modification(
    ft: FeatureTables,
    exposure: str,
    outcome: str,
    subgroup: str,
    role: str,
    analysis: str,
) -> list[dict]:
    """Rows per subgroup and the ratio of ORs (first group / second) with its interaction test."""
    P = ft.persons
    if subgroup == "sex":
        groups = [("women", P.filter(P.sex == "F")), ("men", P.filter(P.sex == "M"))]
        strata = [s for s in STRATA if s != "sex"]
    elif subgroup == "women_reproductive_age":
        lo, hi = ft.settings.reproductive_age
        w = P.filter(P.sex == "F")
        groups = [
            (f"women {lo}-{hi}", w.filter((w.age_end >= lo) & (w.age_end <= hi))),
            (f"women {hi + 1}+", w.filter(w.age_end > hi)),
        ]
        strata = [s for s in STRATA if s != "sex"]
    else:
        raise ValueError(f"unknown D3 subgroup {subgroup!r}")
    rows = []
    ests = []
    for label, sub in groups:
        r = _mh(
            ft, sub, exposure, outcome, strata, role="secondary", stratum=label, analysis=analysis
        )
        rows.append(r)
        ests.append(r)
    e = ratio_of_estimates(as_est(ests[0]), as_est(ests[1]))
    rows.append(
        make_row(
            design="D3",
            exposure=exposure,
            outcome=outcome,
            measure="ROR",
            method="ratio_of_mh_odds_ratios",
            est=e,
            role=role,
            stratum=f"{groups[0][0]} vs {groups[1][0]}",
            analysis=analysis,
            n_exposed=(ests[0]["n_exposed"] or 0) + (ests[1]["n_exposed"] or 0),
            n_unexposed=(ests[0]["n_unexposed"] or 0) + (ests[1]["n_unexposed"] or 0),
            events_exposed=(ests[0]["events_exposed"] or 0) + (ests[1]["events_exposed"] or 0),
            events_unexposed=(ests[0]["events_unexposed"] or 0)
            + (ests[1]["events_unexposed"] or 0),
        )
    )
    return rows


def count_persons(ft: FeatureTables, set_id: str, role: str, analysis: str) -> list[dict]:
    C = ft.conditions
    n = int(C.filter(C.set_id == set_id).person_id.count().execute())
    N = int(ft.persons.person_id.count().execute())
    return [
        make_row(
            design="D3",
            exposure=set_id,
            outcome=set_id,
            measure="count",
            method="persons_with_record",
            role=role,
            analysis=analysis,
            n_exposed=n,
            n_unexposed=N - n,
            estimate=(n / N) if N else None,
            note="share of persons with at least one record of the set",
        )
    ]
