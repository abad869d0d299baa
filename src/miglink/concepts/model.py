"""Concept sets as validated data (ATLAS-style): a list of (vocabulary, code | concept_id,
include descendants, exclude) items."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Domain = Literal["condition", "drug", "measurement", "observation"]
Role = Literal[
    "index",
    "autoimmune",
    "outcome",
    "negative_control",
    "drug",
    "lab",
    "family_history",
    "background",
]
Vocabulary = Literal["ICD10CM", "ICD9CM", "SNOMED", "RxNorm", "ATC", "LOINC", "NDC", "OMOP"]

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class ConceptSetItem(BaseModel):
    """One line of a concept set: a source code (with vocabulary), a concept id, or both.

    Both is what an ATLAS export carries: the id resolves where the data hold concept ids, the
    code where they do not (FHIR and MEDS conversions write every concept id as 0). ``mapped``
    is ATLAS's ``includeMapped``: the source concepts that 'Maps to' the item count too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocabulary: Vocabulary | None = None
    code: str | None = None
    concept_id: int | None = None
    descendants: bool = True
    exclude: bool = False
    mapped: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> ConceptSetItem:
        if self.code is None and self.concept_id is None:
            raise ValueError("an item needs a 'code' (with 'vocabulary') or a 'concept_id'")
        if self.code is not None and self.vocabulary is None:
            raise ValueError(f"code {self.code!r} needs a 'vocabulary'")
        return self

    @property
    def normalized_code(self) -> str | None:
        """Code without dots and spaces, upper case (ICD codes are matched this way)."""
        if self.code is None:
            return None
        if self.vocabulary in ("ICD10CM", "ICD9CM"):
            return self.code.replace(".", "").replace(" ", "").upper()
        return self.code.strip()


class ConceptSet(BaseModel):
    """A named set of concepts in one domain, with its role in the study."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    domain: Domain
    role: Role
    nervous_system: bool | None = None
    items: tuple[ConceptSetItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_id(self) -> ConceptSet:
        if not _ID.match(self.id):
            raise ValueError(f"concept set id {self.id!r} must be lower_snake_case")
        if all(i.exclude for i in self.items):
            raise ValueError(f"concept set {self.id!r} has only exclusion items")
        return self


class ConceptSetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    concept_sets: list[ConceptSet]
