"""Baseline covariates of a cohort, as sparse (row, covariate, value) triples and a reference.

The engine (ibis: DuckDB, Spark, PostgreSQL alike) does the joins of the study's records
(:func:`covariate_records`) to the cohort's index days and reduces them to one row per cohort
row and concept: the days since its most recent record before the window end. Every window is a
threshold on that gap, so the four windows cost one aggregate. pandas turns the small result into
triples. docs/covariates.md has the analysis ids, the vocabulary levels and the thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import scipy.sparse as sp

from miglink.errors import MiglinkError
from miglink.features.covariate_names import name_reference
from miglink.features.covariate_records import covariate_records, has_ancestors
from miglink.features.covariate_settings import (
    AGE,
    AGE_GROUP,
    CHARLSON,
    GENERIC_CONDITION_GROUPS,
    GENERIC_GROUP_NAMES,
    INDEX_MONTH,
    INDEX_YEAR,
    SEX,
    VISIT_COUNT,
    CovariateSettings,
    domain_analysis_id,
)
from miglink.features.engine import cache

__all__ = ["Covariates", "CovariateSettings", "build_covariates", "covariate_records"]

REF_COLUMNS = [
    "covariate_id",
    "covariate_name",
    "analysis_id",
    "analysis_name",
    "concept_id",
    "window_days",
    "is_binary",
]
_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass
class Covariates:
    """Sparse baseline covariates: ``triples`` (row_id, covariate_id, value; a binary covariate
    only where it is 1), ``ref`` (one row per covariate, in column order) and ``n_rows``."""

    triples: pd.DataFrame
    ref: pd.DataFrame
    n_rows: int

    def to_csr(self) -> sp.csr_matrix:
        """n_rows x len(ref) matrix; column j is ``ref.covariate_id[j]``."""
        col = pd.Index(self.ref["covariate_id"]).get_indexer(self.triples["covariate_id"])
        if (col < 0).any():
            raise MiglinkError("covariate triples hold an id missing from the reference")
        return sp.csr_matrix(
            (self.triples["value"].to_numpy(np.float32), (self.triples["row_id"].to_numpy(), col)),
            shape=(self.n_rows, len(self.ref)),
        )


def build_covariates(
    records: ir.Table,
    cohort: ir.Table | pd.DataFrame,
    cdm,
    settings: CovariateSettings | None = None,
) -> Covariates:
    """Covariates of ``cohort`` (row_id 0..n-1, person_id, index_day in epoch days) from
    ``records`` (:func:`covariate_records` of ``cdm``); ``cdm`` gives persons and vocabulary."""
    st = settings or CovariateSettings()
    c, n_rows = _cohort_table(cohort)
    anc = has_ancestors(cdm)
    gaps = _gaps(records, c, cdm, st, anc)
    parts = [_window_triples(gaps.execute(), st)]
    if anc and st.condition_groups and "condition" in st.domains:
        parts.append(_window_triples(_groups(gaps, cdm, st, "condition_group").execute(), st))
    if anc and st.drug_classes and "drug" in st.domains:
        parts.append(_window_triples(_groups(gaps, cdm, st, "drug_class").execute(), st))
    if st.charlson and "condition" in st.domains:
        parts.append(_charlson(gaps, cdm, st, anc))
    if st.visit_counts:
        parts.append(_visits(records, c, st))
    if st.demographics:
        parts.append(_demographics(c, cdm))
    triples = pd.concat([p for p in parts if len(p)], ignore_index=True)
    if triples.empty:
        triples = _empty_triples()
    triples = _drop_rare(triples, n_rows, st)
    ref = _reference(triples, cdm, st)
    triples = triples[["row_id", "covariate_id", "value"]].reset_index(drop=True)
    return Covariates(
        triples=triples.astype({"row_id": "int64", "covariate_id": "int64", "value": "float32"}),
        ref=ref,
        n_rows=n_rows,
    )


def _cohort_table(cohort) -> tuple[ir.Table, int]:
    """The cohort as an ibis table with its row count; row ids must be 0..n-1 (matrix rows)."""
    if isinstance(cohort, pd.DataFrame):
        df = cohort[["row_id", "person_id", "index_day"]].astype("int64")
        t = ibis.memtable(df)
        ids = df["row_id"]
        n, lo, hi, distinct = len(df), ids.min(), ids.max(), ids.nunique()
    else:
        t = cohort.select("row_id", "person_id", "index_day")
        s = t.aggregate(n=t.count(), lo=t.row_id.min(), hi=t.row_id.max(), d=t.row_id.nunique())
        n, lo, hi, distinct = s.execute().iloc[0][["n", "lo", "hi", "d"]]
    n = int(n)
    if n and (int(lo), int(hi), int(distinct)) != (0, n - 1, n):
        raise MiglinkError("cohort row_id must number the rows 0..n-1, each once")
    t = t.select(
        row_id=t.row_id.cast("int64"),
        cpid=t.person_id.cast("int64"),
        index_day=t.index_day.cast("int64"),
    )
    return t, n


def _excluded(cdm, st: CovariateSettings, anc: bool) -> ir.Table | None:
    """The excluded concept ids with all their descendants (one column ``xid``)."""
    if not st.exclude_concepts:
        return None
    ids = sorted(st.exclude_concepts)
    own = ibis.memtable(pd.DataFrame({"xid": np.asarray(ids, dtype="int64")}))
    if not anc:
        return own
    ca = cdm.table("concept_ancestor")
    d = ca.filter(ca.ancestor_concept_id.isin(ids)).select(xid=ca.descendant_concept_id)
    return own.union(d).distinct()


def _gaps(records, c, cdm, st: CovariateSettings, anc: bool) -> ir.Table:
    """row_id, domain, concept_id, gap: days from the most recent record (on or before index +
    end_day) to index, per cohort row and concept of the chosen domains (cached)."""
    r = records.filter(records.domain.isin(list(st.domains)))
    ex = _excluded(cdm, st, anc)
    if ex is not None:
        r = r.anti_join(ex, r.concept_id == ex.xid)
    j = r.join(c, r.person_id == c.cpid)
    j = j.filter(j.day <= j.index_day + st.end_day)
    g = j.group_by(["row_id", "domain", "concept_id"]).aggregate(gap=(j.index_day - j.day).min())
    return cache(g)


def _window_triples(g: pd.DataFrame, st: CovariateSettings) -> pd.DataFrame:
    """Binary triples of every window from the gaps (a record in the window iff gap <= days)."""
    out = []
    for dom, part in g.groupby("domain", sort=False):
        for w in st.windows:
            p = part if w is None else part[part["gap"] <= w]
            aid = domain_analysis_id(str(dom), w)
            out.append(
                pd.DataFrame(
                    {
                        "row_id": p["row_id"].to_numpy("int64"),
                        "covariate_id": p["concept_id"].to_numpy("int64") * 1000 + aid,
                        "value": np.float32(1.0),
                        "analysis_id": aid,
                        "concept_id": p["concept_id"].to_numpy("int64"),
                    }
                )
            )
    return pd.concat(out, ignore_index=True) if out else _empty_triples()


def _group_map(cdm, kind: str, excluded: frozenset[int]) -> ir.Table:
    """concept -> vocabulary group: every SNOMED condition ancestor but the generic roots and the
    organising concepts named in GENERIC_GROUP_NAMES (condition groups) or every ATC 1st-4th level class above an ingredient (drug classes);
    never the concept itself."""
    ca = cdm.table("concept_ancestor")
    c = cdm.table("concept")
    if kind == "condition_group":
        grp = c.filter((c.domain_id == "Condition") & (c.vocabulary_id == "SNOMED"))
        name = grp.concept_name.fill_null("").lower()
        grp = grp.filter(~ibis.or_(*(name.like(p) for p in GENERIC_GROUP_NAMES)))
        skip = sorted(GENERIC_CONDITION_GROUPS | excluded)
    else:
        # ATC 1st-4th level (codes of 1, 3, 4, 5 characters); the 5th repeats the ingredient
        grp = c.filter((c.vocabulary_id == "ATC") & c.concept_code.length().isin([1, 3, 4, 5]))
        skip = sorted(excluded)
    grp = grp.select(gid=grp.concept_id)
    if skip:
        grp = grp.filter(~grp.gid.isin(skip))
    m = ca.filter(ca.ancestor_concept_id != ca.descendant_concept_id)
    m = m.join(grp, m.ancestor_concept_id == grp.gid)
    return m.select(cid=m.descendant_concept_id, gid=m.gid).distinct()


def _groups(gaps: ir.Table, cdm, st: CovariateSettings, kind: str) -> ir.Table:
    dom = "condition" if kind == "condition_group" else "drug"
    g = gaps.filter(gaps.domain == dom)
    m = _group_map(cdm, kind, st.exclude_concepts)
    j = g.join(m, g.concept_id == m.cid)
    return (
        j.group_by(row_id=j.row_id, concept_id=j.gid)
        .aggregate(gap=j.gap.min())
        .mutate(domain=ibis.literal(kind))
    )


def _charlson(gaps: ir.Table, cdm, st: CovariateSettings, anc: bool) -> pd.DataFrame:
    """Charlson index: the sum of the weights of the categories with a condition record any time
    before the window end (each category once, as FeatureExtraction's CharlsonIndex)."""
    cats = pd.DataFrame(
        [(i, w, a) for i, (_n, w, ids) in enumerate(st.charlson_categories) for a in ids],
        columns=["cat", "weight", "anc"],
    ).astype("int64")
    if cats.empty:
        return _empty_triples()
    m = ibis.memtable(cats)
    own = m.select(cid=m.anc, cat=m.cat)
    if anc:
        ca = cdm.table("concept_ancestor")
        d = ca.join(m, ca.ancestor_concept_id == m.anc).select(
            cid=ca.descendant_concept_id, cat=m.cat
        )
        own = own.union(d)
    own = own.distinct()
    g = gaps.filter(gaps.domain == "condition")
    j = g.join(own, g.concept_id == own.cid).select("row_id", "cat").distinct()
    hit = j.execute()
    if hit.empty:
        return _empty_triples()
    weight = cats.drop_duplicates("cat").set_index("cat")["weight"]
    hit["w"] = hit["cat"].map(weight)
    score = hit.groupby("row_id", as_index=False)["w"].sum()
    return _continuous(score["row_id"], score["w"], 1000 + CHARLSON, CHARLSON, 0)


def _visits(records: ir.Table, c: ir.Table, st: CovariateSettings) -> pd.DataFrame:
    """Distinct visit days per visit concept in the ``visit_window`` days before the window end."""
    v = records.filter(records.domain == "visit")
    j = v.join(c, v.person_id == c.cpid)
    gap = j.index_day - j.day
    j = j.filter((gap >= -st.end_day) & (gap <= st.visit_window))
    n = j.group_by(["row_id", "concept_id"]).aggregate(n=j.day.count()).execute()
    if n.empty:
        return _empty_triples()
    cid = n["concept_id"].to_numpy("int64")
    return pd.DataFrame(
        {
            "row_id": n["row_id"].to_numpy("int64"),
            "covariate_id": cid * 1000 + VISIT_COUNT,
            "value": n["n"].to_numpy("float32"),
            "analysis_id": VISIT_COUNT,
            "concept_id": cid,
        }
    )


def _demographics(c: ir.Table, cdm) -> pd.DataFrame:
    """Sex, age (years, and its 5-year group), index year and month (FeatureExtraction: age is
    the index year minus the year of birth)."""
    p = cdm.table("person")
    j = c.join(p, c.cpid == p.person_id).select(
        "row_id", "index_day", sex=p.gender_concept_id, born=p.year_of_birth
    )
    d = j.execute()
    if d.empty:
        return _empty_triples()
    day = _EPOCH + d["index_day"].to_numpy("int64").astype("timedelta64[D]")
    year = day.astype("datetime64[Y]").astype(int) + 1970
    month = day.astype("datetime64[M]").astype(int) % 12 + 1
    rows = d["row_id"].to_numpy("int64")
    parts = []
    sex = d["sex"].fillna(0).to_numpy("int64")
    known = sex > 0
    parts.append(_binary(rows[known], sex[known] * 1000 + SEX, SEX, sex[known]))
    born = pd.to_numeric(d["born"], errors="coerce").to_numpy("float64")
    ok = ~np.isnan(born)
    age = year[ok] - born[ok].astype("int64")
    parts.append(_continuous(rows[ok], age, 1000 + AGE, AGE, 0))
    grp = np.clip(age, 0, None) // 5
    parts.append(_binary(rows[ok], grp * 1000 + AGE_GROUP, AGE_GROUP, grp))
    parts.append(_binary(rows, year * 1000 + INDEX_YEAR, INDEX_YEAR, year))
    parts.append(_binary(rows, month * 1000 + INDEX_MONTH, INDEX_MONTH, month))
    return pd.concat(parts, ignore_index=True)


def _binary(rows, cov_ids, analysis_id: int, concept) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": np.asarray(rows, "int64"),
            "covariate_id": np.asarray(cov_ids, "int64"),
            "value": np.float32(1.0),
            "analysis_id": analysis_id,
            "concept_id": np.asarray(concept, "int64"),
        }
    )


