"""D5 SCCS in a null world where migraine encounters start NSAID courses (event-dependent exposure).

Bars and seed fixed here before the first run of this file (the windows were chosen on the
reasoning in docs/protocol.md, "D5 SCCS", and one look at a 50,000-person world of seed 1001,
which this file does not use): 60,000 persons, seed 61, nothing planted, and
``{event_dependent_drug: nsaids, start_probability: 0.3, delay_days: 3}`` (30% of encounters start
an NSAID course 0-3 days later; the drug has no effect on encounters).

- The mechanism bites: the SCCS as it was before issue 15 (risk from the start day, the
  pre-exposure window -30..-1 taken out of the baseline) gives an NSAID IRR >= 1.3.
- miglink's key NSAID IRR lies within 0.88-1.05: unbiased but for the small within-person bias
  towards 1 of recurrent events whose exposure depends on earlier events (about 0.94 expected;
  docs/protocol.md), and its pre-exposure row (the diagnostic) has a CI above 1 with the key
  row's note saying that encounters lead to starts.
- The drugs the option does not touch are unchanged: the methotrexate, hydroxychloroquine and
  TNF-inhibitor key CIs hold 1.

Measured on the first run (2026-12-01): NSAID key IRR 0.922 (0.895-0.950), pre-exposure IRR 6.6
(the same world without the option: 0.965 (0.925-1.007)); every bar met but the last for TNF
inhibitors, key IRR 1.33 (1.04-1.70). The option draws its random numbers after the encounters
and touches only NSAID records, so the TNF eras and the encounters, and hence that estimate, are
the same in the world of this seed without the option (checked: 1.33 (1.04-1.70)): a chance miss of the null world itself (three
95% CIs all holding 1 fail together about one time in seven), not the mechanism under test. It is
kept visible as a strict xfail rather than the bar or the seed changed.
"""

from __future__ import annotations

import warnings

import pytest

from miglink.claims.model import load_study
from miglink.designs import d5_drugs
from miglink.designs.d5_sccs import drug_eras, sccs_intervals
from miglink.designs.d5_sccs_counts import sccs_data
from miglink.stats.sccs import sccs_fit

N, SEED = 60_000, 61
SCENARIO = {
    "baseline": None,
    "effects": [{"event_dependent_drug": "nsaids", "start_probability": 0.3, "delay_days": 3}],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.study import study_concept_sets
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("sccs_ed") / "cdm"
    generate(N, SEED, out, scenario=SCENARIO)
    study, _ = load_study()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ft = build_features(open_cdm(out), study, study_concept_sets(study))
        tasks = [t for t in d5_drugs.tasks(study) if t.options["kind"] == "sccs"]
        res = d5_drugs.estimate(d5_drugs.count(ft, tasks), tasks, study.settings)
    return ft, {(r["analysis"], r["role"] == "secondary"): r for r in res.rows}


def test_the_naive_sccs_is_biased(world):
    """Risk from day 0 and the pre-exposure days out of the baseline: the old windows."""
    ft, _ = world
    persons, drugs, events = sccs_data(ft, ["nsaids"])
    eras = drug_eras(drugs[drugs["set_id"] == "nsaids"])
    iv = sccs_intervals(persons, eras, events, risk_start=0)
    iv = iv[iv.groupby("person")["events"].transform("sum") > 0]
    est = sccs_fit(iv, age_col=None)  # not age adjusted: the bias is not about age
    assert est["risk"].estimate >= 1.3


def test_miglink_sccs_is_unbiased_and_flags_the_dependence(world):
    _, rows = world
    key, pre = rows[("h7_nsaid_sccs", False)], rows[("h7_nsaid_sccs", True)]
    assert 0.88 <= key["estimate"] <= 1.05, key["estimate"]
    assert pre["ci_low"] > 1
    assert "encounters lead to starts" in key["note"]


@pytest.mark.parametrize(
    "hyp",
    [
        "h7_mtx_sccs",
        "h7_hcq_sccs",
        pytest.param(
            "h7_tnf_sccs",
            marks=pytest.mark.xfail(strict=True, reason="chance miss of seed 61 (docstring)"),
        ),
    ],
)
def test_untouched_drugs_hold_the_null(world, hyp):
    _, rows = world
    key = rows[(hyp, False)]
    assert key["ci_low"] <= 1.0 <= key["ci_high"]
