"""Issue 18: run.json's data-quality counts are gated at the run's minimum cell, not at 10**9
(which printed every count as "<1000000000" in the report)."""

from __future__ import annotations

import pandas as pd
import pytest

import miglink.sources.checks as checks
import miglink.study as study_mod
from miglink.sources import open_cdm
from miglink.study import execute, load_study


@pytest.fixture(scope="module")
def tiny_cdm(tmp_path_factory):
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("dq") / "cdm"
    generate(persons=500, seed=3, out=out)
    return out


def test_data_quality_counts_gated_at_min_cell(tiny_cdm, monkeypatch):
    real = checks.run_checks

    def with_findings(cdm):
        rep = real(cdm)
        rep.warnings.append(checks.Finding("x", "person", "year_of_birth", 1234, "odd years"))
        rep.warnings.append(checks.Finding("y", "person", None, 3, "rare"))
        return rep

    monkeypatch.setattr(checks, "run_checks", with_findings)
    # the designs are not what this test is about: plan none, describe nothing
    monkeypatch.setattr(study_mod, "plan", lambda study: {})
    monkeypatch.setattr(
        study_mod,
        "_describe_features",
        lambda ft, study: {"prevalence": [], "notes": [], "resolution": {}},
    )
    monkeypatch.setattr(study_mod._Features, "get", lambda self: None)
    monkeypatch.setattr(study_mod, "apply_diagnostics", lambda t, st: t)
    monkeypatch.setattr(study_mod, "attach_verdicts", lambda t, s: (pd.DataFrame(), []))
    study, _ = load_study(None)
    run = execute(open_cdm(tiny_cdm), study, min_cell=5)
    found = {f["check"]: f for f in run.data_quality["warnings"]}
    assert found["x"]["n_rows"] == 1234  # shown: above the minimum cell
    assert found["y"]["n_rows"] == "<5"  # suppressed at the run's minimum cell
    assert "1000000000" not in str(run.data_quality)
