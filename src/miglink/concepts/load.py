"""Load and validate concept-set files (YAML, or ATLAS concept-set JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from miglink.concepts.model import ConceptSet, ConceptSetFile, ConceptSetItem
from miglink.errors import MiglinkError
from miglink.safeyaml import MAX_SET_FILE_BYTES, read_text, safe_yaml

DEFAULT_FILES = (
    "conditions.yaml",
    "negative_controls.yaml",
    "drugs.yaml",
    "labs_observations.yaml",
)


def _default_paths() -> list[Path]:
    base = resources.files("miglink") / "data" / "concept_sets"
    return [Path(str(base / name)) for name in DEFAULT_FILES]


def load_concept_sets(paths: Iterable[str | Path] | None = None) -> dict[str, ConceptSet]:
    """Read concept sets from YAML files (default: the protocol's bundled sets).

    ATLAS concept-set JSON files (``.json``) are imported as one set each, named after the file.
    Duplicate ids across files are an error.
    """
    files = [Path(p) for p in paths] if paths is not None else _default_paths()
    out: dict[str, ConceptSet] = {}
    for f in files:
        if not f.exists():
            raise MiglinkError(f"concept-set file not found: {f}")
        sets = _read_atlas_json(f) if f.suffix.lower() == ".json" else _read_yaml(f)
        for cs in sets:
            if cs.id in out:
                raise MiglinkError(f"concept set {cs.id!r} is defined twice (second time in {f})")
            out[cs.id] = cs
    return out


def _read_yaml(path: Path) -> list[ConceptSet]:
    raw = safe_yaml(
        read_text(path, "concept-set file", MAX_SET_FILE_BYTES), path, "concept-set file"
    )
    try:
        return ConceptSetFile.model_validate(raw).concept_sets
    except ValidationError as e:
        raise MiglinkError(f"concept-set file {path} is invalid: {_first_error(e)}") from None


#: ATLAS VOCABULARY_IDs whose codes the source-value matcher understands.
ATLAS_VOCABULARIES = ("ICD10CM", "ICD9CM", "SNOMED", "RxNorm", "ATC", "LOINC", "NDC")
_ATLAS_DOMAINS = ("condition", "drug", "measurement", "observation")


def _read_atlas_json(path: Path) -> list[ConceptSet]:
    """ATLAS exports ``{"items": [{"concept": {...}, "isExcluded", "includeDescendants",
    "includeMapped"}]}``.

    Each item keeps its concept id and, where the vocabulary is one the source-value matcher
    knows, its (vocabulary, code): the code is what matches data without concept ids (FHIR and
    MEDS conversions). ``includeMapped`` adds the source concepts that 'Maps to' the item.
    """
    try:
        raw = json.loads(read_text(path, "ATLAS concept-set file", MAX_SET_FILE_BYTES))
    except json.JSONDecodeError as e:
        raise MiglinkError(f"ATLAS concept-set file {path} is not valid JSON: {e}") from None
    if isinstance(raw, dict) and "expression" in raw:
        name = raw.get("name") or path.stem
        raw = raw["expression"]
    else:
        name = path.stem
    items_raw = raw.get("items") if isinstance(raw, dict) else None
    if not items_raw:
        raise MiglinkError(f"ATLAS concept-set file {path} has no 'items'")
    items = [_atlas_item(path, i, it) for i, it in enumerate(items_raw)]
    domains = [_atlas_domain(it.get("concept", {})) for it in items_raw]
    domain = next((d for d in reversed(domains) if d in _ATLAS_DOMAINS), "condition")
    sid = "".join(ch if ch.isalnum() else "_" for ch in path.stem.lower()).strip("_")
    if not sid or not sid[0].isalpha():
        sid = f"atlas_{sid}"
    role = {"drug": "drug", "measurement": "lab", "observation": "family_history"}.get(
        domain, "outcome"
    )
    try:
        return [ConceptSet(id=sid, name=str(name), domain=domain, role=role, items=tuple(items))]
    except ValidationError as e:
        raise MiglinkError(f"ATLAS concept-set file {path} is invalid: {_first_error(e)}") from None


def _atlas_domain(c: dict) -> str:
    return str(c.get("DOMAIN_ID", c.get("domainId", "Condition"))).lower()


def _atlas_item(path: Path, i: int, it: dict) -> ConceptSetItem:
    """One ATLAS item: its id, its code where the vocabulary is known, and its three flags."""
    c = it.get("concept", {}) if isinstance(it, dict) else {}
    cid = c.get("CONCEPT_ID", c.get("conceptId"))
    vocab = c.get("VOCABULARY_ID", c.get("vocabularyId"))
    code = c.get("CONCEPT_CODE", c.get("conceptCode"))
    known = vocab in ATLAS_VOCABULARIES and code not in (None, "")
    if cid is None and not known:
        raise MiglinkError(
            f"ATLAS concept-set file {path}: item {i} has no CONCEPT_ID and no "
            f"VOCABULARY_ID / CONCEPT_CODE of {', '.join(ATLAS_VOCABULARIES)}"
        )
    return ConceptSetItem(
        concept_id=None if cid is None else int(cid),
        vocabulary=vocab if known else None,
        code=str(code) if known else None,
        descendants=bool(it.get("includeDescendants", False)),
        exclude=bool(it.get("isExcluded", False)),
        mapped=bool(it.get("includeMapped", False)),
    )


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']} ({len(e.errors())} problem(s) in all)"
