"""Hand-written tiny CDMs that probe engine edge cases: every design's counts on DuckDB equal
PostgreSQL's and Spark's (the ``engine`` fixture), and a few counts checked by hand on each, so
all engines being wrong the same way fails too.

CDM "edge" (16 persons; observation 2000-2019 unless said): same-day first records (a D9 tie),
first records exactly at and one day inside the 365-day prior-observation boundary, a person
without an observation period and one whose period has no end date (both dropped), drug
records without an end date, people with several autoimmune diseases (D8 dose groups) and a
new Sjögren's diagnosis nobody can be matched to (D2 zero comparators). CDM "no drugs": the same
people with an empty drug_exposure table. CDM "no pairs": nobody has both migraine and an
autoimmune disease (D9 sums over no pairs: NULL, which Spark returns as NaN).
"""

from __future__ import annotations

import pytest

#: the persons table: everyone but 6 (no observation period) and 12 (period without an end)
N_PERSONS = 14


def edge_rows(rows):
    """The people of CDM "edge" (``rows`` is an empty conftest ``Rows``)."""
    start, end = "2000-01-01", "2019-12-31"
    r = rows
    # 1: migraine and SLE first recorded on the same day -> a D9 tie
    r.observed(1, "F", 1980, start, end).condition(1, "migraine", "2005-06-01")
    r.condition(1, "sle", "2005-06-01").condition(1, "menstrual", "2006-02-01")
    r.condition(1, "ischaemic_stroke", "2012-04-01").visit(1, "2005-06-01")
    r.lab(1, "crp", "2006-03-01", 3.2)
    # 2: migraine first (2004), RA later; NSAIDs, one record without an end date
    r.observed(2, "F", 1982, start, end).condition(2, "migraine", "2004-03-01")
    r.condition(2, "migraine", "2007-01-20").condition(2, "migraine", "2007-06-01")
    r.condition(2, "rheumatoid_arthritis", "2008-01-01").condition(2, "nc_warts", "2009-05-05")
    r.drug(2, "ibuprofen", "2006-01-01", None).drug(2, "ibuprofen", "2007-01-01", "2007-01-30")
    r.drug(2, "methotrexate", "2008-02-01", "2008-12-31")
    r.lab(2, "crp", "2005-01-01", 1.1).lab(2, "crp", "2010-01-01", 5.5)
    r.family_history(2, "migraine", "2003-01-01").visit(2, "2003-05-01").visit(2, "2004-03-01")
    # 3: MS first (2003), migraine later; interferon beta around migraine encounters
    r.observed(3, "M", 1975, start, end).condition(3, "multiple_sclerosis", "2003-01-01")
    r.condition(3, "migraine", "2010-01-01").condition(3, "migraine", "2011-03-01")
    r.condition(3, "migraine", "2012-01-01")
    r.drug(3, "interferon_beta_1a", "2011-01-01", "2011-06-30").drug(
        3, "prednisone", "2012-01-01", None
    )
    # 4: observation from 2002-01-01, first migraine (with aura) exactly 365 days later
    r.observed(4, "F", 1985, "2002-01-01", end).condition(4, "migraine_with_aura", "2003-01-01")
    r.condition(4, "sle", "2006-01-01").condition(4, "vte", "2009-09-09")
    r.lab(4, "esr", "2004-04-04", 12.0)
    # 5: observation from 2002-01-01, first migraine 364 days later (inside the washout)
    r.observed(5, "F", 1985, "2002-01-01", end).condition(5, "migraine", "2002-12-31")
    r.condition(5, "psoriasis", "2007-01-01")
    # 6: no observation period at all (same-day migraine and SLE: would be a second tie)
    r.person(6, "F", 1980).condition(6, "migraine", "2005-06-01").condition(6, "sle", "2005-06-01")
    # 7: four autoimmune diseases (D8 score capped at 3), migraine last; died in 2015
    r.observed(7, "F", 1970, start, end).condition(7, "sle", "2005-02-01")
    r.condition(7, "rheumatoid_arthritis", "2006-02-01").condition(7, "psoriasis", "2007-02-01")
    r.condition(7, "hashimoto", "2008-02-01").condition(7, "migraine", "2009-01-01")
    r.death(7, "2015-01-01")
    # 8: two autoimmune diseases, no migraine
    r.observed(8, "M", 1972, start, end).condition(8, "crohn", "2004-04-01")
    r.condition(8, "vitiligo", "2010-10-10")
    # 9: family history of autoimmune disease, CRP, many visits
    r.observed(9, "F", 1981, start, end).family_history(9, "autoimmune", "2005-05-05")
    r.lab(9, "crp", "2008-08-08", 0.7)
    for d in ("2003-02-01", "2003-03-01", "2003-04-01", "2008-08-08", "2012-12-12"):
        r.visit(9, d)
    # 10: the only person born in the 1930s: new Sjögren's with nobody to match
    r.observed(10, "M", 1931, start, end).condition(10, "sjogren", "2010-05-01")
    # 11-16: people without the index condition (12: observation period without an end date)
    r.observed(11, "F", 1983, start, end).condition(11, "nc_lipoma", "2010-01-01")
    r.lab(11, "crp", "2009-09-09", 2.0)
    r.person(12, "M", 1976).period(12, start, None)
    r.observed(13, "F", 1982, start, end).condition(13, "nc_cataract", "2012-02-02")
    r.lab(13, "crp", "2010-10-10", 0.0)  # not positive: not a usable value
    r.observed(14, "M", 1976, start, end).visit(14, "2009-01-01")
    r.observed(15, "F", 1984, start, "2018-06-30").visit(15, "2003-06-01")
    r.observed(16, "M", 1974, start, end).condition(16, "nc_lipoma", "2011-01-01")
    return r


