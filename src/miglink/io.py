"""Atomic writes: an artefact is either complete or absent, never half-written.

Every file goes to a temporary sibling first and is renamed into place (``os.replace`` is atomic on
POSIX within one file system).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from miglink.errors import MiglinkError


class WriteError(MiglinkError):
    """An operating-system error while writing an artefact (full disk, read-only folder, ...)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason


def _reason(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes, streamed (no file is read whole): what every
    content key (resume fingerprint, conversion and extraction caches) is built from."""
    import hashlib

    from miglink.errors import MiglinkError

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as e:
        raise MiglinkError(f"cannot read {path}: {e.strerror or e}") from None
    return h.hexdigest()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    An operating-system error (full disk, no permission) becomes a :class:`WriteError` naming
    ``path``; the temporary file is removed either way.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise WriteError(path, _reason(e)) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o644)  # artefacts are meant to be read and shared
        os.replace(tmp_path, path)
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        raise WriteError(path, _reason(e)) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def write_parquet(path: str | Path, df: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(path: str | Path, df: pd.DataFrame) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


@contextmanager
def atomic_dir(
    path: str | Path, kind: str = "output", marker: bool = True, private: bool = False
) -> Iterator[Path]:
    """Build a directory under a temporary name and move it into place when complete.

    ``path`` may be absent, empty, or a previous miglink output holding only files miglink wrote
    (see :mod:`miglink.outdir`); anything else is refused before the block runs. A replaced
    output loses only the files miglink recorded writing. The new folder carries the marker
    that lets a later run recognise it (``marker=False``: a folder recognised otherwise, as
    a synthetic population by its truth.json). ``private=True`` (person-level copies) keeps the
    folder at mode 0700. An operating-system error becomes a one-line
    :class:`WriteError` naming ``path``; nothing partial is left behind.
    """
    from miglink.outdir import refuse_unsafe_target, remove_known, write_marker

    path = Path(path)
    refuse_unsafe_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as e:
        raise WriteError(path, _reason(e)) from None
    try:
        yield tmp
        if marker:
            write_marker(tmp, kind)
        os.chmod(tmp, 0o700 if private else 0o755)
        if path.exists() or path.is_symlink():
            refuse_unsafe_target(path)  # again: it may have changed while the block ran
            hold = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            old = hold / path.name
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(old, path)  # put the previous output back
                hold.rmdir()
                raise
            remove_known(old)  # never raises: what cannot be removed stays in `hold`
            try:
                hold.rmdir()
            except OSError:  # something miglink did not write: left where it is
                pass
        else:
            os.rename(tmp, path)
    except WriteError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        rel = e.path.relative_to(tmp) if e.path.is_relative_to(tmp) else e.path.name
        raise WriteError(path, f"{e.reason} (writing {rel})") from None
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise WriteError(path, _reason(e)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _json_default(o: Any) -> Any:
    import datetime as _dt

    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, (_dt.date, _dt.datetime, pd.Timestamp)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
