"""Pieces shared by the FHIR and MEDS converters: code systems, code normalisation, the shipped
mapping tables (MIMIC lab itemid -> LOINC, drug name -> RxNorm ingredient), batched staging into
DuckDB, and the canonical OMOP tables built from the staged rows.

Converted data has no OMOP vocabulary, so every ``*_concept_id`` is 0 and the code goes into
``*_source_value`` (ICD without dots, upper case; SNOMED / RxNorm / LOINC as written); the concept
resolver then matches concept sets by source value.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

#: Bump when the output of a converter changes, so cached conversions are rebuilt.
CONVERTER_VERSION = "1"

#: Rows held in Python before they are appended to DuckDB (bounds converter memory).
BATCH_ROWS = 20_000

# FHIR code-system URIs (and OIDs) -> the vocabulary names used in concept sets.
_SYSTEM_VOCAB = {
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD10CM",
    "urn:oid:2.16.840.1.113883.6.90": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD9CM",
    "http://hl7.org/fhir/sid/icd-9": "ICD9CM",
    "urn:oid:2.16.840.1.113883.6.103": "ICD9CM",
    "http://snomed.info/sct": "SNOMED",
    "urn:oid:2.16.840.1.113883.6.96": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "urn:oid:2.16.840.1.113883.6.88": "RxNorm",
    "http://loinc.org": "LOINC",
    "urn:oid:2.16.840.1.113883.6.1": "LOINC",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "urn:oid:2.16.840.1.113883.6.69": "NDC",
}
# MIMIC's own code systems (http://mimic.mit.edu/fhir/mimic/CodeSystem/<name>).
_MIMIC_VOCAB = {
    "mimic-diagnosis-icd10": "ICD10CM",
    "mimic-diagnosis-icd9": "ICD9CM",
    "mimic-medication-ndc": "NDC",
    "mimic-medication-name": "NAME",
    "mimic-d-labitems": "MIMIC_LAB",
    "mimic-labitems": "MIMIC_LAB",
}

#: Vocabularies a condition record may carry (anything else is counted as unmapped).
CONDITION_VOCABS = ("ICD10CM", "ICD9CM", "SNOMED")


def vocabulary_of_system(system: str | None) -> str | None:
    """Vocabulary name for a FHIR coding system, or None when the system is not one we map."""
    if not system:
        return None
    s = system.strip().rstrip("/")
    if s in _SYSTEM_VOCAB:
        return _SYSTEM_VOCAB[s]
    if "mimic.mit.edu" in s:
        return _MIMIC_VOCAB.get(s.rsplit("/", 1)[-1])
    return None


def normalize_code(vocabulary: str, code: str) -> str:
    """ICD codes lose dots and spaces and are upper-cased (as concept sets match them); others are
    stripped only."""
    code = str(code).strip()
    if vocabulary in ("ICD10CM", "ICD9CM"):
        return code.replace(".", "").replace(" ", "").upper()
    return code


def stable_person_id(text: str) -> int:
    """A deterministic, positive 63-bit integer for a non-numeric patient identifier."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def _data_file(name: str) -> Path:
    return Path(str(resources.files("miglink") / "data" / name))


@cache
def lab_loinc_map() -> dict[str, str]:
    """MIMIC lab itemid -> LOINC code, from the shipped ``mimic_lab_loinc.csv``."""
    with _data_file("mimic_lab_loinc.csv").open(encoding="utf-8") as fh:
        return {row["itemid"].strip(): row["loinc"].strip() for row in csv.DictReader(fh)}


@cache
def _ingredient_patterns() -> tuple[tuple[str, str], ...]:
    with _data_file("drug_ingredients.csv").open(encoding="utf-8") as fh:
        rows = [(_words(r["name"]), r["rxnorm_code"].strip()) for r in csv.DictReader(fh)]
    return tuple(rows)


def _words(text: str) -> str:
    """Lower case, every run of non-alphanumerics turned into one space, padded with spaces."""
    return " " + " ".join(re.split(r"[^a-z0-9]+", text.lower())).strip() + " "


@cache
def ingredient_codes(name: str) -> tuple[str, ...]:
    """RxNorm ingredient codes whose name (or brand synonym) appears as whole words in a drug
    name, e.g. 'MethylPREDNISolone Sodium Succ' -> ('6902',). Empty when nothing matches."""
    padded = _words(name)
    found: list[str] = []
    for words, code in _ingredient_patterns():
        if words in padded and code not in found:
            found.append(code)
    return tuple(found)


