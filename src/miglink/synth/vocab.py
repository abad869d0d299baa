"""The vocabulary subset (concept, concept_ancestor, concept_relationship) for every code used.

It follows the OMOP path the study resolves concept sets through: ICD-10-CM source concepts
(standard_concept empty) 'Maps to' standard concepts; standard conditions form a hierarchy in
concept_ancestor (migraine subtypes under migraine); ATC classes have concept_ancestor rows down
to RxNorm ingredients; labs are LOINC; family-history Z-codes map to standard observations.
Concept ids are real where known (see catalogue), otherwise deterministic invented ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pyarrow as pa

from miglink.synth import catalogue as cat

VALID_START, VALID_END = "1970-01-01", "2099-12-31"


@dataclass
class Code:
    """A source code and the concept ids a record carries."""

    source_value: str
    source_concept_id: int
    concept_id: int


@dataclass
class Vocab:
    concept: list[tuple] = field(default_factory=list)
    ancestor: list[tuple[int, int, int]] = field(default_factory=list)
    relationship: list[tuple[int, int, str]] = field(default_factory=list)
    disease_codes: dict[str, list[Code]] = field(default_factory=dict)
    disease_std: dict[str, int] = field(default_factory=dict)
    migraine_codes: dict[str, Code] = field(default_factory=dict)
    ingredient: dict[str, Code] = field(default_factory=dict)
    labs: dict[str, list[tuple[Code, int, float]]] = field(default_factory=dict)
    family_history: dict[str, list[tuple[Code, float]]] = field(default_factory=dict)
    #: condition codes beyond the catalogue's (synth/indication.py adds its baseline conditions)
    extra_codes: dict[str, Code] = field(default_factory=dict)
    _next: dict[int, int] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set)

    def new_id(self, base: int) -> int:
        n = self._next.get(base, 0)
        self._next[base] = n + 1
        return base + n

    def add(self, cid, name, domain, vocab, cls, std, code) -> int:
        if cid not in self._seen:
            self._seen.add(cid)
            self.concept.append((cid, name, domain, vocab, cls, std, code))
        return cid

    def standard(self, spec, domain: str, cls: str) -> int:
        cid, vocab, code, name = spec
        if cid is None:
            cid = self.new_id(cat.STD_CONDITION_BASE)
        self.add(
            cid, name, domain, vocab, cls if vocab != "Miglink" else "Miglink " + domain, "S", code
        )
        self.ancestor.append((cid, cid, 0))
        self.relationship.append((cid, cid, "Maps to"))
        return cid

    def icd(self, code: str, desc: str, std_id: int, domain: str) -> Code:
        sid = self.new_id(cat.ICD10CM_BASE)
        cls = (
            "3-char billing code"
            if len(code.replace(".", "")) == 3
            else f"{len(code.replace('.', ''))}-char billing code"
        )
        self.add(sid, desc, domain, "ICD10CM", cls, None, code)
        self.relationship.append((sid, std_id, "Maps to"))
        self.relationship.append((std_id, sid, "Mapped from"))
        return Code(code, sid, std_id)


@cache
def build() -> Vocab:
    """Build the vocabulary once per process (it is the same for every run)."""
    v = Vocab()
    for cid, name, code in ((cat.MALE, "MALE", "M"), (cat.FEMALE, "FEMALE", "F")):
        v.add(cid, name, "Gender", "Gender", "Gender", "S", code)
    for cid, name, code in (
        (cat.VISIT_INPATIENT, "Inpatient Visit", "IP"),
        (cat.VISIT_OUTPATIENT, "Outpatient Visit", "OP"),
        (cat.VISIT_ER, "Emergency Room Visit", "ER"),
    ):
        v.add(cid, name, "Visit", "Visit", "Visit", "S", code)
    v.add(cat.TYPE_EHR, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890")
    for cid, name, code in cat.UNITS:
        v.add(cid, name, "Unit", "UCUM", "Unit", "S", code)

    # migraine: the parent, then subtypes under it
    mig = cat.COUPLED[0]
    mig_id = v.standard(mig.std, "Condition", "Clinical Finding")
    v.disease_std["migraine"] = mig_id
    for key, _share, code, desc, std in cat.MIGRAINE_SUBTYPES:
        sid = mig_id if std[0] == mig_id else v.standard(std, "Condition", "Clinical Finding")
        if sid != mig_id:
            v.ancestor.append((mig_id, sid, 1))
        v.migraine_codes[key] = v.icd(code, desc, sid, "Condition")
    for key, (code, desc, std) in (("menstrual", cat.MENSTRUAL), ("chronic", cat.CHRONIC)):
        sid = v.standard(std, "Condition", "Clinical Finding")
        v.ancestor.append((mig_id, sid, 1))
        v.migraine_codes[key] = v.icd(code, desc, sid, "Condition")
    code, desc, std = cat.MOH
    v.migraine_codes["moh"] = v.icd(
        code, desc, v.standard(std, "Condition", "Clinical Finding"), "Condition"
    )
    v.disease_codes["migraine"] = [v.migraine_codes["migraine_unspecified"]]

    for d in cat.COUPLED[1:] + cat.independent_diseases():
        sid = v.standard(d.std, "Condition", "Clinical Finding")
        v.disease_std[d.key] = sid
        v.disease_codes[d.key] = [v.icd(c, desc, sid, "Condition") for c, desc in d.codes]

    for key, rx, name, real, _set in cat.INGREDIENTS:
        cid = real if real is not None else v.new_id(cat.RXNORM_BASE)
        v.add(cid, name, "Drug", "RxNorm", "Ingredient", "S", rx)
        v.ancestor.append((cid, cid, 0))
        v.ingredient[key] = Code(rx, cid, cid)
    for code, name, cls, members in cat.ATC_CLASSES:
        aid = v.new_id(cat.ATC_BASE)
        v.add(aid, name, "Drug", "ATC", cls, "C", code)
        v.ancestor.append((aid, aid, 0))
        for m in members:
            v.ancestor.append((aid, v.ingredient[m].concept_id, 1))

    for marker, loinc, name, unit, share in cat.LABS:
        lid = v.new_id(cat.LOINC_BASE)
        v.add(lid, name, "Measurement", "LOINC", "Lab Test", "S", loinc)
        v.ancestor.append((lid, lid, 0))
        v.labs.setdefault(marker, []).append((Code(loinc, lid, lid), unit, share))

    for kind, code, desc, std, share in cat.FAMILY_HISTORY:
        sid = v.standard(std, "Observation", "Context-dependent")
        v.family_history.setdefault(kind, []).append((v.icd(code, desc, sid, "Observation"), share))
    return v


def tables(v: Vocab) -> dict[str, pa.Table]:
    """The three vocabulary tables as Arrow tables, in a fixed row order."""
    c = sorted(v.concept)
    concept = pa.table(
        {
            "concept_id": pa.array([r[0] for r in c], pa.int64()),
            "concept_name": pa.array([r[1] for r in c], pa.string()),
            "domain_id": pa.array([r[2] for r in c], pa.string()),
            "vocabulary_id": pa.array([r[3] for r in c], pa.string()),
            "concept_class_id": pa.array([r[4] for r in c], pa.string()),
            "standard_concept": pa.array([r[5] for r in c], pa.string()),
            "concept_code": pa.array([r[6] for r in c], pa.string()),
            "valid_start_date": pa.array([VALID_START] * len(c)).cast(pa.date32()),
            "valid_end_date": pa.array([VALID_END] * len(c)).cast(pa.date32()),
            "invalid_reason": pa.nulls(len(c), pa.string()),
        }
    )
    a = sorted(set(v.ancestor))
    ancestor = pa.table(
        {
            "ancestor_concept_id": pa.array([r[0] for r in a], pa.int64()),
            "descendant_concept_id": pa.array([r[1] for r in a], pa.int64()),
            "min_levels_of_separation": pa.array([r[2] for r in a], pa.int64()),
            "max_levels_of_separation": pa.array([r[2] for r in a], pa.int64()),
        }
    )
    r = sorted(set(v.relationship))
    relationship = pa.table(
        {
            "concept_id_1": pa.array([x[0] for x in r], pa.int64()),
            "concept_id_2": pa.array([x[1] for x in r], pa.int64()),
            "relationship_id": pa.array([x[2] for x in r], pa.string()),
            "valid_start_date": pa.array([VALID_START] * len(r)).cast(pa.date32()),
            "valid_end_date": pa.array([VALID_END] * len(r)).cast(pa.date32()),
            "invalid_reason": pa.nulls(len(r), pa.string()),
        }
    )
    return {"concept": concept, "concept_ancestor": ancestor, "concept_relationship": relationship}
