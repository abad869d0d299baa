"""FHIR staging tables -> canonical OMOP tables, in SQL (the second half of :mod:`.fhir`).

References between resources (Condition -> Encounter for its date, MedicationRequest -> Medication
for its name) are resolved here, after every resource is staged, so the streaming pass never holds
one resource waiting for another.
"""

from __future__ import annotations

from collections import Counter

import duckdb

from miglink.errors import MiglinkError
from miglink.sources.convert.common import (
    build_observation_period,
    create_drug_name_map,
    create_lab_map,
)

_VISIT_CONCEPT = {
    "IMP": 9201,
    "ACUTE": 9201,
    "NONAC": 9201,
    "EMER": 9203,
    "AMB": 9202,
    "HH": 581476,
    "VR": 5083,
}


def build_tables(con: duckdb.DuckDBPyConnection, counts: Counter) -> None:
    """Build person, death, visits, conditions, drugs, measurements, observations and
    observation periods from the staging tables; unmapped and dropped rows are added to
    ``counts``."""
    _build_persons(con)
    _build_visits(con)
    _build_conditions(con, counts)
    _build_drugs(con, counts)
    _build_observations(con)
    build_observation_period(con)


def _build_persons(con: duckdb.DuckDBPyConnection) -> None:
    """person and death (plus the temp tables pmap and enc that the others join)."""
    if con.execute("SELECT count(*) FROM stg_patient").fetchone()[0] == 0:
        raise MiglinkError("FHIR input has no Patient resources", table="Patient", n_rows=0)
    clash = con.execute(
        """SELECT person_id, count(DISTINCT fhir_id) FROM stg_patient GROUP BY 1
           HAVING count(DISTINCT fhir_id) > 1 LIMIT 1"""
    ).fetchone()
    if clash:
        raise MiglinkError(
            f"FHIR Patient: {clash[1]} different Patient resources share the numeric identifier "
            "used as person_id; identifiers must be unique per patient",
            table="Patient",
            column="identifier",
            n_rows=int(clash[1]),
        )
    con.execute(
        """
        CREATE TEMP TABLE pmap AS
        SELECT fhir_id, any_value(person_id) AS person_id, any_value(gender) AS gender,
               try_cast(any_value(birth_date) AS DATE) AS birth_date,
               try_cast(max(death_date) AS DATE) AS death_date,
               any_value(person_source_value) AS person_source_value
          FROM stg_patient GROUP BY fhir_id;
        CREATE TABLE person AS
        SELECT CAST(person_id AS BIGINT) AS person_id,
               CAST(CASE gender WHEN 'male' THEN 8507 WHEN 'female' THEN 8532 ELSE 0 END AS BIGINT)
                 AS gender_concept_id,
               CAST(year(birth_date) AS BIGINT) AS year_of_birth,
               CAST(month(birth_date) AS BIGINT) AS month_of_birth,
               CAST(day(birth_date) AS BIGINT) AS day_of_birth,
               CAST(birth_date AS TIMESTAMP) AS birth_datetime,
               person_source_value
          FROM pmap;
        CREATE TABLE death AS
        SELECT CAST(person_id AS BIGINT) AS person_id, death_date FROM pmap
         WHERE death_date IS NOT NULL;
        CREATE TEMP TABLE enc AS
        SELECT fhir_id, any_value(patient_ref) AS patient_ref,
               try_cast(any_value(start_date) AS DATE) AS start_date,
               try_cast(any_value(end_date) AS DATE) AS end_date,
               any_value(class_code) AS class_code
          FROM stg_encounter GROUP BY fhir_id;
        """
    )


def _build_visits(con: duckdb.DuckDBPyConnection) -> None:
    case = " ".join(f"WHEN '{k}' THEN {v}" for k, v in _VISIT_CONCEPT.items())
    con.execute(
        f"""
        CREATE TABLE visit_occurrence AS
        SELECT CAST(row_number() OVER (ORDER BY p.person_id, e.start_date) AS BIGINT)
                 AS visit_occurrence_id,
               p.person_id,
               CAST(CASE e.class_code {case} ELSE 0 END AS BIGINT) AS visit_concept_id,
               e.start_date AS visit_start_date,
               coalesce(e.end_date, e.start_date) AS visit_end_date,
               CAST(0 AS BIGINT) AS visit_type_concept_id
          FROM enc e JOIN pmap p ON e.patient_ref = p.fhir_id
         WHERE e.start_date IS NOT NULL
        """
    )


def _build_conditions(con: duckdb.DuckDBPyConnection, counts: Counter) -> None:
    con.execute(
        """
        CREATE TABLE condition_occurrence AS
        SELECT CAST(row_number() OVER (ORDER BY p.person_id, d) AS BIGINT)
                 AS condition_occurrence_id,
               p.person_id, CAST(0 AS BIGINT) AS condition_concept_id,
               d AS condition_start_date,
               c.code AS condition_source_value,
               CAST(0 AS BIGINT) AS condition_source_concept_id
          FROM (SELECT c.*, coalesce(try_cast(c.date AS DATE), e.start_date) AS d
                  FROM stg_condition c LEFT JOIN enc e ON c.encounter_ref = e.fhir_id) c
          JOIN pmap p ON c.patient_ref = p.fhir_id
         WHERE d IS NOT NULL
        """
    )
    counts["dropped:Condition:no_patient_or_date"] += _dropped(
        con, "stg_condition", "condition_occurrence"
    )


