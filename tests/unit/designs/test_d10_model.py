"""The study file's comparisons and D10 hypotheses: validated when loaded, every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from miglink.claims.model import load_study
from miglink.errors import MiglinkError
from miglink.study import plan

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "eunomia-gibleed" / "study.yaml"


def _write(tmp_path, raw: dict) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return p


def test_comparisons_only_study_plans_d10_alone():
    study, _ = load_study(EXAMPLE)
    assert not study.autoimmune and len(study.comparisons) == 1
    assert list(plan(study)) == ["D10"]


def test_default_study_has_the_two_active_comparator_hypotheses():
    study, _ = load_study()
    claim7 = next(c for c in study.claims if c.id == 7)
    d10 = {h.id: h for h in claim7.hypotheses if h.design == "D10"}
    assert set(d10) == {"h7_ifn_vs_ga_migraine", "h7_tnf_vs_mtx_migraine"}
    by_id = {c.id: c for c in study.comparisons}
    assert by_id["ms_ifn_vs_ga"].indication == "multiple_sclerosis"
    assert by_id["ra_tnf_vs_mtx"].comparator.concept_set == "methotrexate"
    assert "h7_newuser_immunomodulator" in {h.id for h in claim7.hypotheses}  # still beside


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["claims"][0]["hypotheses"][0].update(comparison="nope"), "no comparison"),
        (lambda r: r["claims"][0]["hypotheses"][0].update(outcome_cohort="x"), "has no outcome"),
        (lambda r: r["comparisons"][0].update(indication="not_a_set"), "not_a_set"),
        (lambda r: r["comparisons"].append(dict(r["comparisons"][0])), "unique"),
        (lambda r: r["comparisons"][0]["adjustment"].update(method="magic"), "method"),
        (
            lambda r: r["claims"][0]["hypotheses"].append(
                {"id": "x", "text": "t", "design": "D1", "exposure": "a", "outcome": "b"}
            ),
            "autoimmune",
        ),
    ],
)
def test_invalid_comparisons_fail_when_loaded(tmp_path, edit, message):
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(raw)
    with pytest.raises(MiglinkError, match=message):
        load_study(_write(tmp_path, raw))
