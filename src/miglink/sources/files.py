"""Find CDM table files in a folder or a zip: any case, ``2b_`` prefix, CSV / TSV / Parquet."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
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
    try:
        entries = sorted(folder.rglob("*"))
    except OSError as e:  # an unreadable sub-folder, a vanished file
        raise MiglinkError(f"cannot list {e.filename or folder}: {e.strerror or e}") from None
    for p in entries:
        if _skip(p, folder):
            continue
        tn = table_name_of(p)
        if tn is None or not (p.is_file() or p.is_dir()):
            continue
        if p.is_dir():  # e.g. a Spark-written person.parquet/ of part files
            raise MiglinkError(
                f"table '{tn[0]}' at {p} is a folder, not a file; miglink reads one file per table",
                table=tn[0],
            )
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
    """The sha256 of the zip's bytes (streamed): an extraction is reused only for the same
    content, never because a name, size and mtime happen to match."""
    from miglink.io import sha256_file

    return sha256_file(path)[:24]


#: A zip is refused before extraction when it declares more than this many uncompressed bytes
#: (``MIGLINK_MAX_UNZIP_BYTES`` overrides; 256 GiB is above any CDM extract we know of) or more
#: than the free space of the cache folder.
MAX_UNZIP_BYTES = 256 * 2**30
#: ... or when a member over 64 MiB inflates more than 1000-fold: DEFLATE's ceiling is about
#: 1032:1, so only a stream of one repeated byte (a zip bomb, not a table) gets there.
BOMB_RATIO = 1000
BOMB_MIN_BYTES = 64 * 2**20


def _max_unzip_bytes() -> int:
    raw = os.environ.get("MIGLINK_MAX_UNZIP_BYTES")
    if raw is None:
        return MAX_UNZIP_BYTES
    if not raw.isdigit():
        raise MiglinkError(f"MIGLINK_MAX_UNZIP_BYTES={raw!r} is not a whole number of bytes")
    return int(raw)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _members(zf: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    """The table-file members to extract, after refusing unsafe, linked, nested or bomb zips."""
    members, nested = [], []
    for info in zf.infolist():
        name = info.filename
        parts = Path(name.replace("\\", "/")).parts
        if not parts or parts[0] == "__MACOSX" or info.is_dir():
            continue
        if name.startswith(("/", "\\")) or any(p in ("..", "") for p in parts) or ":" in parts[0]:
            raise MiglinkError(f"zip {path} has an unsafe entry {name!r} (a path leaving the zip)")
        if _is_symlink(info):
            raise MiglinkError(
                f"zip {path} has a symbolic link entry {name!r}; zips of links are refused"
            )
        if info.flag_bits & 0x1:
            raise MiglinkError(
                f"zip {path} has an encrypted entry {name!r}; give an unencrypted zip"
            )
        if name.lower().endswith(".zip"):
            nested.append(name)
        if table_name_of(Path(name)) is None:
            continue
        if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(
            info.compress_size, 1
        ):
            raise MiglinkError(
                f"zip {path} entry {name!r} inflates {info.file_size // max(info.compress_size, 1)}-fold "
                f"to {info.file_size:,} bytes: refused as a zip bomb"
            )
        members.append(info)
    if not members:
        what = (
            f"only nested zips ({', '.join(nested)}); extract the inner zip"
            if nested
            else "no CDM table files (.csv, .csv.gz, .parquet)"
        )
        raise MiglinkError(f"zip {path} holds {what}")
    return members


def unzip_to_cache(path: Path, cache_dir: Path | None) -> Path:
    """Extract a zip of table files (skipping ``__MACOSX/``) into a cache folder, once.

    The folder name carries a digest of the zip's path, size and mtime, so a changed zip is
    extracted afresh; extraction goes to a temporary sibling renamed into place, so an
    interrupted extraction never looks complete. Unsafe member names, links, encrypted or nested
    zips and zip bombs (by declared size, ratio and the bytes actually written) are refused
    before anything is written.
    """
    if cache_dir is not None:
        return _unzip(path, Path(cache_dir))
    # no cache folder named: a private temporary one (0700), which the caller removes
    made = Path(tempfile.mkdtemp(prefix="miglink-unzip-"))
    try:
        return _unzip(path, made)
    except BaseException:
        shutil.rmtree(made, ignore_errors=True)
        raise


def _unzip(path: Path, base: Path) -> Path:
    target = base / f"unzipped-{path.stem}-{_zip_digest(path)}"
    if target.is_dir():
        return target
    tmp: Path | None = None
    try:
        with zipfile.ZipFile(path) as zf:
            members = _members(zf, path)
            declared = sum(i.file_size for i in members)
            limit = _max_unzip_bytes()
            base.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(base).free
            if declared > min(limit, free):
                why = (
                    "the limit MIGLINK_MAX_UNZIP_BYTES"
                    if limit <= free
                    else f"the free space in {base}"
                )
                raise MiglinkError(
                    f"zip {path} would inflate to {declared:,} bytes in {len(members)} files, more than "
                    f"{why} ({min(limit, free):,} bytes)"
                )
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=base))
            written = 0
            for info in members:
                dest = tmp.joinpath(*Path(info.filename.replace("\\", "/")).parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(2**20):
                        written += len(chunk)
                        if (
                            written > declared
                        ):  # zipfile stops at the declared size; belt and braces
                            raise MiglinkError(
                                f"zip {path} inflates past its declared size: refused"
                            )
                        out.write(chunk)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        _remove(tmp)
        raise MiglinkError(f"{path} is not a readable zip file: {e}") from None
    except RuntimeError as e:  # zipfile: "File ... is encrypted, password required"
        _remove(tmp)
        raise MiglinkError(f"{path} is not a readable zip file: {e}") from None
    except OSError as e:
        _remove(tmp)
        where = e.filename or path
        raise MiglinkError(
            f"cannot extract zip {path} to {base}: {e.strerror or e} ({where})"
        ) from None
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(tmp: Path | None) -> None:
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
