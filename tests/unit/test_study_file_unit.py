"""The study file's hypotheses are a union keyed on design: a misspelt contrast, subgroup or
key fails at load, every problem listed in one line."""

from __future__ import annotations

import pytest
import yaml

from miglink.claims.model import default_study_path, load_study
from miglink.errors import MiglinkError


def _study(tmp_path, edit) -> str:
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    hyps = {h["id"]: h for c in raw["claims"] for h in c["hypotheses"]}
    edit(hyps)
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MiglinkError) as e:
        load_study(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    return msg


def test_every_problem_is_listed_at_once(tmp_path):
    def edit(h):
        h["h4_aura_aps"]["contrast"] = "aura_vs_noaura"
        h["h6_sex_modification"]["subgroup"] = "gender"
        h["h1_crp"]["colour"] = "blue"
        del h["h8_dose_response"]["contrast"]

    msg = _study(tmp_path, edit)
    assert "4 problem(s)" in msg
    assert "D4.contrast" in msg and "aura_vs_no_aura" in msg
    assert "D3.subgroup" in msg and "women_reproductive_age" in msg
    assert "colour: unknown key" in msg
    assert "D8.contrast: Field required" in msg


def test_a_contrast_on_a_design_without_contrasts_fails(tmp_path):
    msg = _study(tmp_path, lambda h: h["h3_sle"].update(contrast="cns_vs_non_cns", design="D2"))
    assert "D2.contrast" in msg


def test_unknown_design_fails(tmp_path):
    msg = _study(tmp_path, lambda h: h["h3_sle"].update(design="D10"))
    assert "D10" in msg


def test_d3_needs_exactly_one_shape(tmp_path):
    msg = _study(tmp_path, lambda h: h["h6_sex_modification"].update(contrast="female_excess"))
    assert "exactly one of 'subgroup' or 'contrast'" in msg


def test_d4_subgroup_must_be_the_index_set(tmp_path):
    msg = _study(tmp_path, lambda h: h["h4_aps_stroke"].update(subgroup="sle"))
    assert "h4_aps_stroke" in msg and "index set" in msg


def test_the_bundled_study_loads():
    study, digest = load_study(None)
    assert len(study.hypotheses()) == 45 and len(digest) == 16
