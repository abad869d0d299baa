"""D2 matching (engine side): new diagnoses of an index condition and their matched comparators.

New diagnoses of the index condition (first record, >= 365 days of prior observation) are matched
1:k exactly on sex, birth-year band, index year and prior-year utilisation band to people free of
the index condition at that date and under observation with the same prior observation.

Matching is deterministic and engine-independent: within each matching cell cases and candidates
are ranked by an arithmetic pseudo-random key, and case i takes candidates at ranks
(k'*i + j) mod m, j < k' (k' = k + 2 to allow for ineligible draws); the first k eligible draws
are kept. The steps below are one ibis pipeline split by what each step selects; their order and
expressions fix the draws, so a change here changes who is matched.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.features.build import FeatureTables
from miglink.features.engine import cache

#: Prior-year utilisation bands (distinct visit days in the calendar year before the index year).
UTIL_BAND_EDGES = (1, 3, 6, 11)
_P1, _A, _B, _P2 = 2_147_483_629, 48_271, 69_621, 2_147_483_647
#: The ranked prefix of a cell aims at PREFIX_FACTOR x the reach of the draws + PREFIX_SLACK keys.
PREFIX_FACTOR, PREFIX_SLACK = 2, 64
#: The matching cell: exact-match variables.
MATCH_KEY = ["sex", "byband", "year", "ub"]


def _prand(pid: ir.IntegerValue, salt: ir.IntegerValue | int, seed: int) -> ir.IntegerValue:
    """A deterministic pseudo-random int from a person id (same on every engine, no overflow)."""
    x = (pid % _P1 + _P1) % _P1
    return (
        (x * _A) % _P2 + (ibis.literal(salt) if isinstance(salt, int) else salt) * _B + seed
    ) % _P2


def _ranked_prefix(cand: ir.Table, cases: ir.Table, key: list[str], kk: int) -> ir.Table:
    """Per matching cell: m (candidates) and a key threshold tau below which every rank a draw can
    reach lies (draws reach ranks < min(m, kk * cases of one index set in the cell)).

    tau is set to about twice the expected key quantile of the reach (keys are uniform) and
    checked: where fewer candidates than the reach fall below it, tau is lifted above every key,
    so the prefix is always complete and the ranks exact. Cells without cases are dropped.
    """
    per_set = cases.group_by(["index_set", *key]).aggregate(nc=cases.person_id.count())
    need = per_set.group_by(key).aggregate(reach=per_set.nc.max() * kk)
    m = cand.group_by(key).aggregate(m=cand.person_id.count())
    cell = m.join(need, key)
    cell = cell.mutate(
        reach=ibis.least(cell.reach, cell.m),
        tau=ibis.least((_P2 // cell.m + 1) * (PREFIX_FACTOR * cell.reach + PREFIX_SLACK), _P2 + 1),
    )
    below = cand.join(cell.select(*key, t=cell.tau), key)
    below = below.group_by(key).aggregate(n_below=(below.r < below.t).cast("int64").sum())
    cell = cell.join(below, key)
    tau = ibis.cases((cell.n_below >= cell.reach, cell.tau), else_=_P2 + 1)
    return cache(cell.select(*key, "m", tau=tau))


def _util_band(col: ir.IntegerValue) -> ir.IntegerValue:
    b = ibis.literal(0)
    for e in UTIL_BAND_EDGES:
        b = b + (col >= e).cast("int64")
    return b


def _keyed_persons(P: ir.Table, birth_year_band: int) -> ir.Table:
    """Persons with their observation limits and birth-year band (the matching fields)."""
    return P.select(
        "person_id",
        "sex",
        "birth_year",
        "obs_start_day",
        "obs_end_day",
        "death_day",
        byband=(P.birth_year // birth_year_band),
    )


def _new_cases(
    ft: FeatureTables,
    pk: ir.Table,
    cv: ir.Table,
    index_sets: list[str],
    eligible_from: ir.Table | None,
) -> ir.Table:
    """First records of each index set with enough prior observation, inside observation, keyed
    and ranked (``irank``) within their matching cell; materialised (used five times after)."""
    st = ft.settings
    C = ft.conditions
    prior = st.min_prior_observation_days
    ci = C.filter(C.set_id.isin(index_sets)).select(
        cpid=C.person_id, index_set=C.set_id, index_day=C.first_day, index_date=C.first_date
    )
    cases = ci.join(pk, ci.cpid == pk.person_id)
    cases = cases.filter(
        (cases.index_day >= cases.obs_start_day + prior) & (cases.index_day <= cases.obs_end_day)
    )
    if eligible_from is not None:
        ef = eligible_from.select(epid=eligible_from.person_id, e_day=eligible_from.day)
        cases = cases.join(ef, cases.person_id == ef.epid)
        cases = cases.filter(cases.e_day <= cases.index_day).drop("epid", "e_day")
    cases = cases.mutate(year=cases.index_date.year().cast("int64"))
    cases = cases.left_join(cv, (cases.person_id == cv.vpid) & (cases.year - 1 == cv.vyear))
    cases = cases.mutate(ub=_util_band(cases.vdays.fill_null(0))).select(
        "index_set", "person_id", "sex", "byband", "year", "ub", "index_day"
    )
    key = MATCH_KEY
    cases = cases.mutate(r=_prand(cases.person_id, cases.year + 7, st.matching_seed))
    wk = ibis.window(
        group_by=[cases.index_set] + [cases[c] for c in key], order_by=[cases.r, cases.person_id]
    )
    return cache(cases.mutate(irank=ibis.row_number().over(wk)))


def _candidate_years(pk: ir.Table, cv: ir.Table, cases: ir.Table, seed: int) -> ir.Table:
    """Candidate person-years: observed from at least Jan 1 of the year before and during the
    year of a case's index, keyed like the cases; materialised."""
    years = cases.select("year").distinct()
    cand = pk.cross_join(years)
    y0 = ibis.date(cand.year - 1, 1, 1).epoch_days()
    y1 = ibis.date(cand.year, 1, 1).epoch_days()
    cand = cand.filter((cand.obs_start_day <= y0) & (cand.obs_end_day >= y1))
    cand = cand.left_join(cv, (cand.person_id == cv.vpid) & (cand.year - 1 == cv.vyear))
    cand = cand.mutate(ub=_util_band(cand.vdays.fill_null(0))).select(
        "person_id", "sex", "byband", "year", "ub", "obs_start_day", "obs_end_day", "death_day"
    )
    return cache(cand.mutate(r=_prand(cand.person_id, cand.year, seed)))


