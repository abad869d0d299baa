"""D2 matching (engine side): new diagnoses of an index condition and their matched comparators.

New diagnoses of the index condition (first record, >= 365 days of prior observation) are matched
1:k exactly on sex, birth-year band, index year, prior utilisation band (visit days in the
``UTIL_YEARS`` calendar years before the index year: a better proxy of healthcare seeking than
one year's two or three visits), **observation band**
and (with ``eligible_from``) **duration band** to people free of the index condition at that date
and under observation with the same prior observation.

Why the two time bands. A first record is not a first onset: at enrolment everyone brings an
unrecorded pool of prevalent chronic conditions, recorded over the following years. New
diagnoses of chronic diseases therefore cluster in the first years of observation (cases were
indexed a median 2.1 years into observation, comparators 4.4), when the unrecorded pool of the
*outcome* is still large, so cases' "incident" outcomes included prevalent ones recorded late
(reverse HR 1.13-1.22 with nothing planted). The observation band (index year minus the calendar
year observation started, capped at ``OBS_BAND_CAP``) gives case and comparators the same
observation-start year, so at the case's index day both have been observed about as long (within
the year) and drained the same share of their pool. Matching on the start *year* rather than on
years observed at the index day is what keeps candidates keyed per calendar year (they have no
index day of their own); the draw then requires the comparator's own >= 365 days at the case's
index day. It also aligns the prior utilisation band: a case whose observation started in
the previous calendar year has only part of it observed, and so has its comparator (the
candidate filter no longer requires a fully observed previous year, which cases never needed).
A comparator is indexed at its own first visit within ``VISIT_WINDOW_DAYS`` on or after its
case's index day, because a case's index *is* a visit: every condition detected since the
previous visit is recorded there too (a prevalent outcome is recorded on the index day and
excluded), while a comparator indexed on the case's calendar day carries a backlog of conditions
already detected but recorded at its next visit, after index, as "incident" outcomes. With the
observation band aligned, that backlog was the dominant bias (null HRs 0.55-0.6); before, the
opposite bias of the comparators' longer observation masked it. Comparators without a visit in
the window are not eligible (hence more draws per case).
The duration band (asked for with ``duration_band``) does the same for a restricted population (D5's new users, indexed a median
0.13 years after their first autoimmune diagnosis against 3.3 years for comparators): index year
minus the year of the ``eligible_from`` day, capped at ``DURATION_BAND_CAP``; 0 without it.

Matching is deterministic and engine-independent: within each matching cell cases and candidates
are ranked by an arithmetic pseudo-random key, and case i takes candidates at ranks
(k'*i + j) mod m, j < k' (k' = k + ``EXTRA_DRAWS`` to allow for ineligible draws); the first k
eligible draws are kept. The steps below are one ibis pipeline split by what each step selects;
their order and expressions fix the draws, so a change here changes who is matched.
"""

from __future__ import annotations

import weakref

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.features.build import FeatureTables
from miglink.features.engine import cache, lineage_cut, release_cut

#: Prior utilisation bands: distinct visit days in the UTIL_YEARS calendar years before the index
#: year (the observed part of them; cases and comparators share the observation band, so the same
#: part).
UTIL_YEARS = 3
UTIL_BAND_EDGES = (1, 2, 4, 6, 9, 13, 20)
_P1, _A, _B, _P2 = 2_147_483_629, 48_271, 69_621, 2_147_483_647
#: The ranked prefix of a cell aims at PREFIX_FACTOR x the reach of the draws + PREFIX_SLACK keys.
PREFIX_FACTOR, PREFIX_SLACK = 2, 64
#: Observation band: index year minus the year observation started, capped (10: "10 or more").
OBS_BAND_CAP = 10
#: Duration band: index year minus the year of the ``eligible_from`` day, capped (5: "5 or more").
DURATION_BAND_CAP = 5
#: Draws per case beyond k: same-year bands reject more draws (the comparator's own prior
#: observation or eligibility must also precede the case's index day).
EXTRA_DRAWS = 6
#: A comparator is indexed at its first own visit this many days or fewer after its case's index.
VISIT_WINDOW_DAYS = 90
#: The matching cell: exact-match variables.
MATCH_KEY = ["sex", "byband", "year", "ub", "oband", "dband"]


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


#: Tables every matching of a study shares, materialised on first use: owner table -> {key: table}.
_SHARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shared(owner: ir.Table, key, build) -> ir.Table:
    """``build()`` materialised once per ``owner`` (a study's feature table) and ``key``."""
    tables = _SHARED.setdefault(owner, {})
    if key not in tables:
        tables[key] = cache(build())
    return tables[key]


