"""D10 count on generated CDMs: one PS per comparison, aggregates only, reasons without cohorts."""

from __future__ import annotations

import pytest

from miglink.claims.model import load_study
from miglink.designs import d10_comparative as d10
from miglink.designs import d10_count


@pytest.fixture(scope="module")
def indication(tmp_path_factory):
    """(study, features, counts, fits) of a 20k-person world with confounding by indication."""
    from miglink.concepts import load_concept_sets
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("ind") / "cdm"
    scenario = {
        "description": "confounding by indication (test)",
        "baseline": None,
        "confounding_by_indication": {"ms_ifn_vs_ga": {"hr": 2.0}, "ra_tnf_vs_mtx": {"hr": 1.0}},
    }
    generate(persons=20_000, seed=7107, out=out, scenario=scenario)
    study, _ = load_study()
    ft = build_features(open_cdm(out), study, load_concept_sets())
    fits = []
    real = d10_count.fit_propensity

    def counting(*a, **k):
        fits.append(a[0].shape)
        return real(*a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(d10_count, "fit_propensity", counting)
    try:
        counts = d10.count(ft, d10.tasks(study))
    finally:
        mp.undo()
    return study, ft, counts, fits


def test_one_propensity_model_per_comparison(indication):
    _s, _ft, counts, fits = indication
    assert len(fits) == 2  # two comparisons, 23 outcomes each
    ps = counts.frame("ps").set_index("comparison")
    assert (ps["reason"] == "").all()
    assert (ps["equipoise"] > 0.2).all() and (ps["auc"] > 0.6).all()
    summ = counts.frame("summary")
    assert len(summ) == 2 * 23 and summ["comparison"].nunique() == 2


def test_counts_are_aggregates_without_person_ids(indication):
    _s, _ft, counts, _f = indication
    for name, frame in counts.frames.items():
        assert "person_id" not in frame.columns, name
        assert not [c for c in frame.columns if "row" in str(c)], name
    risk = counts.frame("risk")
    assert set(risk.columns) >= {"stratum", "treatment", "time", "events", "censored"}


def test_attrition_has_the_indication_and_adjustment_steps(indication):
    _s, _ft, counts, _f = indication
    att = counts.frame("attrition")
    mig = att[(att["comparison"] == "ms_ifn_vs_ga") & (att["outcome"] == "migraine")]
    steps = list(mig["description"])
    assert steps[1] == "Indication recorded on or before index"
    assert steps[-1] == "Matched on the propensity score"
    assert (mig["target_persons"].diff().dropna() <= 0).all()


def test_exposures_are_not_covariates_and_markers_balance(indication):
    study, ft, counts, _f = indication
    bal = counts.frame("balance")
    comp = next(c for c in study.comparisons if c.id == "ms_ifn_vs_ga")
    excluded = d10_count.exposure_concepts(ft, comp)
    concepts = set(bal["covariate_id"] // 1000)
    assert not concepts & excluded
    b = bal[bal["comparison"] == "ms_ifn_vs_ga"]
    top = b.reindex(b["smd_before"].abs().sort_values(ascending=False).index).head(3)
    assert (top["smd_before"].abs() > 0.2).all()  # the planted indication markers
    assert (top["smd_after"].abs() < 0.15).all()


def test_no_cohorts_is_a_reason_not_an_error(tiny):
    study, ft = tiny  # the default world: no glatiramer, no MS new users
    tasks = d10.tasks(study)
    counts = d10.count(ft, tasks)
    ps = counts.frame("ps")
    assert len(ps) == 2 and (ps["reason"] != "").all()
    res = d10.estimate(counts, tasks, study.settings)
    assert len(res.rows) == len(tasks)
    assert all(r["not_analysed_reason"] or r["note"] for r in res.rows)
