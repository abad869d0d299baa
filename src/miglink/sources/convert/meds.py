"""MEDS (Medical Event Data Standard) parquet -> canonical OMOP tables.

DuckDB reads the shards directly (row group by row group) and every table is one
INSERT ... SELECT over them, so nothing is loaded into Python memory. Codes are routed by their
prefix; the mapping is documented in docs/fhir-meds.md.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from miglink.errors import MiglinkError
from miglink.sources.convert.common import (
    build_observation_period,
    create_drug_name_map,
    create_lab_map,
    write_report,
)

#: eMAR statuses that mean the drug was given (MIMIC MEDS: MEDICATION//<name>//<status>).
GIVEN_STATUSES = (
    "administered",
    "delayed administered",
    "administered bolus from iv drip",
    "partial administered",
    "applied",
    "started",
    "restarted",
    "confirmed",
    "flushed",
)
_VALUE_COLUMNS = ("numeric_value", "value")
_REQUIRED = ("subject_id", "time", "code")


def meds_files(root: Path) -> list[Path]:
    """The event shards: ``data/**/*.parquet`` in the MEDS layout, else every parquet file under
    ``root`` outside ``metadata/``."""
    if root.is_file():
        return [root]
    base = root / "data" if (root / "data").is_dir() else root
    return sorted(
        p
        for p in base.rglob("*.parquet")
        if "metadata" not in p.relative_to(base).parts and not p.name.startswith(".")
    )


def _codes_metadata(root: Path) -> Path | None:
    p = root / "metadata" / "codes.parquet"
    return p if root.is_dir() and p.is_file() else None


def _shard_select(path: Path) -> str:
    """A SELECT over one shard with the canonical columns; checks the shard's schema first."""
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise MiglinkError(
            f"MEDS shard {path}: cannot be read as Parquet ({type(e).__name__}: {e})",
            table=str(path),
        ) from None
    n_rows = pq.ParquetFile(path).metadata.num_rows
    names = set(schema.names)
    for col in _REQUIRED:
        if col not in names:
            raise MiglinkError(
                f"MEDS shard {path}: column {col!r} is missing ({n_rows} rows; columns: "
                f"{', '.join(schema.names)})",
                table=str(path),
                column=col,
                n_rows=n_rows,
            )
    sid_type = schema.field("subject_id").type
    if not (str(sid_type).startswith("int") or str(sid_type).startswith("uint")):
        raise MiglinkError(
            f"MEDS shard {path}: column 'subject_id' must be an integer, found {sid_type} "
            f"({n_rows} rows)",
            table=str(path),
            column="subject_id",
            n_rows=n_rows,
        )
    value = next((c for c in _VALUE_COLUMNS if c in names), None)
    value_sql = f'CAST("{value}" AS DOUBLE)' if value else "CAST(NULL AS DOUBLE)"
    src = str(path).replace("'", "''")
    return (
        f"SELECT CAST(subject_id AS BIGINT) AS subject_id, CAST(time AS TIMESTAMP) AS time, "
        f"CAST(code AS VARCHAR) AS code, {value_sql} AS numeric_value, "
        f"'{src}' AS filename, file_row_number "
        f"FROM read_parquet('{src}', file_row_number = true)"
    )


