"""Shared helpers: exposure flags and stratified 2x2 counts from the feature tables.

Utilisation is measured per analysis without its own sets' visit days (:class:`Utilisation`):
a visit day that records the exposure or the outcome is not counted, so the utilisation stratum
is not a consequence of the outcome (stratifying on all visits biased every null 2x2 OR
downwards: the family-history -> migraine OR was 0.88-0.95 in null worlds, see
docs/statistics.md). The bands keep the study-wide cut points (quantiles of all visit days per
observed year), so a person with no record of the analysis's sets keeps the study-wide band and
only the people with such records move, which keeps the count at three engine queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.features.build import FeatureTables, util_band
from miglink.features.engine import lineage_cut, release_cut

STRATA = ["sex", "age_band", "util_q", "obs_band"]


@dataclass(frozen=True)
class Utilisation:
    """How an analysis measures utilisation: without the visit days of ``exposure_sets`` and of
    each outcome (the record days of :class:`FeatureTables`), on fixed cut points."""

    record_days: ir.Table
    exposure_sets: tuple[str, ...]
    cutpoints: tuple[float, ...]


def own_utilisation(ft: FeatureTables, exposure_sets: list[str]) -> Utilisation | None:
    """The utilisation of an analysis of ``exposure_sets`` (None when the features have no
    record days, e.g. hand-made tables: the study-wide ``util_q`` is then used)."""
    if ft.record_days is None:
        return None
    return Utilisation(ft.record_days, tuple(exposure_sets), tuple(ft.util_cutpoints))


def _days_of(util: Utilisation, sets: list[str]) -> ir.Table:
    rd = util.record_days
    return rd.filter(rd.set_id.isin(list(sets))).select("person_id", "day").distinct()


def without_own_days(persons: ir.Table, util: Utilisation | None, sets: list[str]) -> ir.Table:
    """``persons`` with ``util_q`` recomputed without the visit days carrying a record of any of
    ``sets`` (column ``n_own``: those days). Unchanged when ``util`` is None."""
    if util is None:
        return persons
    d = _days_of(util, sets)
    n = d.group_by("person_id").aggregate(n_own=d.day.count()).rename(opid="person_id")
    p = persons.left_join(n, persons.person_id == n.opid).drop("opid")
    p = p.mutate(n_own=p.n_own.fill_null(0))
    return p.mutate(util_q=util_band(p.visit_days - p.n_own, p.obs_years, list(util.cutpoints)))


def with_flag(persons: ir.Table, conditions: ir.Table, set_id: str, name: str) -> ir.Table:
    """Add a 0/1 column ``name``: the person has the concept set (any time)."""
    if set_id == "female":
        return persons.mutate(**{name: (persons.sex == "F").cast("int64")})
    c = conditions.filter(conditions.set_id == set_id).select(pid=conditions.person_id)
    j = persons.left_join(c, persons.person_id == c.pid)
    return j.mutate(**{name: j.pid.notnull().cast("int64")}).drop("pid")


def stratified_counts(
    persons: ir.Table,
    conditions: ir.Table,
    exposure_col: str,
    outcomes: list[str],
    strata: list[str] = STRATA,
    util: Utilisation | None = None,
) -> pd.DataFrame:
    """2x2 counts of exposure x outcome for every outcome and stratum, in two engine queries
    (three with ``util``: utilisation without each analysis's own days).

    Returns columns outcome, *strata, a (exposed cases), b (exposed non-cases), c (unexposed
    cases), d (unexposed non-cases). Strata with no persons in an arm keep zeros.
    """
    totals, cases = grouped_counts(persons, conditions, exposure_col, outcomes, strata, util)
    return assemble_2x2(totals, cases, exposure_col, outcomes, strata)


def grouped_counts(
    persons: ir.Table,
    conditions: ir.Table,
    group_col: str,
    outcomes: list[str],
    strata: list[str] = STRATA,
    util: Utilisation | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons per stratum x ``group_col`` (n) and, per outcome, persons with it (k): two queries.

    ``group_col`` may have any number of levels; :func:`contrast_2x2` turns two sets of levels
    into an exposed / unexposed 2x2 table without another engine query. With ``util`` the totals
    are per outcome (column ``outcome``): each outcome's utilisation leaves out its own days.
    """
    if util is not None and "util_q" in strata:
        return _own_counts(persons, conditions, group_col, outcomes, strata, util)
    totals = persons.group_by([*strata, group_col]).aggregate(n=persons.person_id.count()).execute()
    oc = conditions.filter(conditions.set_id.isin(outcomes)).select(
        pid=conditions.person_id, outcome=conditions.set_id
    )
    j = persons.join(oc, persons.person_id == oc.pid)
    cases = j.group_by(["outcome", *strata, group_col]).aggregate(k=j.person_id.count()).execute()
    return totals, cases


def _own_counts(
    persons: ir.Table,
    conditions: ir.Table,
    group_col: str,
    outcomes: list[str],
    strata: list[str],
    util: Utilisation,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Totals per outcome and cases, with utilisation without the exposure's and the outcome's
    days: the totals without the exposure's days (one query), the persons an outcome's days move
    to another band (one query), and the cases in their own band (one query)."""
    p = lineage_cut(without_own_days(persons, util, list(util.exposure_sets)))
    totals = p.group_by([*strata, group_col]).aggregate(n=p.person_id.count()).execute()
    rd = util.record_days
    od = rd.filter(rd.set_id.isin(outcomes)).select(
        opid=rd.person_id, outcome=rd.set_id, oday=rd.day
    )
    ex = _days_of(util, list(util.exposure_sets))
    ex = ex.select(xpid=ex.person_id, xday=ex.day)
    od = od.left_join(ex, (od.opid == ex.xpid) & (od.oday == ex.xday))
    extra = od.group_by(["opid", "outcome"]).aggregate(n_out=od.oday.count(where=od.xday.isnull()))
    extra = lineage_cut(extra)
    cut = list(util.cutpoints)
    m = p.join(extra, p.person_id == extra.opid)
    m = m.mutate(uq=util_band(m.visit_days - m.n_own - m.n_out, m.obs_years, cut))
    m = m.filter(m.uq != m.util_q)
    moved = m.group_by(["outcome", *strata, group_col, "uq"]).aggregate(n=m.person_id.count())
    oc = conditions.filter(conditions.set_id.isin(outcomes)).select(
        pid=conditions.person_id, outcome=conditions.set_id
    )
    j = p.join(oc, p.person_id == oc.pid)
    e = extra.select(qpid=extra.opid, qout=extra.outcome, n_out=extra.n_out)
    j = j.left_join(e, (j.person_id == e.qpid) & (j.outcome == e.qout))
    j = j.mutate(util_q=util_band(j.visit_days - j.n_own - j.n_out.fill_null(0), j.obs_years, cut))
    cases = j.group_by(["outcome", *strata, group_col]).aggregate(k=j.person_id.count()).execute()
    totals = _shift_totals(totals, moved.execute(), outcomes, strata, group_col)
    release_cut(p)
    release_cut(extra)
    return totals, cases


def _shift_totals(
    totals: pd.DataFrame, moved: pd.DataFrame, outcomes: list[str], strata: list[str], col: str
) -> pd.DataFrame:
    """Per-outcome totals: the exposure-only totals with each outcome's movers taken out of
    their band and put into their own."""
    keys = ["outcome", *strata, col]
    base = pd.concat([totals.assign(outcome=o) for o in outcomes], ignore_index=True)
    out_ = moved.assign(n=-moved["n"]).drop(columns="uq")
    in_ = moved.drop(columns="util_q").rename(columns={"uq": "util_q"})
    t = pd.concat([base, out_, in_], ignore_index=True)
    t["util_q"] = t["util_q"].astype("int64")
    t = t.groupby(keys, as_index=False, sort=False)["n"].sum()
    t["outcome"] = pd.Categorical(t["outcome"], categories=list(dict.fromkeys(outcomes)))
    t = t.sort_values(keys, kind="stable").reset_index(drop=True)
    t["outcome"] = t["outcome"].astype(object)
    return t[t["n"] > 0].reset_index(drop=True)


def contrast_2x2(
    totals: pd.DataFrame,
    cases: pd.DataFrame,
    group_col: str,
    exposed: list,
    reference: list,
    outcomes: list[str],
    strata: list[str] = STRATA,
) -> pd.DataFrame:
    """The 2x2 table (as :func:`assemble_2x2`) of ``exposed`` levels against ``reference`` levels."""

    def arm(df: pd.DataFrame, value: str) -> pd.DataFrame:
        df = df[df[group_col].isin([*exposed, *reference])]
        df = df.assign(exposed=df[group_col].isin(exposed).astype("int64"))
        keys = [c for c in ("outcome", *strata, "exposed") if c in df.columns]
        return df.groupby(keys, as_index=False, dropna=False)[value].sum()

    return assemble_2x2(arm(totals, "n"), arm(cases, "k"), "exposed", outcomes, strata)


def assemble_2x2(
    totals: pd.DataFrame,
    cases: pd.DataFrame,
    exposure_col: str,
    outcomes: list[str],
    strata: list[str],
) -> pd.DataFrame:
    """Combine per-stratum totals and case counts into a, b, c, d per outcome and stratum.

    Every outcome gets every stratum present in ``totals`` (outcome-major, in ``outcomes`` order);
    totals with an ``outcome`` column (per-outcome utilisation) give each outcome its own strata.
    """
    cols = ["outcome", *strata, "a", "b", "c", "d"]
    if not outcomes:
        return pd.DataFrame(columns=cols)
    per_outcome = "outcome" in totals.columns
    t = totals.pivot_table(
        index=["outcome", *strata] if per_outcome else strata,
        columns=exposure_col,
        values="n",
        aggfunc="sum",
        fill_value=0,
    )
    t = t.reindex(columns=[0, 1], fill_value=0).rename(columns={1: "n1", 0: "n0"}).reset_index()
    k = cases[cases["outcome"].isin(outcomes)]
    if k.empty:
        kp = pd.DataFrame(columns=["outcome", *strata, "k0", "k1"])
    else:
        kp = (
            k.pivot_table(
                index=["outcome", *strata],
                columns=exposure_col,
                values="k",
                aggfunc="sum",
                fill_value=0,
            )
            .reindex(columns=[0, 1], fill_value=0)
            .rename(columns={1: "k1", 0: "k0"})
            .reset_index()
        )
    order = pd.DataFrame({"outcome": pd.Series(list(outcomes), dtype=object)})
    if per_outcome:
        t["outcome"] = t["outcome"].astype(object)
        grid = order.merge(t, on="outcome", how="inner")
    else:
        grid = order.merge(t, how="cross")
    kp["outcome"] = kp["outcome"].astype(object)
    for st in strata:
        if len(kp):
            kp[st] = kp[st].astype(grid[st].dtype)
    m = grid.merge(kp, on=["outcome", *strata], how="left")
    k1 = pd.to_numeric(m["k1"], errors="coerce").fillna(0).astype("int64")
    k0 = pd.to_numeric(m["k0"], errors="coerce").fillna(0).astype("int64")
    out = m[["outcome", *strata]].copy()
    out["a"] = k1
    out["b"] = (m["n1"] - k1).astype("int64")
    out["c"] = k0
    out["d"] = (m["n0"] - k0).astype("int64")
    return out.reset_index(drop=True)


def literal_table(rows: list[dict]) -> ir.Table:
    return ibis.memtable(pd.DataFrame(rows))