def _build_drugs(con: duckdb.DuckDBPyConnection, counts: Counter) -> None:
    """drug_exposure, from inline codes or Medication references (single or mixtures)."""
    con.execute(
        """
        CREATE TEMP TABLE med_key AS
        SELECT system, code, any_value(name) AS name FROM stg_med_key GROUP BY ALL;
        CREATE TEMP TABLE med AS
        SELECT fhir_id, any_value(name) AS name, any_value(rxnorm) AS rxnorm,
               any_value(ndc) AS ndc FROM stg_medication GROUP BY fhir_id;
        CREATE TEMP TABLE drug_resolved AS
        WITH d AS (
            SELECT d.*, coalesce(try_cast(d.start_date AS DATE), e.start_date) AS s,
                   try_cast(d.end_date AS DATE) AS en
              FROM stg_drug d LEFT JOIN enc e ON d.encounter_ref = e.fhir_id
        )
        SELECT d.patient_ref, d.s, d.en, coalesce(d.name, k.name) AS name, d.rxnorm, d.ndc
          FROM d LEFT JOIN med_key k ON d.key_system = k.system AND d.key_code = k.code
         WHERE d.med_ref IS NULL
        UNION ALL
        SELECT d.patient_ref, d.s, d.en, m.name, m.rxnorm, m.ndc
          FROM d JOIN med m ON d.med_ref = m.fhir_id
        UNION ALL
        SELECT d.patient_ref, d.s, d.en, m.name, m.rxnorm, m.ndc
          FROM d JOIN stg_med_mix x ON d.med_ref = x.fhir_id JOIN med m ON x.ingredient_ref = m.fhir_id;
        """
    )
    create_drug_name_map(con, "SELECT DISTINCT name FROM drug_resolved")
    con.execute(
        """
        CREATE TABLE drug_exposure AS
        SELECT CAST(row_number() OVER (ORDER BY p.person_id, r.s) AS BIGINT) AS drug_exposure_id,
               p.person_id, CAST(0 AS BIGINT) AS drug_concept_id,
               r.s AS drug_exposure_start_date,
               greatest(coalesce(r.en, r.s), r.s) AS drug_exposure_end_date,
               CAST(NULL AS BIGINT) AS days_supply,
               coalesce(nm.rxnorm_code, r.rxnorm, r.ndc, r.name) AS drug_source_value,
               CAST(0 AS BIGINT) AS drug_source_concept_id
          FROM drug_resolved r JOIN pmap p ON r.patient_ref = p.fhir_id
          LEFT JOIN drug_name_map nm ON nm.name = r.name
         WHERE r.s IS NOT NULL
        """
    )
    counts["unmapped:drug:no_ingredient_match"] += con.execute(
        """SELECT count(*) FROM drug_resolved r
            WHERE r.name IS NULL OR r.name NOT IN (SELECT name FROM drug_name_map)"""
    ).fetchone()[0]
    counts["unmapped:drug:unresolved_medication_reference"] += con.execute(
        """SELECT count(*) FROM stg_drug d WHERE d.med_ref IS NOT NULL
             AND d.med_ref NOT IN (SELECT fhir_id FROM med)
             AND d.med_ref NOT IN (SELECT fhir_id FROM stg_med_mix)"""
    ).fetchone()[0]


def _build_observations(con: duckdb.DuckDBPyConnection) -> None:
    """measurement and observation, with MIMIC lab items mapped to LOINC."""
    create_lab_map(con)
    con.execute(
        """
        CREATE TEMP TABLE obs AS
        SELECT p.person_id, coalesce(try_cast(o.date AS DATE), e.start_date) AS d,
               CASE WHEN o.vocab = 'MIMIC_LAB' THEN coalesce(l.loinc, o.code) ELSE o.code END
                 AS source_value,
               o.value, o.unit, o.is_measurement
          FROM stg_obs o JOIN pmap p ON o.patient_ref = p.fhir_id
          LEFT JOIN enc e ON o.encounter_ref = e.fhir_id
          LEFT JOIN lab_loinc_map l ON o.vocab = 'MIMIC_LAB' AND o.code = l.itemid;
        CREATE TABLE measurement AS
        SELECT CAST(row_number() OVER (ORDER BY person_id, d) AS BIGINT) AS measurement_id,
               person_id, CAST(0 AS BIGINT) AS measurement_concept_id, d AS measurement_date,
               value AS value_as_number, CAST(0 AS BIGINT) AS unit_concept_id,
               unit AS unit_source_value, source_value AS measurement_source_value,
               CAST(0 AS BIGINT) AS measurement_source_concept_id
          FROM obs WHERE is_measurement = 1 AND d IS NOT NULL;
        CREATE TABLE observation AS
        SELECT CAST(row_number() OVER (ORDER BY person_id, d) AS BIGINT) AS observation_id,
               person_id, CAST(0 AS BIGINT) AS observation_concept_id, d AS observation_date,
               value AS value_as_number, source_value AS observation_source_value,
               CAST(0 AS BIGINT) AS observation_source_concept_id
          FROM obs WHERE is_measurement = 0 AND d IS NOT NULL;
        """
    )


def _dropped(con: duckdb.DuckDBPyConnection, staged: str, built: str) -> int:
    n_in = con.execute(f"SELECT count(*) FROM {staged}").fetchone()[0]
    n_out = con.execute(f"SELECT count(*) FROM {built}").fetchone()[0]
    return int(n_in - n_out)
