"""Inputs beyond OMOP: FHIR R4 and MEDS folders converted (once, cached) to a DuckDB file of
canonical OMOP tables that the rest of miglink reads like any OMOP source.

``open_cdm`` calls :func:`convert_if_needed` before treating a folder as OMOP.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from miglink.errors import MiglinkError
from miglink.io import atomic_path, sha256_file
from miglink.sources.convert.common import CONVERTER_VERSION, connect_output
from miglink.sources.convert.fhir import convert_fhir, fhir_files
from miglink.sources.convert.meds import convert_meds, meds_files

__all__ = ["convert", "convert_if_needed", "detect_format", "fingerprint", "release"]

#: Private temporary folders holding this process's conversions (removed by :func:`release` or
#: at exit): they are person-level copies of the input.
_PRIVATE: set[Path] = set()

_OMOP_PERSON = ("person.csv", "person.csv.gz", "person.parquet", "person.tsv")
_MEDS_COLUMNS = {"subject_id", "time", "code"}


def detect_format(path: Path) -> str:
    """ "fhir" | "meds" | "omop" | "unknown", from the folder's files (cheap: names, parquet
    schemas and the first bytes of JSON files; nothing is parsed in full)."""
    path = Path(path)
    if not path.exists():
        return "unknown"
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".duckdb", ".db", ".zip")):
            return "omop"
        if name.endswith((".ndjson", ".ndjson.gz", ".json")):
            return "fhir"
        if name.endswith(".parquet") and _is_meds_parquet(path):
            return "meds"
        return "unknown"
    if _has_omop_person(path):
        return "omop"
    meta = path / "metadata" / "dataset.json"
    if meta.is_file() and "meds_version" in meta.read_text(encoding="utf-8", errors="replace"):
        return "meds"
    shards = meds_files(path)
    if shards and _is_meds_parquet(shards[0]):
        return "meds"
    if fhir_files(path):
        return "fhir"
    return "unknown"


def _has_omop_person(path: Path) -> bool:
    for d in [path, *[p for p in path.iterdir() if p.is_dir()]]:
        for p in d.iterdir():
            if p.is_file() and p.name.lower() in _OMOP_PERSON:
                return True
    return False


def _is_meds_parquet(path: Path) -> bool:
    try:
        return _MEDS_COLUMNS <= set(pq.read_schema(path).names)
    except Exception:
        return False


def _source_files(path: Path, fmt: str) -> list[Path]:
    files = fhir_files(path) if fmt == "fhir" else meds_files(path)
    if fmt == "meds" and path.is_dir() and (path / "metadata" / "codes.parquet").is_file():
        files = [*files, path / "metadata" / "codes.parquet"]
    return files


def fingerprint(path: Path, fmt: str) -> str:
    """Hash of the converter version, format, and each input file's relative name and content
    (sha256, streamed): a changed input gives a new conversion, however its mtime looks."""
    path = Path(path).resolve()
    h = hashlib.sha256(f"{CONVERTER_VERSION}|{fmt}".encode())
    for f in _source_files(path, fmt):
        rel = f.relative_to(path) if path.is_dir() else f.name
        h.update(f"|{rel}|{sha256_file(f)}".encode())
    return h.hexdigest()[:20]


def convert(path: Path, out: Path, fmt: str | None = None) -> Path:
    """Convert the FHIR or MEDS input at ``path`` into the DuckDB file ``out`` (written to a
    temporary file and renamed into place, so ``out`` is complete or absent)."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in ("fhir", "meds"):
        raise MiglinkError(f"{path}: not a FHIR or MEDS input (detected: {fmt})")
    with (
        atomic_path(out) as tmp,
        tempfile.TemporaryDirectory(prefix="miglink-spill-", dir=out.parent) as spill,
    ):
        tmp.unlink()  # DuckDB creates the file itself
        con = connect_output(tmp, Path(spill))
        try:
            if fmt == "fhir":
                convert_fhir(fhir_files(path), con)
            else:
                convert_meds(path, con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        os.chmod(tmp, 0o600)  # person-level rows: for this user only
    os.chmod(out, 0o600)
    return Path(out)


def convert_if_needed(path: Path, cache_dir: Path | None) -> Path | None:
    """If ``path`` is a FHIR (NDJSON / Bundle) or MEDS folder, convert it to a DuckDB file holding
    OMOP tables and return that file's path; otherwise return None.

    The converted file is a person-level copy of the input, so it is never world-readable: with
    ``cache_dir`` it is kept there (folder mode 0700, keyed by a content fingerprint, converted
    once); without, it goes to a private temporary folder (0700) that :func:`release` or the
    end of the process removes, also after an error.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("fhir", "meds"):
        return None
    if cache_dir is None:
        cache = Path(tempfile.mkdtemp(prefix="miglink-convert-"))  # mode 0700
        _PRIVATE.add(cache)
        try:
            out = convert(path, cache / f"{fmt}-{fingerprint(path, fmt)}.duckdb", fmt)
        except BaseException:
            release(cache)
            raise
        return out
    cache = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(cache, 0o700)
    except OSError as e:
        raise MiglinkError(f"cannot create the conversion cache {cache}: {e.strerror}") from None
    out = cache / f"{fmt}-{fingerprint(path, fmt)}.duckdb"
    if out.is_file():
        return out
    convert(path, out, fmt)
    _write_manifest(out, path, fmt)
    return out


def release(converted: Path) -> None:
    """Remove a private temporary conversion (the folder :func:`convert_if_needed` made for it);
    a file in a caller's ``cache_dir`` is kept."""
    converted = Path(converted)
    folder = converted if converted in _PRIVATE else converted.parent
    if folder in _PRIVATE:
        _PRIVATE.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)


@atexit.register
def _release_all() -> None:
    for folder in list(_PRIVATE):
        release(folder)


def _write_manifest(out: Path, source: Path, fmt: str) -> None:
    from miglink.io import write_json

    write_json(
        out.with_suffix(".json"),
        {"source": str(Path(source).resolve()), "format": fmt, "converter": CONVERTER_VERSION},
    )


def clear_cache(cache_dir: Path) -> None:
    """Remove converted files (a user command may expose this)."""
    for p in Path(cache_dir).glob("*.duckdb"):
        p.unlink(missing_ok=True)
        p.with_suffix(".json").unlink(missing_ok=True)
    if Path(cache_dir).is_dir() and not any(Path(cache_dir).iterdir()):
        shutil.rmtree(cache_dir, ignore_errors=True)