def _continuous(rows, values, cov_id: int, analysis_id: int, concept: int) -> pd.DataFrame:
    """A continuous covariate, present where it is not zero (missing means zero)."""
    v = np.asarray(values, "float32")
    keep = v != 0
    return pd.DataFrame(
        {
            "row_id": np.asarray(rows, "int64")[keep],
            "covariate_id": np.int64(cov_id),
            "value": v[keep],
            "analysis_id": analysis_id,
            "concept_id": np.int64(concept),
        }
    )


def _empty_triples() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_id": pd.Series(dtype="int64"),
            "covariate_id": pd.Series(dtype="int64"),
            "value": pd.Series(dtype="float32"),
            "analysis_id": pd.Series(dtype="int64"),
            "concept_id": pd.Series(dtype="int64"),
        }
    )


def min_rows(n_rows: int, st: CovariateSettings) -> int:
    """The fewest rows a kept covariate is present in (FeatureExtraction's tidyCovariateData
    drops those in under 0.1% of rows: min_fraction 0.001)."""
    return max(st.min_rows, math.ceil(st.min_fraction * n_rows))


def _drop_rare(t: pd.DataFrame, n_rows: int, st: CovariateSettings) -> pd.DataFrame:
    n = t.groupby("covariate_id")["row_id"].transform("size")
    return t[n >= min_rows(n_rows, st)]


def _reference(t: pd.DataFrame, cdm, st: CovariateSettings) -> pd.DataFrame:
    """One row per covariate present, in (analysis_id, covariate_id) order, with readable names."""
    ref = (
        t.drop_duplicates("covariate_id")[["covariate_id", "analysis_id", "concept_id"]]
        .sort_values(["analysis_id", "covariate_id"])
        .reset_index(drop=True)
    )
    return name_reference(ref, cdm, st)[REF_COLUMNS]
