"""Recognise well-known health-record layouts that miglink does not read, to say so plainly.

Without this, a raw MIMIC-IV folder (patients, admissions, diagnoses_icd, ...) is taken for an
OMOP CDM folder and fails later on "required table is absent (table person)", which hides the
real problem: the data are in a source schema, not in OMOP / FHIR / MEDS.
"""

from __future__ import annotations

from pathlib import Path

from miglink.errors import MiglinkError

#: Tables that together mark MIMIC-IV's own schema (its hosp module); none is an OMOP table.
MIMIC_IV_MARKERS = ("patients", "admissions", "diagnoses_icd")


def refuse_foreign_layout(folder: Path, tables: set[str]) -> None:
    """Raise a one-line MiglinkError when ``tables`` are raw MIMIC-IV rather than an OMOP CDM."""
    if "person" in tables:
        return
    if all(t in tables for t in MIMIC_IV_MARKERS):
        raise MiglinkError(
            f"{folder} is raw MIMIC-IV (tables {', '.join(MIMIC_IV_MARKERS)}; no OMOP person "
            f"table among {len(tables)} tables), not an OMOP CDM, FHIR or MEDS source: use the "
            "MIMIC-IV OMOP, FHIR or MEDS release instead"
        )
