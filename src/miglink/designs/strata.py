"""Shared helpers: exposure flags and stratified 2x2 counts from the feature tables."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

STRATA = ["sex", "age_band", "util_q", "obs_band"]


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
) -> pd.DataFrame:
    """2x2 counts of exposure x outcome for every outcome and stratum, in two engine queries.

    Returns columns outcome, *strata, a (exposed cases), b (exposed non-cases), c (unexposed
    cases), d (unexposed non-cases). Strata with no persons in an arm keep zeros.
    """
    totals, cases = grouped_counts(persons, conditions, exposure_col, outcomes, strata)
    return assemble_2x2(totals, cases, exposure_col, outcomes, strata)


def grouped_counts(
    persons: ir.Table,
    conditions: ir.Table,
    group_col: str,
    outcomes: list[str],
    strata: list[str] = STRATA,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons per stratum x ``group_col`` (n) and, per outcome, persons with it (k): two queries.

    ``group_col`` may have any number of levels; :func:`contrast_2x2` turns two sets of levels
    into an exposed / unexposed 2x2 table without another engine query.
    """
    totals = persons.group_by([*strata, group_col]).aggregate(n=persons.person_id.count()).execute()
    oc = conditions.filter(conditions.set_id.isin(outcomes)).select(
        pid=conditions.person_id, outcome=conditions.set_id
    )
    j = persons.join(oc, persons.person_id == oc.pid)
    cases = j.group_by(["outcome", *strata, group_col]).aggregate(k=j.person_id.count()).execute()
    return totals, cases


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

    Every outcome gets every stratum present in ``totals`` (outcome-major, in ``outcomes`` order).
    """
    cols = ["outcome", *strata, "a", "b", "c", "d"]
    if not outcomes:
        return pd.DataFrame(columns=cols)
    t = totals.pivot_table(
        index=strata, columns=exposure_col, values="n", aggfunc="sum", fill_value=0
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
    grid = pd.DataFrame({"outcome": pd.Series(list(outcomes), dtype=object)}).merge(t, how="cross")
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
