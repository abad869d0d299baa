"""Concept-set counts on the shared datasets (expected numbers from each SOURCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miglink.cli.main import main
from miglink.concepts import load_concept_sets
from miglink.concepts.match import records_in_sets, set_counts
from miglink.concepts.resolve import resolve_concept_sets
from miglink.sources import open_cdm

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared datasets not present")


@pytest.fixture(scope="module")
def sets():
    return load_concept_sets()


def _persons(cdm, sets) -> dict[str, int]:
    frame = set_counts(cdm, sets, resolve_concept_sets(cdm, sets))
    return dict(zip(frame.set_id, frame.n_persons, strict=True))


def test_mimic_counts(sets):
    cdm = open_cdm(DATA / "mimic-iv-demo-omop")
    n = _persons(cdm, sets)
    # SOURCE.md: migraine 5, MS 1, Sjögren 1, psoriasis 2, T1DM 1, Crohn 1, UC 1, SLE 0, RA 0.
    assert n["migraine"] == 5
    assert (n["multiple_sclerosis"], n["sjogren"], n["psoriasis"], n["type1_diabetes"]) == (
        1,
        1,
        2,
        1,
    )
    assert (n["crohn"], n["ulcerative_colitis"], n["sle"], n["rheumatoid_arthritis"]) == (
        1,
        1,
        0,
        0,
    )
    r = resolve_concept_sets(cdm, sets)
    # No standard vocabulary rows: ICD codes fall back to source values, ids are used directly.
    assert r["migraine"].paths == ("concept_id", "source_value")
    assert r["sle"].paths == ("source_value",)


def test_gibleed_counts_through_vocabulary(sets):
    cdm = open_cdm(DATA / "eunomia-gibleed")
    n = _persons(cdm, sets)
    # SOURCE.md: RA 18, UC 413, migraine 0, methotrexate 14.
    assert (n["rheumatoid_arthritis"], n["ulcerative_colitis"], n["migraine"]) == (18, 413, 0)
    assert n["methotrexate"] == 14
    r = resolve_concept_sets(cdm, sets)
    assert r["rheumatoid_arthritis"].concept_ids == {80809}  # SNOMED 69896004 in CONCEPT.csv
    assert "vocabulary" in r["rheumatoid_arthritis"].paths


def test_drug_end_date_rules(sets):
    cdm = open_cdm(DATA / "eunomia-gibleed")
    r = resolve_concept_sets(cdm, sets)
    d = records_in_sets(cdm, "drug", {"methotrexate": r["methotrexate"]}).execute()
    assert len(d) == 14 and set(d.set_id) == {"methotrexate"}
    assert (d.end_date >= d.event_date).all()
    assert list(d.columns) == ["person_id", "set_id", "event_date", "concept_id", "end_date"]


def test_atlas_concept_set_json_imports(tmp_path):
    # A minimal ATLAS export: RA (SNOMED 69896004, OMOP 80809) with descendants.
    atlas = {
        "name": "RA from ATLAS",
        "expression": {
            "items": [
                {
                    "concept": {
                        "CONCEPT_ID": 80809,
                        "CONCEPT_NAME": "Rheumatoid arthritis",
                        "DOMAIN_ID": "Condition",
                        "VOCABULARY_ID": "SNOMED",
                        "CONCEPT_CODE": "69896004",
                        "STANDARD_CONCEPT": "S",
                    },
                    "isExcluded": False,
                    "includeDescendants": True,
                    "includeMapped": False,
                }
            ]
        },
    }
    path = tmp_path / "ra_atlas.json"
    path.write_text(json.dumps(atlas))
    sets = load_concept_sets([path])
    cdm = open_cdm(DATA / "eunomia-gibleed")
    assert _persons(cdm, sets) == {"ra_atlas": 18}


def test_concepts_cli_gates_small_counts(capsys):
    rc = main(["concepts", "--data", str(DATA / "mimic-iv-demo-omop"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    rows = {r["set_id"]: r for r in out["concept_sets"]}
    assert rows["migraine"]["n_persons"] == 5 and rows["psoriasis"]["n_persons"] == "<5"
    assert rows["sle"]["n_persons"] == 0
    assert rows["crp"]["note"] == "table 'measurement' is absent"
    assert "concept_id" in rows["migraine"]["paths"]
    rc = main(["concepts", "--data", str(DATA / "mimic-iv-demo-omop"), "--min-cell", "1"])
    assert rc == 0 and "migraine" in capsys.readouterr().out
