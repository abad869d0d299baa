"""Issue 18 item 4: result files OHDSI tools can load. database_id on every row, counts as
numbers (a suppressed count is -min_cell, as CohortMethod's export writes it; a withheld one is
empty and named in count_labels), and resultsDataModelSpecification.csv validates every file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from miglink.claims.model import load_study
from miglink.outputs import default_database_id, write_run
from miglink.privacy import SECONDARY_LABEL, gate_results
from miglink.privacy.spec import (
    SPEC_COLUMNS,
    SPEC_FILE,
    TABLES,
    decode_table,
    encode_table,
    specification,
    validate_dir,
    validate_table,
)
from miglink.report.artefacts import load_run
from miglink.schema import columns, schema
from miglink.study import StudyRun

M = 5


def _row(analysis, n1, e1, n0, e0, **kw):
    base = {c: None for c in columns()}
    return base | dict(
        claim=3, hypothesis=None, analysis=analysis, design="D1", role="secondary",
        exposure="migraine", outcome=analysis, stratum="all", measure="OR",
        method="mantel_haenszel", n_exposed=n1, events_exposed=e1, n_unexposed=n0,
        events_unexposed=e0, estimate=1.4, log_estimate=0.336, se_log=0.2, ci_low=0.95,
        ci_high=2.07, p_value=0.09, expected="increase", note="",
    ) | kw  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run written by write_run from a small fabricated StudyRun with small counts."""
    results = pd.DataFrame(
        [
            _row("a_big", 900, 40, 3600, 120),
            _row("b_small", 800, 3, 3200, 60),  # a primary suppression (3 < 5)
            _row("c_zero", 700, 0, 2800, 30),  # a structural zero stays 0
            _row("nc_x", 600, 20, 2400, 70, role="negative_control", claim=None),
        ]
    )
    prevalence = pd.DataFrame(
        [{"set_id": "sle", "sex": s, "age_band": b, "n_persons": 400, "n_cases": c}
         for s in ("F", "M") for b, c in (("20-24", 12), ("25-29", 2), ("30-34", 9))]
    )  # fmt: skip
    attrition = pd.DataFrame(
        [{"analysis": "d2__sle", "step": 1, "description": "new diagnoses", "n": 50},
         {"analysis": "d2__sle", "step": 2, "description": "matched", "n": 47}]
    )  # fmt: skip
    run = StudyRun(results=results, claims=[], prevalence=prevalence, attrition=attrition)
    study, study_hash = load_study(None)
    out = tmp_path_factory.mktemp("files") / "run"
    write_run(run, out, study=study, study_hash=study_hash, data_description="fixture",
              engine="duckdb", min_cell=M, report=False, database_id="site_a")  # fmt: skip
    return out


def test_specification_has_ohdsi_shape_and_follows_the_gate_schema():
    spec = specification()
    assert tuple(spec.columns) == SPEC_COLUMNS
    assert set(spec["table_name"]) == set(TABLES)
    res = spec[spec["table_name"] == "results"]
    assert list(res["column_name"]) == columns()  # generated from results_schema.csv
    counts = {r["column"] for r in schema() if r["kind"] == "count"}
    assert set(res.loc[res["min_cell_count"] == "Yes", "column_name"]) == counts
    for t in TABLES:
        ids = spec[(spec["table_name"] == t) & (spec["column_name"] == "database_id")]
        assert ids[["is_required", "primary_key"]].values.tolist() == [["Yes", "Yes"]], t
    assert set(spec["data_type"]) <= {"varchar", "bigint", "float", "boolean"}


def test_every_written_file_validates_against_the_shipped_specification(run_dir):
    assert (run_dir / SPEC_FILE).exists()
    assert validate_dir(run_dir, M) == []