def _check_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Rows without a subject or a code are an error naming the shard, first row and count."""
    for col in ("subject_id", "code"):
        bad = con.execute(
            f"""SELECT filename, min(file_row_number), count(*) FROM ev
                 WHERE {col} IS NULL GROUP BY filename ORDER BY filename LIMIT 1"""
        ).fetchone()
        if bad:
            raise MiglinkError(
                f"MEDS shard {bad[0]}: {bad[2]} row(s) with no {col}; first at row {bad[1] + 1}",
                table=bad[0],
                column=col,
                n_rows=int(bad[2]),
            )


def convert_meds(root: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Build the OMOP tables in ``con`` from the MEDS dataset at ``root``."""
    files = meds_files(root)
    if not files:
        raise MiglinkError(f"MEDS dataset {root}: no parquet shards found")
    con.execute("CREATE TEMP VIEW ev AS " + " UNION ALL ".join(_shard_select(f) for f in files))
    _check_rows(con)
    codes_meta = _codes_metadata(root)
    if codes_meta is not None:
        con.execute(
            f"""CREATE TEMP TABLE code_loinc AS
                SELECT code, min(substr(p, 7)) AS loinc
                  FROM (SELECT code, unnest(parent_codes) AS p
                          FROM read_parquet('{codes_meta.as_posix()}'))
                 WHERE p LIKE 'LOINC/%' GROUP BY code"""
        )
    else:
        con.execute("CREATE TEMP TABLE code_loinc (code VARCHAR, loinc VARCHAR)")
    create_lab_map(con)
    _person(con)
    _visits(con)
    _conditions(con)
    _drugs(con)
    _measurements(con)
    build_observation_period(con)
    unmapped = con.execute(
        """SELECT count(*) FILTER (WHERE code LIKE 'MEDICATION//%'),
                  count(*) FILTER (WHERE code LIKE 'PROCEDURE//%')
             FROM ev"""
    ).fetchone()
    n_drug = con.execute("SELECT count(*) FROM drug_exposure").fetchone()[0]
    write_report(
        con,
        "meds",
        [
            ("shards", len(files)),
            ("unmapped:PROCEDURE:no_procedure_table", unmapped[1]),
            ("medication_events", unmapped[0]),
            ("drug_exposure_rows", n_drug),
        ],
    )


