"""Identifier and integer columns are parsed strictly: never rounded, never read as hex or
exponent. DuckDB's own TRY_CAST to BIGINT turns '1.6' into 2 and '0x10' into 16 (checked on the
pinned duckdb), which would move a record to another person."""

from __future__ import annotations

import math

import ibis
import pandas as pd
import pytest

from miglink.sources.cdm import open_cdm
from miglink.sources.checks import run_checks
from miglink.sources.schema import cdm_schema
from miglink.sources.typed import cast_failure_counts, typed_table

LOOSE = [
    "1.6",
    "0x10",
    "1950.7",
    "1e3",
    "12abc",
    "+12",
    "1_000",
    "1 2",
    "--1",
    "99999999999999999999",
]
PLAIN = {"12": 12, "-3": -3, "007": 7, " 12 ": 12, "12\t": 12, "9223372036854775807": 2**63 - 1}


def _person(values: list) -> ibis.Table:
    n = len(values)
    df = pd.DataFrame(
        {
            "person_id": values,
            "gender_concept_id": ["8507"] * n,
            "year_of_birth": ["1950"] * n,
        }
    )
    return ibis.memtable(df)


def _typed(raw: ibis.Table) -> list:
    con = ibis.duckdb.connect()
    return con.to_pyarrow(typed_table(raw, cdm_schema()["person"]).person_id).to_pylist()


@pytest.mark.parametrize("value", LOOSE)
def test_loose_integer_text_is_a_cast_failure_not_a_number(value):
    raw = _person([value, "5"])
    assert _typed(raw) == [None, 5]
    con = ibis.duckdb.connect()
    t = con.create_table("p", raw.to_pyarrow())
    assert cast_failure_counts(t, cdm_schema()["person"])["person_id"] == 1


@pytest.mark.parametrize("value,expected", list(PLAIN.items()))
def test_plain_integers_are_read(value, expected):
    assert _typed(_person([value])) == [expected]


def test_floats_only_when_whole():
    vals = [1950.0, 1950.7, -2.0, math.nan, math.inf, 1e19]
    raw = ibis.memtable(
        pd.DataFrame({"person_id": vals, "gender_concept_id": 8507.0, "year_of_birth": 1950.0})
    )
    assert _typed(raw) == [1950, None, -2, None, None, None]


def test_check_names_table_column_and_count_and_is_fatal_for_ids(tmp_path):
    """A fractional or hex identifier is a fatal 'type' finding (ids, even optional ones)."""
    d = tmp_path / "cdm"
    d.mkdir()
    (d / "person.csv").write_text(
        "person_id,gender_concept_id,year_of_birth,month_of_birth\n"
        "1,8507,1950,1\n1.6,8507,1950,2\n0x10,8532,1960,2\n3,8532,1970,2.5\n"
    )
    (d / "observation_period.csv").write_text(
        "observation_period_id,person_id,observation_period_start_date,observation_period_end_date\n"
        "1,1,2000-01-01,2010-01-01\n2,3,2000-01-01,2010-01-01\n"
    )
    (d / "condition_occurrence.csv").write_text(
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,"
        "condition_source_concept_id\n"
        "1,1,318736,2005-01-01,0x10\n2,1e3,318736.5,2005-01-01,1\n"
    )
    rep = run_checks(open_cdm(d))
    types = {
        (f.table, f.column): (f.n_rows, f.severity)
        for f in rep.fatal + rep.warnings
        if f.check == "type"
    }
    assert types[("person", "person_id")] == (2, "fatal")
    assert types[("condition_occurrence", "person_id")] == (1, "fatal")
    assert types[("condition_occurrence", "condition_concept_id")] == (1, "fatal")
    # an optional identifier column is fatal too; an optional count-like integer is a warning
    assert types[("condition_occurrence", "condition_source_concept_id")] == (1, "fatal")
    assert types[("person", "month_of_birth")] == (1, "warning")


def test_spark_casts_as_strictly_as_duckdb(spark):
    """The same Ibis expressions on a Spark table (a Spark-catalog CDM is typed by Spark)."""
    # not 2**63 - 1: ibis' pyspark to_pyarrow goes through pandas, where an int column with
    # NULLs becomes float64 and the largest int64 cannot be converted back
    plain = {k: v for k, v in PLAIN.items() if v < 2**53}
    values = [*LOOSE, *plain]
    expected = [None] * len(LOOSE) + list(plain.values())
    sdf = spark.createDataFrame(
        [(v, "8507", "1950") for v in values],
        "person_id string, gender_concept_id string, year_of_birth string",
    )
    sdf.createOrReplaceTempView("strict_ids_person")
    con = ibis.pyspark.connect(spark)
    raw = con.table("strict_ids_person")
    t = typed_table(raw, cdm_schema()["person"])
    assert con.to_pyarrow(t.person_id).to_pylist() == expected
    assert cast_failure_counts(raw, cdm_schema()["person"])["person_id"] == len(LOOSE)
    fdf = spark.createDataFrame(
        [(1950.0,), (1950.7,), (float("nan"),), (float("inf"),)], "person_id double"
    ).selectExpr("person_id", "8507.0 as gender_concept_id", "1950.0 as year_of_birth")
    fdf.createOrReplaceTempView("strict_ids_float")
    t = typed_table(con.table("strict_ids_float"), cdm_schema()["person"])
    assert con.to_pyarrow(t.person_id).to_pylist() == [1950, None, None, None]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2.5", 2.5),
        (" -1e3 ", -1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("0x10", None),
        ("inf", None),
        ("nan", None),
        ("-Infinity", None),
        ("1_000.5", None),
        ("1e400", None),
        ("1,5", None),
    ],
)
def test_measurement_values_are_plain_decimals(value, expected):
    """DuckDB's TRY_CAST to DOUBLE reads 'inf', 'nan' and '1_000.5' (checked on the pinned duckdb)."""
    spec = cdm_schema()["measurement"]
    cols = {c.name: ["1"] for c in spec.columns if c.type == "int64"}
    cols |= {c.name: ["2020-01-01"] for c in spec.columns if c.type == "date"}
    raw = ibis.memtable(pd.DataFrame({**cols, "value_as_number": [value]}))
    con = ibis.duckdb.connect()
    got = con.to_pyarrow(typed_table(raw, spec).value_as_number).to_pylist()
    assert got == [expected]
    n_failed = cast_failure_counts(con.create_table("m", raw.to_pyarrow()), spec)["value_as_number"]
    assert n_failed == (expected is None)
