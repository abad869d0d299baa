"""D2 counts (engine side): per matching cell person-time and events, KM and balance inputs.

Outcome: first record of the other condition after index, among people free of it at index
(each member's own index: a comparator's is its visit day, see :mod:`~miglink.designs.d2_matching`);
comparators are censored when they later get the index condition. ``strata`` keeps the observation
band as a column for the prevalent-pool guard (:func:`miglink.designs.d2_estimate.restrict_obs_band`). Everything up to the
per-stratum person-time and event counts runs in the engine and returns small frames
(:class:`CohortCounts`), from which :mod:`miglink.designs.d2_estimate` builds the rows.

Person-time is counted sparsely: every member's follow-up without the outcome (the same for all
outcomes of an index set) is aggregated once, and only members who have a record of the outcome
(a small share) are joined to it, as corrections to that base: excluded (outcome on or before
index) or ended at the outcome. Same counts as joining every member to every outcome, on a
fraction of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.designs.d2_matching import MATCH_KEY, matched_members
from miglink.features.build import FeatureTables

_BIG = 10**9
_KM_KEYS = ["index_set", "outcome_set", "exposed", "month"]


@dataclass
class CohortCounts:
    #: index_set, outcome_set, cell, oband (observation band), exposed, n, events, person_days
    strata: pd.DataFrame
    km: pd.DataFrame  # index_set, outcome_set, exposed, month, events, n, censored
    #: index_set, exposed, n, age_sum, age_sumsq, visits_sum, visits_sumsq, female_sum, prior_sum
    balance: pd.DataFrame
    attrition: pd.DataFrame  # index_set, step, description, n


def _month(d: ir.NumericValue) -> ir.IntegerValue:
    return (d / 30.4375).floor().cast("int64")


def _followup(members: ir.Table) -> ir.Table:
    """Members with their follow-up end and length without the outcome (``base_*``)."""
    base_end = ibis.least(
        members.m_obs_end, members.m_death.fill_null(_BIG), members.censor_day.fill_null(_BIG)
    )
    return members.mutate(base_days=base_end - members.index_day, base_end=base_end)


def _base_counts(mb: ir.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members and person-days per cell and arm, and members per arm and follow-up month, before
    any outcome."""
    valid = mb.filter(mb.base_days > 0)
    base = (
        valid.group_by(["index_set", *MATCH_KEY, "exposed"])
        .aggregate(n=valid.member.count(), person_days=valid.base_days.sum())
        .execute()
    )
    km_base = (
        valid.mutate(month=_month(valid.base_days))
        .group_by(["index_set", "exposed", "month"])
        .aggregate(n=valid.member.count())
        .execute()
    )
    return base, km_base


def _outcome_records(mb: ir.Table, C: ir.Table, pairs: list[tuple[str, str]]) -> ir.Table:
    """Members with a record of a paired outcome: the base follow-up they lose (``b_in``) and the
    follow-up they have instead (``a_in``, ``a_days``, ``event``)."""
    pair_t = ibis.memtable(pd.DataFrame(pairs, columns=["p_index", "p_outcome"]))
    oc = C.select(opid=C.person_id, oset=C.set_id, o_day=C.first_day)
    mo = mb.join(pair_t, mb.index_set == pair_t.p_index)
    mo = mo.join(oc, (mo.member == oc.opid) & (mo.p_outcome == oc.oset))
    end = ibis.least(mo.base_end, mo.o_day)
    mo = mo.mutate(
        b_in=(mo.base_days > 0).cast("int64"),
        a_days=end - mo.index_day,
        a_in=((mo.o_day > mo.index_day) & (end > mo.index_day)).cast("int64"),
        event=(
            (mo.o_day > mo.index_day)
            & (mo.o_day == end)
            & (mo.censor_day.isnull() | (mo.o_day <= mo.censor_day))
        ).cast("int64"),
    )
    return mo.filter((mo.b_in == 1) | (mo.a_in == 1))