def _person(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE person AS
        WITH s AS (
            SELECT subject_id,
                   any_value(upper(regexp_extract(code, '^(?:GENDER|SEX)//(.+)$', 1)))
                     FILTER (WHERE regexp_matches(code, '^(GENDER|SEX)//')) AS g,
                   CAST(min(time) FILTER (WHERE code = 'MEDS_BIRTH') AS DATE) AS birth,
                   CAST(min(time) FILTER (WHERE code = 'MEDS_DEATH') AS DATE) AS death
              FROM ev GROUP BY subject_id
        )
        SELECT subject_id AS person_id,
               CAST(CASE WHEN g IN ('M', 'MALE') THEN 8507 WHEN g IN ('F', 'FEMALE') THEN 8532
                         ELSE 0 END AS BIGINT) AS gender_concept_id,
               CAST(year(birth) AS BIGINT) AS year_of_birth,
               CAST(month(birth) AS BIGINT) AS month_of_birth,
               CAST(day(birth) AS BIGINT) AS day_of_birth,
               CAST(birth AS TIMESTAMP) AS birth_datetime,
               CAST(subject_id AS VARCHAR) AS person_source_value,
               death
          FROM s;
        CREATE TABLE death AS SELECT person_id, death AS death_date FROM person
         WHERE death IS NOT NULL;
        ALTER TABLE person DROP COLUMN death;
        """
    )


def _visits(con: duckdb.DuckDBPyConnection) -> None:
    """Admissions, ED registrations and ICU stays; each ends at the next matching discharge."""
    con.execute(
        """
        CREATE TABLE visit_occurrence AS
        WITH k AS (
            SELECT subject_id, time,
                   CASE WHEN code LIKE 'HOSPITAL_ADMISSION%' OR code LIKE 'HOSPITAL_DISCHARGE%'
                          THEN 'hosp'
                        WHEN code LIKE 'ED_REGISTRATION%' OR code LIKE 'ED_OUT%' THEN 'ed'
                        WHEN code LIKE 'ICU_ADMISSION%' OR code LIKE 'ICU_DISCHARGE%' THEN 'icu'
                   END AS kind,
                   regexp_matches(code, '^(HOSPITAL_ADMISSION|ED_REGISTRATION|ICU_ADMISSION)')
                     AS is_start
              FROM ev
             WHERE time IS NOT NULL
               AND regexp_matches(code, '^(HOSPITAL_ADMISSION|HOSPITAL_DISCHARGE|ED_REGISTRATION|ED_OUT|ICU_ADMISSION|ICU_DISCHARGE)')
        ),
        st AS (SELECT * FROM k WHERE is_start),
        en AS (SELECT * FROM k WHERE NOT is_start)
        SELECT CAST(row_number() OVER (ORDER BY st.subject_id, st.time) AS BIGINT)
                 AS visit_occurrence_id,
               st.subject_id AS person_id,
               CAST(CASE st.kind WHEN 'hosp' THEN 9201 WHEN 'ed' THEN 9203 ELSE 32037 END AS BIGINT)
                 AS visit_concept_id,
               CAST(st.time AS DATE) AS visit_start_date,
               CAST(coalesce(en.time, st.time) AS DATE) AS visit_end_date,
               CAST(0 AS BIGINT) AS visit_type_concept_id
          FROM st ASOF LEFT JOIN en
            ON st.subject_id = en.subject_id AND st.kind = en.kind AND en.time >= st.time
        """
    )


def _conditions(con: duckdb.DuckDBPyConnection) -> None:
    """MIMIC-style DIAGNOSIS//ICD//<9|10>//<code> and vocabulary-prefixed ICD10CM/, ICD9CM/,
    SNOMED/ codes."""
    con.execute(
        r"""
        CREATE TABLE condition_occurrence AS
        WITH c AS (
            SELECT subject_id, CAST(time AS DATE) AS d,
                   CASE WHEN code LIKE 'DIAGNOSIS//ICD//%'
                          THEN upper(replace(replace(split_part(code, '//', 4), '.', ''), ' ', ''))
                        WHEN regexp_matches(code, '^(ICD10CM|ICD9CM)/[^/]')
                          THEN upper(replace(replace(regexp_extract(code, '^[A-Z0-9]+/(.+)$', 1),
                                                     '.', ''), ' ', ''))
                        WHEN regexp_matches(code, '^(SNOMED|SNOMEDCT_US|SNOMEDCT)/[^/]')
                          THEN regexp_extract(code, '^[A-Z_]+/(.+)$', 1)
                   END AS sv
              FROM ev
             WHERE time IS NOT NULL
               AND (code LIKE 'DIAGNOSIS//ICD//%' OR regexp_matches(code, '^(ICD10CM|ICD9CM|SNOMED|SNOMEDCT_US|SNOMEDCT)/[^/]'))
        )
        SELECT CAST(row_number() OVER (ORDER BY subject_id, d) AS BIGINT)
                 AS condition_occurrence_id,
               subject_id AS person_id, CAST(0 AS BIGINT) AS condition_concept_id,
               d AS condition_start_date, sv AS condition_source_value,
               CAST(0 AS BIGINT) AS condition_source_concept_id
          FROM c WHERE sv IS NOT NULL AND sv <> ''
        """
    )


def _drugs(con: duckdb.DuckDBPyConnection) -> None:
    """Prescription starts (ending at the matching STOP) and given eMAR doses, plus RxNorm/ and
    NDC/ codes; names are mapped to RxNorm ingredients by the shipped name table."""
    given = ", ".join(f"'{s}'" for s in GIVEN_STATUSES)
    con.execute(
        f"""
        CREATE TEMP TABLE med_events AS
        WITH m AS (
            SELECT subject_id, time, code,
                   regexp_extract(code, '^MEDICATION//(START|STOP)//(.+)$', 2) AS rx_name,
                   regexp_extract(code, '^MEDICATION//(START|STOP)//', 1) AS rx_kind,
                   regexp_extract(code, '^MEDICATION//(.+)//([^/]+)$', 1) AS mar_name,
                   lower(regexp_extract(code, '^MEDICATION//(.+)//([^/]+)$', 2)) AS mar_status
              FROM ev
             WHERE time IS NOT NULL
               AND (code LIKE 'MEDICATION//%' OR regexp_matches(code, '^(RxNorm|RXNORM|NDC)/[^/]'))
        )
        SELECT subject_id, time,
               CASE WHEN rx_kind <> '' THEN rx_kind
                    WHEN mar_status IN ({given}) THEN 'GIVEN'
                    WHEN regexp_matches(code, '^(RxNorm|RXNORM|NDC)/') THEN 'CODE'
               END AS kind,
               CASE WHEN rx_kind <> '' THEN trim(rx_name)
                    WHEN regexp_matches(code, '^(RxNorm|RXNORM|NDC)/')
                      THEN regexp_extract(code, '^[A-Za-z]+/(.+)$', 1)
                    ELSE trim(mar_name) END AS name
          FROM m
        """
    )
    create_drug_name_map(
        con, "SELECT DISTINCT name FROM med_events WHERE kind IN ('START', 'GIVEN')"
    )
    con.execute(
        """
        CREATE TABLE drug_exposure AS
        WITH st AS (SELECT * FROM med_events WHERE kind IN ('START', 'GIVEN', 'CODE')),
             sp AS (SELECT subject_id, time, name FROM med_events WHERE kind = 'STOP'),
             x AS (
                SELECT st.subject_id, st.kind, st.name, CAST(st.time AS DATE) AS s,
                       CASE WHEN st.kind = 'START' THEN CAST(sp.time AS DATE) END AS e
                  FROM st ASOF LEFT JOIN sp
                    ON st.subject_id = sp.subject_id AND st.name = sp.name AND sp.time >= st.time
             )
        SELECT CAST(row_number() OVER (ORDER BY x.subject_id, x.s) AS BIGINT) AS drug_exposure_id,
               x.subject_id AS person_id, CAST(0 AS BIGINT) AS drug_concept_id,
               x.s AS drug_exposure_start_date,
               greatest(coalesce(x.e, x.s), x.s) AS drug_exposure_end_date,
               CAST(NULL AS BIGINT) AS days_supply,
               CASE WHEN x.kind = 'CODE' THEN x.name ELSE coalesce(nm.rxnorm_code, x.name) END
                 AS drug_source_value,
               CAST(0 AS BIGINT) AS drug_source_concept_id
          FROM x LEFT JOIN drug_name_map nm ON x.kind <> 'CODE' AND nm.name = x.name
        """
    )


def _measurements(con: duckdb.DuckDBPyConnection) -> None:
    """LAB//<itemid>//<unit> (itemid -> LOINC through metadata/codes.parquet parent codes, else
    the shipped MIMIC table, else the bare itemid) and LOINC/<code> events."""
    con.execute(
        r"""
        CREATE TABLE measurement AS
        WITH l AS (
            SELECT subject_id, CAST(time AS DATE) AS d, code, numeric_value,
                   CASE WHEN code LIKE 'LAB//%' THEN split_part(code, '//', 2) END AS itemid,
                   CASE WHEN code LIKE 'LAB//%' THEN nullif(split_part(code, '//', 3), '')
                   END AS unit,
                   CASE WHEN code LIKE 'LOINC/%' THEN substr(code, 7) END AS loinc
              FROM ev
             WHERE time IS NOT NULL AND (code LIKE 'LAB//%' OR code LIKE 'LOINC/%')
        )
        SELECT CAST(row_number() OVER (ORDER BY l.subject_id, l.d) AS BIGINT) AS measurement_id,
               l.subject_id AS person_id, CAST(0 AS BIGINT) AS measurement_concept_id,
               l.d AS measurement_date, l.numeric_value AS value_as_number,
               CAST(0 AS BIGINT) AS unit_concept_id, l.unit AS unit_source_value,
               coalesce(l.loinc, cl.loinc, m.loinc, l.itemid) AS measurement_source_value,
               CAST(0 AS BIGINT) AS measurement_source_concept_id
          FROM l
          LEFT JOIN code_loinc cl ON cl.code = l.code
          LEFT JOIN lab_loinc_map m ON m.itemid = l.itemid;
        CREATE TABLE observation (
            observation_id BIGINT, person_id BIGINT, observation_concept_id BIGINT,
            observation_date DATE, value_as_number DOUBLE, observation_source_value VARCHAR,
            observation_source_concept_id BIGINT);
        """
    )
