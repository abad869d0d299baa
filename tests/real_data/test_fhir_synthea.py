"""The Synthea bulk FHIR sample (standard code systems, inline RxNorm) loads and checks cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from miglink.sources import open_cdm

SYNTHEA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "smart-bulk-fhir-10-patients"
)

pytestmark = pytest.mark.skipif(not SYNTHEA.exists(), reason="shared datasets not found")


@pytest.fixture(scope="module")
def cdm(tmp_path_factory):
    return open_cdm(SYNTHEA, cache_dir=tmp_path_factory.mktemp("cache"))


def test_counts_match_source_md(cdm):
    # smart-bulk-fhir-10-patients/SOURCE.md: Patient 13, Condition 555, Encounter 1,215,
    # MedicationRequest 1,745 (none of these lose rows: all reference a Patient and carry dates)
    assert cdm.table("person").count().execute() == 13
    assert cdm.table("condition_occurrence").count().execute() == 555
    assert cdm.table("visit_occurrence").count().execute() == 1215
    assert cdm.table("drug_exposure").count().execute() == 1745
    assert cdm.table("observation_period").count().execute() == 13


def test_person_fields_are_valid(cdm):
    p = cdm.table("person").execute()
    assert p.person_id.is_unique and (p.person_id > 0).all()
    assert set(p.gender_concept_id) <= {8507, 8532}
    assert p.year_of_birth.between(1900, 2025).all()


def test_snomed_conditions_and_no_autoimmune(cdm):
    c = cdm.table("condition_occurrence")
    values = set(c.condition_source_value.execute())
    assert all(v.isdigit() for v in values)  # SNOMED CT ids as written
    assert "91302008" in values  # sepsis, the first Condition in the file
    # SOURCE.md: no migraine (SNOMED 37796009) and no autoimmune disease here
    assert not values & {"37796009", "4473007", "56097005", "24700007", "69896004", "46635009"}


def test_nsaids_and_inhaled_budesonide(cdm):
    # SOURCE.md: NSAIDs (ibuprofen, naproxen, aspirin) 8 persons; corticosteroid (inhaled
    # budesonide) 1 person, mapped from RxNorm clinical-drug display names to ingredients.
    d = cdm.table("drug_exposure")
    persons = lambda codes: d.filter(d.drug_source_value.isin(codes)).person_id.nunique().execute()  # noqa: E731
    assert persons(["5640", "7258", "1191"]) == 8
    assert persons(["19831"]) == 1
    # observation periods cover every record
    op = cdm.table("observation_period").execute()
    assert (op.observation_period_start_date <= op.observation_period_end_date).all()
