"""The few vocabulary rows concept sets need, pulled once into Python (a handful of queries).

Three ways from a set's item to the concepts records carry: the ``concept`` row of a code
('Maps to' when it is not standard), ``concept_ancestor`` for descendants and, where the
ancestor table is empty or lacks a drug (Synthea27Nj ships CONCEPT_RELATIONSHIP but no
CONCEPT_ANCESTOR), the RxNorm relationships walked down from an ingredient to every product
that contains it (ingredient -> clinical drug component / form -> clinical drug -> branded drug,
quantified form, pack). 'Maps to' read backwards gives the source concepts (NDC, ICD, ...) that
an item's standard concepts stand for: ATLAS's ``includeMapped``.
"""

from __future__ import annotations

import ibis

from miglink.concepts.model import ConceptSetItem

ICD = ("ICD10CM", "ICD9CM")

#: RxNorm relationships from a concept to the drugs below it (each is the reverse of the
#: OMOP relationship a product has towards its ingredient), plus ATC's own hierarchy and its
#: link to RxNorm ingredients.
DRUG_DESCENT = (
    "RxNorm ing of",  # ingredient -> clinical drug component / form
    "Constitutes",  # clinical drug component -> clinical drug
    "RxNorm inverse is a",  # clinical drug form -> clinical drug
    "Has tradename",  # clinical -> branded
    "Has quantified form",  # clinical drug -> quantified clinical drug
    "Contained in",  # drug -> pack
    "Subsumes",  # ATC class -> ATC subclass
    "ATC - RxNorm",  # ATC 5th level -> RxNorm ingredient
)
#: Hops from an ingredient to the farthest product (ingredient, component, drug, branded,
#: quantified branded, pack): a bound, so a malformed relationship table cannot loop.
MAX_DRUG_HOPS = 8


def normalise_code(vocabulary: str | None, code: str) -> str:
    """ICD codes: upper case without dots or spaces; other codes: stripped."""
    if vocabulary in ICD:
        return code.replace(".", "").replace(" ", "").upper()
    return code.strip()


def _has_rows(cdm, table: str) -> bool:
    return cdm.has(table) and cdm.row_count(table) > 0


class Vocabulary:
    """The vocabulary rows the sets need: codes, 'Maps to', descendants, mapped sources."""

    def __init__(self, cdm) -> None:
        self.cdm = cdm
        self.has_concept = _has_rows(cdm, "concept")
        self.has_ancestor = _has_rows(cdm, "concept_ancestor")
        self.has_relationship = _has_rows(cdm, "concept_relationship")
        self.by_code: dict[tuple[str, str], list[tuple[int, str | None]]] = {}
        self.icd_rows: dict[str, list[tuple[str, int, str | None]]] = {v: [] for v in ICD}
        self.maps_to: dict[int, set[int]] = {}
        self.descendants: dict[int, set[int]] = {}
        #: ids whose descendants came from the RxNorm relationships, not concept_ancestor
        self.walked: set[int] = set()

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
        for v in sorted({v for v, _ in exact}):
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

    def lookup(self, item: ConceptSetItem, patterns: list) -> list[tuple[int, str | None]]:
        """Concept rows for an item's code ([] if the vocabulary lacks it); ``patterns`` are
        the item's source patterns (ICD codes by prefix when descendants are included)."""
        assert item.code is not None
        if item.vocabulary in ICD:
            out = []
            for pat in patterns:
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

    def load_descendants(self, ids: set[int], drug_ids: set[int] = frozenset()) -> None:
        """Descendants from concept_ancestor; ``drug_ids`` the ancestor table does not know
        (or all of them, when it is empty) are walked down the RxNorm relationships."""
        if self.has_ancestor and ids:
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
        for root, below in self._walk_drugs(set(drug_ids) - set(self.descendants)).items():
            self.descendants[root] = below
            self.walked.add(root)

    def _walk_drugs(self, roots: set[int]) -> dict[int, set[int]]:
        """Each root's products down the RxNorm relationships (one query per hop, all roots
        at once); roots with nothing below them are left out."""
        if not self.has_relationship or not roots:
            return {}
        r = self.cdm.table("concept_relationship")
        r = r.filter(r.relationship_id.isin(DRUG_DESCENT) & (r.concept_id_1 != r.concept_id_2))
        reach = {root: {root} for root in roots}
        frontier = {root: {root} for root in roots}
        for _ in range(MAX_DRUG_HOPS):
            ids = sorted(set().union(*frontier.values()))
            if not ids:
                break
            rows = (
                r.filter(r.concept_id_1.isin(ids))
                .select("concept_id_1", "concept_id_2")
                .distinct()
                .to_pyarrow()
                .to_pylist()
            )
            below: dict[int, set[int]] = {}
            for row in rows:
                below.setdefault(row["concept_id_1"], set()).add(row["concept_id_2"])
            for root in roots:
                nxt = set().union(*(below.get(c, set()) for c in frontier[root])) - reach[root]
                reach[root] |= nxt
                frontier[root] = nxt
        return {root: ids for root, ids in reach.items() if len(ids) > 1}

    def mapped_sources(self, ids: set[int]) -> dict[int, list[tuple[str, str]]]:
        """Per standard id, the (vocabulary_id, concept_code) of the source concepts that
        'Maps to' it: the NDC, ICD or local codes records may carry instead of a standard id."""
        if not (self.has_relationship and self.has_concept) or not ids:
            return {}
        r = self.cdm.table("concept_relationship")
        src = r.filter(r.concept_id_2.isin(sorted(ids)) & (r.relationship_id == "Maps to"))
        src = src.filter(src.concept_id_1 != src.concept_id_2)
        src = src.select(sid=src.concept_id_1, target=src.concept_id_2).distinct()
        c = self.cdm.table("concept")
        j = c.join(src, c.concept_id == src.sid)
        rows = j.select("target", "vocabulary_id", "concept_code").to_pyarrow().to_pylist()
        out: dict[int, list[tuple[str, str]]] = {}
        for row in rows:
            if row["concept_code"]:
                out.setdefault(row["target"], []).append(
                    (row["vocabulary_id"], row["concept_code"])
                )
        return out