def _strata(base: pd.DataFrame, mo: ir.Table, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Per pair, matching cell and arm: members, events and person-days (base + corrections)."""
    cell_cols = MATCH_KEY
    delta = (
        mo.group_by(
            [mo.p_index.name("index_set"), mo.p_outcome.name("outcome_set"), *cell_cols, "exposed"]
        )
        .aggregate(
            dn=(mo.a_in - mo.b_in).sum(),
            dpd=(mo.a_days * mo.a_in - mo.base_days * mo.b_in).sum(),
            events=mo.event.sum(),
        )
        .execute()
    )
    grid = base.merge(
        pd.DataFrame(pairs, columns=["index_set", "outcome_set"]).drop_duplicates(), on="index_set"
    )
    keys = ["index_set", "outcome_set", *cell_cols, "exposed"]
    strata = grid.merge(delta, on=keys, how="left")
    for c in ("dn", "dpd", "events"):
        strata[c] = strata[c].fillna(0).astype("int64")
    strata["n"] = strata["n"].astype("int64") + strata["dn"]
    strata["person_days"] = strata["person_days"].astype("int64") + strata["dpd"]
    strata = strata[strata["n"] > 0]
    cell = strata[cell_cols[0]].astype(str)
    for c in cell_cols[1:]:
        cell = cell + ":" + strata[c].astype(str)
    # the observation band stays a column: the prevalent-pool guard restricts on it
    return strata.assign(cell=cell, oband=strata["oband"].astype("int64"))[
        ["index_set", "outcome_set", "cell", "oband", "exposed", "n", "events", "person_days"]
    ].reset_index(drop=True)


def _km_moves(mo: ir.Table, kp: list[tuple[str, str]]) -> ir.Table:
    """Per curve pair, the members moved out of their base month and into their outcome month."""
    cp = ibis.memtable(pd.DataFrame(list(kp), columns=["k_index", "k_outcome"]))
    mk = mo.join(cp, (mo.p_index == cp.k_index) & (mo.p_outcome == cp.k_outcome))
    out_of_base = mk.filter(mk.b_in == 1).select(
        index_set=mk.p_index,
        outcome_set=mk.p_outcome,
        exposed=mk.exposed,
        month=_month(mk.base_days),
        dn=ibis.literal(-1, "int64"),
        events=ibis.literal(0, "int64"),
    )
    into_outcome = mk.filter(mk.a_in == 1).select(
        index_set=mk.p_index,
        outcome_set=mk.p_outcome,
        exposed=mk.exposed,
        month=_month(mk.a_days),
        dn=ibis.literal(1, "int64"),
        events=mk.event,
    )
    return out_of_base.union(into_outcome, distinct=False)


def _km_counts(mo: ir.Table, km_base: pd.DataFrame, kp: list[tuple[str, str]]) -> pd.DataFrame:
    """Kaplan-Meier monthly counts like the strata: base months, moved for members with the
    outcome; columns index_set, outcome_set, exposed, month, events, n, censored."""
    if kp:
        moves = _km_moves(mo, kp)
        kd = (
            moves.group_by(_KM_KEYS)
            .aggregate(dn=moves.dn.sum(), events=moves.events.sum())
            .execute()
        )
        kgrid = km_base.merge(
            pd.DataFrame(kp, columns=["index_set", "outcome_set"]).drop_duplicates(),
            on="index_set",
        )
        km = kgrid.merge(kd, on=_KM_KEYS, how="outer")
        for c in ("n", "dn", "events"):
            km[c] = km[c].fillna(0).astype("int64")
        km["n"] = km["n"] + km["dn"]
        km = km[km["n"] > 0][[*_KM_KEYS, "events", "n"]].reset_index(drop=True)
    else:
        km = pd.DataFrame(columns=[*_KM_KEYS, "events", "n"])
    km["censored"] = km["n"] - km["events"]
    return km


def _balance(ft: FeatureTables, members: ir.Table, balance_set: str | None) -> pd.DataFrame:
    """Per index set and arm, sums and sums of squares of age at index and prior-year visits, and
    counts of women and of people with a ``balance_set`` record before index."""
    C = ft.conditions
    vy = ft.visits_by_year
    vsel = vy.select(bpid=vy.person_id, byear=vy.year, bdays=vy.visit_days)
    b = members.left_join(vsel, (members.member == vsel.bpid) & (members.year - 1 == vsel.byear))
    b = b.mutate(
        age=(b.year - b.m_birth).cast("float64"),
        visits=b.bdays.fill_null(0).cast("float64"),
        female=(b.sex == "F").cast("float64"),
    )
    if balance_set is not None:
        pr = C.filter(C.set_id == balance_set).select(qpid=C.person_id, q_day=C.first_day)
        b = b.left_join(pr, b.member == pr.qpid)
        b = b.mutate(prior=(b.q_day.notnull() & (b.q_day < b.index_day)).cast("float64"))
    else:
        b = b.mutate(prior=ibis.literal(0.0))
    return (
        b.group_by(["index_set", "exposed"])
        .aggregate(
            n=b.member.count(),
            age_sum=b.age.sum(),
            age_sumsq=(b.age * b.age).sum(),
            visits_sum=b.visits.sum(),
            visits_sumsq=(b.visits * b.visits).sum(),
            female_sum=b.female.sum(),
            prior_sum=b.prior.sum(),
        )
        .execute()
    )


def _attrition(cases: ir.Table, members: ir.Table, prior_days: int) -> pd.DataFrame:
    """New diagnoses and matched cases per index set (releases the materialised cases)."""
    n_cases = cases.group_by("index_set").aggregate(n=cases.person_id.count()).execute()
    cases.release()
    n_matched = (
        members.filter(members.exposed == 1)
        .group_by("index_set")
        .aggregate(n=members.member.count())
        .execute()
    )
    att = [
        {"index_set": r["index_set"], "step": step, "description": text, "n": int(r["n"])}
        for step, text, tab in (
            (1, f"new diagnoses with >= {prior_days} days of prior observation", n_cases),
            (2, "cases with >= 1 matched comparator", n_matched),
        )
        for _, r in tab.iterrows()
    ]
    # named columns: with no new diagnosis at all the attrition table is empty but still keyed
    return pd.DataFrame(att, columns=["index_set", "step", "description", "n"])


def cohort_counts(
    ft: FeatureTables,
    pairs: list[tuple[str, str]],
    balance_set: str | None = None,
    eligible_from: ir.Table | None = None,
    curve_pairs: list[tuple[str, str]] | None = None,
    *,
    visit_index: bool = True,
    duration_band: bool = False,
) -> CohortCounts:
    """Per-stratum person-time and events for every (index, outcome) pair, plus KM and balance
    inputs.

    ``curve_pairs`` limits the monthly Kaplan-Meier counts to the pairs that get a curve (all
    pairs when None); ``visit_index``, ``duration_band``: see
    :func:`~miglink.designs.d2_matching.matched_members`.
    """
    index_sets = sorted({i for i, _ in pairs})
    members, cases = matched_members(
        ft, index_sets, eligible_from, visit_index=visit_index, duration_band=duration_band
    )
    return member_counts(ft, members, cases, pairs, balance_set, curve_pairs)


def member_counts(
    ft: FeatureTables,
    members: ir.Table,
    cases: ir.Table,
    pairs: list[tuple[str, str]],
    balance_set: str | None = None,
    curve_pairs: list[tuple[str, str]] | None = None,
) -> CohortCounts:
    """:func:`cohort_counts` on matched members already drawn (D2 keeps the members for its
    propensity-score analysis); releases ``cases``."""
    mb = _followup(members)
    base, km_base = _base_counts(mb)
    mo = _outcome_records(mb, ft.conditions, pairs)
    strata = _strata(base, mo, pairs)
    km = _km_counts(mo, km_base, pairs if curve_pairs is None else list(curve_pairs))
    balance = _balance(ft, members, balance_set)
    attrition = _attrition(cases, members, ft.settings.min_prior_observation_days)
    return CohortCounts(strata=strata, km=km, balance=balance, attrition=attrition)
