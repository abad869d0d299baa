"""The stage cache of resumable runs: finished stages' counts under a key of data, study,
engine and version (JSON and Parquet only, in a private folder)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from miglink.errors import MiglinkError

#: A stage-cache key: the first 20 hex digits of a sha256 (see :func:`cache_key`).
_KEY_CHARS = set("0123456789abcdef")


class StageCache:
    """Finished stages of a run, under a key of data fingerprint, study hash, engine and version.

    A run killed part-way and started again reuses every stage that finished. The folder is
    private (0700, never world-readable even briefly: the stages hold ungated counts) and holds
    JSON and Parquet only (:mod:`miglink.cachefmt`), so a planted file can at worst be ignored
    and its stage recomputed, never executed. Each stage file is written atomically, so a kill
    never leaves a half-written one. Older keys under the same base (a stale cache of a killed
    run on other data or another study) are removed on opening. ``StageCache(None)`` caches
    nothing.
    """

    def __init__(
        self,
        root: Path | None,
        on_reuse: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.on_reuse = on_reuse
        self.reused: list[str] = []
        if root is not None:
            _private_dir(root.parent)
            for old in root.parent.iterdir():  # stale caches: another key under this base
                if old.name != root.name and _is_key(old.name) and not old.is_symlink():
                    import shutil

                    shutil.rmtree(old, ignore_errors=True)
            _private_dir(root)

    @property
    def key(self) -> str:
        return "" if self.root is None else self.root.name

    def _path(self, name: str) -> Path | None:
        return None if self.root is None else self.root / f"{name}.json"

    def complete(self, names) -> bool:
        return self.root is not None and all(self._path(n).exists() for n in names)  # type: ignore[union-attr]

    def get(self, name: str, compute: Callable[[], object]):
        from miglink.cachefmt import CacheFormatError, dump, load

        if self.root is not None and self._path(name).exists():  # type: ignore[union-attr]
            try:
                value = load(self.root, name, self.key)
            except CacheFormatError:  # damaged or planted: recomputed
                pass
            else:
                self.reused.append(name)
                if self.on_reuse:
                    self.on_reuse(name)
                return value
        value = compute()
        if self.root is not None:
            try:
                dump(value, self.root, name, self.key)
            except TypeError:  # a value this format does not cover: recomputed next time
                self._path(name).unlink(missing_ok=True)  # type: ignore[union-attr]
        return value

    def remove(self) -> None:
        """Delete this cache (and its base folder, once empty)."""
        import shutil

        if self.root is None:
            return
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            self.root.parent.rmdir()
        except OSError:
            pass


def _is_key(name: str) -> bool:
    return len(name) == 20 and set(name) <= _KEY_CHARS


def _private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 (no window in which it is readable by others), or make sure
    an existing one is a real folder of this user, and private."""
    import os

    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise MiglinkError(f"cannot create the stage cache {path}: {e.strerror}") from None
    st = os.lstat(path)
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise MiglinkError(
            f"the stage cache {path} is not a folder of this user; remove it or use --no-resume"
        )
    os.chmod(path, 0o700)


def cache_key(fingerprint: str, study_hash: str, engine: str) -> str:
    """The cache key of a run: data, study, engine, miglink version, cache format and the code.

    The code's own hash is part of it because a design's counts can change meaning between two
    commits of one version (e.g. a new stratifier): a cache is only ever reused by the code that
    wrote it."""
    import hashlib

    from miglink import __version__
    from miglink.cachefmt import FORMAT

    raw = f"{fingerprint}|{study_hash}|{engine}|{__version__}|{FORMAT}|{code_fingerprint()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


@cache
def code_fingerprint() -> str:
    """sha256 over miglink's source files (path and content), read once per process."""
    import hashlib

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()
