"""The shared OMOP datasets load through every input form and their real problems are reported.

Row counts are those in each folder's SOURCE.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import ibis
import pytest

from miglink.cli.main import main
from miglink.concepts.match import normalised_source
from miglink.errors import MissingTableError
from miglink.sources import open_cdm
from miglink.sources.checks import run_checks

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
GIBLEED = DATA / "eunomia-gibleed"
SYNTHEA = DATA / "eunomia-synthea27nj"
MIMIC = DATA / "mimic-iv-demo-omop"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared datasets not present")


@pytest.fixture(scope="module")
def gibleed():
    return open_cdm(GIBLEED)


@pytest.fixture(scope="module")
def mimic():
    return open_cdm(MIMIC)


def test_gibleed_upper_case_csv(gibleed):
    # SOURCE.md: PERSON 2,694; OBSERVATION_PERIOD 5,343; CONDITION_OCCURRENCE 65,332; CONCEPT 444.
    assert gibleed.row_count("person") == 2694
    assert gibleed.row_count("observation_period") == 5343
    assert gibleed.row_count("condition_occurrence") == 65332
    assert gibleed.row_count("concept") == 444
    t = gibleed.table("condition_occurrence")
    assert "condition_source_value" in t.columns and "stop_reason" not in t.columns
    assert str(t.schema()["condition_start_date"]).rstrip("!") == "date"


@pytest.mark.parametrize("zip_name", ["Synthea27Nj_5.4.zip", "Synthea27NjParquet_5.4.zip"])
def test_synthea_zips_csv_and_parquet(tmp_path, zip_name):
    cdm = open_cdm(SYNTHEA / zip_name, cache_dir=tmp_path)
    # SOURCE.md: PERSON 28; CONDITION_OCCURRENCE 470; DRUG_EXPOSURE 883; DEATH 3; ancestor empty.
    assert [cdm.row_count(t) for t in ("person", "condition_occurrence", "drug_exposure")] == [
        28,
        470,
        883,
    ]
    assert cdm.row_count("death") == 3 and cdm.row_count("concept_ancestor") == 0
    assert not any("__MACOSX" in str(p) for p in tmp_path.rglob("*"))
    # the same zip opened again reuses its extraction
    assert open_cdm(SYNTHEA / zip_name, cache_dir=tmp_path).fingerprint() == cdm.fingerprint()
    rep = run_checks(cdm)
    assert rep.ok, [f.text() for f in rep.fatal]


def test_synthea_csv_and_parquet_hold_the_same_values(tmp_path):
    a = open_cdm(SYNTHEA / "Synthea27Nj_5.4.zip", cache_dir=tmp_path)
    b = open_cdm(SYNTHEA / "Synthea27NjParquet_5.4.zip", cache_dir=tmp_path)
    for name in ("person", "observation_period", "condition_occurrence"):
        ta, tb = a.table(name), b.table(name)
        assert ta.schema() == tb.schema()
        cols = [c for c in ta.columns if c != "condition_source_value"]
        da = ta.execute().sort_values(cols).reset_index(drop=True)
        db = tb.execute().sort_values(cols).reset_index(drop=True)
        assert da[cols].equals(db[cols]), name
    # The Parquet copy writes SNOMED source codes as '65363002.0'; matching normalises that.
    sv_a = a.table("condition_occurrence").condition_source_value
    sv_b = b.table("condition_occurrence").condition_source_value
    assert int(sv_a.endswith(".0").sum().execute()) == 0
    assert int(sv_b.endswith(".0").sum().execute()) == 470
    norm = lambda cdm: sorted(  # noqa: E731
        normalised_source(cdm.table("condition_occurrence").condition_source_value)
        .name("v")
        .as_table()
        .execute()
        .v
    )
    assert norm(a) == norm(b)


def test_mimic_2b_vocabulary_and_padded_source_values(mimic):
    assert mimic.has("concept") and mimic.row_count("concept") == 3885  # 2b_concept.csv
    assert not mimic.has("measurement")
    with pytest.raises(MissingTableError, match="table 'measurement' is absent"):
        mimic.table("measurement")
    sv = mimic.table("condition_occurrence").condition_source_value
    assert int(sv.endswith(" ").sum().execute()) == 0  # trailing padding is stripped


def test_gibleed_real_problem_is_reported(gibleed):
    rep = run_checks(gibleed)
    assert rep.ok
    # Eunomia GiBleed's OBSERVATION_PERIOD has 5,343 rows for person_ids 1..5,343 but PERSON keeps
    # only 2,694 of them: 2,649 periods belong to no person (checked with DuckDB over the CSVs).
    orphans = [f for f in rep.warnings if f.check == "orphan_records"]
    assert [(f.table, f.n_rows) for f in orphans] == [("observation_period", 2649)]


def test_mimic_future_dates_are_warnings_not_fatal(mimic):
    rep = run_checks(mimic)
    assert rep.ok
    future = {f.table: f.n_rows for f in rep.warnings if f.check == "future_date"}
    # SOURCE.md: 100 persons, 16,441 condition rows, 15 deaths, all shifted to 2100-2200.
    assert future["condition_occurrence"] == 16441 and future["death"] == 15
    assert future["person"] == 100
    absent = {f.table for f in rep.warnings if f.check == "absent_table"}
    assert {"measurement", "observation", "concept_ancestor"} <= absent


def test_duckdb_file_and_ibis_backend(tmp_path):
    db = tmp_path / "omop.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema cdm")
    for t in ("PERSON", "OBSERVATION_PERIOD", "CONDITION_OCCURRENCE"):
        con.execute(f"create table cdm.{t} as select * from read_csv('{GIBLEED / (t + '.csv')}')")
    con.close()
    cdm = open_cdm(db)
    assert cdm.engine == "duckdb" and cdm.row_count("person") == 2694
    assert not cdm.has("drug_exposure")
    rep = run_checks(cdm)
    assert rep.ok and any(f.table == "drug_exposure" for f in rep.warnings)
    backend = ibis.duckdb.connect(str(db), read_only=True)
    other = open_cdm(backend)
    assert other.row_count("condition_occurrence") == 65332


def test_check_cli_json_and_exit_codes(capsys):
    rc = main(["check", "--data", str(MIMIC), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] and out["fatal"] == []
    assert out["tables"]["death"] == 15
    assert "person_id" not in json.dumps(out["tables"])
