"""Resolve concept sets once, to standard concept ids plus source-value patterns.

Rules (docs/data-sources.md): with vocabulary tables, a (vocabulary, code) item is looked up
in ``concept`` (ICD codes by prefix when descendants are included), mapped to standard concepts
through 'Maps to', and expanded through ``concept_ancestor``. Standard concept ids are used
directly (and expanded when the ancestor table is present). A code missing from the
vocabulary - or every code, when there is no vocabulary - becomes a pattern on
``<domain>_source_value``: ICD codes by prefix, other vocabularies exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ibis

from miglink.concepts.model import ConceptSet, ConceptSetItem

ICD = ("ICD10CM", "ICD9CM")


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
    paths: tuple[str, ...]  # which of "vocabulary", "concept_id", "source_value" contributed


def normalise_code(vocabulary: str | None, code: str) -> str:
    """ICD codes: upper case without dots or spaces; other codes: stripped."""
    if vocabulary in ICD:
        return code.replace(".", "").replace(" ", "").upper()
    return code.strip()


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


class _Vocabulary:
    """The few vocabulary rows the sets need, pulled once into Python."""

    def __init__(self, cdm) -> None:
        self.cdm = cdm
        self.has_concept = cdm.has("concept") and cdm.row_count("concept") > 0
        self.has_ancestor = cdm.has("concept_ancestor") and cdm.row_count("concept_ancestor") > 0
        self.has_relationship = (
            cdm.has("concept_relationship") and cdm.row_count("concept_relationship") > 0
        )
        self.by_code: dict[tuple[str, str], list[tuple[int, str | None]]] = {}
        self.icd_rows: dict[str, list[tuple[str, int, str | None]]] = {v: [] for v in ICD}
        self.maps_to: dict[int, set[int]] = {}
        self.descendants: dict[int, set[int]] = {}

    def load_codes(self, items: list[ConceptSetItem]) -> None:
        if not self.has_concept:
            return
        exact = {(i.vocabulary, i.code.strip()) for i in items if i.vocabulary not in ICD}
        heads = {
            (i.vocabulary, normalise_code(i.vocabulary, i.code)[:3])
            for i in items
            if i.vocabulary in ICD
        }
        c = self.cdm.table("concept")
        norm = c.concept_code.replace(".", "").upper()
        pred = ibis.literal(False)
        vocabs_exact = sorted({v for v, _ in exact})
        for v in vocabs_exact:
            codes = sorted(code for vv, code in exact if vv == v)
            pred = pred | ((c.vocabulary_id == v) & c.concept_code.isin(codes))
        for v in ICD:
            hs = sorted(h for vv, h in heads if vv == v)
            if hs:
                pred = pred | ((c.vocabulary_id == v) & norm.substr(0, 3).isin(hs))
        rows = (
            c.filter(pred)
            .select("concept_id", "vocabulary_id", "concept_code", "standard_concept")
            .to_pyarrow()
            .to_pylist()
        )
        for r in rows:
            v, code = r["vocabulary_id"], r["concept_code"]
            if v in ICD:
                self.icd_rows[v].append(
                    (normalise_code(v, code), r["concept_id"], r["standard_concept"])
                )
            else:
                self.by_code.setdefault((v, code), []).append(
                    (r["concept_id"], r["standard_concept"])
                )

    def lookup(self, item: ConceptSetItem) -> list[tuple[int, str | None]]:
        """Concept rows for an item's code ([] if the vocabulary lacks it)."""
        assert item.code is not None
        if item.vocabulary in ICD:
            out = []
            for pat in item_patterns(item):
                for code, cid, std in self.icd_rows.get(item.vocabulary, []):
                    if code == pat.code or (pat.prefix and code.startswith(pat.code)):
                        out.append((cid, std))
            return out
        return self.by_code.get((item.vocabulary, item.code.strip()), [])

    def load_maps_to(self, ids: set[int]) -> None:
        if not self.has_relationship or not ids:
            return
        r = self.cdm.table("concept_relationship")
        rows = (
            r.filter(r.concept_id_1.isin(sorted(ids)) & (r.relationship_id == "Maps to"))
            .select("concept_id_1", "concept_id_2")
            .to_pyarrow()
            .to_pylist()
        )
        for row in rows:
            self.maps_to.setdefault(row["concept_id_1"], set()).add(row["concept_id_2"])

    def load_descendants(self, ids: set[int]) -> None:
        if not self.has_ancestor or not ids:
            return
        a = self.cdm.table("concept_ancestor")
        rows = (
            a.filter(a.ancestor_concept_id.isin(sorted(ids)))
            .select("ancestor_concept_id", "descendant_concept_id")
            .to_pyarrow()
            .to_pylist()
        )
        for row in rows:
            self.descendants.setdefault(row["ancestor_concept_id"], set()).add(
                row["descendant_concept_id"]
            )


def resolve_concept_sets(cdm, sets: dict[str, ConceptSet]) -> dict[str, ResolvedSet]:
    """Resolve every set against ``cdm``'s vocabulary (if any): a handful of small queries."""
    vocab = _Vocabulary(cdm)
    code_items = [i for s in sets.values() for i in s.items if i.code is not None]
    vocab.load_codes(code_items)

    # Pass 1: which concept ids each item stands for before 'Maps to' / descendants.
    found: dict[tuple[str, int], list[tuple[int, str | None]]] = {}
    for s in sets.values():
        for n, item in enumerate(s.items):
            if item.code is not None:
                found[(s.id, n)] = vocab.lookup(item)
    non_standard = {cid for rows in found.values() for cid, std in rows if std != "S"}
    vocab.load_maps_to(non_standard)

    def standard_of(rows: list[tuple[int, str | None]]) -> set[int]:
        out: set[int] = set()
        for cid, std in rows:
            if std == "S":
                out.add(cid)
            else:
                out |= vocab.maps_to.get(cid, set())
        return out

    roots: dict[tuple[str, int], set[int]] = {}
    for s in sets.values():
        for n, item in enumerate(s.items):
            if item.concept_id is not None:
                roots[(s.id, n)] = {item.concept_id}
            else:
                roots[(s.id, n)] = standard_of(found[(s.id, n)])
    vocab.load_descendants(
        {c for (sid, n), ids in roots.items() if sets[sid].items[n].descendants for c in ids}
    )

    out: dict[str, ResolvedSet] = {}
    for s in sets.values():
        include: set[int] = set()
        exclude: set[int] = set()
        patterns: list[SourcePattern] = []
        paths: set[str] = set()
        for n, item in enumerate(s.items):
            ids = set(roots[(s.id, n)])
            if item.descendants:
                for c in list(ids):
                    ids |= vocab.descendants.get(c, set())
            if item.exclude:
                exclude |= ids
                continue
            if item.concept_id is not None:
                include |= ids
                paths.add("concept_id")
            elif ids:  # the vocabulary knows the code and maps it to standard concepts
                include |= ids
                paths.add("vocabulary")
            else:
                patterns.extend(item_patterns(item))
                paths.add("source_value")
        order = ("vocabulary", "concept_id", "source_value")
        out[s.id] = ResolvedSet(
            id=s.id,
            domain=s.domain,
            concept_ids=frozenset(include - exclude),
            source_patterns=prune_patterns(patterns),
            excluded_concept_ids=frozenset(exclude),
            paths=tuple(p for p in order if p in paths),
        )
    return out
