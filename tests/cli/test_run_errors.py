"""CLI end to end: each user-error class gives one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "miglink.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _one_clear_line(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    err = p.stderr.strip()
    assert err.startswith("miglink: error:"), err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


def test_missing_path(tmp_path):
    p = _run("run", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    _one_clear_line(p, "nope")
    assert not (tmp_path / "out").exists()


def test_unreadable_data(tmp_path):
    d = tmp_path / "cdm"
    d.mkdir()
    (d / "person.csv").write_text("this is not,a cdm\n1,2\n")
    p = _run("run", "--data", str(d), "--out", str(tmp_path / "out"))
    _one_clear_line(p)
    assert not (tmp_path / "out").exists()


def test_bad_study_file(tmp_path, synthetic_cdm):
    bad = tmp_path / "study.yaml"
    bad.write_text(
        "name: x\nclaims: [{id: 12, title: t, statement: s}]\nnegative_controls: [a]\nautoimmune: [b]\n"
    )
    p = _run(
        "run", "--data", str(synthetic_cdm), "--out", str(tmp_path / "out"), "--study", str(bad)
    )
    _one_clear_line(p, "study file")
    assert not (tmp_path / "out").exists()


def test_study_file_not_yaml(tmp_path, synthetic_cdm):
    bad = tmp_path / "study.yaml"
    bad.write_text("name: [unclosed\n")
    p = _run(
        "run", "--data", str(synthetic_cdm), "--out", str(tmp_path / "out"), "--study", str(bad)
    )
    _one_clear_line(p, "not valid YAML")


def test_unknown_engine(tmp_path, synthetic_cdm):
    p = _run(
        "run", "--data", str(synthetic_cdm), "--out", str(tmp_path / "out"), "--engine", "oracle"
    )
    _one_clear_line(p, "engine")


def test_bad_min_cell(tmp_path, synthetic_cdm):
    p = _run("run", "--data", str(synthetic_cdm), "--out", str(tmp_path / "out"), "--min-cell", "0")
    _one_clear_line(p, "min-cell")


def test_debug_shows_traceback(tmp_path):
    p = _run("--debug", "run", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2
    assert "Traceback" in p.stderr