@pytest.fixture(scope="module")
def edge_cdm(tmp_path_factory, write_cdm, rows_factory):
    return write_cdm(tmp_path_factory.mktemp("edge") / "cdm", edge_rows(rows_factory()))


@pytest.fixture(scope="module")
def no_drugs_cdm(tmp_path_factory, write_cdm, rows_factory):
    rows = edge_rows(rows_factory())
    rows.tables["drug_exposure"] = []
    return write_cdm(tmp_path_factory.mktemp("no_drugs") / "cdm", rows)


@pytest.fixture(scope="module")
def edge_duckdb(counts_on, edge_cdm):
    return counts_on("duckdb", edge_cdm)


@pytest.fixture(scope="module")
def no_drugs_duckdb(counts_on, no_drugs_cdm):
    return counts_on("duckdb", no_drugs_cdm)


def check_edge(c) -> None:
    """The hand-checked counts of CDM "edge" (on any engine)."""
    # D9: both recorded after the washout: 1 (tie), 2 and 4 (migraine first; 4 on the boundary),
    # 3 and 7 (autoimmune first); 5 is inside the washout, 6 has no observation period
    assert c["D9"].frame("order").to_dict("records") == [
        {"analysis": "h9_order", "n": 5, "first_n": 2, "ties": 1}
    ]
    # D1: 14 persons in every outcome's table, 6 with migraine (1 2 3 4 5 7), SLE in 1 4 7
    sle = c["D1"].frame("tables")
    sle = sle[(sle["outcome"] == "sle") & (sle["exposure"] == "migraine")]
    assert int(sle[["a", "b", "c", "d"]].to_numpy().sum()) == N_PERSONS
    assert (int(sle["a"].sum()), int(sle["b"].sum()), int(sle["c"].sum())) == (3, 3, 0)
    # D8: distinct autoimmune diseases: 1 in 1 2 3 4 5 10, 2 in 8, 4 (counted as 3) in 7;
    # migraine in 1 2 3 4 5 (score 1) and 7 (score 3)
    dose = c["D8"].frame("dose").groupby("score")[["total", "events"]].sum()
    assert dose.to_dict("index") == {
        0: {"total": 6, "events": 0},
        1: {"total": 6, "events": 5},
        2: {"total": 1, "events": 0},
        3: {"total": 1, "events": 1},
    }
    # D2: Sjögren's has one new diagnosis (10) and no matched case, so no person-time
    d2 = c["D2"]
    att = d2.frame("attrition")
    sj = att[att["index_set"] == "sjogren"]
    assert sj[["step", "n"]].to_dict("records") == [{"step": 1, "n": 1}]
    assert not (d2.frame("strata")["index_set"] == "sjogren").any()
    # D4 incident cohorts (new SLE in 1, migraine the same day; 4, aura since 2003; 7, migraine
    # only in 2009): whole population 1 4 7; migraine at index 1 4; aura at index 4; no migraine
    # at index 7 (1 and 4 leave that group's observation at their first migraine record). New
    # migraine with aura: 4, exactly at the prior-observation boundary
    d4 = c["D4"]

    def new(group: str, index_set: str = "sle") -> int:
        a = d4.frame(f"cohort_{group}_attrition")
        return int(a.loc[(a["index_set"] == index_set) & (a["step"] == 1), "n"].sum())

    assert [new(g) for g in ("all", "migraine", "aura", "no_migraine")] == [3, 2, 1, 1]
    assert new("all", "migraine_with_aura") == 1


