"""Resolve concept sets once, to standard concept ids plus source-value patterns.

Rules (docs/concepts.md): with vocabulary tables, a (vocabulary, code) item is looked up
in ``concept`` (ICD codes by prefix when descendants are included), mapped to standard concepts
through 'Maps to', and expanded through ``concept_ancestor`` (drugs the ancestor table lacks:
down the RxNorm relationships, concepts/vocabulary.py). Standard concept ids are used directly.
A code missing from the vocabulary - or every code, when there is no vocabulary - becomes a
pattern on ``<domain>_source_value``: ICD codes by prefix, other vocabularies exactly. An item
with both an id and a code (ATLAS) keeps its code as a pattern too, so it matches data whose
concept ids are all 0 (FHIR, MEDS); ``mapped`` items add the codes of the source concepts that
'Maps to' them; excluded codes remove the records whose source value they match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from miglink.concepts.model import ConceptSet, ConceptSetItem
from miglink.concepts.vocabulary import ICD, Vocabulary, normalise_code

__all__ = [
    "ICD",
    "ResolvedSet",
    "SourcePattern",
    "expand_icd9_wildcards",
    "item_patterns",
    "normalise_code",
    "prune_patterns",
    "resolve_concept_sets",
]


@dataclass(frozen=True)
class SourcePattern:
    vocabulary: str  # ICD10CM, ICD9CM, SNOMED, RxNorm, LOINC, ...
    code: str  # normalised (ICD: upper case, no dots/spaces; ICD9 'x' expanded to digits)
    prefix: bool  # True: matches codes starting with `code`; False: exact


@dataclass(frozen=True)
class ResolvedSet:
    id: str
    domain: str
    concept_ids: frozenset[int]
    source_patterns: tuple[SourcePattern, ...]
    excluded_concept_ids: frozenset[int]
    paths: tuple[str, ...]  # which of PATHS contributed
    #: source-value patterns of excluded items: records they match leave the set
    excluded_patterns: tuple[SourcePattern, ...] = ()


#: How a set reached its records: a code through the vocabulary, a concept id, descendants
#: through the RxNorm relationships (no ancestor rows), mapped source codes, source values.
PATHS = ("vocabulary", "concept_id", "relationship", "mapped", "source_value")


def expand_icd9_wildcards(code: str) -> list[str]:
    """'250x1' -> ['25001', '25011', ..., '25091'] (an 'x' stands for any one digit)."""
    out = [""]
    for ch in code:
        out = [p + d for p in out for d in "0123456789"] if ch in "xX" else [p + ch for p in out]
    return out


def item_patterns(item: ConceptSetItem) -> list[SourcePattern]:
    """The source-value patterns an item stands for when the vocabulary cannot resolve it."""
    assert item.code is not None and item.vocabulary is not None
    code = normalise_code(item.vocabulary, item.code)
    if item.vocabulary in ICD:
        codes = expand_icd9_wildcards(code) if item.vocabulary == "ICD9CM" else [code]
        return [SourcePattern(item.vocabulary, c, item.descendants) for c in codes]
    return [SourcePattern(item.vocabulary, code, False)]


def prune_patterns(patterns: Iterable[SourcePattern]) -> tuple[SourcePattern, ...]:
    """Drop patterns another pattern of the same vocabulary already covers, so one record
    cannot match a set twice."""
    ps = sorted(set(patterns), key=lambda p: (p.vocabulary, len(p.code), not p.prefix, p.code))
    kept: list[SourcePattern] = []
    for p in ps:
        if any(
            k.vocabulary == p.vocabulary and k.prefix and p.code.startswith(k.code) for k in kept
        ):
            continue
        if any(k.vocabulary == p.vocabulary and k.code == p.code for k in kept):
            continue
        kept.append(p)
    return tuple(sorted(kept, key=lambda p: (p.vocabulary, p.code, p.prefix)))


def _item_roots(vocab: Vocabulary, sets: dict[str, ConceptSet]) -> dict[tuple[str, int], set]:
    """The standard concept ids each item stands for before descendants."""
    found: dict[tuple[str, int], list[tuple[int, str | None]]] = {}
    for s in sets.values():
        for n, item in enumerate(s.items):
            if item.code is not None and item.concept_id is None:  # an id is its own concept
                found[(s.id, n)] = vocab.lookup(item, item_patterns(item))
    vocab.load_maps_to({cid for rows in found.values() for cid, std in rows if std != "S"})
    roots: dict[tuple[str, int], set[int]] = {}
    for s in sets.values():
        for n, item in enumerate(s.items):
            ids: set[int] = set() if item.concept_id is None else {item.concept_id}
            for cid, std in found.get((s.id, n), []):
                ids |= {cid} if std == "S" else vocab.maps_to.get(cid, set())
            roots[(s.id, n)] = ids
    return roots


def _mapped_patterns(vocab: Vocabulary, expanded: dict[tuple[str, int], set[int]], sets) -> dict:
    """Per mapped item, the exact source-value patterns of the codes that 'Maps to' its ids."""
    keys = [k for k in expanded if sets[k[0]].items[k[1]].mapped]
    by_target = vocab.mapped_sources({c for k in keys for c in expanded[k]})
    out: dict[tuple[str, int], list[SourcePattern]] = {}
    for k in keys:
        pats = []
        for c in sorted(expanded[k]):
            for v, code in by_target.get(c, []):
                norm = normalise_code(v, code) if v in ICD else code.strip().upper()
                pats.append(SourcePattern(v if v in ICD else "OTHER", norm.replace(" ", ""), False))
        out[k] = pats
    return out


def resolve_concept_sets(cdm, sets: dict[str, ConceptSet]) -> dict[str, ResolvedSet]:
    """Resolve every set against ``cdm``'s vocabulary (if any): a handful of small queries."""
    vocab = Vocabulary(cdm)
    vocab.load_codes([i for s in sets.values() for i in s.items if i.code is not None])
    roots = _item_roots(vocab, sets)
    with_desc = {k: ids for k, ids in roots.items() if sets[k[0]].items[k[1]].descendants}
    drug_ids = {c for k, ids in with_desc.items() if sets[k[0]].domain == "drug" for c in ids}
    vocab.load_descendants({c for ids in with_desc.values() for c in ids}, drug_ids)
    expanded = {
        k: ids.union(*(vocab.descendants.get(c, set()) for c in ids)) if k in with_desc else ids
        for k, ids in roots.items()
    }
    mapped = _mapped_patterns(vocab, expanded, sets)
    return {s.id: _resolved(s, roots, expanded, mapped, vocab.walked) for s in sets.values()}


