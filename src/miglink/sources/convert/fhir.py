"""FHIR R4 (bulk NDJSON, .ndjson.gz, or folders of Bundle .json files) -> canonical OMOP tables.

Streaming: NDJSON is read line by line; each resource becomes a few flat rows that are appended to
DuckDB staging tables in batches (:class:`~miglink.sources.convert.common.Stager`). References
(Condition -> Encounter for its date, MedicationRequest -> Medication for its name) are resolved
afterwards in SQL, so no resource has to be held in memory waiting for another. A Bundle file is
parsed whole, one file at a time (Synthea writes one Bundle per patient).

The staged rows become OMOP tables in :mod:`.fhir_tables`. The mapping is documented in
docs/fhir-meds.md.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from miglink.errors import MiglinkError
from miglink.sources.convert.common import (
    CONDITION_VOCABS,
    Stager,
    normalize_code,
    parse_date,
    stable_person_id,
    vocabulary_of_system,
    write_report,
)
from miglink.sources.convert.fhir_tables import build_tables

S = pa.string()
STAGING: dict[str, list[tuple[str, pa.DataType]]] = {
    "stg_patient": [
        ("fhir_id", S),
        ("person_id", pa.int64()),
        ("person_source_value", S),
        ("gender", S),
        ("birth_date", S),
        ("death_date", S),
    ],
    "stg_encounter": [
        ("fhir_id", S),
        ("patient_ref", S),
        ("start_date", S),
        ("end_date", S),
        ("class_code", S),
    ],
    "stg_condition": [
        ("patient_ref", S),
        ("encounter_ref", S),
        ("date", S),
        ("vocab", S),
        ("code", S),
    ],
    "stg_medication": [("fhir_id", S), ("name", S), ("rxnorm", S), ("ndc", S)],
    "stg_med_key": [("system", S), ("code", S), ("name", S)],
    "stg_med_mix": [("fhir_id", S), ("ingredient_ref", S)],
    "stg_drug": [
        ("patient_ref", S),
        ("encounter_ref", S),
        ("start_date", S),
        ("end_date", S),
        ("med_ref", S),
        ("name", S),
        ("rxnorm", S),
        ("ndc", S),
        ("key_system", S),
        ("key_code", S),
    ],
    "stg_obs": [
        ("patient_ref", S),
        ("encounter_ref", S),
        ("date", S),
        ("vocab", S),
        ("code", S),
        ("value", pa.float64()),
        ("unit", S),
        ("is_measurement", pa.int64()),
    ],
}

_DRUG_TYPES = {
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationStatement",
}
_CLINICAL_TYPES = {"Encounter", "Condition", "Observation"} | _DRUG_TYPES
_BAD_STATUS = {"entered-in-error", "refuted", "not-done", "cancelled"}
_OBS_VOCAB_ORDER = ("LOINC", "MIMIC_LAB", "SNOMED", "ICD10CM", "ICD9CM")


class _Malformed(ValueError):
    """A resource that cannot be converted (reported with file and line)."""


# ---------------------------------------------------------------------------------------------
# Files and resources


def fhir_files(root: Path) -> list[Path]:
    """The FHIR files under ``root`` (or ``root`` itself): NDJSON (optionally gzipped) and JSON
    Bundles, in a stable order. The bulk-export ``log.ndjson`` is not data and is skipped."""
    if root.is_file():
        return [root]
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        name = p.name.lower()
        if name in ("log.ndjson", "log.ndjson.gz"):
            continue
        if name.endswith((".ndjson", ".ndjson.gz")) or (
            name.endswith(".json") and _is_fhir_json(p)
        ):
            out.append(p)
    return out


def _is_fhir_json(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"resourceType"' in head


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_resources(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line or entry number, resource) from one file; Bundles are expanded into their
    entries. Raises MiglinkError naming the file, the first bad line and the number of bad lines."""
    bad = 0
    first: tuple[int, str] | None = None
    if path.name.lower().endswith(".json"):
        try:
            with path.open(encoding="utf-8") as fh:
                doc = json.load(fh)
        except json.JSONDecodeError as e:
            raise MiglinkError(
                f"FHIR file {path}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                table=str(path),
                n_rows=1,
            ) from None
        if not isinstance(doc, dict) or "resourceType" not in doc:
            raise MiglinkError(
                f"FHIR file {path}: line 1: not a FHIR resource (no resourceType)",
                table=str(path),
                n_rows=1,
            )
        yield from _expand(doc, 1)
        return
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.strip()
                if not line:
                    continue
                try:
                    res = json.loads(line)
                except json.JSONDecodeError as e:
                    bad += 1
                    first = first or (lineno, f"not valid JSON ({e.msg}, column {e.colno})")
                    continue
                if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                    bad += 1
                    first = first or (lineno, "not a FHIR resource (no resourceType)")
                    continue
                yield from _expand(res, lineno)
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise MiglinkError(
            f"FHIR file {path}: cannot be read ({type(e).__name__}: {e})", table=str(path)
        ) from None
    if bad:
        raise MiglinkError(
            f"FHIR file {path}: {bad} malformed line(s); first at line {first[0]}: {first[1]}",
            table=str(path),
            n_rows=bad,
        )