def _ranked_candidates(cand: ir.Table, cell_m: ir.Table) -> ir.Table:
    """Candidates ranked (``crank``) within their cell, only in the prefix the draws can reach:
    the same ranks as ranking every candidate, on a fraction of the rows."""
    key = MATCH_KEY
    cand = cand.join(cell_m.select(*key, "tau"), key)
    cand = cand.filter(cand.r < cand.tau).drop("tau")
    wc = ibis.window(group_by=[cand[c] for c in key], order_by=[cand.r, cand.person_id])
    return cand.mutate(crank=ibis.row_number().over(wc))


def _drawn_pairs(
    cases: ir.Table, cand: ir.Table, cell_m: ir.Table, kk: int, prior: int
) -> ir.Table:
    """Case x draw j -> the candidate at rank (irank * kk + j) mod m of the same cell, kept when
    the candidate is someone else, observed with the prior observation and alive at index."""
    key = MATCH_KEY
    draws = ibis.memtable(pd.DataFrame({"j": list(range(kk))}))
    cm = cases.join(cell_m, key).cross_join(draws)
    cm = cm.mutate(target=(cm.irank * kk + cm.j) % cm.m)
    cc = cand.select(
        ppid=cand.person_id,
        csex=cand.sex,
        cbyband=cand.byband,
        cyear=cand.year,
        cub=cand.ub,
        crank=cand.crank,
        c_obs_start=cand.obs_start_day,
        c_obs_end=cand.obs_end_day,
        c_death=cand.death_day,
    )
    pairs = cm.join(
        cc,
        (cm.sex == cc.csex)
        & (cm.byband == cc.cbyband)
        & (cm.year == cc.cyear)
        & (cm.ub == cc.cub)
        & (cm.target == cc.crank),
    )
    return pairs.filter(
        (pairs.ppid != pairs.person_id)
        & (pairs.c_obs_start <= pairs.index_day - prior)
        & (pairs.c_obs_end >= pairs.index_day)
        & (pairs.c_death.isnull() | (pairs.c_death > pairs.index_day))
    )


