"""Concept-set resolution and matching on a tiny hand-built CDM (every expected hit is listed)."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from miglink.concepts.match import records_in_sets
from miglink.concepts.model import ConceptSet, ConceptSetItem
from miglink.concepts.resolve import (
    SourcePattern,
    expand_icd9_wildcards,
    normalise_code,
    prune_patterns,
    resolve_concept_sets,
)
from miglink.errors import MissingTableError
from miglink.sources import open_cdm

D = dt.date(2020, 1, 1)


def _cdm(conditions: list[tuple[int, int, str | None]], vocabulary: bool = True):
    """person 1..3; conditions as (person_id, concept_id, source_value)."""
    con = ibis.duckdb.connect()
    con.create_table(
        "PERSON",
        pd.DataFrame(
            {
                "person_id": [1, 2, 3],
                "gender_concept_id": [8532, 8507, 8532],
                "year_of_birth": [1980, 1970, 1990],
            }
        ),
    )
    con.create_table(
        "observation_period",
        pd.DataFrame(
            {
                "person_id": [1, 2, 3],
                "observation_period_start_date": [D] * 3,
                "observation_period_end_date": [dt.date(2021, 1, 1)] * 3,
            }
        ),
    )
    con.create_table(
        "condition_occurrence",
        pd.DataFrame(
            {
                "person_id": [c[0] for c in conditions],
                "condition_concept_id": [c[1] for c in conditions],
                "condition_start_date": [D] * len(conditions),
                "condition_source_value": [c[2] for c in conditions],
            }
        ),
    )
    if vocabulary:
        con.create_table(
            "concept",
            pd.DataFrame(
                {
                    "concept_id": [100, 101, 102, 200, 300, 301],
                    "vocabulary_id": ["SNOMED", "SNOMED", "SNOMED", "ICD10CM", "ICD10CM", "SNOMED"],
                    "concept_code": ["111", "112", "113", "X12.3", "Y99", "999"],
                    "standard_concept": ["S", "S", "S", None, None, "S"],
                }
            ),
        )
        # 100 is the parent of 101 and 102; ICD10 X12.3 maps to 101.
        con.create_table(
            "concept_ancestor",
            pd.DataFrame(
                {
                    "ancestor_concept_id": [100, 100, 100, 101, 102],
                    "descendant_concept_id": [100, 101, 102, 101, 102],
                }
            ),
        )
        con.create_table(
            "concept_relationship",
            pd.DataFrame(
                {
                    "concept_id_1": [200],
                    "concept_id_2": [101],
                    "relationship_id": ["Maps to"],
                }
            ),
        )
    return open_cdm(con)


def _set(sid, *items, domain="condition"):
    return ConceptSet(id=sid, name=sid, domain=domain, role="outcome", items=tuple(items))


def _hits(cdm, resolved):
    r = records_in_sets(cdm, "condition", resolved).execute()
    return sorted(zip(r.set_id, r.person_id, r.concept_id, strict=True))


def test_normalise_and_wildcards():
    assert normalise_code("ICD10CM", " g43.109 ") == "G43109"
    assert normalise_code("SNOMED", " 37796009 ") == "37796009"
    assert expand_icd9_wildcards("250x1") == [f"250{d}1" for d in range(10)]
    assert expand_icd9_wildcards("346") == ["346"]


def test_prune_drops_covered_patterns():
    ps = [
        SourcePattern("ICD10CM", "G43", True),
        SourcePattern("ICD10CM", "G431", True),
        SourcePattern("ICD10CM", "G4310", False),
        SourcePattern("ICD9CM", "G431", True),
    ]
    assert prune_patterns(ps) == (
        SourcePattern("ICD10CM", "G43", True),
        SourcePattern("ICD9CM", "G431", True),
    )


def test_vocabulary_path_maps_and_expands():
    cdm = _cdm([(1, 101, "whatever"), (2, 102, None), (3, 300, "Y99")])
    sets = {
        "parent": _set("parent", ConceptSetItem(vocabulary="SNOMED", code="111")),
        "icd": _set("icd", ConceptSetItem(vocabulary="ICD10CM", code="X12")),
        "exact_only": _set(
            "exact_only", ConceptSetItem(vocabulary="SNOMED", code="111", descendants=False)
        ),
        "excl": _set(
            "excl", ConceptSetItem(concept_id=100), ConceptSetItem(concept_id=102, exclude=True)
        ),
    }
    r = resolve_concept_sets(cdm, sets)
    assert r["parent"].concept_ids == {100, 101, 102} and r["parent"].paths == ("vocabulary",)
    # ICD10 X12 found by prefix (X12.3), mapped through 'Maps to' to 101, expanded (no children).
    assert r["icd"].concept_ids == {101} and r["icd"].source_patterns == ()
    assert r["exact_only"].concept_ids == {100}
    assert r["excl"].concept_ids == {100, 101} and r["excl"].excluded_concept_ids == {102}
    assert r["excl"].paths == ("concept_id",)
    assert _hits(cdm, r) == [
        ("excl", 1, 101),
        ("icd", 1, 101),
        ("parent", 1, 101),
        ("parent", 2, 102),
    ]


def test_source_value_fallback_without_vocabulary_and_no_false_hits():
    rows = [
        (1, 0, "G43.109"),  # dotted ICD-10 -> migraine
        (1, 0, "34600  "),  # padded ICD-9 (MIMIC) -> migraine
        (2, 0, "346.1"),  # dotted ICD-9 -> migraine
        (2, 0, "34612345678"),  # an NDC-like value: must not match ICD-9 346
        (3, 0, "G4"),  # too short for the G43 prefix
        (3, 0, "37796009"),  # SNOMED exact -> migraine
        (3, 0, "377960091"),  # not an exact SNOMED match
        (3, 318736, "XYZ"),  # standard concept id accepted directly
        (3, 0, "25011"),  # ICD-9 250.11: type 1 diabetes via the 250x1 wildcard
        (3, 0, "25012"),  # type 2 diabetes: no match
    ]
    cdm = _cdm(rows, vocabulary=False)
    sets = {
        "migraine": _set(
            "migraine",
            ConceptSetItem(vocabulary="ICD10CM", code="G43"),
            ConceptSetItem(vocabulary="ICD9CM", code="346"),
            ConceptSetItem(vocabulary="SNOMED", code="37796009"),
            ConceptSetItem(concept_id=318736),
        ),
        "t1dm": _set("t1dm", ConceptSetItem(vocabulary="ICD9CM", code="250x1")),
    }
    r = resolve_concept_sets(cdm, sets)
    assert r["migraine"].paths == ("concept_id", "source_value")
    assert len(r["t1dm"].source_patterns) == 10
    assert _hits(cdm, r) == [
        ("migraine", 1, 0),
        ("migraine", 1, 0),
        ("migraine", 2, 0),
        ("migraine", 3, 0),
        ("migraine", 3, 318736),
        ("t1dm", 3, 0),
    ]


def test_record_matching_two_ways_counts_once():
    cdm = _cdm([(1, 318736, "G43909"), (2, 318736, "34690")], vocabulary=False)
    sets = {
        "migraine": _set(
            "migraine",
            ConceptSetItem(vocabulary="ICD10CM", code="G43"),
            ConceptSetItem(vocabulary="ICD9CM", code="346"),
            ConceptSetItem(concept_id=318736),
        )
    }
    r = resolve_concept_sets(cdm, sets)
    assert _hits(cdm, r) == [("migraine", 1, 318736), ("migraine", 2, 318736)]


def test_missing_domain_table_says_so():
    cdm = _cdm([(1, 1, "A")], vocabulary=False)
    sets = {
        "crp": _set("crp", ConceptSetItem(vocabulary="LOINC", code="1988-5"), domain="measurement")
    }
    r = resolve_concept_sets(cdm, sets)
    with pytest.raises(MissingTableError, match="table 'measurement' is absent"):
        records_in_sets(cdm, "measurement", r)


def test_typed_layer_adds_optional_columns_and_lowercases():
    cdm = _cdm([(1, 1, "A")], vocabulary=False)
    t = cdm.table("person")
    assert t.columns == (
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
        "day_of_birth",
        "person_source_value",
    )
    assert str(t.schema()["month_of_birth"]).rstrip("!") == "int64"
    assert cdm.has("person") and not cdm.has("death")
    assert str(cdm.table("condition_occurrence").schema()["condition_start_date"]) == "date"


def test_icd10_e_codes_are_not_icd9_external_causes():
    """E1010 (ICD-10-CM type 1 diabetes, as in the MIMIC MEDS copy) is ICD-10-CM; only E800-E999
    are ICD-9-CM external-cause codes."""
    import re

    from miglink.concepts.match import ICD9_LIKE, ICD10_LIKE

    assert not re.match(ICD9_LIKE, "E1010")
    assert re.match(ICD10_LIKE, "E1010")
    assert re.match(ICD9_LIKE, "E8889")
    assert re.match(ICD9_LIKE, "V1051")
