"""Unit tests for the pieces shared by the FHIR and MEDS converters."""

from __future__ import annotations

from miglink.sources.convert.common import (
    ingredient_codes,
    lab_loinc_map,
    normalize_code,
    parse_date,
    stable_person_id,
    vocabulary_of_system,
)
from miglink.sources.convert.fhir import mapped_codings, medication_fields, person_id_for, ref_id

MIMIC = "http://mimic.mit.edu/fhir/mimic/CodeSystem/"


def test_code_systems_map_to_concept_set_vocabularies():
    assert vocabulary_of_system("http://hl7.org/fhir/sid/icd-10-cm") == "ICD10CM"
    assert vocabulary_of_system("http://hl7.org/fhir/sid/icd-9-cm") == "ICD9CM"
    assert vocabulary_of_system("http://snomed.info/sct") == "SNOMED"
    assert vocabulary_of_system("http://www.nlm.nih.gov/research/umls/rxnorm") == "RxNorm"
    assert vocabulary_of_system("http://loinc.org") == "LOINC"
    assert vocabulary_of_system(MIMIC + "mimic-diagnosis-icd9") == "ICD9CM"
    assert vocabulary_of_system(MIMIC + "mimic-diagnosis-icd10") == "ICD10CM"
    assert vocabulary_of_system(MIMIC + "mimic-procedure-icd9") is None
    assert vocabulary_of_system("http://example.org/local") is None
    assert vocabulary_of_system(None) is None


def test_icd_codes_lose_dots_others_kept():
    assert normalize_code("ICD10CM", "g43.909 ") == "G43909"
    assert normalize_code("ICD9CM", "346.90") == "34690"
    assert normalize_code("LOINC", " 1988-5") == "1988-5"
    assert normalize_code("SNOMED", "37796009") == "37796009"


def test_ingredient_names_match_whole_words_case_insensitively():
    assert ingredient_codes("MethylPREDNISolone Sodium Succ") == ("6902",)
    assert ingredient_codes("PredniSONE") == ("8640",)
    assert ingredient_codes("PrednisoLONE Acetate 1% Ophth. Susp.") == ("8638",)
    assert ingredient_codes("Ibuprofen 200 MG Oral Tablet") == ("5640",)
    assert ingredient_codes("Toradol") == ("35827",)
    assert ingredient_codes("Interferon Beta-1a 30 MCG") == ("72257",)
    assert ingredient_codes("Cephalexin") == ()
    # 'cortisone' must not match inside 'hydrocortisone'
    assert ingredient_codes("Hydrocortisone Na Succ.") == ("5492",)


def test_mimic_lab_itemids_map_to_loinc():
    # MEDS metadata/codes.parquet parent codes: LAB//50889//mg/L -> LOINC/1988-5,
    # LAB//51288//mm/hr -> LOINC/4537-7 (shared/data/mimic-iv-demo-meds).
    m = lab_loinc_map()
    assert m["50889"] == "1988-5"
    assert m["51288"] == "4537-7"
    assert m["51652"] == "30522-7"


def test_dates_are_taken_as_written():
    assert parse_date("2180-05-06T22:23:00-04:00") == "2180-05-06"
    assert parse_date("2001-03") == "2001-03-01"
    assert parse_date("1999") == "1999-01-01"
    assert parse_date(None) is None


def test_references_resolve_across_styles():
    assert ref_id({"reference": "Patient/abc"}) == "abc"
    assert ref_id({"reference": "urn:uuid:abc"}) == "abc"
    assert ref_id({"reference": "http://x.org/fhir/Patient/abc/_history/3"}) == "abc"
    assert ref_id({"reference": "Practitioner?identifier=x|1"}) is None
    assert ref_id(None) is None


def test_person_id_numeric_identifier_or_stable_hash():
    mimic = {
        "id": "u1",
        "identifier": [
            {"system": "http://mimic.mit.edu/fhir/mimic/identifier/patient", "value": "10007795"}
        ],
    }
    assert person_id_for(mimic) == (10007795, "10007795")
    synthea = {
        "id": "129c6ac7",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999945397"}],
    }
    pid, source = person_id_for(synthea)
    assert pid == stable_person_id("129c6ac7") and source == "129c6ac7"
    assert 0 < pid < 2**63
    assert stable_person_id("a") != stable_person_id("b")


def test_codings_and_medication_fields():
    cc = {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "37796009"},
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G43.909"},
            {"system": "http://example.org", "code": "X"},
        ]
    }
    assert mapped_codings(cc, ("ICD10CM", "SNOMED")) == [
        ("SNOMED", "37796009"),
        ("ICD10CM", "G43909"),
    ]
    med = {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "310965",
                "display": "Ibuprofen 200 MG Oral Tablet",
            }
        ]
    }
    assert medication_fields(med)[:3] == ("Ibuprofen 200 MG Oral Tablet", "310965", None)
    mimic = {
        "coding": [{"system": MIMIC + "mimic-medication-formulary-drug-cd", "code": "ALBU100"}]
    }
    assert medication_fields(mimic) == (
        None,
        None,
        None,
        MIMIC + "mimic-medication-formulary-drug-cd",
        "ALBU100",
    )