def _expand(res: dict, lineno: int) -> Iterator[tuple[int, dict]]:
    if res.get("resourceType") == "Bundle":
        for entry in res.get("entry") or []:
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict) and "resourceType" in inner:
                yield from _expand(inner, lineno)
    else:
        yield lineno, res


# ---------------------------------------------------------------------------------------------
# Field helpers


def ref_id(ref: object) -> str | None:
    """The target id of a FHIR Reference: 'Patient/abc', 'urn:uuid:abc', 'http://x/Patient/abc',
    'Patient/abc/_history/2' all give 'abc'. Conditional references give None."""
    if isinstance(ref, dict):
        ref = ref.get("reference")
    if not isinstance(ref, str) or not ref or "?" in ref:
        return None
    ref = ref.split("/_history/")[0]
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        return ref[9:]
    return ref.rsplit("/", 1)[-1]


def _codings(cc: object) -> list[dict]:
    if isinstance(cc, dict):
        return [c for c in cc.get("coding") or [] if isinstance(c, dict) and c.get("code")]
    return []


def mapped_codings(cc: object, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """(vocabulary, normalised code) for each coding whose system maps to an allowed vocabulary,
    de-duplicated, in the order written."""
    out: list[tuple[str, str]] = []
    for c in _codings(cc):
        vocab = vocabulary_of_system(c.get("system"))
        if vocab in allowed:
            pair = (vocab, normalize_code(vocab, c["code"]))
            if pair not in out:
                out.append(pair)
    return out


def _status_code(obj: object) -> str | None:
    if isinstance(obj, str):
        return obj
    codings = _codings(obj)
    return codings[0]["code"] if codings else None


def _period_start(res: dict, *keys: str) -> str | None:
    for key in keys:
        v = res.get(key)
        if isinstance(v, dict):
            v = v.get("start")
        d = parse_date(v)
        if d:
            return d
    return None


def _subject(res: dict) -> str:
    pid = ref_id(res.get("subject") or res.get("patient"))
    if pid is None:
        raise _Malformed(f"{res['resourceType']} {res.get('id', '?')} has no subject reference")
    return pid


def person_id_for(patient: dict) -> tuple[int, str]:
    """(person_id, person_source_value). A numeric medical-record / patient identifier is used as
    is (MIMIC: Patient.identifier = subject_id); otherwise a stable 63-bit hash of Patient.id."""
    for ident in patient.get("identifier") or []:
        if not isinstance(ident, dict):
            continue
        value = str(ident.get("value") or "")
        system = str(ident.get("system") or "").lower()
        types = {c.get("code") for c in _codings(ident.get("type"))}
        if value.isdigit() and len(value) <= 18 and ("patient" in system or "MR" in types):
            return int(value), value
    return stable_person_id(patient["id"]), patient["id"]


def medication_fields(
    cc: object,
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(name, rxnorm, ndc, key_system, key_code) from a medication CodeableConcept. The name comes
    from MIMIC's medication-name coding, the text, or a display; key_* is the first other coding,
    used to look the name up among Medication resources (MIMIC formulary codes)."""
    name_code = rxnorm = ndc = display = None
    key: tuple[str | None, str | None] = (None, None)
    for c in _codings(cc):
        vocab = vocabulary_of_system(c.get("system"))
        if vocab == "RxNorm":
            rxnorm = rxnorm or str(c["code"]).strip()
        elif vocab == "NDC":
            ndc = ndc or str(c["code"]).strip()
        elif vocab == "NAME":
            name_code = name_code or str(c["code"])
        elif key == (None, None):
            key = (c.get("system"), str(c["code"]))
        display = display or c.get("display")
    text = cc.get("text") if isinstance(cc, dict) else None
    return name_code or text or display, rxnorm, ndc, key[0], key[1]


# ---------------------------------------------------------------------------------------------
# Per-resource extraction


def _stage_resource(res: dict, st: Stager, counts: Counter) -> None:
    rtype = res["resourceType"]
    if rtype in _CLINICAL_TYPES and _status_code(res.get("status")) in _BAD_STATUS:
        counts[f"dropped:{rtype}:status"] += 1
        return
    if rtype == "Patient":
        _patient(res, st, counts)
    elif rtype == "Encounter":
        _encounter(res, st)
    elif rtype == "Condition":
        _condition(res, st, counts)
    elif rtype == "Medication":
        _medication(res, st)
    elif rtype in _DRUG_TYPES:
        _drug(res, st, counts)
    elif rtype == "Observation":
        _observation(res, st, counts)
    else:
        counts[f"skipped:{rtype}"] += 1


def _patient(res: dict, st: Stager, counts: Counter) -> None:
    if not res.get("id"):
        raise _Malformed("Patient has no id")
    pid, source = person_id_for(res)
    death = parse_date(res.get("deceasedDateTime"))
    if res.get("deceasedBoolean") is True and death is None:
        counts["unmapped:death_without_date"] += 1
    st.add(
        "stg_patient",
        (res["id"], pid, source, res.get("gender"), parse_date(res.get("birthDate")), death),
    )


def _encounter(res: dict, st: Stager) -> None:
    if not res.get("id"):
        raise _Malformed("Encounter has no id")
    cls = res.get("class")
    if isinstance(cls, list):  # R5 writes a list of CodeableConcepts
        cls = (_codings(cls[0]) or [{}])[0] if cls else {}
    period = res.get("period") or {}
    st.add(
        "stg_encounter",
        (
            res["id"],
            _subject(res),
            parse_date(period.get("start")),
            parse_date(period.get("end")),
            cls.get("code") if isinstance(cls, dict) else None,
        ),
    )


def _condition(res: dict, st: Stager, counts: Counter) -> None:
    if _status_code(res.get("verificationStatus")) in _BAD_STATUS:
        counts["dropped:Condition:status"] += 1
        return
    patient = _subject(res)
    codes = mapped_codings(res.get("code"), CONDITION_VOCABS)
    if not codes:
        counts["unmapped:Condition:code_system"] += 1
        return
    date = _period_start(res, "onsetDateTime", "onsetPeriod", "recordedDate")
    enc = ref_id(res.get("encounter") or res.get("context"))
    for vocab, code in codes:
        st.add("stg_condition", (patient, enc, date, vocab, code))


def _medication(res: dict, st: Stager) -> None:
    if not res.get("id"):
        raise _Malformed("Medication has no id")
    mix = [
        ref_id(i.get("itemReference")) for i in res.get("ingredient") or [] if isinstance(i, dict)
    ]
    mix = [m for m in mix if m]
    if mix:
        for m in mix:
            st.add("stg_med_mix", (res["id"], m))
        return
    name, rxnorm, ndc, _, _ = medication_fields(res.get("code"))
    keys = [(c.get("system"), str(c["code"])) for c in _codings(res.get("code"))]
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            vocab = vocabulary_of_system(ident.get("system"))
            if vocab == "NAME":
                name = str(ident["value"])
            elif vocab == "NDC":
                ndc = ndc or str(ident["value"])
            keys.append((ident.get("system"), str(ident["value"])))
    st.add("stg_medication", (res["id"], name, rxnorm, ndc))
    if name:
        for system, code in keys:
            st.add("stg_med_key", (system, code, name))


def _drug(res: dict, st: Stager, counts: Counter) -> None:
    patient = _subject(res)
    start = _period_start(
        res,
        "effectiveDateTime",
        "effectivePeriod",
        "whenHandedOver",
        "whenPrepared",
        "authoredOn",
        "dateAsserted",
    )
    end = None
    for holder in (
        res.get("effectivePeriod"),
        (res.get("dispenseRequest") or {}).get("validityPeriod"),
    ):
        if isinstance(holder, dict):
            start = start or parse_date(holder.get("start"))
            end = end or parse_date(holder.get("end"))
    enc = ref_id(res.get("encounter") or res.get("context"))
    med_ref = ref_id(res.get("medicationReference"))
    name = rxnorm = ndc = ksys = kcode = None
    if med_ref is None:
        cc = res.get("medicationCodeableConcept")
        if not isinstance(cc, dict):
            counts[f"unmapped:{res['resourceType']}:no_medication"] += 1
            return
        name, rxnorm, ndc, ksys, kcode = medication_fields(cc)
    st.add("stg_drug", (patient, enc, start, end, med_ref, name, rxnorm, ndc, ksys, kcode))


def _quantity(obj: object) -> tuple[float | None, str | None]:
    if isinstance(obj, dict) and isinstance(obj.get("value"), (int, float)):
        return float(obj["value"]), obj.get("unit") or obj.get("code")
    return None, None


def _observation(res: dict, st: Stager, counts: Counter) -> None:
    patient = _subject(res)
    date = _period_start(res, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    enc = ref_id(res.get("encounter") or res.get("context"))
    categories = {c["code"] for cat in res.get("category") or [] for c in _codings(cat)}
    staged = 0
    for part in [res, *[c for c in res.get("component") or [] if isinstance(c, dict)]]:
        codes = mapped_codings(part.get("code"), _OBS_VOCAB_ORDER)
        if not codes:
            continue
        vocab, code = min(codes, key=lambda vc: _OBS_VOCAB_ORDER.index(vc[0]))
        value, unit = _quantity(part.get("valueQuantity"))
        is_meas = bool(
            categories & {"laboratory", "vital-signs"} or value is not None or vocab == "MIMIC_LAB"
        )
        st.add("stg_obs", (patient, enc, date, vocab, code, value, unit, int(is_meas)))
        staged += 1
    if not staged:
        counts["unmapped:Observation:code_system"] += 1


# ---------------------------------------------------------------------------------------------
# Conversion


def convert_fhir(paths: list[Path], con: duckdb.DuckDBPyConnection) -> None:
    """Stage every resource of ``paths`` and build the OMOP tables in ``con``."""
    if not paths:
        raise MiglinkError("no FHIR files (.ndjson, .ndjson.gz, Bundle .json) found")
    st = Stager(con, STAGING)
    counts: Counter = Counter()
    for path in paths:
        bad = 0
        first: tuple[int, str] | None = None
        for lineno, res in iter_resources(path):
            counts[f"resources:{res['resourceType']}"] += 1
            try:
                _stage_resource(res, st, counts)
            except _Malformed as e:
                bad += 1
                first = first or (lineno, str(e))
        if bad:
            raise MiglinkError(
                f"FHIR file {path}: {bad} malformed resource(s); first at line {first[0]}: {first[1]}",
                table=str(path),
                n_rows=bad,
            )
    st.close()
    build_tables(con, counts)
    for t in STAGING:
        con.execute(f"DROP TABLE {t}")
    write_report(con, "fhir", sorted(counts.items()))
