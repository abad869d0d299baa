"""A corpus of hostile output targets, caches, locks and operating-system failures (issue 13).

Each case is answered by exit code 2 and exactly one line on stderr naming the path, with no
traceback and no "internal error"; afterwards the case's whole folder is byte-identical (every
file, link and mode hashed before and after): no user file touched, no partial artefact, no lock
and no cache left behind. Refusals happen before any computation, so most cases are instant.

Tests run as root, which ignores file modes: the permission cases run miglink in a subprocess
that drops to 'nobody' after importing (the interpreter lives under /root, closed to nobody).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from miglink.cli.main import main

NOBODY = 65534


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A 2,000-person synthetic CDM (the study runs on it in seconds) and one finished run."""
    from miglink.study import run_study
    from miglink.synth import generate

    root = tmp_path_factory.mktemp("hostile")
    cdm = root / "cdm"
    generate(persons=2_000, seed=1, out=cdm)
    run = root / "run"
    run_study(cdm, run, report=False, resume=False)
    return {"cdm": cdm, "run": run}


def _link_copy(src: Path, dst: Path) -> Path:
    """A copy of a folder by hard links (instant; identical bytes)."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, mode and content hash (files) or target (links)."""
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid)
            elif not stat.S_ISREG(st.st_mode):  # a FIFO or device: never read (it would block)
                out[rel] = ("special", st.st_mode, st.st_ino)
            else:
                out[rel] = (
                    "file",
                    stat.S_IMODE(st.st_mode),
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                )
    return out


@dataclass
class Case:
    argv: list[str]
    needle: str  # the path the one-line message must name
    runner: str = "inproc"  # inproc | nobody | fsize
    hold_lock: Path | None = None
    check_paths: list[Path] = field(default_factory=list)  # outside ws, must stay as they are


CASES: dict[str, Callable[[Path, dict], Case]] = {}


def case(fn: Callable[[Path, dict], Case]) -> Callable[[Path, dict], Case]:
    CASES[fn.__name__] = fn
    return fn


def _run(data, out, *extra) -> list[str]:
    return ["run", "--data", str(data), "--out", str(out), "--no-report", "--quiet", *extra]


# --- --out and --data ---------------------------------------------------------------------
@case
def out_is_data(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, d), str(d))


@case
def out_is_data_dot(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, f"{d}/."), str(d))


@case
def out_is_data_trailing_slash(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, f"{d}/"), str(d))


@case
def out_is_data_via_dotdot(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    (ws / "other").mkdir()
    return Case(_run(d, f"{ws}/other/../data"), "data")


@case
def out_parent_of_data(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, ws), str(ws))


@case
def out_grandparent_of_data(ws, t):
    (ws / "a" / "b").mkdir(parents=True)
    d = _link_copy(t["cdm"], ws / "a" / "b" / "data")
    return Case(_run(d, ws / "a"), str(ws / "a"))


@case
def out_inside_data(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, d / "out"), str(d / "out"))