def prior_visits(vy: ir.Table) -> ir.Table:
    """:func:`_prior_visits` over ``UTIL_YEARS``, materialised once per visits-by-year table:
    every matching of the study (D2, D4's four cohorts, D5) keys cases and candidates on it."""
    return _shared(vy, "prior_visits", lambda: _prior_visits(vy, UTIL_YEARS))


def _prior_visits(vy: ir.Table, years: int) -> ir.Table:
    """(vpid, vyear, vdays): visit days in the ``years`` calendar years ending with ``vyear``."""
    parts = [
        vy.select(vpid=vy.person_id, vyear=vy.year + i, vdays=vy.visit_days) for i in range(years)
    ]
    cv = parts[0]
    for q in parts[1:]:
        cv = cv.union(q, distinct=False)
    if years == 1:
        return cv
    return cv.group_by(["vpid", "vyear"]).aggregate(vdays=cv.vdays.sum())


def _util_band(col: ir.IntegerValue) -> ir.IntegerValue:
    b = ibis.literal(0)
    for e in UTIL_BAND_EDGES:
        b = b + (col >= e).cast("int64")
    return b


def _year_of(day: ir.IntegerValue) -> ir.IntegerValue:
    """Calendar year of an epoch day."""
    return (ibis.date(1970, 1, 1) + day.as_interval("D")).year().cast("int64")


def _band(year: ir.IntegerValue, since_year: ir.IntegerValue, cap: int) -> ir.IntegerValue:
    return ibis.least(year - since_year, cap)


def _with_bands(t: ir.Table, cv: ir.Table, duration_band: bool) -> ir.Table:
    """The band columns of the matching key on case or candidate rows keyed by ``year``: the
    observation band, the disease-duration band (0 unless asked) and the utilisation band of
    the visit-days table ``cv`` in the year before. One builder, so cases and candidates are
    keyed by the same expressions."""
    dband = (
        _band(t.year, t.e_year, DURATION_BAND_CAP) if duration_band else ibis.literal(0, "int64")
    )
    t = t.mutate(oband=_band(t.year, t.obs_year, OBS_BAND_CAP), dband=dband)
    t = t.left_join(cv, (t.person_id == cv.vpid) & (t.year - 1 == cv.vyear))
    return t.mutate(ub=_util_band(t.vdays.fill_null(0)))