def test_counts_are_numbers_with_the_cohortmethod_convention(run_dir):
    res = pd.read_parquet(run_dir / "results.parquet")
    assert (res["database_id"] == "site_a").all()
    for c in ("n_exposed", "events_exposed", "n_unexposed", "events_unexposed"):
        assert str(res[c].dtype) == "Int64", c
    small = res.set_index("analysis").loc["b_small"]
    assert small["events_exposed"] == -M  # "<5" as CohortMethod writes it
    assert res.set_index("analysis").loc["c_zero", "events_exposed"] == 0
    rows = json.loads((run_dir / "results.json").read_text())
    for r in rows:
        for c in ("n_exposed", "events_exposed", "n_unexposed", "events_unexposed"):
            assert r[c] is None or type(r[c]) is int, (c, r[c])  # never "<5", never "0"
    csv = pd.read_csv(run_dir / "results.csv", dtype=str, keep_default_na=False)
    assert not csv.isin([f"<{M}", SECONDARY_LABEL]).any().any()
    for name in ("prevalence", "attrition"):
        t = pd.read_parquet(run_dir / f"{name}.parquet")
        assert (t["database_id"] == "site_a").all(), name


def test_suppressed_count_is_still_unrecoverable(run_dir):
    """The file holds no count in 1..min_cell-1, and the reader gets the gate's labels back."""
    res = pd.read_parquet(run_dir / "results.parquet")
    for c in ("n_exposed", "events_exposed", "n_unexposed", "events_unexposed"):
        v = res[c].dropna().astype(int)
        assert not ((v > 0) & (v < M)).any()
    art = load_run(run_dir)
    b = art.results.set_index("analysis").loc["b_small"]
    assert b["events_exposed"] == f"<{M}"
    assert b["estimate"] is None or pd.isna(b["estimate"])  # derived values withheld with it
    prev = art.prevalence
    assert not prev["n_cases"].map(lambda v: isinstance(v, int) and 0 < v < M).any()


def test_round_trip_gives_the_gate_its_labels_back():
    gated = gate_results(
        pd.DataFrame([_row("a", 900, 40, 3600, 120), _row("b", 800, 3, 3200, 60)]), M
    )
    gated.loc[0, "n_unexposed"] = SECONDARY_LABEL
    gated.loc[1, "n_exposed"] = "12-20"  # a pooled range
    file = encode_table(gated, "results", "db")
    assert (
        file.loc[0, "n_unexposed"] is pd.NA
        and "n_unexposed=withheld" in file.loc[0, "count_labels"]
    )
    assert file.loc[1, "events_exposed"] == -M and file.loc[1, "n_exposed"] is pd.NA
    back = decode_table(file, "results")
    assert back.loc[0, "n_unexposed"] == SECONDARY_LABEL
    assert back.loc[1, "n_exposed"] == "12-20" and back.loc[1, "events_exposed"] == f"<{M}"
    assert back.loc[0, "n_exposed"] == 900


def test_validation_can_fail():
    good = encode_table(
        gate_results(pd.DataFrame([_row("a", 900, 40, 3600, 120)]), M), "results", "db"
    )
    assert validate_table(good, "results", M) == []
    labelled = good.astype({"events_exposed": object})
    labelled.loc[0, "events_exposed"] = "<5"
    assert any("not bigint" in p for p in validate_table(labelled, "results", M))
    small = good.copy()
    small.loc[0, "events_exposed"] = 3
    assert any("min-cell" in p for p in validate_table(small, "results", M))
    assert any("database_id missing" in p
               for p in validate_table(good.drop(columns="database_id"), "results", M))  # fmt: skip
    unnamed = good.copy()
    unnamed.loc[0, "analysis"] = None
    assert any("required" in p for p in validate_table(unnamed, "results", M))
    assert any("not unique" in p for p in validate_table(pd.concat([good, good]), "results", M))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("/data/eunomia-gibleed", "eunomia-gibleed"),
        ("/data/cdm.duckdb", "cdm"),
        ("/data/site a/", "site_a"),
        ("postgresql://user:secret@db.example.org:5432/omop_cdm?sslmode=require", "omop_cdm"),
    ],
)
def test_default_database_id_is_the_data_folder_name(data, expected):
    assert default_database_id(data) == expected
