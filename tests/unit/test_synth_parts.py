"""Unit tests of the synthetic generator's parts: scenarios, vocabulary, helpers, CLI."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from miglink.concepts import load_concept_sets
from miglink.errors import MiglinkError
from miglink.synth import catalogue as cat
from miglink.synth import generate
from miglink.synth.model import _g, _ranges
from miglink.synth.scenario import load_scenario
from miglink.synth.truth import poisson_rr
from miglink.synth.vocab import build, tables

# ---------------------------------------------------------------- scenarios


def test_default_scenario_has_literature_sized_effects():
    s = load_scenario(None)
    hr = {(e.from_, e.to): e.hazard_ratio for e in s.hazard_effects()}
    assert 1.5 <= hr[("migraine", "multiple_sclerosis")] <= 2.0
    assert 1.5 <= hr[("migraine", "sle")] <= 2.0
    assert hr[("rheumatoid_arthritis", "migraine")] == pytest.approx(1.3)
    assert 2.0 <= hr[("antiphospholipid_syndrome", "ischaemic_stroke")] <= 3.0
    assert 2.0 <= s.drug_irr("interferon_beta") <= 3.0
    assert 1.1 <= s.marker_rgm("crp") <= 1.2
    assert s.family_or("autoimmune", "migraine") == pytest.approx(1.5)
    assert s.drug_irr("nsaids") == 1.0


def test_user_scenario_overrides_default_and_null_baseline_drops_it():
    s = load_scenario(
        {
            "effects": [
                {"from": "migraine", "to": "sle", "hazard_ratio": 2.0, "hazard_ratio_men": 1.0}
            ]
        }
    )
    e = [x for x in s.hazard_effects() if (x.from_, x.to) == ("migraine", "sle")]
    assert len(e) == 1 and e[0].hr(True) == 2.0 and e[0].hr(False) == 1.0
    assert len(s.effects) == len(load_scenario(None).effects)  # rest kept from the default
    null = load_scenario({"baseline": None, "effects": []})
    assert null.effects == ()
    assert null.drug_irr("interferon_beta") == 1.0 and null.marker_rgm("crp") == 1.0


def test_issue_example_scenario_validates(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        """
effects:
  - {from: migraine, to: multiple_sclerosis, hazard_ratio: 2.0}
  - {from: rheumatoid_arthritis, to: migraine, hazard_ratio: 1.4}
  - {from: migraine, to: sle, hazard_ratio: 2.0, hazard_ratio_men: 1.0}
  - {drug: interferon_beta, to: migraine_encounter, incidence_rate_ratio: 3.0}
  - {from: migraine, marker: crp, ratio_of_geometric_means: 1.2}
  - {family_history: autoimmune, to: migraine, odds_ratio: 1.5}
  - {from: antiphospholipid_syndrome, to: ischaemic_stroke, hazard_ratio: 3.0}
  - {from: migraine_with_aura, to: antiphospholipid_syndrome, hazard_ratio: 2.5}
