"""Cross-format consistency on the MIMIC-IV demo: the same 100 patients as OMOP, MEDS and FHIR
must give the same persons per concept set, except for the differences the SOURCE.md files
document:

* FHIR includes emergency-department diagnoses (MimicConditionED): 5 more type 1 diabetes
  patients (shared/data/mimic-iv-fhir-demo/SOURCE.md). Without that file FHIR agrees with OMOP.
* MEDS was built from a later MIMIC-IV release (3.1); for the sets tested here that changes
  nothing (shared/data/mimic-iv-demo-meds/SOURCE.md lists the same persons), so the test
  demands equality.
* Labs: only MEDS carries CRP / ESR (19 / 8 persons, mimic-iv-demo-meds/SOURCE.md); the OMOP
  copy lacks measurement.csv and the FHIR copy lacks the lab Observation files.

Persons are compared by MIMIC subject_id (OMOP person_source_value; MEDS subject_id; FHIR
Patient.identifier), so the test checks the same people, not only the same counts. Records are
matched to the protocol's concept sets through open_cdm with a plain source-value rule (ICD
prefix, other vocabularies exact) until the shared resolver exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from miglink.concepts.load import load_concept_sets
from miglink.sources import open_cdm

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
OMOP = DATA / "mimic-iv-demo-omop" / "1_omop_data_csv"
MEDS = DATA / "mimic-iv-demo-meds" / "standardmodelbio-quickstart"  # all 100 subjects
FHIR = DATA / "mimic-iv-fhir-demo" / "fhir"

CONDITION_SETS = (
    "migraine",
    "multiple_sclerosis",
    "sjogren",
    "crohn",
    "ulcerative_colitis",
    "psoriasis",
    "type1_diabetes",
)
DOMAIN_TABLE = {
    "condition": ("condition_occurrence", "condition_source_value"),
    "measurement": ("measurement", "measurement_source_value"),
}

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared datasets not found")


def _pattern(set_id: str) -> re.Pattern:
    """Source-value regex for a concept set: ICD codes as prefixes ('x' = any digit) limited to
    ICD lengths (so SNOMED ids never prefix-match ICD-9), other vocabularies exact."""
    alts = []
    for item in load_concept_sets()[set_id].items:
        if item.code is None or item.exclude:
            continue
        code = item.normalized_code
        if item.vocabulary in ("ICD10CM", "ICD9CM"):
            alts.append(
                re.escape(code).replace("X", "[0-9]") + f"[0-9A-Z]{{0,{max(0, 7 - len(code))}}}"
            )
        else:
            alts.append(re.escape(code))
    return re.compile("^(" + "|".join(alts) + ")$")


def _persons(cdm, set_id: str) -> set[str]:
    """Persons (by MIMIC subject id) in a set, through the study's own resolver and matcher."""
    from miglink.concepts.match import records_in_sets
    from miglink.concepts.resolve import resolve_concept_sets

    cs = load_concept_sets()[set_id]
    table, _ = DOMAIN_TABLE[cs.domain]
    if table not in cdm.tables():
        return set()
    resolved = resolve_concept_sets(cdm, {set_id: cs})
    hits = records_in_sets(cdm, cs.domain, resolved).select("person_id").distinct()
    person = cdm.table("person")
    joined = hits.join(person, "person_id").select(sid=person.person_source_value.strip())
    return set(joined.execute()["sid"].astype(str))


@pytest.fixture(scope="module")
def cdms(tmp_path_factory):
    cache = tmp_path_factory.mktemp("convert-cache")
    return {
        "omop": open_cdm(OMOP),
        "meds": open_cdm(MEDS, cache_dir=cache),
        "fhir": open_cdm(FHIR, cache_dir=cache),
    }


def test_same_100_subjects(cdms):
    ids = {
        k: set(c.table("person").person_source_value.strip().execute().astype(str))
        for k, c in cdms.items()
    }
    assert len(ids["omop"]) == 100
    assert ids["omop"] == ids["meds"] == ids["fhir"]


