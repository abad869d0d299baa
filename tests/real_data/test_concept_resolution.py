"""Concept resolution on the shared datasets where the vocabulary is thin (issue 18 item 6):
Synthea27Nj (CONCEPT_RELATIONSHIP but an empty CONCEPT_ANCESTOR), MIMIC OMOP (NDC source values,
no standard vocabulary), MIMIC MEDS / FHIR (every concept id 0). Expected numbers come from the
data files themselves or from each SOURCE.md, named beside them."""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from miglink.cli.main import main
from miglink.concepts import load_concept_sets
from miglink.concepts.match import records_in_sets, set_counts
from miglink.concepts.resolve import resolve_concept_sets
from miglink.sources import open_cdm

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SYNTHEA = DATA / "eunomia-synthea27nj" / "Synthea27Nj_5.4.zip"
MIMIC_OMOP = DATA / "mimic-iv-demo-omop" / "1_omop_data_csv"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared datasets not present")


def _counts(cdm, sets) -> dict[str, tuple[int, int]]:
    f = set_counts(cdm, sets, resolve_concept_sets(cdm, sets))
    return {r.set_id: (r.n_persons, r.n_records) for r in f.itertuples(index=False)}


def _zip_csv(name: str) -> pd.DataFrame:
    with zipfile.ZipFile(SYNTHEA) as z:
        member = next(n for n in z.namelist() if n.endswith(name) and "__MACOSX" not in n)
        with z.open(member) as f:
            return pd.read_csv(f, dtype=str, keep_default_na=False)


def test_synthea27nj_nsaids_reach_ibuprofen_products_through_rxnorm_relationships():
    cdm = open_cdm(SYNTHEA)
    sets = load_concept_sets()
    r = resolve_concept_sets(cdm, sets)["nsaids"]
    assert "relationship" in r.paths  # CONCEPT_ANCESTOR is empty (SOURCE.md)
    # Oracle from the zip itself: drug_exposure rows whose concept is an ibuprofen product
    # (CONCEPT.csv names 'ibuprofen 100 MG Oral Tablet', 'ibuprofen 200 MG Oral Tablet').
    concept = _zip_csv("CONCEPT.csv")
    drugs = _zip_csv("DRUG_EXPOSURE.csv")
    ibu = set(concept.concept_id[concept.concept_name.str.lower().str.startswith("ibuprofen")])
    rows = drugs[drugs.drug_concept_id.isin(ibu)]
    assert (rows.person_id.nunique(), len(rows)) == (10, 16)
    assert _counts(cdm, {"nsaids": sets["nsaids"]})["nsaids"] == (10, 16)  # was (0, 0)
    # Naproxen (SOURCE.md counts it among the NSAIDs) cannot be reached: its RxNorm ingredient
    # (code 7258; OMOP id 1115008 in eunomia-gibleed/CONCEPT.csv) has no CONCEPT row here and
    # no CONCEPT_RELATIONSHIP row names it.
    assert not ((concept.vocabulary_id == "RxNorm") & (concept.concept_code == "7258")).any()
    rel = cdm.table("concept_relationship")
    naproxen = (rel.concept_id_1 == 1115008) | (rel.concept_id_2 == 1115008)
    assert rel.filter(naproxen).count().execute() == 0


