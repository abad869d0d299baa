"""Output-folder safety: miglink never removes, replaces or writes into anything it did not make.

Rules for every ``--out`` (run, synth, pool):

- an existing file, a symbolic link, or a non-empty folder that is not a previous miglink output
  is refused;
- a previous miglink output (recognised by the :data:`MARKER` file miglink writes into it, or,
  for runs written before the marker existed, a ``run.json`` with miglink's own key) is replaced
  only if it holds nothing but files miglink wrote there; one foreign file and it is refused;
- ``--out`` equal to, inside, or above ``--data`` (symbolic links resolved) is refused;
- the folder that will hold ``--out`` must be writable, which is tried (a probe file created and
  removed) before any computation;
- one writer per ``--out`` at a time (:func:`out_lock`).

Every refusal is a :class:`~miglink.errors.MiglinkError` naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from miglink.errors import MiglinkError

#: The file miglink writes into every output folder it creates: its version and the files it wrote.
MARKER = ".miglink"

#: Artefacts of runs written before the marker existed (recognised by run.json's own key).
LEGACY_RUN_FILES = frozenset(
    {
        "attrition.parquet",
        "calibration.json",
        "claims.json",
        "curves.parquet",
        "prevalence.parquet",
        "report.html",
        "results.csv",
        "results.json",
        "results.parquet",
        "resultsDataModelSpecification.csv",
        "run.json",
        "run.log",
        "site_results.json",
        "pooled.json",
        "forest.svg",
    }
)


def _tree(path: Path) -> list[str]:
    """Every file and folder under ``path``, as relative POSIX paths (symbolic links not followed)."""
    out = []
    for root, dirs, files in os.walk(path):
        rel = Path(root).relative_to(path)
        for name in dirs + files:
            out.append((rel / name).as_posix())
    return out


def _marker_files(path: Path) -> set[str] | None:
    """The files miglink recorded writing into ``path``, or None if it is no miglink output."""
    marker = path / MARKER
    try:
        if marker.is_file() and not marker.is_symlink():
            files = json.loads(marker.read_text(encoding="utf-8")).get("files")
            if isinstance(files, list) and all(isinstance(f, str) for f in files):
                return {f for f in files if _inside(f)}
        run_json = path / "run.json"
        if run_json.is_file() and not run_json.is_symlink():
            if "miglink_version" in json.loads(run_json.read_text(encoding="utf-8")):
                return set(LEGACY_RUN_FILES)
        truth = path / "truth.json"  # a synthetic population (miglink synth writes no marker)
        if truth.is_file() and not truth.is_symlink():
            gen = json.loads(truth.read_text(encoding="utf-8")).get("generator")
            if isinstance(gen, str) and gen.startswith("miglink.synth"):
                return _synth_files()
    except (OSError, ValueError, AttributeError):
        return None
    return None


def _synth_files() -> set[str]:
    from miglink.synth.writer import CDM_TABLES, VOCAB_TABLES

    return {f"{t}.parquet" for t in CDM_TABLES + VOCAB_TABLES} | {"truth.json", "cdm.duckdb"}


def _inside(rel: str) -> bool:
    """A marker entry that names a path inside the folder (no '..', not absolute, no NUL)."""
    p = Path(rel)
    return bool(rel) and "\0" not in rel and not p.is_absolute() and ".." not in p.parts


def foreign_entries(path: Path) -> list[str] | None:
    """Entries of the folder ``path`` that miglink did not write; None if it is no miglink output.

    An empty folder has no foreign entries.
    """
    with os.scandir(path) as it:
        if next(it, None) is None:
            return []
    known = _marker_files(path)
    if known is None:  # no miglink output: refused without walking it (it may be '/')
        return None
    entries = _tree(path)
    known = known | {MARKER}
    dirs = {str(Path(f).parent.as_posix()) for f in known}
    foreign = []
    for e in entries:
        full = path / e
        if full.is_symlink():
            foreign.append(e)
        elif e not in known and not (full.is_dir() and e in dirs):
            if not (e == "report.html" and is_miglink_report(full)):  # `miglink report` wrote it
                foreign.append(e)
    return foreign


#: What every report.html miglink renders starts with (templates/report.html.j2).
REPORT_SIGNATURE = b'<meta name="generator" content="miglink '


def is_miglink_report(path: Path) -> bool:
    """Whether ``path`` is an HTML report miglink rendered (its generator tag, near the top)."""
    try:
        with open(path, "rb") as fh:
            return REPORT_SIGNATURE in fh.read(4096)
    except OSError:
        return False


def check_report_target(path: str | Path) -> Path:
    """``miglink report --out``: a new file, or a report miglink rendered before; never a folder,
    a symbolic link or another file."""
    path = Path(path)
    if path.is_symlink():
        raise MiglinkError(f"--out {path} is a symbolic link; give the real file")
    if path.is_dir():
        raise MiglinkError(f"--out {path} is a folder; give the report's file name")
    if path.exists() and not is_miglink_report(path):
        raise MiglinkError(f"--out {path} is an existing file that is not a miglink report")
    probe_writable(path.parent)
    return path


def write_marker(folder: Path, kind: str) -> None:
    """Record, inside ``folder``, that miglink made it and which files it wrote there."""
    from miglink import __version__

    files = sorted(e for e in _tree(folder) if (folder / e).is_file() and e != MARKER)
    (folder / MARKER).write_text(
        json.dumps({"miglink_version": __version__, "kind": kind, "files": files}, indent=1) + "\n",
        encoding="utf-8",
    )


def remove_known(folder: Path) -> None:
    """Remove from ``folder`` the files miglink recorded writing, then the folder if it is empty.

    Anything else stays where it is.
    """
    known = _marker_files(folder) or set()
    for f in sorted(known | {MARKER}):
        p = folder / f
        if p.is_file() and not p.is_symlink():
            try:
                p.unlink()
            except OSError:
                pass
    for e in sorted(_tree(folder), key=lambda s: -s.count("/")):
        p = folder / e
        if p.is_dir() and not p.is_symlink():
            try:
                p.rmdir()
            except OSError:
                pass
    try:
        folder.rmdir()
    except OSError:
        pass


def refuse_unsafe_target(path: Path, what: str = "--out") -> None:
    """Raise unless ``path`` may be created or replaced by a miglink output folder."""
    if path.is_symlink():
        raise MiglinkError(f"{what} {path} is a symbolic link; give the real folder")
    if path.exists() and not path.is_dir():
        raise MiglinkError(f"{what} {path} is an existing file, not a folder; choose another path")
    if path.is_dir():
        try:
            foreign = foreign_entries(path)
        except OSError as e:
            raise MiglinkError(f"{what} {path} cannot be read: {e.strerror}") from None
        if foreign is None:
            raise MiglinkError(
                f"{what} {path} is a non-empty folder that is not a miglink output "
                f"({len(os.listdir(path))} entries); choose a new or empty folder"
            )
        if foreign:
            raise MiglinkError(
                f"{what} {path} holds {len(foreign)} file(s) miglink did not write "
                f"(e.g. {foreign[0]}); move them or choose another folder"
            )


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def probe_writable(folder: Path, what: str = "--out") -> None:
    """Create and remove a probe file in the nearest existing ancestor of ``folder``."""
    folder = Path(os.path.abspath(folder))
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise MiglinkError(f"{what}: {base} is a file, not a folder")
    try:
        name_max = os.pathconf(base, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for part in Path(folder).relative_to(base).parts if folder != base else ():
        if len(os.fsencode(part)) > name_max:
            raise MiglinkError(f"{what}: the name {part[:40]}... is longer than {name_max} bytes")
    try:
        fd, probe = tempfile.mkstemp(prefix=".miglink-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise MiglinkError(f"{what}: cannot write in {base}: {e.strerror}") from None


def _local_path(data) -> Path | None:
    if isinstance(data, (str, os.PathLike)):
        s = os.fspath(data)
        if "://" in s and not Path(s).exists():
            return None
        return Path(s)
    return None


def check_out(
    out: str | Path, data=None, *, what: str = "--out", source: str = "the --data"
) -> Path:
    """Every check of an output folder that can be made before computing (see module doc).

    ``data`` is the input (a path, or anything else, which is not checked); ``source`` names it
    in messages."""
    path = Path(out)
    refuse_unsafe_target(path, what)
    src = _local_path(data)
    if src is not None and src.exists():
        rp, rd = path.resolve(), src.resolve()
        if rp == rd:
            raise MiglinkError(f"{what} {path} is {source} input itself; choose another folder")
        if rd in rp.parents:
            raise MiglinkError(f"{what} {path} is inside {source} input {src}")
        if rp in rd.parents:
            raise MiglinkError(f"{what} {path} contains {source} input {src}")
    probe_writable(path.parent if path.exists() else path, what)
    return path


def missing_parents(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, nearest first."""
    out = []
    p = Path(path).parent
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def remove_empty(folders: list[Path]) -> None:
    """Remove the given folders (nearest first) if they are empty; a failed run leaves none."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


@contextmanager
def guarded_out(out: str | Path, data=None) -> Iterator[Path]:
    """Check ``out`` (:func:`check_out`), lock it for this process, and, if the block fails,
    remove the folders that were created for it and left empty."""
    out = check_out(out, data)
    made = missing_parents(out)
    try:
        with out_lock(out):
            yield out
    except BaseException:
        remove_empty(made)
        raise


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.miglink-lock"


@contextmanager
def out_lock(out: str | Path, what: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on ``out`` while a run writes it; a second writer is refused.

    The lock is a ``flock`` on a file beside ``out`` holding the writer's pid: the kernel releases
    it when the process ends, however it ends, so a killed run never leaves a stale lock.
    """
    out = Path(out)
    lp = lock_path(out)
    try:
        lp.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MiglinkError(f"{what}: cannot create {lp.parent}: {e.strerror}") from None
    while True:
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise MiglinkError(f"{what}: cannot create the lock file {lp}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise MiglinkError(
                    f"{what} {out} is being written by another miglink process (pid {holder}); "
                    "wait for it or choose another folder"
                ) from None
            raise MiglinkError(f"{what}: cannot lock {lp}: {e.strerror}") from None
        # the file may have been removed by the previous holder between open and flock
        try:
            same = os.stat(lp, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield lp
    finally:
        try:
            os.unlink(lp)
        except OSError:
            pass
        os.close(fd)
