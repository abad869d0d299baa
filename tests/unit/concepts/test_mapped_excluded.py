"""Resolution on a tiny literal CDM whose vocabulary has no concept_ancestor rows: drug
ingredients down the RxNorm relationships, NDC records through 'Maps to', ATLAS items by code
(data with concept id 0), ``includeMapped`` and ``isExcluded``. Every expected hit is listed."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import pandas as pd
import pytest

from miglink.concepts.load import load_concept_sets
from miglink.concepts.match import records_in_sets
from miglink.concepts.model import ConceptSet, ConceptSetItem
from miglink.concepts.resolve import resolve_concept_sets
from miglink.errors import MiglinkError
from miglink.sources import open_cdm

D = dt.date(2020, 1, 1)
# (concept_id, vocabulary, code, standard): an RxNorm ingredient and three products, an NDC
# code mapped to the branded product, SNOMED migraine and two ICD10CM codes mapped to it.
CONCEPTS = [
    (1001, "RxNorm", "5640", "S"),  # ibuprofen (ingredient)
    (1003, "RxNorm", "315266", "S"),  # ibuprofen 200 MG (clinical drug component)
    (1002, "RxNorm", "197806", "S"),  # ibuprofen 200 MG Oral Tablet (clinical drug)
    (1004, "RxNorm", "731533", "S"),  # Advil 200 MG Oral Tablet (branded drug)
    (2001, "NDC", "00573016940", None),
    (3001, "SNOMED", "37796009", "S"),  # migraine
    (3100, "ICD10CM", "G43.9", None),
    (3101, "ICD10CM", "G43.1", None),
    (3200, "SNOMED", "4473006", "S"),  # migraine with aura (not mapped from anything here)
]
RELATIONSHIPS = [
    (1001, 1003, "RxNorm ing of"),
    (1003, 1002, "Constitutes"),
    (1002, 1004, "Has tradename"),
    (1002, 1001, "RxNorm has ing"),  # upwards: never walked down
    (2001, 1004, "Maps to"),
    (3100, 3001, "Maps to"),
    (3101, 3001, "Maps to"),
]


def _cdm(drugs=(), conditions=(), vocabulary=True):
    """Persons 1..6; drugs (person, concept, source concept, source value); conditions
    (person, concept, source value)."""
    con = ibis.duckdb.connect()
    con.create_table(
        "person",
        pd.DataFrame(
            {"person_id": range(1, 7), "gender_concept_id": [8532] * 6, "year_of_birth": [1980] * 6}
        ),
    )
    con.create_table(
        "observation_period",
        pd.DataFrame(
            {
                "person_id": range(1, 7),
                "observation_period_start_date": [D] * 6,
                "observation_period_end_date": [dt.date(2021, 1, 1)] * 6,
            }
        ),
    )
    con.create_table(
        "drug_exposure",
        pd.DataFrame(
            {
                "person_id": pd.Series([d[0] for d in drugs], dtype="int64"),
                "drug_concept_id": pd.Series([d[1] for d in drugs], dtype="int64"),
                "drug_exposure_start_date": [D] * len(drugs),
                "drug_exposure_end_date": [D] * len(drugs),
                "days_supply": pd.Series([1] * len(drugs), dtype="int64"),
                "drug_source_concept_id": pd.Series([d[2] for d in drugs], dtype="int64"),
                "drug_source_value": pd.Series([d[3] for d in drugs], dtype="string"),
            }
        ),
    )
    con.create_table(
        "condition_occurrence",
        pd.DataFrame(
            {
                "person_id": pd.Series([c[0] for c in conditions], dtype="int64"),
                "condition_concept_id": pd.Series([c[1] for c in conditions], dtype="int64"),
                "condition_start_date": [D] * len(conditions),
                "condition_source_value": pd.Series([c[2] for c in conditions], dtype="string"),
            }
        ),
    )
    if vocabulary:
        con.create_table(
            "concept",
            pd.DataFrame(
                CONCEPTS, columns=["concept_id", "vocabulary_id", "concept_code", "s"]
            ).rename(columns={"s": "standard_concept"}),
        )
        con.create_table(
            "concept_relationship",
            pd.DataFrame(
                RELATIONSHIPS, columns=["concept_id_1", "concept_id_2", "relationship_id"]
            ),
        )
        con.create_table(  # present but empty, as in Synthea27Nj
            "concept_ancestor",
            pd.DataFrame(
                {
                    "ancestor_concept_id": pd.Series([], dtype="int64"),
                    "descendant_concept_id": pd.Series([], dtype="int64"),
                }
            ),
        )
    return open_cdm(con)


def _hits(cdm, domain, sets):
    r = records_in_sets(cdm, domain, resolve_concept_sets(cdm, sets)).execute()
    return sorted(zip(r.set_id, r.person_id, r.concept_id, strict=True))


def _set(sid, *items, domain="condition"):
    return ConceptSet(id=sid, name=sid, domain=domain, role="outcome", items=tuple(items))


def test_ingredient_reaches_products_through_relationships_and_ndc_through_maps_to():
    cdm = _cdm(
        drugs=[
            (1, 1002, 0, "197806"),  # the clinical drug
            (2, 1004, 0, "x"),  # the branded drug
            (3, 0, 2001, "whatever"),  # unmapped: its NDC source concept 'Maps to' 1004
            (4, 0, 0, "00573016940"),  # unmapped, no source concept: the NDC code itself
            (5, 9999, 0, "5640"),  # another drug: an ingredient code as source value is not
            (6, 0, 0, "12345"),  # an unknown NDC stays unmapped
        ]
    )
    sets = {
        "nsaids": _set("nsaids", ConceptSetItem(vocabulary="RxNorm", code="5640"), domain="drug")
    }
    r = resolve_concept_sets(cdm, sets)["nsaids"]
    assert r.concept_ids == {1001, 1002, 1003, 1004}
    assert r.paths == ("vocabulary", "relationship")
    assert _hits(cdm, "drug", sets) == [
        ("nsaids", 1, 1002),
        ("nsaids", 2, 1004),
        ("nsaids", 3, 1004),
        ("nsaids", 4, 1004),
    ]


def test_relationship_walk_is_only_for_drugs_and_follows_descendants_flag():
    cdm = _cdm()
    sets = {
        "d": _set(
            "d", ConceptSetItem(vocabulary="RxNorm", code="5640", descendants=False), domain="drug"
        ),
        "c": _set("c", ConceptSetItem(concept_id=1001)),  # a condition set: no drug walk
    }
    r = resolve_concept_sets(cdm, sets)
    assert r["d"].concept_ids == {1001} and r["c"].concept_ids == {1001}


def _atlas(tmp_path, items, name="mig_atlas"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expression": {"items": items}}))
    return load_concept_sets([path])


def _item(cid, vocab, code, *, desc=False, excluded=False, mapped=False, domain="Condition"):
    concept = {"CONCEPT_ID": cid, "VOCABULARY_ID": vocab, "CONCEPT_CODE": code}
    concept["DOMAIN_ID"] = domain
    return {
        "concept": concept,
        "includeDescendants": desc,
        "isExcluded": excluded,
        "includeMapped": mapped,
    }


CONDITIONS = [
    (1, 3001, "G43.9"),  # OMOP record: standard id
    (2, 0, "G439"),  # converted record (id 0) with a code that 'Maps to' migraine
    (3, 0, "37796009"),  # converted record carrying the SNOMED code itself
    (4, 0, "G431"),  # mapped code of an excluded item
    (5, 3200, "4473006"),  # aura: not in the set
]


def test_atlas_item_matches_by_code_and_include_mapped_adds_source_codes(tmp_path):
    cdm = _cdm(conditions=CONDITIONS)
    plain = _atlas(tmp_path, [_item(3001, "SNOMED", "37796009")], "plain")
    assert _hits(cdm, "condition", plain) == [("plain", 1, 3001), ("plain", 3, 0)]
    mapped = _atlas(tmp_path, [_item(3001, "SNOMED", "37796009", mapped=True)], "mapped")
    assert _hits(cdm, "condition", mapped) == [
        ("mapped", 1, 3001),
        ("mapped", 2, 0),
        ("mapped", 3, 0),
        ("mapped", 4, 0),
    ]
    assert resolve_concept_sets(cdm, mapped)["mapped"].paths == (
        "concept_id",
        "mapped",
        "source_value",
    )
    excl = _atlas(
        tmp_path,
        [
            _item(3001, "SNOMED", "37796009", mapped=True),
            _item(3101, "ICD10CM", "G43.1", excluded=True),
        ],
        "excl",
    )
    assert _hits(cdm, "condition", excl) == [("excl", 1, 3001), ("excl", 2, 0), ("excl", 3, 0)]


def test_excluded_code_drops_records_without_any_vocabulary(tmp_path):
    cdm = _cdm(conditions=CONDITIONS, vocabulary=False)
    sets = _atlas(
        tmp_path,
        [_item(1, "ICD10CM", "G43", desc=True), _item(2, "ICD10CM", "G43.1", excluded=True)],
        "icd",
    )
    # G43 prefix: persons 1 (G43.9) and 2 (G439); 4 (G431) is excluded by its code.
    assert [(s, p) for s, p, _ in _hits(cdm, "condition", sets)] == [("icd", 1), ("icd", 2)]
    yaml_like = {
        "y": _set(
            "y",
            ConceptSetItem(vocabulary="ICD10CM", code="G43"),
            ConceptSetItem(vocabulary="ICD10CM", code="G43.1", exclude=True),
        )
    }
    assert [(s, p) for s, p, _ in _hits(cdm, "condition", yaml_like)] == [("y", 1), ("y", 2)]


def test_atlas_items_need_an_id_or_a_known_code(tmp_path):
    sets = _atlas(tmp_path, [{"concept": {"VOCABULARY_ID": "ICD10CM", "CONCEPT_CODE": "G43"}}])
    item = sets["mig_atlas"].items[0]
    assert (item.concept_id, item.vocabulary, item.code) == (None, "ICD10CM", "G43")
    with pytest.raises(MiglinkError, match="item 0 has no CONCEPT_ID"):
        _atlas(tmp_path, [{"concept": {"VOCABULARY_ID": "Read", "CONCEPT_CODE": "F26"}}], "bad")
    odd = _atlas(tmp_path, [_item(77, "Read", "F26")], "odd")["odd"].items[0]
    assert (odd.concept_id, odd.code) == (77, None)  # an unknown vocabulary keeps the id only