@pytest.mark.parametrize("set_id", [s for s in CONDITION_SETS if s != "type1_diabetes"])
def test_condition_sets_agree_across_formats(cdms, set_id):
    omop = _persons(cdms["omop"], set_id)
    assert omop, f"{set_id}: the OMOP copy has cases (SOURCE.md), so an empty set is a bug"
    assert _persons(cdms["meds"], set_id) == omop
    assert _persons(cdms["fhir"], set_id) == omop


def test_expected_counts_from_source_md(cdms):
    # shared/data/mimic-iv-demo-omop/SOURCE.md: migraine 5, MS 1, Sjogren 1, IBD 2, psoriasis 2, T1DM 1
    omop = cdms["omop"]
    assert len(_persons(omop, "migraine")) == 5
    assert len(_persons(omop, "multiple_sclerosis")) == 1
    assert len(_persons(omop, "sjogren")) == 1
    assert len(_persons(omop, "crohn") | _persons(omop, "ulcerative_colitis")) == 2
    assert len(_persons(omop, "psoriasis")) == 2
    assert len(_persons(omop, "type1_diabetes")) == 1


def test_type1_diabetes_differs_only_by_ed_diagnoses(cdms, tmp_path):
    omop = _persons(cdms["omop"], "type1_diabetes")
    assert _persons(cdms["meds"], "type1_diabetes") == omop
    fhir = _persons(cdms["fhir"], "type1_diabetes")
    # documented: 6 in FHIR = the hospital diagnosis shared with OMOP + 5 from ED diagnoses
    assert omop < fhir and len(fhir) == 6
    # without the ED conditions file, FHIR agrees with OMOP exactly
    no_ed = tmp_path / "fhir-no-ed"
    no_ed.mkdir()
    for f in FHIR.iterdir():
        if f.name != "MimicConditionED.ndjson.gz":
            (no_ed / f.name).symlink_to(f)
    assert _persons(open_cdm(no_ed, cache_dir=tmp_path / "cache"), "type1_diabetes") == omop


def test_migraine_autoimmune_overlap_only_in_fhir(cdms):
    # SOURCE.md: migraine and autoimmune overlap 0 in OMOP / MEDS, 1 in FHIR (T1DM from ED)
    def overlap(cdm):
        ai = set().union(*(_persons(cdm, s) for s in CONDITION_SETS if s != "migraine"))
        return _persons(cdm, "migraine") & ai

    assert overlap(cdms["omop"]) == overlap(cdms["meds"]) == set()
    assert len(overlap(cdms["fhir"])) == 1


def test_labs_only_in_meds(cdms):
    # mimic-iv-demo-meds/SOURCE.md: CRP 19 persons (LAB//50889), ESR 8 persons (LAB//51288)
    assert len(_persons(cdms["meds"], "crp")) == 19
    assert len(_persons(cdms["meds"], "esr")) == 8
    assert _persons(cdms["fhir"], "crp") == _persons(cdms["fhir"], "esr") == set()
    assert _persons(cdms["omop"], "crp") == set()


def test_drug_sets_overlap_between_meds_and_fhir(cdms):
    """Both sources name MIMIC drugs; the ingredient table maps them. FHIR has more medication
    resource types (ED dispensing and statements), so MEDS persons are mostly within FHIR's."""
    for set_id in ("corticosteroids", "nsaids"):
        cs = load_concept_sets()[set_id]
        codes = [i.code for i in cs.items if i.vocabulary == "RxNorm"]
        got = {}
        for k in ("meds", "fhir"):
            d = cdms[k].table("drug_exposure")
            p = cdms[k].table("person")
            hits = d.filter(d.drug_source_value.isin(codes)).select("person_id").distinct()
            got[k] = set(hits.join(p, "person_id").person_source_value.execute().astype(str))
        assert len(got["meds"]) >= 20 and len(got["fhir"]) >= 20, (set_id, got)
        assert len(got["meds"] & got["fhir"]) >= 0.8 * len(got["meds"]), set_id