def _resolved(s: ConceptSet, roots, expanded, mapped, walked: set[int]) -> ResolvedSet:
    include: set[int] = set()
    exclude: set[int] = set()
    patterns: list[SourcePattern] = []
    x_patterns: list[SourcePattern] = []
    paths: set[str] = set()
    for n, item in enumerate(s.items):
        ids = expanded[(s.id, n)]
        pats = list(mapped.get((s.id, n), []))
        if item.code is not None and (item.concept_id is not None or not ids):
            pats.extend(item_patterns(item))  # no vocabulary row, or an ATLAS item's code
        if item.exclude:
            exclude |= ids
            x_patterns.extend(pats)
            continue
        include |= ids
        patterns.extend(pats)
        if ids:
            paths.add("concept_id" if item.concept_id is not None else "vocabulary")
        if item.descendants and roots[(s.id, n)] & walked:
            paths.add("relationship")
        if mapped.get((s.id, n)):
            paths.add("mapped")
        if item.code is not None and (item.concept_id is not None or not ids):
            paths.add("source_value")
    return ResolvedSet(
        id=s.id,
        domain=s.domain,
        concept_ids=frozenset(include - exclude),
        source_patterns=prune_patterns(patterns),
        excluded_concept_ids=frozenset(exclude),
        paths=tuple(p for p in PATHS if p in paths),
        excluded_patterns=prune_patterns(x_patterns),
    )
