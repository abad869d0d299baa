"""CLI end to end on a synthetic CDM: the run writes every artefact and prints the verdicts."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from miglink.designs.rows import results_columns

REQUIRED = [
    "claim",
    "hypothesis",
    "design",
    "exposure",
    "outcome",
    "stratum",
    "n_exposed",
    "n_unexposed",
    "events_exposed",
    "events_unexposed",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "cal_ci_low",
    "cal_ci_high",
    "cal_p_value",
    "mdrr",
    "diagnostics_pass",
    "verdict",
]  # issue 4, item 6


def test_results_schema_has_required_columns():
    assert set(REQUIRED) <= set(results_columns())


def test_run_json_output(synthetic_run):
    """``miglink run --json`` (the session's run: tests/conftest.py synthetic_run) prints the
    claims and writes every artefact."""
    out = synthetic_run
    doc = json.loads((out.parent / "run_stdout.json").read_text())
    assert [c["id"] for c in doc["claims"]] == list(range(1, 10))
    for name in (
        "results.parquet",
        "results.csv",
        "results.json",
        "claims.json",
        "calibration.json",
        "run.json",
    ):
        assert (out / name).exists(), name
    res = pd.read_parquet(out / "results.parquet")
    assert set(REQUIRED) <= set(res.columns)
    claims = json.loads((out / "claims.json").read_text())["claims"]
    allowed = {"supported", "contradicted", "no evidence", "inconclusive", "not analysed"}
    assert all(c["verdict"] in allowed for c in claims)
    assert all(h["verdict"] in allowed | {""} for c in claims for h in c["hypotheses"])


def test_python_api_returns_results_table(tmp_path):
    import miglink
    from miglink.synth import generate

    generate(persons=3_000, seed=11, out=tmp_path / "cdm")  # the whole default study, small
    result = miglink.run_study(tmp_path / "cdm")
    assert isinstance(result, miglink.StudyResult) and not result.trusted
    df = result.results  # gated, as results.parquet
    assert isinstance(df, pd.DataFrame)
    assert set(REQUIRED) <= set(df.columns)
    assert (df["role"] == "negative_control").sum() >= 20
    assert df["hypothesis"].notna().sum() >= 20


def test_report_command_rerenders_from_artefacts(tmp_path, synthetic_run):
    out = tmp_path / "again.html"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "miglink.cli.main",
            "report",
            "--run",
            str(synthetic_run),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    html = out.read_text()
    assert "<html" in html.lower() and "Claim 9" in html


def test_report_command_missing_run(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "miglink.cli.main", "report", "--run", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and p.stderr.startswith("miglink: error: run directory not found")
