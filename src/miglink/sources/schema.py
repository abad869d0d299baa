"""The canonical CDM columns the study uses, read from ``data/cdm_schema.csv``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str  # int64 | float64 | string | date
    required: bool
    description: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@cache
def cdm_schema() -> dict[str, TableSpec]:
    """Table name -> spec, in the file's order."""
    path = resources.files("miglink") / "data" / "cdm_schema.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    tables: dict[str, list[dict]] = {}
    for r in rows:
        tables.setdefault(r["table"], []).append(r)
    return {
        name: TableSpec(
            name=name,
            required=rs[0]["table_required"] == "yes",
            columns=tuple(
                ColumnSpec(r["column"], r["type"], r["column_required"] == "yes", r["description"])
                for r in rs
            ),
        )
        for name, rs in tables.items()
    }


#: Vocabulary tables (absent in many extracts; resolution falls back to source values).
VOCABULARY_TABLES = ("concept", "concept_ancestor", "concept_relationship")

#: Domain -> (fact table, concept column, source value column, date column).
DOMAIN_TABLES: dict[str, tuple[str, str, str, str]] = {
    "condition": (
        "condition_occurrence",
        "condition_concept_id",
        "condition_source_value",
        "condition_start_date",
    ),
    "drug": ("drug_exposure", "drug_concept_id", "drug_source_value", "drug_exposure_start_date"),
    "measurement": (
        "measurement",
        "measurement_concept_id",
        "measurement_source_value",
        "measurement_date",
    ),
    "observation": (
        "observation",
        "observation_concept_id",
        "observation_source_value",
        "observation_date",
    ),
}