def _prescribed_subjects(words: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """NDC codes and subjects of the raw MIMIC prescriptions whose drug name holds a word."""
    ndcs, subjects = set(), set()
    with gzip.open(DATA / "mimic-iv-demo" / "hosp" / "prescriptions.csv.gz", "rt") as f:
        for row in csv.DictReader(f):
            if row["ndc"] not in ("", "0") and any(w in row["drug"].lower() for w in words):
                ndcs.add(row["ndc"])
                subjects.add(row["subject_id"])
    return ndcs, subjects


def test_mimic_omop_drug_sets_by_ndc_and_the_warning_when_rxnorm_is_missing(tmp_path):
    cdm = open_cdm(MIMIC_OMOP)
    sets = load_concept_sets()
    n = _counts(cdm, {k: v for k, v in sets.items() if v.domain == "drug"})
    assert n["nsaids"] == (0, 0)  # no RxNorm rows: an ingredient set cannot reach the products
    # An NDC-coded set matches drug_source_value: the NDCs raw MIMIC prescribes as ibuprofen or
    # ketorolac (mimic-iv-demo/hosp/prescriptions.csv.gz) find the same patients in OMOP.
    ndcs, subjects = _prescribed_subjects(("ibuprofen", "ketorolac"))
    items = "\n".join(f'      - {{vocabulary: NDC, code: "{c}"}}' for c in sorted(ndcs))
    f = tmp_path / "ndc.yaml"
    f.write_text(
        "concept_sets:\n  - id: nsaids_ndc\n    name: NSAIDs by NDC\n    domain: drug\n"
        f"    role: drug\n    items:\n{items}\n"
    )
    ndc_sets = load_concept_sets([f])
    hits = records_in_sets(cdm, "drug", resolve_concept_sets(cdm, ndc_sets))
    person = cdm.table("person")
    j = hits.join(person, "person_id").select(sid=person.person_source_value.strip())
    assert set(j.execute().sid.astype(str)) == subjects and len(subjects) > 5
    rc = main(["concepts", "--data", str(MIMIC_OMOP), "--json"])
    assert rc == 0


def _atlas_migraine(tmp_path) -> Path:
    """An ATLAS export of migraine: the two standard concepts MIMIC OMOP records carry
    (318736, 381549: mimic-iv-demo-omop/SOURCE.md) and the ICD-10-CM / ICD-9-CM source codes
    with descendants, as ATLAS lists non-standard items (ids left out: no vocabulary here holds
    them; the loader accepts an item by vocabulary and code)."""

    def item(concept, desc=True):
        return {"concept": concept, "includeDescendants": desc, "includeMapped": True}

    expression = {
        "items": [
            item({"CONCEPT_ID": 318736, "DOMAIN_ID": "Condition"}),
            item({"CONCEPT_ID": 381549, "DOMAIN_ID": "Condition"}),
            item({"VOCABULARY_ID": "ICD10CM", "CONCEPT_CODE": "G43", "DOMAIN_ID": "Condition"}),
            item({"VOCABULARY_ID": "ICD9CM", "CONCEPT_CODE": "346", "DOMAIN_ID": "Condition"}),
        ]
    }
    path = tmp_path / "migraine_atlas.json"
    path.write_text(json.dumps({"name": "Migraine (ATLAS)", "expression": expression}))
    return path


def _subjects(cdm, sets) -> set[str]:
    hits = records_in_sets(cdm, "condition", resolve_concept_sets(cdm, sets))
    person = cdm.table("person")
    j = hits.join(person, "person_id").select(sid=person.person_source_value.strip())
    return set(j.execute().sid.astype(str))


def test_atlas_set_finds_the_same_patients_in_omop_meds_and_fhir(tmp_path):
    sets = load_concept_sets([_atlas_migraine(tmp_path)])
    cache = tmp_path / "cache"
    omop = _subjects(open_cdm(MIMIC_OMOP), sets)
    assert len(omop) == 5  # migraine 5 (mimic-iv-demo-omop/SOURCE.md)
    meds = DATA / "mimic-iv-demo-meds" / "standardmodelbio-quickstart"  # all 100 subjects
    assert _subjects(open_cdm(meds, cache_dir=cache), sets) == omop
    fhir = DATA / "mimic-iv-fhir-demo" / "fhir"
    assert _subjects(open_cdm(fhir, cache_dir=cache), sets) == omop


def test_check_warns_about_the_vocabulary_and_exits_0(capsys):
    rc = main(["check", "--data", str(SYNTHEA), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    w = out["concept_warnings"]
    assert w[0].startswith("concept_ancestor is empty: drug sets reach their products")
    assert not any("nsaids" in line for line in w)  # resolved now, so not warned about


def test_check_names_the_drug_sets_mimic_omop_cannot_resolve(capsys):
    rc = main(["check", "--data", str(MIMIC_OMOP)])
    text = capsys.readouterr().out
    assert rc == 0
    lines = [ln for ln in text.splitlines() if ln.startswith("warning: ")]
    assert lines[0].startswith("warning: concept_ancestor is absent")
    rxnorm = next(ln for ln in lines if "no RxNorm rows" in ln)
    assert "nsaids" in rxnorm and "corticosteroids" in rxnorm
