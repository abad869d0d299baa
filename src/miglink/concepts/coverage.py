"""Say out loud when the vocabulary cannot carry a concept set: no ancestor rows, or a set that
matches no record. A silent zero reads as "nobody has the disease" when the truth is "the
data could not tell" (issue 18: drug sets were 0 on MIMIC OMOP and Synthea27Nj with no word).

Only zeros are reported (never a small positive count), so the notes are safe to publish.
"""

from __future__ import annotations

from miglink.concepts.resolve import ResolvedSet
from miglink.sources.schema import DOMAIN_TABLES


def _rows(cdm, table: str) -> int | None:
    """Row count, or None when the table is absent."""
    return cdm.row_count(table) if cdm.has(table) else None


def vocabulary_warnings(cdm) -> list[str]:
    """Warnings about the vocabulary tables as a whole (empty or absent ancestor table)."""
    n_anc, n_rel = _rows(cdm, "concept_ancestor"), _rows(cdm, "concept_relationship")
    if n_anc:
        return []
    if not _rows(cdm, "concept"):
        return [
            "no vocabulary tables: concept sets match source-value codes only (ICD by prefix, "
            "other vocabularies exactly), without descendants"
        ]
    state = "absent" if n_anc is None else "empty"
    walk = (
        "drug sets reach their products through concept_relationship (RxNorm)"
        if n_rel
        else "concept_relationship is empty too, so drug sets reach no products"
    )
    return [
        f"concept_ancestor is {state}: {walk}, ICD codes match by prefix, and other standard "
        "concepts are matched without their descendants"
    ]


#: Why a set matched nothing, from its resolution and the vocabulary at hand.
REASONS = {
    "no_concept": "no concept table, so only source values were compared with the set's codes",
    "no_rxnorm": "the concept table has no RxNorm rows, so drug records cannot be rolled up to "
    "the set's ingredients (load the OHDSI standard vocabulary)",
    "codes_absent": "none of the set's codes is in the concept table and no source value "
    "equals them",
    "no_record": "the set's concepts occur in no record",
}


def _has_rxnorm(cdm) -> bool:
    c = cdm.table("concept")
    return c.filter(c.vocabulary_id == "RxNorm").limit(1).count().to_pyarrow().as_py() > 0


def _reason(rs: ResolvedSet, has_concept: bool, has_rxnorm: bool) -> str:
    if not has_concept:
        return "no_concept"
    if rs.domain == "drug" and not has_rxnorm:
        return "no_rxnorm"
    return "codes_absent" if rs.paths == ("source_value",) else "no_record"


def empty_sets(cdm, resolved: dict[str, ResolvedSet], present: set[str]) -> dict[str, str]:
    """Per set whose domain table exists but which matched no record (``present``: the sets that
    did), the key of its reason in :data:`REASONS`. Sets of an absent table are noted elsewhere."""
    has_concept = bool(_rows(cdm, "concept"))
    has_rxnorm = has_concept and _has_rxnorm(cdm)
    return {
        sid: _reason(rs, has_concept, has_rxnorm)
        for sid, rs in resolved.items()
        if sid not in present and cdm.has(DOMAIN_TABLES[rs.domain][0])
    }


def empty_set_notes(empty: dict[str, str]) -> dict[str, str]:
    """Per set with no record (:func:`empty_sets`), one sentence for the report beside the
    claims that use it."""
    return {
        sid: f"concept set '{sid}' matched no record in this data: {REASONS[key]}"
        for sid, key in empty.items()
    }


def grouped_warnings(empty: dict[str, str]) -> list[str]:
    """One line per reason, naming the sets with no record (:func:`empty_sets`)."""
    by_reason: dict[str, list[str]] = {}
    for sid, key in empty.items():
        by_reason.setdefault(key, []).append(sid)
    return [
        f"concept sets that matched no record ({REASONS[key]}): {', '.join(ids)}"
        for key, ids in by_reason.items()
    ]


def set_warnings(cdm, counts, resolved: dict[str, ResolvedSet]) -> list[str]:
    """Every warning for ``miglink check`` / ``miglink concepts``: the vocabulary's, then one line
    per reason naming the sets with no record. ``counts``: :func:`concepts.match.set_counts`."""
    present = {r.set_id for r in counts.itertuples(index=False) if r.n_records and r.n_records > 0}
    return vocabulary_warnings(cdm) + grouped_warnings(empty_sets(cdm, resolved, present))
