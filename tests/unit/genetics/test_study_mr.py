"""Claim 2's MR hypotheses in the study: rows, diagnostics and verdicts from synthetic summary
statistics (genetics/synth.py), without the record-based designs (pure, fast)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.attach import apply_diagnostics, attach_verdicts, label_key_rows
from miglink.claims.model import Study
from miglink.cli.run import parse_sumstats
from miglink.errors import MiglinkError
from miglink.genetics.hypotheses import check_sumstats, estimate_mr, with_sumstats
from miglink.genetics.synth import Scenario, simulate_sumstats
from miglink.stats.level import interval_level

EFFECT = 0.3  # planted causal effect (log OR per unit of exposure), as docs/genetics.md


def study_dict(genetics: dict | None = None, extra: list | None = None) -> dict:
    hyps = [
        {"id": "h2_mr_migraine_to_sle", "text": "t", "design": "MR", "exposure": "migraine",
         "outcome": "sle", "settings": {"p_threshold": 5e-8}},
        {"id": "h2_mr_ms_to_migraine", "text": "t", "design": "MR",
         "exposure": "multiple_sclerosis", "outcome": "migraine"},
    ]  # fmt: skip
    return {
        "name": "mr",
        "genetics": genetics or {},
        "claims": [
            {
                "id": 2,
                "title": "g",
                "statement": "s",
                "rule": "any",
                "hypotheses": hyps + (extra or []),
            }
        ],
    }


def write_pair(tmp_path, scenario: Scenario, seed: int) -> dict:
    x, y = simulate_sumstats(scenario, seed=seed)
    x.to_csv(tmp_path / "migraine.tsv", sep="\t", index=False)
    y.to_csv(tmp_path / "sle.tsv", sep="\t", index=False)
    return {"migraine": {"path": "migraine.tsv"}, "sle": {"path": "sle.tsv"}}


def verdicts(study: Study, study_path) -> tuple[pd.DataFrame, list[dict]]:
    with interval_level(study.settings.alpha, study.settings.power):
        result = estimate_mr(study, study_path)
        table = apply_diagnostics(pd.DataFrame(label_key_rows(result.rows)), study.settings)
        return attach_verdicts(table, study)


def key(table: pd.DataFrame, hid: str) -> pd.Series:
    return table[table["hypothesis"] == hid].iloc[0]


def test_planted_effect_is_covered_and_supported(tmp_path):
    study = Study.model_validate(study_dict(write_pair(tmp_path, Scenario(effect=EFFECT), 5)))
    table, claims = verdicts(study, tmp_path / "study.yaml")
    k = key(table, "h2_mr_migraine_to_sle")
    assert k["method"] == "mr_ivw_random_effects" and k["measure"] == "OR" and k["design"] == "MR"
    assert k["ci_low"] < math.exp(EFFECT) < k["ci_high"]
    assert k["ci_low"] > 1 and k["diagnostics_pass"] and k["verdict"] == "supported"
    assert k["direction"] == "forward" and "mean F" in k["note"]
    assert k[["n_exposed", "n_unexposed", "events_exposed", "events_unexposed"]].isna().all()
    secondary = set(table.loc[table["analysis"] == k["analysis"], "method"]) - {k["method"]}
    assert {"mr_egger", "mr_weighted_median", "mr_weighted_mode"} <= secondary
    c = claims[0]
    # the reverse hypothesis has no files: not analysed, and it does not vote
    assert key(table, "h2_mr_ms_to_migraine")["verdict"] == "not analysed"
    assert c["n_not_analysed"] == 1 and c["n_voting"] == 1 and c["verdict"] == "supported"


def test_null_effect_is_no_evidence(tmp_path):
    study = Study.model_validate(study_dict(write_pair(tmp_path, Scenario(effect=0.0), 6)))
    table, _ = verdicts(study, tmp_path / "s.yaml")
    k = key(table, "h2_mr_migraine_to_sle")
    assert k["ci_low"] < 1 < k["ci_high"] and k["mdrr"] < 2
    assert k["verdict"] == "no evidence"


def test_directional_pleiotropy_fails_the_diagnostic(tmp_path):
    planted = Scenario(effect=EFFECT, pleiotropy_mean=0.01, pleiotropy_sd=0.005)
    study = Study.model_validate(study_dict(write_pair(tmp_path, planted, 7)))
    table, _ = verdicts(study, tmp_path / "s.yaml")
    k = key(table, "h2_mr_migraine_to_sle")
    assert "egger_intercept_p<0.05" in k["diagnostics"] and k["verdict"] == "inconclusive"


def test_weak_instruments_fail_the_diagnostic(tmp_path):
    weak = Scenario(effect=EFFECT, weak_share=1.0, weak_range=(0.004, 0.006))
    d = study_dict(write_pair(tmp_path, weak, 8))
    d["claims"][0]["hypotheses"][0]["settings"] = {"p_threshold": 0.05}  # lets weak ones in
    table, _ = verdicts(Study.model_validate(d), tmp_path / "s.yaml")
    k = key(table, "h2_mr_migraine_to_sle")
    assert "mean_f<10" in k["diagnostics"] and not k["diagnostics_pass"]
    assert k["verdict"] != "supported"


def test_no_files_no_votes(tmp_path):
    study = Study.model_validate(study_dict())
    table, claims = verdicts(study, None)
    assert set(table["verdict"]) == {"not analysed"}
    assert table["not_analysed_reason"].str.startswith("no summary statistics given").all()
    assert claims[0]["n_voting"] == 0 and claims[0]["verdict"] == "not analysed"


def test_no_instrument_is_not_analysed(tmp_path):
    genetics = write_pair(tmp_path, Scenario(effect=EFFECT), 5)
    d = study_dict(genetics)
    d["claims"][0]["hypotheses"][0]["settings"] = {"p_threshold": 1e-300}
    table, _ = verdicts(Study.model_validate(d), tmp_path / "s.yaml")
    k = key(table, "h2_mr_migraine_to_sle")
    assert k["verdict"] == "not analysed" and "no exposure variant passes" in k["note"]


def test_sumstats_option_and_missing_file(tmp_path):
    write_pair(tmp_path, Scenario(), 5)
    study = with_sumstats(
        Study.model_validate(study_dict()),
        parse_sumstats([f"migraine={tmp_path / 'migraine.tsv'}", f"sle={tmp_path / 'sle.tsv'}"]),
    )
    assert set(study.genetics) == {"migraine", "sle"}
    check_sumstats(study)
    gone = with_sumstats(study, {"sle": str(tmp_path / "absent.tsv")})
    with pytest.raises(MiglinkError, match="summary statistics for 'sle' not found"):
        check_sumstats(gone)
    with pytest.raises(MiglinkError, match="expected ID=PATH"):
        parse_sumstats(["migraine"])


def test_validation():
    bad = study_dict(extra=[{"id": "x", "text": "t", "design": "MR", "exposure": "sle",
                             "outcome": "multiple_sclerosis"}])  # fmt: skip
    with pytest.raises(ValueError, match="exactly one of its exposure"):
        Study.model_validate(bad)
    typo = study_dict()
    typo["claims"][0]["hypotheses"][0]["settings"] = {"p_treshold": 1e-6}
    with pytest.raises(ValueError, match="p_treshold"):
        Study.model_validate(typo)
