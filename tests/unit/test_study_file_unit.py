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
        h["h6_sex_sle"]["subgroup"] = "gender"
        h["h1_crp"]["colour"] = "blue"
        del h["h8_dose_response"]["contrast"]

    msg = _study(tmp_path, edit)
    assert "4 problem(s)" in msg
    # each with its line, claim and hypothesis (1-based lines of the dumped file)
    assert "hypothesis h4_aura_aps (D4): contrast:" in msg and "aura_vs_no_aura" in msg
    assert "hypothesis h6_sex_sle (D3): subgroup:" in msg and "women_reproductive_age" in msg
    assert "claim 1 / hypothesis h1_crp (D6): unknown key 'colour'" in msg
    assert "hypothesis h8_dose_response (D8): contrast: Field required" in msg


def test_a_contrast_on_a_design_without_contrasts_fails(tmp_path):
    msg = _study(tmp_path, lambda h: h["h3_sle"].update(contrast="cns_vs_non_cns", design="D2"))
    assert "hypothesis h3_sle (D2): contrast: design D2 takes no 'contrast'" in msg


def test_unknown_design_fails(tmp_path):
    msg = _study(tmp_path, lambda h: h["h3_sle"].update(design="D10"))
    assert "hypothesis h3_sle (D10): comparison: Field required" in msg
    msg = _study(tmp_path, lambda h: h["h3_sle"].update(design="D99"))
    assert "hypothesis h3_sle (D99): Input tag 'D99'" in msg


def test_d3_needs_exactly_one_shape(tmp_path):
    msg = _study(tmp_path, lambda h: h["h6_sex_sle"].update(contrast="female_excess"))
    assert "exactly one of 'subgroup' or 'contrast'" in msg


def test_d4_takes_a_contrast_and_no_subgroup(tmp_path):
    """The vascular cohorts are on the whole population (``contrast: incident``); the former
    ``subgroup: migraine`` restriction is refused when the file is loaded."""
    msg = _study(tmp_path, lambda h: h["h4_aps_stroke"].update(subgroup="migraine"))
    assert "(D4): subgroup: design D4 takes no 'subgroup'" in msg
    msg = _study(tmp_path, lambda h: h["h4_aps_stroke"].pop("contrast"))
    assert "(D4): contrast: Field required" in msg


def test_the_bundled_study_loads():
    study, digest = load_study(None)
    # 52 + the two active-comparator hypotheses of claim 7 (design D10, issue 16) + claim 2's
    # eight MR hypotheses (migraine <-> SLE, MS, RA, Sjogren's; issue 19)
    assert len(study.hypotheses()) == 62 and len(digest) == 16


# --- positive controls, multiplicity families, D8's criterion, rule texts (issue 15) ----------


def test_the_bundled_study_declares_its_control_family_and_criterion():
    study, _ = load_study(None)
    hyps = {h.id: h for _c, h in study.hypotheses()}
    assert hyps["h7_ifn_sccs"].role == "positive_control"
    controls = [h.id for h in hyps.values() if h.role == "positive_control"]
    assert controls == ["h6_female_migraine", "h6_female_ai", "h7_ifn_sccs"]
    sccs = [h.id for h in hyps.values() if h.design == "D5" and h.contrast is None]
    d3 = [h.id for h in hyps.values() if h.design == "D3" and h.subgroup is not None]
    markers = [h.id for h in hyps.values() if h.design == "D6"]
    mr = [h.id for h in hyps.values() if h.design == "MR"]
    assert study.families() == {
        "claim2_mr": mr,
        "inflammatory_markers": markers,
        "d3_modification": d3,
        "sccs_drugs": sccs,
    }
    assert len(sccs) == 7 and len(d3) == 8 and len(markers) == 4
    assert hyps["h8_specificity"].percentile_criterion == 90.0
    assert all(c.rule_text for c in study.claims)  # every rule is written in the file


def test_a_role_is_test_or_positive_control(tmp_path):
    msg = _study(tmp_path, lambda h: h["h7_ifn_sccs"].update(role="control"))
    assert "hypothesis h7_ifn_sccs (D5): role:" in msg and "positive_control" in msg


def test_a_positive_control_predicts_a_direction(tmp_path):
    msg = _study(tmp_path, lambda h: h["h9_order"].update(role="positive_control"))
    assert "positive control needs a predicted direction" in msg


def test_a_family_of_one_is_a_misspelling(tmp_path):
    msg = _study(tmp_path, lambda h: h["h7_rtx_sccs"].update(family="sccs_drug"))
    assert "family needs at least two" in msg and "'sccs_drug' (h7_rtx_sccs)" in msg


def test_a_descriptive_hypothesis_has_no_family(tmp_path):
    msg = _study(tmp_path, lambda h: h["h7_moh_burden"].update(family="sccs_drugs"))
    assert "descriptive hypothesis has no p-value" in msg


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, 3])
def test_a_family_name_is_a_short_identifier(tmp_path, name):
    msg = _study(tmp_path, lambda h: h["h7_rtx_sccs"].update(family=name))
    assert "hypothesis h7_rtx_sccs (D5): family:" in msg


@pytest.mark.parametrize("value", [49, 100, "ninety"])  # null: the default (90)
def test_the_percentile_criterion_is_a_percentile(tmp_path, value):
    msg = _study(tmp_path, lambda h: h["h8_specificity"].update(percentile_criterion=value))
    assert "hypothesis h8_specificity (D8): percentile_criterion:" in msg


def test_the_percentile_criterion_belongs_to_the_phenome_percentile(tmp_path):
    msg = _study(tmp_path, lambda h: h["h8_dose_response"].update(percentile_criterion=90))
    assert "applies only to contrast phenome_percentile" in msg


def test_a_claim_without_rule_text_gets_the_standard_text(tmp_path):
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    del raw["claims"][2]["rule_text"]
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    study, _ = load_study(p)
    c3 = next(c for c in study.claims if c.id == 3)
    assert c3.rule == "majority" and c3.rule_description().startswith("supported if more than")


def test_a_dumped_study_validates_again():
    """Site files carry the study as model_dump(mode="json"); the pool validates it again."""
    from miglink.claims.model import Study

    study, _ = load_study(None)
    again = Study.model_validate(study.model_dump(mode="json"))
    assert again == study
