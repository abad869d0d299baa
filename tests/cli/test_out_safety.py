"""--out safety where the command succeeds (issue 13): a previous miglink output is replaced and
only its own files go; nothing outside it is ever removed; a stale lock does not block; a second
concurrent run is refused while the first completes; FHIR conversions stay private and leave
nothing behind. The refusals are in test_hostile_out.py."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from miglink.cli.main import main

FHIR = "smart-bulk-fhir-10-patients"


@pytest.fixture(scope="module")
def tiny_cdm(tmp_path_factory, mini_study) -> tuple[Path, Path]:
    """(a 2k-person CDM, the one-hypothesis study): what a run does around the study needs a
    complete run, not every design."""
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("outsafety") / "cdm"
    generate(persons=2_000, seed=1, out=out)
    return out, mini_study


def _run(data: tuple[Path, Path], out, *extra) -> list[str]:
    cdm, study = data
    return ["run", "--data", str(cdm), "--out", str(out), "--study", str(study), "--no-report",
            "--quiet", *extra]  # fmt: skip


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "miglink.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def test_rerun_replaces_only_miglink_files(tmp_path, tiny_cdm):
    out = tmp_path / "run"
    assert main(_run(tiny_cdm, out)) == 0
    marker = json.loads((out / ".miglink").read_text())
    assert "results.csv" in marker["files"] and "run.json" in marker["files"]
    (tmp_path / "beside.txt").write_text("a user's file beside the output\n")
    assert main(_run(tiny_cdm, out)) == 0  # a previous miglink run: replaced
    assert (tmp_path / "beside.txt").read_text() == "a user's file beside the output\n"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["beside.txt", "run"], left  # no .old, .tmp, lock or cache left behind
    assert json.loads((out / "run.json").read_text())["data_fingerprint"]


def test_forged_marker_cannot_delete_outside(tmp_path, tiny_cdm):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "run"
    out.mkdir()
    files = ["../victim.txt", str(victim), "results.csv"]
    (out / ".miglink").write_text(json.dumps({"miglink_version": "x", "files": files}))
    assert main(_run(tiny_cdm, out)) == 0
    assert victim.read_text() == "precious\n"


def test_stale_lock_of_a_dead_run_does_not_block(tmp_path, tiny_cdm):
    (tmp_path / ".run.miglink-lock").write_text("999999\n")  # left by a killed run, unlocked
    assert main(_run(tiny_cdm, tmp_path / "run")) == 0
    assert not (tmp_path / ".run.miglink-lock").exists()


def test_legacy_run_without_marker_is_replaced(tmp_path, tiny_cdm):
    out = tmp_path / "run"
    assert main(_run(tiny_cdm, out)) == 0
    (out / ".miglink").unlink()  # as written before the marker existed
    assert main(_run(tiny_cdm, out)) == 0
    assert (out / ".miglink").is_file()


def test_report_into_a_run_then_rerun(tmp_path, tiny_cdm):
    out = tmp_path / "run"
    assert main(_run(tiny_cdm, out)) == 0
    assert main(["report", "--run", str(out)]) == 0
    assert main(["report", "--run", str(out)]) == 0  # its own report: rewritten
    assert main(_run(tiny_cdm, out)) == 0  # report.html is recognised as miglink's


def test_synth_into_a_previous_synth_folder(tmp_path):
    out = tmp_path / "cdm"
    assert main(["synth", "--persons", "50", "--seed", "1", "--out", str(out)]) == 0
    assert main(["synth", "--persons", "60", "--seed", "2", "--out", str(out)]) == 0
    assert json.loads((out / "truth.json").read_text())["persons"] == 60


def test_second_concurrent_run_is_refused(tmp_path, tiny_cdm):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "miglink.cli.main", *_run(tiny_cdm, out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / ".run.miglink-lock"
    deadline = time.time() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    second = _cli(*_run(tiny_cdm, out))
    first_err = first.communicate(timeout=600)[1]
    assert second.returncode == 2, second.stderr
    err = second.stderr.strip()
    assert len(err.splitlines()) == 1 and str(out) in err and "another miglink" in err, err
    assert f"pid {first.pid}" in err, err
    assert first.returncode == 0, first_err[-2000:]
    assert (out / "results.csv").is_file() and not lock.exists()


def test_killed_run_leaves_no_lock_in_the_way(tmp_path, tiny_cdm):
    out = tmp_path / "run"
    p = subprocess.Popen(
        [sys.executable, "-m", "miglink.cli.main", *_run(tiny_cdm, out)],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    lock = tmp_path / ".run.miglink-lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    assert main(_run(tiny_cdm, out)) == 0


def test_fhir_conversion_is_private_and_removed(tmp_path, shared_data):
    """The converted copy is person-level: 0700 folder, 0600 file, gone when the process ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = (
        "import gc, os, stat, sys\n"
        "from miglink.sources import open_cdm\n"
        "from miglink.sources.convert import _PRIVATE\n"
        f"cdm = open_cdm({str(shared_data / FHIR)!r})\n"
        "[d] = list(_PRIVATE)\n"
        "assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, oct(os.stat(d).st_mode)\n"
        "for f in d.iterdir():\n"
        "    assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, (f, oct(f.stat().st_mode))\n"
        "print(d)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert Path(p.stdout.strip()).parent == tmp
    assert not list(tmp.iterdir()), list(tmp.iterdir())  # removed at exit


def test_fhir_conversion_removed_when_the_cdm_goes(shared_data):
    import gc

    from miglink.sources import open_cdm
    from miglink.sources.convert import _PRIVATE

    before = set(_PRIVATE)
    cdm = open_cdm(shared_data / FHIR)
    [folder] = set(_PRIVATE) - before
    assert (folder / next(iter(os.listdir(folder)))).is_file()
    del cdm
    gc.collect()
    assert not folder.exists() and folder not in _PRIVATE


def test_person_level_copies_stay_private(tmp_path):
    """The Spark copy of the data is built with atomic_dir(private=True): never world-readable."""
    from miglink.io import atomic_dir, write_text

    with atomic_dir(tmp_path / "copy", private=True) as tmp:
        write_text(tmp / "person.parquet", "rows")
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o700
    with atomic_dir(tmp_path / "shared") as tmp:
        write_text(tmp / "results.csv", "x")
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755