def _keyed_persons(P: ir.Table, birth_year_band: int) -> ir.Table:
    """Persons with their observation limits, birth-year band and observation-start year."""
    return P.select(
        "person_id",
        "sex",
        "birth_year",
        "obs_start_day",
        "obs_end_day",
        "death_day",
        byband=(P.birth_year // birth_year_band),
        obs_year=_year_of(P.obs_start_day),
    )


def _eligible_days(eligible_from: ir.Table | None) -> ir.Table | None:
    """``eligible_from`` as (epid, e_day, e_year)."""
    if eligible_from is None:
        return None
    ef = eligible_from
    return ef.select(epid=ef.person_id, e_day=ef.day, e_year=_year_of(ef.day))


def _new_cases(
    ft: FeatureTables,
    pk: ir.Table,
    cv: ir.Table,
    index_sets: list[str],
    ef: ir.Table | None,
    duration_band: bool = False,
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
    cases = cases.mutate(year=cases.index_date.year().cast("int64"))
    if ef is not None:
        cases = cases.join(ef, cases.person_id == ef.epid)
        cases = cases.filter(cases.e_day <= cases.index_day)
    cases = _with_bands(cases, cv, ef is not None and duration_band).select(
        "index_set", "person_id", *MATCH_KEY, "index_day"
    )
    key = MATCH_KEY
    cases = cases.mutate(r=_prand(cases.person_id, cases.year + 7, st.matching_seed))
    wk = ibis.window(
        group_by=[cases.index_set] + [cases[c] for c in key], order_by=[cases.r, cases.person_id]
    )
    return cache(cases.mutate(irank=ibis.row_number().over(wk)))


def _base_candidates(persons: ir.Table, pk: ir.Table, cv: ir.Table, seed: int, prior: int):
    """Every person-year under observation with the prior observation reachable by the year's
    end, keyed (duration band 0) and with its draw key ``r``; materialised once per persons
    table, seed and prior, because D2, D4's cohorts and D5 all draw from it (the ones with
    ``eligible_from`` filter it). Years span the persons' observation, so every case year is in
    it; years without a case form cells that no case reaches."""
    return _shared(
        persons, ("candidates", seed, prior), lambda: _candidates(persons, pk, cv, seed, prior)
    )


def _candidates(persons: ir.Table, pk: ir.Table, cv: ir.Table, seed: int, prior: int):
    span = persons.aggregate(
        lo=_year_of(persons.obs_start_day).min(), hi=_year_of(persons.obs_end_day).max()
    ).execute()
    lo, hi = span.iloc[0]
    yrs = [] if pd.isna(lo) else list(range(int(lo), int(hi) + 1))
    years = ibis.memtable(pd.DataFrame({"year": pd.Series(yrs, dtype="int64")}))
    cand = pk.cross_join(years)
    y1 = ibis.date(cand.year, 1, 1).epoch_days()
    y_end = ibis.date(cand.year, 12, 31).epoch_days()
    cand = cand.filter((cand.obs_start_day <= y_end - prior) & (cand.obs_end_day >= y1))
    cand = _with_bands(cand, cv, False).select(
        "person_id", *MATCH_KEY, "obs_start_day", "obs_end_day", "death_day"
    )
    return cand.mutate(r=_prand(cand.person_id, cand.year, seed))


def _candidate_years(base: ir.Table, ef: ir.Table | None, duration_band: bool = False) -> ir.Table:
    """Candidate person-years: under observation in a year with the prior observation reachable
    by its end (and eligible by then, with ``ef``), keyed like the cases. Whether the prior
    observation (and eligibility) precede the case's own index day is checked per draw."""
    if ef is None:
        return base
    cand = base.join(ef, base.person_id == ef.epid)
    cand = cand.filter(cand.e_year <= cand.year)
    if duration_band:
        cand = cand.mutate(dband=_band(cand.year, cand.e_year, DURATION_BAND_CAP))
    return cache(cand.select(*base.columns))


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
        crank=cand.crank,
        c_obs_start=cand.obs_start_day,
        c_obs_end=cand.obs_end_day,
        c_death=cand.death_day,
        **{f"ck_{c}": cand[c] for c in key},
    )
    same_cell = [cm[c] == cc[f"ck_{c}"] for c in key]
    pairs = cm.join(cc, [*same_cell, cm.target == cc.crank])
    return pairs.filter(
        (pairs.ppid != pairs.person_id)
        & (pairs.c_obs_start <= pairs.index_day - prior)
        & (pairs.c_obs_end >= pairs.index_day)
        & (pairs.c_death.isnull() | (pairs.c_death > pairs.index_day))
    )


def _visit_index(pairs: ir.Table, visits: ir.Table | None) -> ir.Table:
    """Drawn pairs with the comparator's own index day ``c_index``: its first visit on or after
    the case's index day, within ``VISIT_WINDOW_DAYS`` (pairs without one are dropped), still
    under observation and alive. Without a visit table: the case's index day.

    The window join is an equi-join on (person, block of ``_BLOCK`` days): a window shorter
    than a block spans the case's block and the next, so two equi-joins find every visit in it
    (an equi-join on the person alone meets all of the person's visits, ~30 per pair at 1M).
    The first visit is found on the pair's key (case, draw) and joined back."""
    if visits is None:
        return pairs.mutate(c_index=pairs.index_day)
    v = _visit_blocks(visits)
    key = pairs.select(
        kset=pairs.index_set, kpid=pairs.person_id, kj=pairs.j, kppid=pairs.ppid,
        kday=pairs.index_day, kblock=pairs.index_day // _BLOCK,
    )  # fmt: skip
    hits = None
    for step in (0, 1):
        h = key.join(v, (key.kppid == v.vpid) & (v.vblock == key.kblock + step))
        h = h.filter((h.vday >= h.kday) & (h.vday <= h.kday + VISIT_WINDOW_DAYS))
        h = h.select("kset", "kpid", "kj", "vday")
        hits = h if hits is None else hits.union(h, distinct=False)
    first = hits.group_by(["kset", "kpid", "kj"]).aggregate(c_index=hits.vday.min())
    pv = pairs.join(
        first,
        (pairs.index_set == first.kset) & (pairs.person_id == first.kpid) & (pairs.j == first.kj),
    ).drop("kset", "kpid", "kj")
    return pv.filter(
        (pv.c_obs_end >= pv.c_index) & (pv.c_death.isnull() | (pv.c_death > pv.c_index))
    )


#: Days per block of the visit-window join (longer than the window, so it spans two blocks).
_BLOCK = VISIT_WINDOW_DAYS + 1


def _visit_blocks(visits: ir.Table) -> ir.Table:
    """(vpid, vday, vblock) of every visit day, materialised once per visit table: the visit
    days are a distinct over the visit records, which every matching would otherwise redo."""

    def build() -> ir.Table:
        v = visits.select(vpid=visits.person_id, vday=visits.day.epoch_days().cast("int64"))
        return v.mutate(vblock=v.vday // _BLOCK)

    return _shared(visits, "visit_blocks", build)


def _eligible_pairs(
    pairs: ir.Table, C: ir.Table, index_sets: list[str], eligible_from: ir.Table | None
) -> ir.Table:
    """Drawn pairs whose comparator is free of the index condition at its own index day (and
    eligible by the case's, with ``eligible_from``); ``x_day`` is the comparator's censoring
    day."""
    ix = C.filter(C.set_id.isin(index_sets)).select(
        xpid=C.person_id, xset=C.set_id, x_day=C.first_day
    )
    pairs = pairs.left_join(ix, (pairs.ppid == ix.xpid) & (pairs.index_set == ix.xset))
    pairs = pairs.filter(pairs.x_day.isnull() | (pairs.x_day > pairs.c_index))
    if eligible_from is not None:
        ef2 = eligible_from.select(fpid=eligible_from.person_id, f_day=eligible_from.day)
        pairs = pairs.join(ef2, pairs.ppid == ef2.fpid)
        pairs = pairs.filter(pairs.f_day <= pairs.index_day)
    return pairs.select(
        "index_set", "person_id", "ppid", "j", "index_day", "c_index", "x_day", *MATCH_KEY
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
        index_day=pairs.c_index,
        censor_day=pairs.x_day,
        **{c: pairs[c] for c in MATCH_KEY},
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
        **{c: cs[c] for c in MATCH_KEY},
    )
    members = case_rows.union(comps)
    pe = P.select(
        mpid=P.person_id, m_obs_end=P.obs_end_day, m_death=P.death_day, m_birth=P.birth_year
    )
    return members.join(pe, members.member == pe.mpid).drop("mpid")


def matched_members(
    ft: FeatureTables,
    index_sets: list[str],
    eligible_from: ir.Table | None = None,
    *,
    visit_index: bool = True,
    duration_band: bool = False,
) -> tuple[ir.Table, ir.Table]:
    """Cases and their matched comparators for every index set: one row per member, and the
    (materialised) new diagnoses.

    ``eligible_from`` (columns person_id, day) restricts cases and comparators to people whose
    ``day`` (e.g. their first autoimmune diagnosis) is on or before the index date, as a new-user
    design restricted to the treatable population needs. ``visit_index`` indexes comparators at
    their own first visit after the case's index (right when the case's index is a diagnosis, a
    visit; D5's drug starts are not, so it passes False and comparators keep the case's day).
    ``duration_band`` adds the duration band (time since ``eligible_from``) to the matching cell:
    D5's new users, indexed soon after their first autoimmune diagnosis, need it; D4's modifier
    groups (migraine at index) do not ask for it.
    """
    st = ft.settings
    k = st.matching_ratio
    kk = k + EXTRA_DRAWS
    pk = _keyed_persons(ft.persons, st.birth_year_band)
    vy = ft.visits_by_year
    cv = prior_visits(vy)
    ef = _eligible_days(eligible_from)
    cases = _new_cases(ft, pk, cv, index_sets, ef, duration_band)
    prior = st.min_prior_observation_days
    base = _base_candidates(ft.persons, pk, cv, st.matching_seed, prior)
    cand_all = _candidate_years(base, ef, duration_band)
    cell_m = _ranked_prefix(cand_all, cases, MATCH_KEY, kk)
    cand = _ranked_candidates(cand_all, cell_m)
    visits = ft.visit_days if visit_index else None
    drawn = lineage_cut(_drawn_pairs(cases, cand, cell_m, kk, prior))
    pairs = lineage_cut(_visit_index(drawn, visits))
    chosen = lineage_cut(
        _first_k(_eligible_pairs(pairs, ft.conditions, index_sets, eligible_from), k)
    )
    members = cache(_member_rows(chosen, cases, ft.persons))
    # the candidate person-years and cell table are only needed to build the members; count once
    # so that Spark (whose cache is lazy) has materialised the members before they go
    members.count().execute()
    for t in (cand_all, cell_m):
        if t is not base:
            t.release()
    for t in (drawn, pairs, chosen):
        release_cut(t)
    return members, cases