baseline: default
"""
    )
    s = load_scenario(f)
    assert s.drug_irr("interferon_beta") == 3.0
    assert s.marker_rgm("crp") == 1.2


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"from": "migraine", "to": "nc_lipoma", "hazard_ratio": 2}, "to"),
        ({"from": "migrane", "to": "sle", "hazard_ratio": 2}, "from"),
        ({"from": "migraine", "to": "sle", "hazard_ratio": -1}, "hazard_ratio"),
        ({"drug": "aspirin", "to": "migraine_encounter", "incidence_rate_ratio": 2}, "drug"),
        ({"from": "migraine", "marker": "il6", "ratio_of_geometric_means": 1.2}, "marker"),
        ({"from": "migraine", "to": "sle", "hazard_ratio": 2, "colour": "red"}, "colour"),
    ],
)
def test_bad_entry_is_a_miglink_error_naming_entry_and_field(entry, field):
    with pytest.raises(MiglinkError) as e:
        load_scenario({"effects": [{"from": "migraine", "to": "sle", "hazard_ratio": 2}, entry]})
    msg = str(e.value)
    assert "effects[1]" in msg and f"'{field}'" in msg


def test_scenario_structure_errors(tmp_path):
    with pytest.raises(MiglinkError, match="same condition"):
        load_scenario(
            {"effects": [{"from": "migraine_with_aura", "to": "migraine", "hazard_ratio": 2}]}
        )
    with pytest.raises(MiglinkError, match="needs one of the fields"):
        load_scenario({"effects": [{"from": "migraine", "to": "sle"}]})
    with pytest.raises(MiglinkError, match="repeats effects"):
        load_scenario({"effects": [{"from": "migraine", "to": "sle", "hazard_ratio": 2}] * 2})
    with pytest.raises(MiglinkError, match="baseline"):
        load_scenario({"baseline": "literature"})
    with pytest.raises(MiglinkError, match="not found"):
        load_scenario(tmp_path / "missing.yaml")


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(MiglinkError, match="persons"):
        generate(0, 1, tmp_path / "x")
    with pytest.raises(MiglinkError, match="format"):
        generate(10, 1, tmp_path / "x", format="csv")


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_ids_unique_real_where_known_and_honest():
    v = build()
    t = tables(v)
    concept = t["concept"].to_pandas()
    assert concept.concept_id.is_unique
    ids = dict(
        zip(
            zip(concept.vocabulary_id, concept.concept_code, strict=True),
            concept.concept_id,
            strict=True,
        )
    )
    # real OMOP ids listed in the concept-set files
    assert ids[("SNOMED", "37796009")] == 318736
    assert ids[("SNOMED", "4473007")] == 381549
    assert ids[("SNOMED", "24700007")] == 374919
    assert ids[("SNOMED", "83901003")] == 254443
    invented = concept[concept.concept_id >= cat.INVENTED_BASE]
    real = concept[concept.concept_id < cat.INVENTED_BASE]
    assert len(invented) > 400 and len(real) >= 15
    # an invented standard concept is 'SNOMED' only with a SNOMED code the concept-set files give
    snomed_codes = {
        i.code for s in load_concept_sets().values() for i in s.items if i.vocabulary == "SNOMED"
    }
    inv_snomed = invented[invented.vocabulary_id == "SNOMED"]
    assert set(inv_snomed.concept_code) <= snomed_codes
    # ICD-10-CM codes look like codes and are never standard
    icd = concept[concept.vocabulary_id == "ICD10CM"]
    assert icd.concept_code.map(
        lambda c: bool(re.match(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$", c))
    ).all()
    assert icd.standard_concept.isna().all()
    assert len(icd) >= 1 + 20 + 22 + 200


def test_every_source_concept_maps_to_one_standard_concept():
    t = tables(build())
    concept = t["concept"].to_pandas().set_index("concept_id")
    rel = t["concept_relationship"].to_pandas()
    maps = rel[rel.relationship_id == "Maps to"]
    src = concept[concept.standard_concept.isna()].index
    per = maps[maps.concept_id_1.isin(src)].groupby("concept_id_1").concept_id_2.nunique()
    assert set(per.index) == set(src) and (per == 1).all()
    assert (concept.loc[maps.concept_id_2, "standard_concept"] == "S").all()


def test_migraine_subtypes_descend_from_migraine_and_atc_reaches_ingredients():
    t = tables(build())
    anc = t["concept_ancestor"].to_pandas()
    concept = t["concept"].to_pandas()
    under_migraine = set(anc[anc.ancestor_concept_id == 318736].descendant_concept_id)
    assert {318736, 381549} <= under_migraine and len(under_migraine) == 5
    atc = concept[concept.vocabulary_id == "ATC"]
    assert len(atc) == len(cat.ATC_CLASSES)
    for cid in atc.concept_id:
        desc = set(
            anc[
                (anc.ancestor_concept_id == cid) & (anc.min_levels_of_separation > 0)
            ].descendant_concept_id
        )
        kinds = set(concept[concept.concept_id.isin(desc)].concept_class_id)
        assert desc and kinds == {"Ingredient"}


def test_background_has_200_conditions_and_22_negative_controls():
    assert len(cat.background_diseases()) == 200
    ncs = cat.negative_control_diseases()
    assert len(ncs) >= 20
    sets = load_concept_sets()
    assert {d.key for d in ncs} <= set(sets)
    assert set(cat.AUTOIMMUNE_KEYS) <= set(sets)


# ---------------------------------------------------------------- helpers


def test_person_time_by_band_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 99.9, 500)
    sex = rng.integers(0, 2, 500)
    got = _g(x, sex)
    want = np.zeros((2, 20))
    for xi, si in zip(x, sex, strict=True):
        for b in range(20):
            want[si, b] += min(max(xi - 5 * b, 0.0), 5.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_ranges_expands_start_and_count():
    owner, val = _ranges(np.array([10, 0, 5]), np.array([2, 0, 3]))
    assert owner.tolist() == [0, 0, 2, 2, 2]
    assert val.tolist() == [10, 11, 5, 6, 7]


def test_poisson_rate_ratio_single_stratum_equals_closed_form():
    # One stratum: the Poisson MLE rate ratio is (e1/p1)/(e0/p0) with SE sqrt(1/e1 + 1/e0)
    # (Rothman, Greenland & Lash, Modern Epidemiology 3rd ed., ch. 14, Wald interval for the IRR).
    r = poisson_rr([30], [1000.0], [20], [2000.0])
    assert r["estimate"] == pytest.approx(3.0, rel=1e-6)
    se = math.sqrt(1 / 30 + 1 / 20)
    assert r["ci_low"] == pytest.approx(3.0 * math.exp(-1.959964 * se), rel=1e-5)
    assert r["ci_high"] == pytest.approx(3.0 * math.exp(1.959964 * se), rel=1e-5)


def test_poisson_rate_ratio_common_ratio_across_strata():
    # Two strata with different baseline rates and the same ratio 2: the adjusted ratio is 2.
    r = poisson_rr([20, 80], [100.0, 100.0], [10, 40], [100.0, 100.0])
    assert r["estimate"] == pytest.approx(2.0, rel=1e-6)
    assert poisson_rr([0], [1.0], [0], [1.0])["estimate"] is None


# ---------------------------------------------------------------- CLI


def test_cli_synth_writes_folder_and_reports_user_errors(tmp_path, capsys):
    from miglink.cli.main import main

    out = tmp_path / "cdm"
    assert main(["synth", "--persons", "300", "--seed", "1", "--out", str(out)]) == 0
    assert (out / "truth.json").exists() and (out / "person.parquet").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("effects:\n  - {from: migraine, to: sle, hazard_ratio: 0}\n")
    code = main(
        [
            "synth",
            "--persons",
            "10",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "x"),
            "--effects",
            str(bad),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "effects[0]" in err and "hazard_ratio" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- event-dependent exposure

ED = {"event_dependent_drug": "nsaids", "start_probability": 0.5, "delay_days": 2}


def test_event_dependent_exposure_is_validated_and_not_a_drug_effect():
    s = load_scenario({"baseline": None, "effects": [ED]})
    (e,) = s.event_dependent()
    assert (e.event_dependent_drug, e.start_probability, e.delay_days) == ("nsaids", 0.5, 2)
    assert e.course_days == (7, 30) and s.drug_irr("nsaids") == 1.0
    assert load_scenario(None).event_dependent() == []  # off by default
    bad = [
        ({**ED, "event_dependent_drug": "aspirin"}, "event_dependent_drug"),
        ({**ED, "start_probability": 1.5}, "start_probability"),
        ({**ED, "course_days": [30, 7]}, "course_days"),
    ]
    for entry, field in bad:
        with pytest.raises(MiglinkError, match=field):
            load_scenario({"baseline": None, "effects": [entry]})


def test_encounters_start_the_courses_and_truth_json_records_it(tmp_path):
    """Every course the option adds starts 0..delay_days after an encounter of its person; the
    encounters are the same as without the option (no causal effect); truth.json says so."""
    import json

    import pandas as pd

    kw = dict(scenario={"baseline": None, "effects": [ED]})
    generate(4000, 3, tmp_path / "ed", **kw)
    generate(4000, 3, tmp_path / "plain", scenario={"baseline": None, "effects": []})
    truth = json.loads((tmp_path / "ed" / "truth.json").read_text())
    (rec,) = truth["event_dependent_exposure"]
    assert rec["drug"] == "nsaids" and rec["causal_effect"] is False
    assert 0.4 * rec["encounters"] < rec["courses_started"] <= 0.5 * rec["encounters"] * 1.2
    assert (
        json.loads((tmp_path / "plain" / "truth.json").read_text())["event_dependent_exposure"]
        == []
    )

    def read(kind: str, table: str) -> pd.DataFrame:
        return pd.read_parquet(tmp_path / kind / f"{table}.parquet")

    ed, plain = read("ed", "drug_exposure"), read("plain", "drug_exposure")
    assert len(ed) - len(plain) == rec["courses_started"]
    enc = read("ed", "condition_occurrence")
    enc_plain = read("plain", "condition_occurrence")
    assert len(enc) == len(enc_plain)  # the encounters do not depend on the courses
    # each added course starts 0..2 days after one of its person's records
    key = ["person_id", "drug_exposure_start_date"]
    added = ed.merge(plain[key].drop_duplicates(), on=key, how="left", indicator=True)
    added = added[added["_merge"] == "left_only"]
    pairs = added[key].merge(enc[["person_id", "condition_start_date"]], on="person_id")
    lag = (
        pd.to_datetime(pairs["drug_exposure_start_date"])
        - pd.to_datetime(pairs["condition_start_date"])
    ).dt.days
    ok = pairs.assign(ok=lag.between(0, 2)).groupby(key)["ok"].any()
    assert len(ok) > 100 and ok.all()