def test_edge_counts(engine, edge_cdm, edge_duckdb, assert_counts_equal):
    """Every design's counts of CDM "edge" on each engine: the hand-checked ones, and DuckDB's."""
    on_engine = edge_duckdb if engine.name == "duckdb" else engine.counts(edge_cdm)
    check_edge(on_engine)
    assert_counts_equal(edge_duckdb, on_engine)


def test_no_drugs_counts_by_hand_on_duckdb(no_drugs_duckdb, edge_duckdb, assert_counts_equal):
    check_edge(no_drugs_duckdb)
    d5 = no_drugs_duckdb["D5"]
    assert d5.values["drugs_absent"] is not None or set(d5.values["sccs"].values()) <= {"no_eras"}
    assert not [f for f in d5.frames if f.startswith("sccs ")]
    # drugs feed D5 and D10 (new users of drugs) only: every other design counts the same
    drug_designs = ("D5", "D10")
    others = {k: v for k, v in edge_duckdb.items() if k not in drug_designs}
    assert_counts_equal(others, {k: v for k, v in no_drugs_duckdb.items() if k not in drug_designs})
    # without drugs the comparisons say why, and count nothing else
    d10 = no_drugs_duckdb["D10"]
    assert (d10.frame("ps")["reason"] != "").all() and "risk" not in d10.frames


def test_edge_has_sccs_profiles(edge_duckdb):
    """The drug records of CDM "edge" reach the SCCS (so the engines are compared on them)."""
    assert edge_duckdb["D5"].values["drugs_absent"] is None
    assert "ok" in set(edge_duckdb["D5"].values["sccs"].values())


def test_no_drugs_counts(engine, no_drugs_cdm, no_drugs_duckdb, assert_counts_equal):
    # only D5 reads drugs (test_no_drugs_counts_by_hand_on_duckdb): the other designs' counts
    # are those of CDM "edge", compared above, so only D5 is run again on the other engines
    if engine.name == "duckdb":
        pytest.skip("DuckDB is the reference (test_no_drugs_counts_by_hand_on_duckdb)")
    on_engine = engine.counts(no_drugs_cdm, designs=("D5",))
    assert_counts_equal({"D5": no_drugs_duckdb["D5"]}, on_engine)


@pytest.fixture(scope="module")
def no_pairs_cdm(tmp_path_factory, write_cdm, rows_factory):
    r = rows_factory()
    start, end = "2000-01-01", "2019-12-31"
    r.observed(1, "F", 1980, start, end).condition(1, "migraine", "2005-06-01")
    r.observed(2, "M", 1975, start, end).condition(2, "sle", "2006-06-01")
    r.observed(3, "F", 1985, start, end).condition(3, "migraine", "2001-02-03")
    # 4 has both, but SLE inside the washout: still no pair
    r.observed(4, "F", 1982, start, end).condition(4, "migraine", "2008-01-01")
    r.condition(4, "sle", "2000-06-01")
    r.observed(5, "M", 1979, start, end).visit(5, "2004-04-04")
    return write_cdm(tmp_path_factory.mktemp("no_pairs") / "cdm", r)


NO_PAIRS = [{"analysis": "h9_order", "n": 0, "first_n": 0, "ties": 0}]


def test_no_pairs_d9(engine, no_pairs_cdm):
    """D9 sums over no pairs: NULL, which Spark returns as NaN (a D9 crash before the fix in
    d9_order)."""
    order = engine.counts(no_pairs_cdm, designs=("D9",))["D9"].frame("order")
    assert order.to_dict("records") == NO_PAIRS
