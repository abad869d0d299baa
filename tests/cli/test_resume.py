"""Resumable runs (issue 7): a run killed part-way restarts from its finished stages, and a killed
run never leaves a partial artefact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd


def _run_args(data, out, *extra: str) -> list[str]:
    """The `miglink run` command line of these tests."""
    cmd = [sys.executable, "-m", "miglink.cli.main", "run", "--data", str(data), "--out", str(out)]
    return [*cmd, *extra, "--no-report"]


def _start(data, out):
    return subprocess.Popen(
        _run_args(data, out),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def test_killed_run_resumes_from_finished_stages(tmp_path, synthetic_cdm):
    out = tmp_path / "run"
    cache_root = tmp_path / ".run.miglink-cache"
    p = _start(synthetic_cdm, out)
    deadline = time.time() + 600
    seen = ""
    try:
        while time.time() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            seen += line
            if "D2 cohorts" in line:  # D1 and D2 have finished and are cached
                os.killpg(p.pid, signal.SIGKILL)
                break
    finally:
        p.wait(timeout=60)
    assert "D2 cohorts" in seen, seen[-2000:]
    assert not out.exists(), "a killed run must not leave a partial output directory"
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".run.*.tmp"))
    cached = {f.name for f in cache_root.rglob("*.pkl")}
    assert {"check.pkl", "d1.pkl", "d2.pkl"} <= cached, cached
    assert not [f for f in cache_root.rglob("*") if f.name.endswith(".tmp")]

    again = subprocess.run(
        _run_args(synthetic_cdm, out, "--json"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    reused = [n for n in run["notes"] if n.startswith("reused finished stages")]
    assert reused and "d1" in reused[0] and "d2" in reused[0], run["notes"]
    assert not cache_root.exists(), "the stage cache is removed once the run has finished"

    fresh = tmp_path / "fresh"
    subprocess.run(
        _run_args(synthetic_cdm, fresh, "--json"),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    a = pd.read_csv(out / "results.csv")
    b = pd.read_csv(fresh / "results.csv")
    # same rows and values; floats to 1e-9 (DuckDB's parallel float sums may differ in the last bit)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
