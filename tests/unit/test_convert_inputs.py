"""Converter behaviour on small hand-made inputs: Bundles, detection, caching and the errors a
user sees for malformed FHIR resources and MEDS shards."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from miglink.errors import MiglinkError
from miglink.sources.convert import convert_if_needed, detect_format

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _bundle(pid: str, gender: str, birth: str, codes: list[tuple[str, str, str]]) -> dict:
    """A Synthea-style transaction Bundle: urn:uuid references, one Condition per code."""
    entries = [
        {
            "fullUrl": f"urn:uuid:{pid}",
            "resource": {
                "resourceType": "Patient",
                "id": pid,
                "gender": gender,
                "birthDate": birth,
            },
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": f"urn:uuid:enc-{pid}",
            "resource": {
                "resourceType": "Encounter",
                "id": f"enc-{pid}",
                "class": {"code": "AMB"},
                "subject": {"reference": f"urn:uuid:{pid}"},
                "period": {
                    "start": "2020-01-02T10:00:00+01:00",
                    "end": "2020-01-02T11:00:00+01:00",
                },
            },
        },
    ]
    for i, (system, code, date) in enumerate(codes):
        entries.append(
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": f"c{i}-{pid}",
                    "subject": {"reference": f"urn:uuid:{pid}"},
                    "encounter": {"reference": f"urn:uuid:enc-{pid}"},
                    "code": {"coding": [{"system": system, "code": code}]},
                    **({"onsetDateTime": date} if date else {}),
                }
            }
        )
    entries.append(
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": f"m-{pid}",
                "status": "active",
                "subject": {"reference": f"urn:uuid:{pid}"},
                "authoredOn": "2020-02-01",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": RXNORM,
                            "code": "198013",
                            "display": "Naproxen 500 MG Oral Tablet",
                        }
                    ]
                },
            }
        }
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _tables(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def test_bundle_folder_converts(tmp_path: Path):
    src = tmp_path / "fhir"
    src.mkdir()
    (src / "a.json").write_text(
        json.dumps(_bundle("p1", "female", "1980-05-17", [(ICD10, "G43.109", "2019-03-04")]))
    )
    (src / "b.json").write_text(
        json.dumps(
            _bundle("p2", "male", "1975", [(ICD10, "M35.00", None), ("http://x.org", "Z", None)])
        )
    )
    assert detect_format(src) == "fhir"
    db = convert_if_needed(src, tmp_path / "cache")
    con = _tables(db)
    persons = con.execute(
        "SELECT gender_concept_id, year_of_birth, month_of_birth FROM person ORDER BY year_of_birth"
    ).fetchall()
    assert persons == [(8507, 1975, 1), (8532, 1980, 5)]
    conds = con.execute(
        "SELECT condition_source_value, CAST(condition_start_date AS VARCHAR) FROM condition_occurrence ORDER BY 1"
    ).fetchall()
    # the Condition without a date takes its encounter's start; the local code system is dropped
    assert conds == [("G43109", "2019-03-04"), ("M3500", "2020-01-02")]
    drugs = con.execute("SELECT DISTINCT drug_source_value FROM drug_exposure").fetchall()
    assert drugs == [("7258",)]  # naproxen ingredient, from the display name
    periods = con.execute(
        "SELECT CAST(min(observation_period_start_date) AS VARCHAR), count(*) FROM observation_period"
    ).fetchone()
    assert periods == ("2019-03-04", 2)
    report = dict(con.execute("SELECT item, n FROM _miglink_conversion").fetchall())
    assert report["unmapped:Condition:code_system"] == 1
    con.close()
    # cached: a second call returns the same file without converting again
    mtime = db.stat().st_mtime_ns
    assert convert_if_needed(src, tmp_path / "cache") == db and db.stat().st_mtime_ns == mtime
    # a changed input gives a new conversion
    (src / "c.json").write_text(json.dumps(_bundle("p3", "other", "1990-01-01", [])))
    db2 = convert_if_needed(src, tmp_path / "cache")
    assert db2 != db
    assert _tables(db2).execute(
        "SELECT count(*) FROM person WHERE gender_concept_id = 0"
    ).fetchone() == (1,)


def test_malformed_ndjson_names_file_line_and_count(tmp_path: Path):
    src = tmp_path / "bulk"
    src.mkdir()
    good = json.dumps({"resourceType": "Patient", "id": "p1", "gender": "female"})
    lines = [good, "{not json", good, '{"id": "x"}', "[1, 2]"]
    with gzip.open(src / "Patient.000.ndjson.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    with pytest.raises(MiglinkError) as e:
        convert_if_needed(src, tmp_path / "cache")
    msg = str(e.value)
    assert "Patient.000.ndjson.gz" in msg and "3 malformed line(s)" in msg and "line 2" in msg
    assert e.value.n_rows == 3
    assert not list((tmp_path / "cache").glob("*.duckdb"))  # nothing half-written


def test_resource_without_subject_is_an_error(tmp_path: Path):
    src = tmp_path / "bulk"
    src.mkdir()
    rows = [
        {"resourceType": "Patient", "id": "p1"},
        {
            "resourceType": "Condition",
            "id": "c1",
            "code": {"coding": [{"system": ICD10, "code": "G43.9"}]},
        },
        {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"}},
        {"resourceType": "Condition", "id": "c3"},
    ]
    (src / "x.ndjson").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(
        MiglinkError,
        match=r"x\.ndjson: 2 malformed resource\(s\); first at line 2: Condition c1 has no subject",
    ):
        convert_if_needed(src, tmp_path / "cache")


def test_bundle_with_bad_json_names_line(tmp_path: Path):
    src = tmp_path / "b"
    src.mkdir()
    (src / "p.json").write_text('{"resourceType": "Bundle",\n "entry": [\n  {"resource": }\n]}')
    with pytest.raises(MiglinkError, match=r"p\.json: not valid JSON at line 3"):
        convert_if_needed(src, tmp_path / "cache")


def _meds_shard(path: Path, **cols) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)


def test_meds_prefix_codes_and_layout(tmp_path: Path):
    root = tmp_path / "meds"
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "dataset.json").write_text('{"meds_version": "0.3.3"}')
    ts = pa.array(
        ["1970-01-01", "2020-01-01", "2020-01-01", "2020-02-01", "2020-02-01", "2020-03-01", None],
        pa.string(),
    ).cast(pa.timestamp("us"))
    _meds_shard(
        root / "data" / "train" / "0.parquet",
        subject_id=pa.array([7] * 7, pa.int64()),
        time=ts,
        code=[
            "MEDS_BIRTH",
            "ICD10CM/G43.909",
            "SNOMED/24700007",
            "LOINC/4537-7",
            "RxNorm/5640",
            "MEDICATION//START//Ketorolac",
            "GENDER//M",
        ],
        numeric_value=pa.array([None, None, None, 31.0, None, None, None], pa.float32()),
    )
    assert detect_format(root) == "meds"
    con = _tables(convert_if_needed(root, tmp_path / "cache"))
    assert con.execute(
        "SELECT person_id, gender_concept_id, year_of_birth FROM person"
    ).fetchall() == [(7, 8507, 1970)]
    assert sorted(
        r[0]
        for r in con.execute("SELECT condition_source_value FROM condition_occurrence").fetchall()
    ) == ["24700007", "G43909"]
    assert con.execute(
        "SELECT measurement_source_value, value_as_number FROM measurement"
    ).fetchall() == [("4537-7", 31.0)]
    assert sorted(
        r[0] for r in con.execute("SELECT drug_source_value FROM drug_exposure").fetchall()
    ) == ["35827", "5640"]


def test_meds_shard_errors_name_file_column_and_rows(tmp_path: Path):
    root = tmp_path / "meds"
    _meds_shard(
        root / "data" / "0.parquet",
        subject_id=pa.array([1, None, None], pa.int64()),
        time=pa.array([None, None, None], pa.timestamp("us")),
        code=["MEDS_BIRTH", "A", "B"],
    )
    with pytest.raises(
        MiglinkError, match=r"0\.parquet: 2 row\(s\) with no subject_id; first at row 2"
    ) as e:
        convert_if_needed(root, tmp_path / "cache")
    assert e.value.n_rows == 2 and e.value.column == "subject_id"

    _meds_shard(
        root / "data" / "0.parquet",
        subject_id=pa.array([1, 2], pa.int64()),
        code=["A", "B"],
        time=pa.array([None, None], pa.timestamp("us")),
    )
    _meds_shard(root / "data" / "1.parquet", subject_id=pa.array([1], pa.int64()), code=["A"])
    with pytest.raises(MiglinkError, match=r"1\.parquet: column 'time' is missing \(1 rows") as e:
        convert_if_needed(root, tmp_path / "cache")
    assert e.value.column == "time"

    (root / "data" / "1.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(MiglinkError, match=r"1\.parquet: cannot be read as Parquet"):
        convert_if_needed(root, tmp_path / "cache")


def test_other_inputs_are_left_alone(tmp_path: Path):
    (tmp_path / "omop").mkdir()
    (tmp_path / "omop" / "PERSON.csv").write_text("person_id\n1\n")
    assert detect_format(tmp_path / "omop") == "omop"
    assert convert_if_needed(tmp_path / "omop", tmp_path / "cache") is None
    (tmp_path / "empty").mkdir()
    assert detect_format(tmp_path / "empty") == "unknown"
    assert convert_if_needed(tmp_path / "empty", None) is None