def parse_date(value: object) -> str | None:
    """The calendar date of a FHIR date / dateTime as written (local date, no time-zone shift):
    '2180-05-06T22:23:00-04:00' -> '2180-05-06'; partial dates take the first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    if len(value) >= 10:
        return value[:10]
    if len(value) == 7:
        return value + "-01"
    if len(value) == 4:
        return value + "-01-01"
    return None


# ---------------------------------------------------------------------------------------------
# Staging: rows collected in Python, appended to DuckDB in batches.


@dataclass
class Stager:
    """Collects rows per staging table and appends them to DuckDB every ``batch_rows`` rows, so
    memory depends on the batch size, not on the size of the input."""

    con: duckdb.DuckDBPyConnection
    schemas: dict[str, list[tuple[str, pa.DataType]]]
    batch_rows: int = BATCH_ROWS
    _buffers: dict[str, list[tuple]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table, cols in self.schemas.items():
            ddl = ", ".join(f'"{c}" {_duck_type(t)}' for c, t in cols)
            self.con.execute(f"CREATE TABLE {table} ({ddl})")
            self._buffers[table] = []

    def add(self, table: str, row: tuple) -> None:
        buf = self._buffers[table]
        buf.append(row)
        if len(buf) >= self.batch_rows:
            self._flush(table)

    def close(self) -> None:
        for table in self._buffers:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buf = self._buffers[table]
        if not buf:
            return
        cols = self.schemas[table]
        arrays = [pa.array([r[i] for r in buf], type=t) for i, (_, t) in enumerate(cols)]
        batch = pa.Table.from_arrays(arrays, names=[c for c, _ in cols])
        self.con.register("_stage_batch", batch)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM _stage_batch")
        finally:
            self.con.unregister("_stage_batch")
        buf.clear()


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    return "VARCHAR"


# ---------------------------------------------------------------------------------------------
# Output: canonical OMOP tables from staged rows.


def connect_output(path: Path, temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the output DuckDB file with a memory cap, so large inputs spill to disk instead of
    growing memory."""
    con = duckdb.connect(str(path))
    con.execute("SET memory_limit = '256MB'")
    con.execute(f"SET temp_directory = '{temp_dir.as_posix()}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def create_drug_name_map(con: duckdb.DuckDBPyConnection, names_sql: str) -> None:
    """Table ``drug_name_map(name, rxnorm_code)`` for the distinct drug names selected by
    ``names_sql``: one row per ingredient found in each name (the distinct names are few compared
    with the rows that carry them)."""
    con.execute("CREATE TEMP TABLE drug_name_map (name VARCHAR, rxnorm_code VARCHAR)")
    rows: list[tuple[str, str]] = []
    for (name,) in con.execute(names_sql).fetchall():
        if name is None:
            continue
        rows.extend((name, code) for code in ingredient_codes(name))
        if len(rows) >= BATCH_ROWS:
            con.executemany("INSERT INTO drug_name_map VALUES (?, ?)", rows)
            rows.clear()
    if rows:
        con.executemany("INSERT INTO drug_name_map VALUES (?, ?)", rows)


def create_lab_map(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``lab_loinc_map(itemid, loinc)`` from the shipped file."""
    con.execute("CREATE TEMP TABLE lab_loinc_map (itemid VARCHAR, loinc VARCHAR)")
    con.executemany("INSERT INTO lab_loinc_map VALUES (?, ?)", list(lab_loinc_map().items()))


def build_observation_period(con: duckdb.DuckDBPyConnection) -> None:
    """One observation period per person: the span of their dated visits and records (converted
    sources have no explicit enrolment period). Persons with no dated record get none."""
    con.execute(
        """
        CREATE TABLE observation_period AS
        WITH d AS (
            SELECT person_id, visit_start_date AS s, coalesce(visit_end_date, visit_start_date) AS e
              FROM visit_occurrence
            UNION ALL SELECT person_id, condition_start_date, condition_start_date
              FROM condition_occurrence
            UNION ALL SELECT person_id, drug_exposure_start_date,
                   coalesce(drug_exposure_end_date, drug_exposure_start_date) FROM drug_exposure
            UNION ALL SELECT person_id, measurement_date, measurement_date FROM measurement
            UNION ALL SELECT person_id, observation_date, observation_date FROM observation
        )
        SELECT CAST(row_number() OVER (ORDER BY person_id) AS BIGINT) AS observation_period_id,
               person_id,
               min(s) AS observation_period_start_date,
               greatest(max(e), max(s)) AS observation_period_end_date,
               CAST(32817 AS BIGINT) AS period_type_concept_id
          FROM d
         WHERE s IS NOT NULL AND person_id IN (SELECT person_id FROM person)
         GROUP BY person_id
        """
    )


def write_report(
    con: duckdb.DuckDBPyConnection, source_format: str, items: Iterable[tuple[str, int]]
) -> None:
    """``_miglink_conversion(item, n)``: what was converted and what was dropped or left unmapped,
    for ``miglink check``. Counts stay inside the converted database (never exported as such)."""
    con.execute("CREATE TABLE _miglink_conversion (item VARCHAR, n BIGINT)")
    rows = [("format:" + source_format, 1), ("converter_version:" + CONVERTER_VERSION, 1)]
    rows += [(k, int(v)) for k, v in items]
    for table in (
        "person",
        "observation_period",
        "visit_occurrence",
        "condition_occurrence",
        "drug_exposure",
        "measurement",
        "observation",
        "death",
    ):
        n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        rows.append((f"rows:{table}", n))
    con.executemany("INSERT INTO _miglink_conversion VALUES (?, ?)", rows)