@case
def out_deep_inside_data(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    return Case(_run(d, d / "x" / "y"), str(d / "x" / "y"))


@case
def out_symlink_to_data(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    (ws / "link").symlink_to(d)
    return Case(_run(d, ws / "link"), str(ws / "link"))


@case
def data_via_symlink_out_is_real_folder(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    (ws / "dlink").symlink_to(d)
    return Case(_run(ws / "dlink", d), str(d))


@case
def out_inside_data_through_symlink(ws, t):
    d = _link_copy(t["cdm"], ws / "data")
    (ws / "dlink").symlink_to(d)
    return Case(_run(d, ws / "dlink" / "out"), str(ws / "dlink" / "out"))


def _zip(cdm: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for f in sorted(cdm.glob("*.parquet")):
            z.write(f, f.name)
    return target


@case
def out_is_the_data_zip(ws, t):
    z = _zip(t["cdm"], ws / "cdm.zip")
    return Case(_run(z, z), str(z))


@case
def out_holds_the_data_zip(ws, t):
    (ws / "z").mkdir()
    z = _zip(t["cdm"], ws / "z" / "cdm.zip")
    return Case(_run(z, ws / "z"), str(ws / "z"))


# --- existing targets ---------------------------------------------------------------------
@case
def out_existing_file(ws, t):
    (ws / "notes.txt").write_text("my notes\n")
    return Case(_run(t["cdm"], ws / "notes.txt"), str(ws / "notes.txt"))


@case
def out_under_a_file(ws, t):
    (ws / "notes.txt").write_text("my notes\n")
    return Case(_run(t["cdm"], ws / "notes.txt" / "run"), str(ws / "notes.txt"))


@case
def out_home_like_folder(ws, t):
    home = ws / "home"
    (home / "Documents").mkdir(parents=True)
    (home / ".ssh").mkdir()
    (home / ".bashrc").write_text("export X=1\n")
    (home / "Documents" / "thesis.docx").write_bytes(os.urandom(2048))
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    return Case(_run(t["cdm"], home), str(home))


@case
def out_one_foreign_file(ws, t):
    (ws / "o").mkdir()
    (ws / "o" / "a.txt").write_text("a")
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def out_one_hidden_file(ws, t):
    (ws / "o").mkdir()
    (ws / "o" / ".env").write_text("TOKEN=x\n")
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def out_only_an_empty_subfolder(ws, t):
    (ws / "o" / "sub").mkdir(parents=True)
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def out_user_file_named_like_an_artefact(ws, t):
    (ws / "o").mkdir()
    (ws / "o" / "results.csv").write_text("my,own\n1,2\n")
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def previous_run_plus_user_file(ws, t):
    o = _copy(t["run"], ws / "o")
    (o / "notes.txt").write_text("what I saw\n")
    return Case(_run(t["cdm"], o), str(o))


@case
def previous_run_plus_user_subfolder(ws, t):
    o = _copy(t["run"], ws / "o")
    (o / "drafts").mkdir()
    (o / "drafts" / "paper.md").write_text("# draft\n")
    return Case(_run(t["cdm"], o), str(o))


@case
def previous_run_with_planted_symlink(ws, t):
    o = _copy(t["run"], ws / "o")
    (ws / "user.txt").write_text("precious\n")
    (o / "results.csv").unlink()
    (o / "results.csv").symlink_to(ws / "user.txt")
    return Case(_run(t["cdm"], o), str(o))


@case
def run_json_not_from_miglink(ws, t):
    (ws / "o").mkdir()
    (ws / "o" / "run.json").write_text(json.dumps({"name": "my pipeline"}))
    (ws / "o" / "data.csv").write_text("1\n")
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def broken_marker(ws, t):
    (ws / "o").mkdir()
    (ws / "o" / ".miglink").write_text("{not json")
    (ws / "o" / "file.txt").write_text("x")
    return Case(_run(t["cdm"], ws / "o"), str(ws / "o"))


@case
def out_symlink_to_empty_folder(ws, t):
    (ws / "empty").mkdir()
    (ws / "link").symlink_to(ws / "empty")
    return Case(_run(t["cdm"], ws / "link"), str(ws / "link"))


@case
def out_dangling_symlink(ws, t):
    (ws / "link").symlink_to(ws / "nowhere")
    return Case(_run(t["cdm"], ws / "link"), str(ws / "link"))


@case
def out_is_filesystem_root(ws, t):
    return Case(_run(t["cdm"], "/"), "/")


@case
def out_name_too_long(ws, t):
    out = ws / ("x" * 300)
    return Case(_run(t["cdm"], out), "xxxxxxxx")


@case
def out_in_proc(ws, t):
    return Case(_run(t["cdm"], "/proc/miglink-out"), "/proc")


@case
def out_in_sys(ws, t):
    return Case(_run(t["cdm"], "/sys/miglink-out"), "/sys")


# --- cache and lock -----------------------------------------------------------------------
@case
def cache_base_is_a_user_file(ws, t):
    (ws / ".run.miglink-cache").write_text("mine\n")
    return Case(_run(t["cdm"], ws / "run"), str(ws / ".run.miglink-cache"))


@case
def cache_base_symlink_to_user_folder(ws, t):
    user = ws / "user"
    user.mkdir()
    (user / "0123456789abcdef0123").mkdir()  # named like a cache key: must not be removed
    (user / "0123456789abcdef0123" / "keep.txt").write_text("keep\n")
    (ws / ".run.miglink-cache").symlink_to(user)
    return Case(_run(t["cdm"], ws / "run"), str(ws / ".run.miglink-cache"))


@case
def cache_base_of_another_user(ws, t):
    c = ws / ".run.miglink-cache"
    c.mkdir(mode=0o777)
    os.chown(c, NOBODY, NOBODY)
    return Case(_run(t["cdm"], ws / "run"), str(c))


@case
def concurrent_run_holds_the_lock(ws, t):
    return Case(_run(t["cdm"], ws / "run"), str(ws / "run"), hold_lock=ws / ".run.miglink-lock")


@case
def lock_path_is_a_folder(ws, t):
    (ws / ".run.miglink-lock").mkdir()
    return Case(_run(t["cdm"], ws / "run"), str(ws / ".run.miglink-lock"))


# --- inputs -------------------------------------------------------------------------------
@case
def data_missing(ws, t):
    return Case(_run(ws / "nope", ws / "run"), str(ws / "nope"))


@case
def study_is_a_folder(ws, t):
    (ws / "study").mkdir()
    return Case(_run(t["cdm"], ws / "run", "--study", str(ws / "study")), str(ws / "study"))


@case
def study_not_utf8(ws, t):
    (ws / "s.yaml").write_bytes(b"name: \xff\xfe study\n")
    return Case(_run(t["cdm"], ws / "run", "--study", str(ws / "s.yaml")), str(ws / "s.yaml"))


@case
def study_missing(ws, t):
    return Case(_run(t["cdm"], ws / "run", "--study", str(ws / "no.yaml")), str(ws / "no.yaml"))


# --- permissions (as nobody) ----------------------------------------------------------------
@case
def out_parent_read_only(ws, t):
    d = _link_copy(t["cdm"], ws / "data")  # readable by nobody
    (ws / "ro").mkdir()
    os.chmod(ws / "ro", 0o555)
    return Case(_run(d, ws / "ro" / "run"), str(ws / "ro"), runner="nobody")


@case
def out_deep_under_read_only(ws, t):
    d = _link_copy(t["cdm"], ws / "data")  # readable by nobody
    (ws / "ro").mkdir()
    os.chmod(ws / "ro", 0o555)
    return Case(_run(d, ws / "ro" / "a" / "b"), str(ws / "ro"), runner="nobody")


@case
def out_parent_not_searchable(ws, t):
    d = _link_copy(t["cdm"], ws / "data")  # readable by nobody
    (ws / "nx").mkdir()
    os.chmod(ws / "nx", 0o666)
    return Case(_run(d, ws / "nx" / "run"), str(ws / "nx"), runner="nobody")


@case
def previous_run_in_read_only_parent(ws, t):
    d = _link_copy(t["cdm"], ws / "data")  # readable by nobody
    (ws / "ro").mkdir()
    o = _copy(t["run"], ws / "ro" / "run")
    os.chmod(ws / "ro", 0o555)
    return Case(_run(d, o), str(ws / "ro"), runner="nobody")


@case
def data_unreadable(ws, t):
    d = _copy(t["cdm"], ws / "data")
    os.chmod(d, 0o700)
    (ws / "w").mkdir()
    os.chmod(ws / "w", 0o777)  # nobody may write the output, not read the data
    return Case(_run(d, ws / "w" / "run"), str(d), runner="nobody")


@case
def report_out_read_only(ws, t):
    run = _copy(t["run"], ws / "run")
    (ws / "ro").mkdir()
    os.chmod(ws / "ro", 0o555)
    argv = ["report", "--run", str(run), "--out", str(ws / "ro" / "r.html")]
    return Case(argv, str(ws / "ro"), runner="nobody")


# --- full disk (RLIMIT_FSIZE: writes past the limit fail with EFBIG) ------------------------
@case
def full_disk(ws, t):
    return Case(_run(t["cdm"], ws / "run"), str(ws), runner="fsize")


@case
def full_disk_while_writing_artefacts(ws, t):
    return Case(_run(t["cdm"], ws / "run", "--no-resume"), str(ws / "run"), runner="fsize")


# --- the other commands that write --out ----------------------------------------------------
@case
def synth_out_existing_file(ws, t):
    (ws / "f.txt").write_text("x")
    return Case(
        ["synth", "--persons", "50", "--seed", "1", "--out", str(ws / "f.txt")], str(ws / "f.txt")
    )


@case
def synth_out_user_folder(ws, t):
    (ws / "u").mkdir()
    (ws / "u" / "a.txt").write_text("x")
    return Case(["synth", "--persons", "50", "--seed", "1", "--out", str(ws / "u")], str(ws / "u"))


@case
def synth_out_symlink(ws, t):
    (ws / "u").mkdir()
    (ws / "link").symlink_to(ws / "u")
    argv = ["synth", "--persons", "50", "--seed", "1", "--out", str(ws / "link")]
    return Case(argv, str(ws / "link"))


@case
def pool_out_user_folder(ws, t):
    site = _copy(t["run"], ws / "site")
    (ws / "u").mkdir()
    (ws / "u" / "a.txt").write_text("x")
    return Case(["pool", str(site / "site_results.json"), "--out", str(ws / "u")], str(ws / "u"))


@case
def pool_out_is_a_site_run(ws, t):
    site = _copy(t["run"], ws / "site")
    return Case(["pool", str(site / "site_results.json"), "--out", str(site)], str(site))


@case
def report_out_user_file(ws, t):
    run = _copy(t["run"], ws / "run")
    (ws / "thesis.html").write_text("<html>mine</html>")
    argv = ["report", "--run", str(run), "--out", str(ws / "thesis.html")]
    return Case(argv, str(ws / "thesis.html"))


@case
def report_out_is_a_folder(ws, t):
    run = _copy(t["run"], ws / "run")
    (ws / "d").mkdir()
    return Case(["report", "--run", str(run), "--out", str(ws / "d")], str(ws / "d"))


@case
def out_is_dev_null(ws, t):
    return Case(_run(t["cdm"], "/dev/null"), "/dev/null")


@case
def out_is_a_fifo(ws, t):
    os.mkfifo(ws / "pipe")
    return Case(_run(t["cdm"], ws / "pipe"), str(ws / "pipe"))


@case
def report_default_over_user_file(ws, t):
    run = _copy(t["run"], ws / "run")
    (run / "report.html").write_text("<html>my own notes</html>")
    return Case(["report", "--run", str(run)], str(run / "report.html"))


@case
def pool_table_out_holds_the_table(ws, t):
    (ws / "t").mkdir()
    (ws / "t" / "est.csv").write_text(
        "study,estimate,ci_low,ci_high\na,1.2,1.0,1.5\nb,1.1,0.9,1.4\n"
    )
    argv = ["pool", "--table", str(ws / "t" / "est.csv"), "--measure", "OR", "--out", str(ws / "t")]
    return Case(argv, str(ws / "t"))


@case
def pool_table_out_is_the_table(ws, t):
    (ws / "est.csv").write_text("study,estimate,ci_low,ci_high\na,1.2,1.0,1.5\nb,1.1,0.9,1.4\n")
    argv = ["pool", "--table", str(ws / "est.csv"), "--measure", "OR", "--out", str(ws / "est.csv")]
    return Case(argv, str(ws / "est.csv"))


def test_corpus_size():
    assert len(CASES) >= 30, len(CASES)


# --- runners ------------------------------------------------------------------------------
_NOBODY_MAIN = f"""
import os, sys
# everything the refusal path needs, imported while still root (/root is closed to nobody)
import miglink.cli.main as m, miglink.study, miglink.outdir, miglink.io, miglink.outputs
import miglink.sources, miglink.sources.cdm, miglink.claims.model, miglink.report
os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})
sys.exit(m.main(sys.argv[1:]))
"""


def _env() -> dict[str, str]:
    """The subprocess imports the same miglink as this test (whatever the working folder)."""
    import miglink

    src = str(Path(miglink.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _fsize_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def _execute(c: Case, capsys) -> tuple[int, str, str]:
    if c.runner == "inproc":
        fd = None
        if c.hold_lock is not None:  # another writer: an flock on the lock file
            fd = os.open(c.hold_lock, os.O_RDWR | os.O_CREAT, 0o600)
            os.write(fd, b"424242\n")
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            capsys.readouterr()
            code = main(c.argv)
            cap = capsys.readouterr()
            return code, cap.out, cap.err
        finally:
            if fd is not None:
                os.close(fd)
                os.unlink(c.hold_lock)
    if c.runner == "nobody":
        cmd = [sys.executable, "-c", _NOBODY_MAIN, *c.argv]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd="/", env=_env())
    else:
        cmd = [sys.executable, "-m", "miglink.cli.main", *c.argv]
        p = subprocess.run(
            cmd, capture_output=True, text=True, timeout=600, preexec_fn=_fsize_limit, env=_env()
        )
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def workspace(tmp_path):
    """A folder nobody can reach (the nobody cases need /tmp, not pytest's 0700 root)."""
    ws = Path(tempfile.mkdtemp(prefix="miglink-hostile-", dir="/tmp"))
    os.chmod(ws, 0o755)
    yield ws
    for dirpath, dirs, _files in os.walk(ws):
        for d in dirs:
            p = Path(dirpath) / d
            if not p.is_symlink():
                os.chmod(p, 0o755)
    shutil.rmtree(ws, ignore_errors=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(name, tiny, workspace, capsys):
    ws = workspace
    c = CASES[name](ws, tiny)
    before = tree(ws)
    cdm_before = tree(tiny["cdm"])
    code, out, err = _execute(c, capsys)
    text = out + err
    assert code == 2, (code, text[-3000:])
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("miglink: error:"), err
    assert c.needle in lines[0], (c.needle, lines[0])
    assert tree(ws) == before, "a refused or failed command changed the folder"
    assert tree(tiny["cdm"]) == cdm_before


# --- the command line's mapping of operating-system, encoding and engine errors -------------
def _raising(exc: BaseException):
    def run_study(*a, **k):
        raise exc

    return run_study


@pytest.mark.parametrize(
    "exc, needle",
    [
        (OSError(28, "No space left on device", "/data/out/results.csv"), "/data/out/results.csv"),
        (PermissionError(13, "Permission denied", "/srv/cdm/person.csv"), "/srv/cdm/person.csv"),
        (IsADirectoryError(21, "Is a directory", "/srv/study.yaml"), "/srv/study.yaml"),
        (OSError(27, "File too large"), "File too large"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not utf-8 text"),
    ],
)
def test_os_and_encoding_errors_are_one_line(exc, needle, monkeypatch, capsys, tmp_path):
    import miglink.study

    monkeypatch.setattr(miglink.study, "run_study", _raising(exc))
    code = main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("miglink: error:"), err
    assert needle in err and "internal error" not in err, err


def test_engine_io_error_is_one_line(monkeypatch, capsys, tmp_path):
    import duckdb

    import miglink.study

    exc = duckdb.IOException('IO Error: Could not write file "/x/spill/t.tmp": No space left')
    monkeypatch.setattr(miglink.study, "run_study", _raising(exc))
    code = main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "/x/spill/t.tmp" in err, err


def test_a_real_bug_is_still_an_internal_error(monkeypatch, capsys, tmp_path):
    import miglink.study

    monkeypatch.setattr(miglink.study, "run_study", _raising(KeyError("analysis")))
    code = main(["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 1 and "internal error" in capsys.readouterr().err