def _eligible_pairs(
    pairs: ir.Table, C: ir.Table, index_sets: list[str], eligible_from: ir.Table | None
) -> ir.Table:
    """Drawn pairs whose comparator is free of the index condition at the index date (and
    eligible by then, with ``eligible_from``); ``x_day`` is the comparator's censoring day."""
    ix = C.filter(C.set_id.isin(index_sets)).select(
        xpid=C.person_id, xset=C.set_id, x_day=C.first_day
    )
    pairs = pairs.left_join(ix, (pairs.ppid == ix.xpid) & (pairs.index_set == ix.xset))
    pairs = pairs.filter(pairs.x_day.isnull() | (pairs.x_day > pairs.index_day))
    if eligible_from is not None:
        ef2 = eligible_from.select(fpid=eligible_from.person_id, f_day=eligible_from.day)
        pairs = pairs.join(ef2, pairs.ppid == ef2.fpid)
        pairs = pairs.filter(pairs.f_day <= pairs.index_day)
    return pairs.select(
        "index_set", "person_id", "ppid", "j", "index_day", "x_day", "sex", "byband", "year", "ub"
    ).distinct()


def _first_k(pairs: ir.Table, k: int) -> ir.Table:
    """The first k distinct eligible comparators per case, in draw order."""
    wj = ibis.window(group_by=[pairs.index_set, pairs.person_id, pairs.ppid], order_by=pairs.j)
    pairs = pairs.mutate(dup=ibis.row_number().over(wj))
    pairs = pairs.filter(pairs.dup == 0)
    wp = ibis.window(group_by=[pairs.index_set, pairs.person_id], order_by=pairs.j)
    pairs = pairs.mutate(pick=ibis.row_number().over(wp))
    return pairs.filter(pairs.pick < k)


def _member_rows(pairs: ir.Table, cases: ir.Table, P: ir.Table) -> ir.Table:
    """One row per member (matched case or comparator) with its follow-up limits."""
    comps = pairs.select(
        index_set=pairs.index_set,
        set_pid=pairs.person_id,
        member=pairs.ppid,
        exposed=ibis.literal(0, "int64"),
        index_day=pairs.index_day,
        censor_day=pairs.x_day,
        sex=pairs.sex,
        byband=pairs.byband,
        year=pairs.year,
        ub=pairs.ub,
    )
    matched_cases = pairs.select("index_set", "person_id").distinct()
    cs = cases.join(matched_cases, ["index_set", "person_id"])
    case_rows = cs.select(
        index_set=cs.index_set,
        set_pid=cs.person_id,
        member=cs.person_id,
        exposed=ibis.literal(1, "int64"),
        index_day=cs.index_day,
        censor_day=ibis.null().cast("int64"),
        sex=cs.sex,
        byband=cs.byband,
        year=cs.year,
        ub=cs.ub,
    )
    members = case_rows.union(comps)
    pe = P.select(
        mpid=P.person_id, m_obs_end=P.obs_end_day, m_death=P.death_day, m_birth=P.birth_year
    )
    return members.join(pe, members.member == pe.mpid).drop("mpid")


def matched_members(
    ft: FeatureTables, index_sets: list[str], eligible_from: ir.Table | None = None
) -> tuple[ir.Table, ir.Table]:
    """Cases and their matched comparators for every index set: one row per member, and the
    (materialised) new diagnoses.

    ``eligible_from`` (columns person_id, day) restricts cases and comparators to people whose
    ``day`` (e.g. their first autoimmune diagnosis) is on or before the index date, as a new-user
    design restricted to the treatable population needs.
    """
    st = ft.settings
    k = st.matching_ratio
    kk = k + 2
    pk = _keyed_persons(ft.persons, st.birth_year_band)
    vy = ft.visits_by_year
    cv = vy.select(vpid=vy.person_id, vyear=vy.year, vdays=vy.visit_days)
    cases = _new_cases(ft, pk, cv, index_sets, eligible_from)
    cand_all = _candidate_years(pk, cv, cases, st.matching_seed)
    cell_m = _ranked_prefix(cand_all, cases, MATCH_KEY, kk)
    cand = _ranked_candidates(cand_all, cell_m)
    pairs = _drawn_pairs(cases, cand, cell_m, kk, st.min_prior_observation_days)
    pairs = _first_k(_eligible_pairs(pairs, ft.conditions, index_sets, eligible_from), k)
    members = cache(_member_rows(pairs, cases, ft.persons))
    # the candidate person-years and cell table are only needed to build the members; count once
    # so that Spark (whose cache is lazy) has materialised the members before they go
    members.count().execute()
    for t in (cand_all, cell_m):
        t.release()
    return members, cases
