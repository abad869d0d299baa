"""Claim 2's genetic half in a whole run and in the report: a small synthetic world with
synthetic summary statistics (planted effect) given by ``sumstats``, and without files."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pandas as pd
import pytest

from miglink.genetics.synth import Scenario, simulate_sumstats
from miglink.report.genetics import genetics_section

EFFECT = 0.3

STUDY = """name: mr-small
claims:
  - id: 2
    title: "Shared genetic predisposition"
    statement: "Migraine and autoimmune disease share a genetic predisposition."
    rule: any
    hypotheses:
      - {id: h2_mr_migraine_to_sle, text: "t", design: MR, exposure: migraine, outcome: sle}
      - {id: h2_mr_sle_to_migraine, text: "t", design: MR, exposure: sle, outcome: migraine}
"""


@pytest.fixture(scope="module")
def mr_run(tmp_path_factory):
    """A 2 000-person synthetic CDM and an MR-only study run with --sumstats files (~9 s)."""
    from miglink.study import run_study
    from miglink.synth import generate

    base = tmp_path_factory.mktemp("mr")
    generate(persons=2_000, seed=11, out=base / "cdm")
    x, y = simulate_sumstats(Scenario(effect=EFFECT), seed=5)
    x.to_csv(base / "migraine.tsv", sep="\t", index=False)
    y.to_csv(base / "sle.tsv", sep="\t", index=False)
    (base / "study.yaml").write_text(STUDY, encoding="utf-8")
    files = {"migraine": str(base / "migraine.tsv"), "sle": str(base / "sle.tsv")}
    out = base / "run"
    run_study(base / "cdm", out, study=base / "study.yaml", resume=False, sumstats=files)
    return out


def test_run_writes_mr_rows_tables_and_report(mr_run):
    res = pd.read_csv(mr_run / "results.csv")
    key = res[res["hypothesis"] == "h2_mr_migraine_to_sle"].iloc[0]
    assert key["ci_low"] < math.exp(EFFECT) < key["ci_high"] and key["verdict"] == "supported"
    # the reverse direction: SLE's "instruments" are variants acting through migraine, which
    # Steiger sees (more variance explained in migraine than in SLE): unfit to decide
    rev = res[res["hypothesis"] == "h2_mr_sle_to_migraine"].iloc[0]
    assert "steiger_wrong_direction" in rev["diagnostics"] and rev["verdict"] == "inconclusive"
    inst = pd.read_parquet(mr_run / "mr_instruments.parquet")
    loo = pd.read_parquet(mr_run / "mr_leave_one_out.parquet")
    assert len(inst) >= 40 and {"beta_exposure", "ratio"} <= set(inst.columns)
    assert set(loo["left_out"]) <= set(inst["rsid"]) and "person_id" not in inst.columns
    notes = json.loads((mr_run / "run.json").read_text(encoding="utf-8"))["notes"]
    assert any(n.startswith("MR summary statistics: migraine=migraine.tsv (") for n in notes)
    html = (mr_run / "report.html").read_text(encoding="utf-8")
    section = html[html.index('class="mr-section"') :]
    section = section[: section.index("</div>\n")]
    for title in ("Scatter", "Funnel", "Leave one out"):
        assert title in section
    assert "mr_ivw_random_effects" not in section and "ivw random effects" in section
    assert "literature, not computed" not in section


def _art(rows: list[dict]) -> SimpleNamespace:
    return SimpleNamespace(results=pd.DataFrame(rows), tables={})


def test_no_files_shows_the_literature_marked_not_computed():
    row = {"design": "MR", "analysis": "h2_mr_migraine_to_sle", "hypothesis": "h2_mr_migraine_to_sle",
           "method": "not_analysed", "estimate": None, "ci_low": None, "ci_high": None,
           "not_analysed_reason": "no summary statistics given for migraine, sle"}  # fmt: skip
    claim = {
        "hypotheses": [{"id": "h2_mr_migraine_to_sle", "design": "MR", "verdict": "not analysed"}]
    }
    html = str(genetics_section(_art([row]), claim))
    assert "literature, not computed" in html and "no summary statistics given" in html
    # the literature table's genetic rows for claim 2 (data/literature/reference_estimates.csv)
    assert "Headache 2024" in html or "doi.org/10.1111/head.14723" in html
    assert "<svg" not in html


def test_claims_without_mr_have_no_section():
    assert genetics_section(_art([]), {"hypotheses": [{"id": "h", "design": "D7"}]}) is None
