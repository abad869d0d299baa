"""Find CDM table files in a folder or a zip: any case, ``2b_`` prefix, CSV / TSV / Parquet."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from miglink.errors import MiglinkError

_SUFFIXES = (".csv.gz", ".tsv.gz", ".txt.gz", ".csv", ".tsv", ".txt", ".parquet")
#: MIMIC-IV's OMOP copy prefixes vocabulary files with ``2b_`` (its load-order step).
_PREFIX = re.compile(r"^(?:\d+[a-z]?_)")


@dataclass(frozen=True)
class TableFile:
    table: str  # canonical lower-case table name
    path: Path
    format: str  # "csv" | "parquet"


def table_name_of(path: Path) -> tuple[str, str] | None:
    """(canonical table name, format) for a table file name, or None if it is not one."""
    name = path.name.lower()
    for suf in _SUFFIXES:
        if name.endswith(suf):
            stem = name[: -len(suf)]
            fmt = "parquet" if suf == ".parquet" else "csv"
            return _PREFIX.sub("", stem), fmt
    return None


def _skip(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def discover(folder: Path) -> dict[str, TableFile]:
    """Map table name -> file for every table file under ``folder`` (searched recursively).

    A table found twice (say as CSV and as Parquet) is an error naming both files, because
    silently picking one could analyse the wrong data.
    """
    found: dict[str, TableFile] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or _skip(p, folder):
            continue
        tn = table_name_of(p)
        if tn is None:
            continue
        table, fmt = tn
        if table in found:
            raise MiglinkError(
                f"table '{table}' is present twice under {folder}: "
                f"{found[table].path.relative_to(folder)} and {p.relative_to(folder)}; keep one",
                table=table,
            )
        found[table] = TableFile(table, p, fmt)
    return found


def _zip_digest(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def unzip_to_cache(path: Path, cache_dir: Path | None) -> Path:
    """Extract a zip of table files (skipping ``__MACOSX/``) into a cache folder, once.

    The folder name carries a digest of the zip's path, size and mtime, so a changed zip is
    extracted afresh; extraction goes to a temporary sibling renamed into place, so an
    interrupted extraction never looks complete.
    """
    base = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "miglink"
    target = base / f"unzipped-{path.stem}-{_zip_digest(path)}"
    if target.is_dir():
        return target
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=base))
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or not parts or parts[0] == "__MACOSX":
                    continue
                if any(p in ("..", "") or p.startswith("/") for p in parts):
                    raise MiglinkError(f"zip {path.name} has an unsafe entry {info.filename!r}")
                if table_name_of(Path(info.filename)) is None:
                    continue
                dest = tmp.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except zipfile.BadZipFile as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MiglinkError(f"{path} is not a readable zip file: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
