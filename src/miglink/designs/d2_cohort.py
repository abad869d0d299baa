"""D2 bidirectional incident matched cohort.

New diagnoses of the index condition (first record, >= 365 days of prior observation) are matched
1:k exactly on sex, birth-year band, index year and prior-year utilisation band to people free of the
index condition at that date and under observation with the same prior observation. Comparators are
censored when they later get the index condition. Outcome: first record of the other condition after
index, among people free of it at index. Everything up to the per-stratum person-time and event
counts runs in the engine; the hazard ratio is a Poisson rate ratio stratified on the matching cells
(exact matching makes the cell the stratum), the Kaplan-Meier curves come from monthly event and
censoring counts, and balance is checked from per-arm sufficient statistics.

Matching is deterministic and engine-independent: within each matching cell cases and candidates are
ranked by an arithmetic pseudo-random key, and case i takes candidates at ranks (k'*i + j) mod m,
j < k' (k' = k + 2 to allow for ineligible draws); the first k eligible draws are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from miglink.features.build import FeatureTables
from miglink.features.engine import cache

#: Prior-year utilisation bands (distinct visit days in the calendar year before the index year).
UTIL_BAND_EDGES = (1, 3, 6, 11)
_P1, _A, _B, _P2 = 2_147_483_629, 48_271, 69_621, 2_147_483_647
#: The ranked prefix of a cell aims at PREFIX_FACTOR x the reach of the draws + PREFIX_SLACK keys.
PREFIX_FACTOR, PREFIX_SLACK = 2, 64


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


@dataclass
class CohortCounts:
    strata: pd.DataFrame  # index_set, outcome_set, cell, exposed, n, events, person_days
    km: pd.DataFrame  # index_set, outcome_set, exposed, month, events, censored
    balance: (
        pd.DataFrame
    )  # index_set, exposed, n, age_sum, age_sumsq, female, visits_sum, visits_sumsq, prior_nc
    attrition: pd.DataFrame  # index_set, step, description, n


def matched_members(
    ft: FeatureTables, index_sets: list[str], eligible_from: ir.Table | None = None
) -> ir.Table:
    """Cases and their matched comparators for every index set: one row per member.

    ``eligible_from`` (columns person_id, day) restricts cases and comparators to people whose
    ``day`` (e.g. their first autoimmune diagnosis) is on or before the index date, as a new-user
    design restricted to the treatable population needs.
    """
    st = ft.settings
    P = ft.persons
    C = ft.conditions
    prior = st.min_prior_observation_days
    k = st.matching_ratio
    kk = k + 2

    pk = P.select(
        "person_id",
        "sex",
        "birth_year",
        "obs_start_day",
        "obs_end_day",
        "death_day",
        byband=(P.birth_year // st.birth_year_band),
    )
    vy = ft.visits_by_year

    # cases: first record with enough prior observation, inside observation
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
    cv = vy.select(vpid=vy.person_id, vyear=vy.year, vdays=vy.visit_days)
    cases = cases.left_join(cv, (cases.person_id == cv.vpid) & (cases.year - 1 == cv.vyear))
    cases = cases.mutate(ub=_util_band(cases.vdays.fill_null(0))).select(
        "index_set", "person_id", "sex", "byband", "year", "ub", "index_day"
    )

    key = ["sex", "byband", "year", "ub"]
    cases = cases.mutate(r=_prand(cases.person_id, cases.year + 7, st.matching_seed))
    wk = ibis.window(
        group_by=[cases.index_set] + [cases[c] for c in key], order_by=[cases.r, cases.person_id]
    )
    # the cases are small and used five times below: materialised once
    cases = cache(cases.mutate(irank=ibis.row_number().over(wk)))

    # candidate person-years: observed from at least Jan 1 of the year before, and during the year
    years = cases.select("year").distinct()
    cand = pk.cross_join(years)
    y0 = ibis.date(cand.year - 1, 1, 1).epoch_days()
    y1 = ibis.date(cand.year, 1, 1).epoch_days()
    cand = cand.filter((cand.obs_start_day <= y0) & (cand.obs_end_day >= y1))
    cand = cand.left_join(cv, (cand.person_id == cv.vpid) & (cand.year - 1 == cv.vyear))
    cand = cand.mutate(ub=_util_band(cand.vdays.fill_null(0))).select(
        "person_id", "sex", "byband", "year", "ub", "obs_start_day", "obs_end_day", "death_day"
    )
    cand = cand_all = cache(cand.mutate(r=_prand(cand.person_id, cand.year, st.matching_seed)))

    cell_m = _ranked_prefix(cand, cases, key, kk)
    # rank only the prefix (in key order) of each cell that the draws can reach: the same ranks
    # as ranking every candidate, on a fraction of the rows
    cand = cand.join(cell_m.select(*key, "tau"), key)
    cand = cand.filter(cand.r < cand.tau).drop("tau")
    wc = ibis.window(group_by=[cand[c] for c in key], order_by=[cand.r, cand.person_id])
    cand = cand.mutate(crank=ibis.row_number().over(wc))
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
    pairs = pairs.filter(
        (pairs.ppid != pairs.person_id)
        & (pairs.c_obs_start <= pairs.index_day - prior)
        & (pairs.c_obs_end >= pairs.index_day)
        & (pairs.c_death.isnull() | (pairs.c_death > pairs.index_day))
    )
    # comparators must be free of the index condition at the index date
    ix = C.filter(C.set_id.isin(index_sets)).select(
        xpid=C.person_id, xset=C.set_id, x_day=C.first_day
    )
    pairs = pairs.left_join(ix, (pairs.ppid == ix.xpid) & (pairs.index_set == ix.xset))
    pairs = pairs.filter(pairs.x_day.isnull() | (pairs.x_day > pairs.index_day))
    if eligible_from is not None:
        ef2 = eligible_from.select(fpid=eligible_from.person_id, f_day=eligible_from.day)
        pairs = pairs.join(ef2, pairs.ppid == ef2.fpid)
        pairs = pairs.filter(pairs.f_day <= pairs.index_day)
    pairs = pairs.select(
        "index_set", "person_id", "ppid", "j", "index_day", "x_day", "sex", "byband", "year", "ub"
    ).distinct()
    # keep the first k distinct eligible comparators per case
    wj = ibis.window(group_by=[pairs.index_set, pairs.person_id, pairs.ppid], order_by=pairs.j)
    pairs = pairs.mutate(dup=ibis.row_number().over(wj))
    pairs = pairs.filter(pairs.dup == 0)
    wp = ibis.window(group_by=[pairs.index_set, pairs.person_id], order_by=pairs.j)
    pairs = pairs.mutate(pick=ibis.row_number().over(wp))
    pairs = pairs.filter(pairs.pick < k)

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
    # attach follow-up limits
    pe = P.select(
        mpid=P.person_id, m_obs_end=P.obs_end_day, m_death=P.death_day, m_birth=P.birth_year
    )
    members = members.join(pe, members.member == pe.mpid).drop("mpid")
    members = cache(members)
    # the candidate person-years and cell table are only needed to build the members; count once
    # so that Spark (whose cache is lazy) has materialised the members before they go
    members.count().execute()
    for t in (cand_all, cell_m):
        t.release()
    return members, cases


def cohort_counts(
    ft: FeatureTables,
    pairs: list[tuple[str, str]],
    balance_set: str | None = None,
    eligible_from: ir.Table | None = None,
    curve_pairs: list[tuple[str, str]] | None = None,
) -> CohortCounts:
    """Per-stratum person-time and events for every (index, outcome) pair, plus KM and balance inputs.

    ``curve_pairs`` limits the monthly Kaplan-Meier counts to the pairs that get a curve (all
    pairs when None).
    """
    index_sets = sorted({i for i, _ in pairs})
    members, cases = matched_members(ft, index_sets, eligible_from)
    C = ft.conditions
    cell_cols = ["sex", "byband", "year", "ub"]
    # Person-time is counted sparsely: every member's follow-up without the outcome (the same
    # for all outcomes of an index set) is aggregated once, and only members who have a record
    # of the outcome (a small share) are joined to it, as corrections to that base: excluded
    # (outcome on or before index) or ended at the outcome. Same counts as joining every member
    # to every outcome, on a fraction of the rows.
    big = 10**9
    base_end = ibis.least(
        members.m_obs_end, members.m_death.fill_null(big), members.censor_day.fill_null(big)
    )
    mb = members.mutate(base_days=base_end - members.index_day, base_end=base_end)
    month = lambda d: (d / 30.4375).floor().cast("int64")  # noqa: E731
    valid = mb.filter(mb.base_days > 0)
    base = (
        valid.group_by(["index_set", *cell_cols, "exposed"])
        .aggregate(n=valid.member.count(), person_days=valid.base_days.sum())
        .execute()
    )
    km_base = (
        valid.mutate(month=month(valid.base_days))
        .group_by(["index_set", "exposed", "month"])
        .aggregate(n=valid.member.count())
        .execute()
    )

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
    mo = mo.filter((mo.b_in == 1) | (mo.a_in == 1))
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
    cell = (
        strata["sex"].astype(str)
        + ":"
        + strata["byband"].astype(str)
        + ":"
        + strata["year"].astype(str)
        + ":"
        + strata["ub"].astype(str)
    )
    strata = strata.assign(cell=cell)[
        ["index_set", "outcome_set", "cell", "exposed", "n", "events", "person_days"]
    ].reset_index(drop=True)

    # Kaplan-Meier monthly counts the same way: base months, moved for members with the outcome
    kp = pairs if curve_pairs is None else list(curve_pairs)
    if kp:
        cp = ibis.memtable(pd.DataFrame(list(kp), columns=["k_index", "k_outcome"]))
        mk = mo.join(cp, (mo.p_index == cp.k_index) & (mo.p_outcome == cp.k_outcome))
        moves = (
            mk.filter(mk.b_in == 1)
            .select(
                index_set=mk.p_index,
                outcome_set=mk.p_outcome,
                exposed=mk.exposed,
                month=month(mk.base_days),
                dn=ibis.literal(-1, "int64"),
                events=ibis.literal(0, "int64"),
            )
            .union(
                mk.filter(mk.a_in == 1).select(
                    index_set=mk.p_index,
                    outcome_set=mk.p_outcome,
                    exposed=mk.exposed,
                    month=month(mk.a_days),
                    dn=ibis.literal(1, "int64"),
                    events=mk.event,
                ),
                distinct=False,
            )
        )
        kd = (
            moves.group_by(["index_set", "outcome_set", "exposed", "month"])
            .aggregate(dn=moves.dn.sum(), events=moves.events.sum())
            .execute()
        )
        kgrid = km_base.merge(
            pd.DataFrame(kp, columns=["index_set", "outcome_set"]).drop_duplicates(),
            on="index_set",
        )
        kk_keys = ["index_set", "outcome_set", "exposed", "month"]
        km = kgrid.merge(kd, on=kk_keys, how="outer")
        for c in ("n", "dn", "events"):
            km[c] = km[c].fillna(0).astype("int64")
        km["n"] = km["n"] + km["dn"]
        km = km[km["n"] > 0][[*kk_keys, "events", "n"]].reset_index(drop=True)
    else:
        km = pd.DataFrame(columns=["index_set", "outcome_set", "exposed", "month", "events", "n"])
    km["censored"] = km["n"] - km["events"]

    # balance: age at index, sex, prior-year utilisation, any negative-control record before index
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
    balance = (
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
    n_cases = cases.group_by("index_set").aggregate(n=cases.person_id.count()).execute()
    cases.release()
    n_matched = (
        members.filter(members.exposed == 1)
        .group_by("index_set")
        .aggregate(n=members.member.count())
        .execute()
    )
    att = []
    for _, r in n_cases.iterrows():
        att.append(
            {
                "index_set": r["index_set"],
                "step": 1,
                "description": "new diagnoses with >= prior observation",
                "n": int(r["n"]),
            }
        )
    for _, r in n_matched.iterrows():
        att.append(
            {
                "index_set": r["index_set"],
                "step": 2,
                "description": "cases with >= 1 matched comparator",
                "n": int(r["n"]),
            }
        )
    # named columns: with no new diagnosis at all the attrition table is empty but still keyed
    attrition = pd.DataFrame(att, columns=["index_set", "step", "description", "n"])
    return CohortCounts(strata=strata, km=km, balance=balance, attrition=attrition)


def km_curve(km: pd.DataFrame, horizon_months: int) -> pd.DataFrame:
    """Kaplan-Meier (product-limit at monthly resolution) from event / censoring counts, per arm.

    Uses lifelines' KaplanMeierFitter with case weights, so the curve is the library's estimator on
    the grouped times (events at month m are placed at m + 1, censorings at m + 0.5... both within
    the month, events first as in the usual convention).
    """
    from lifelines import KaplanMeierFitter

    out = []
    times = list(range(0, horizon_months + 1, 6))
    for exposed, g in km.groupby("exposed"):
        month = g["month"].to_numpy(dtype=float) + 1.0
        ev_n = g["events"].to_numpy(dtype=float)
        ce_n = g["censored"].to_numpy(dtype=float)
        # one weighted row per (month, event) and per (month, censoring) with a positive count
        dur = np.concatenate([month[ev_n > 0], month[ce_n > 0]])
        ev = np.concatenate([np.ones((ev_n > 0).sum()), np.zeros((ce_n > 0).sum())])
        w = np.concatenate([ev_n[ev_n > 0], ce_n[ce_n > 0]])
        if not len(dur):
            continue
        kmf = KaplanMeierFitter()
        kmf.fit(pd.Series(dur), pd.Series(ev), weights=pd.Series(w))
        sf = kmf.survival_function_at_times(times)
        ci = kmf.confidence_interval_survival_function_
        lo = ci.iloc[:, 0].reindex(ci.index.union(times)).ffill().reindex(times).fillna(1.0)
        hi = ci.iloc[:, 1].reindex(ci.index.union(times)).ffill().reindex(times).fillna(1.0)
        tab = kmf.event_table
        t_idx = tab.index.to_numpy(dtype=float)
        at_risk_col = tab["at_risk"].to_numpy(dtype=float)
        cum_obs = np.cumsum(tab["observed"].to_numpy(dtype=float))
        for t in times:
            first_ge = int(np.searchsorted(t_idx, t, side="left"))
            at_risk = float(at_risk_col[first_ge]) if first_ge < len(t_idx) else 0.0
            last_le = int(np.searchsorted(t_idx, t, side="right"))
            ev_cum = float(cum_obs[last_le - 1]) if last_le > 0 else 0.0
            # censorings at times <= t, on the same footing as ev_cum (the privacy gate needs both)
            ce_cum = float(ce_n[month <= t].sum())
            out.append(
                {
                    "group": "exposed" if exposed == 1 else "unexposed",
                    "time": t / 12.0,
                    "survival": float(sf.loc[t]),
                    "ci_low": float(lo.loc[t]),
                    "ci_high": float(hi.loc[t]),
                    "at_risk": int(round(at_risk)),
                    "events": int(round(ev_cum)),
                    "censored": int(round(ce_cum)),
                }
            )
    return pd.DataFrame(out)


def balance_smd(bal: pd.DataFrame) -> dict[str, float]:
    """Absolute standardised mean differences (cases vs comparators) from per-arm sums."""
    from miglink.stats.balance import smd_binary, smd_continuous

    if set(bal["exposed"]) != {0, 1}:
        return {}
    r1 = bal[bal["exposed"] == 1].iloc[0]
    r0 = bal[bal["exposed"] == 0].iloc[0]
    out = {}
    for var in ("age", "visits"):
        m1, m0 = r1[f"{var}_sum"] / r1["n"], r0[f"{var}_sum"] / r0["n"]
        v1 = max(r1[f"{var}_sumsq"] / r1["n"] - m1 * m1, 0.0)
        v0 = max(r0[f"{var}_sumsq"] / r0["n"] - m0 * m0, 0.0)
        out[var] = abs(float(smd_continuous(m1, v1, m0, v0)))
    for var in ("female", "prior"):
        out[var] = abs(float(smd_binary(r1[f"{var}_sum"] / r1["n"], r0[f"{var}_sum"] / r0["n"])))
    return {k: (0.0 if v != v else v) for k, v in out.items()}
