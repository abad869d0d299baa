"""Every verdict rule, on rows made by a design's estimator from hand-made counts.

D1's ``estimate`` runs on literal stratified 2x2 tables (no engine): the pipeline's calibration,
diagnostics and verdict steps then give each hypothesis the verdict the protocol's rule says
(PROTOCOL.md, 'Verdicts'). The branches of the rules are also tested one by one on literal rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from miglink.calibrate import calibrate_groups
from miglink.claims.attach import apply_diagnostics, attach_verdicts, label_key_rows
from miglink.claims.model import Claim, Study, load_study
from miglink.claims.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    MIXED,
    NO_EVIDENCE,
    NOT_ANALYSED,
    POSITIVE_CONTROL,
    SUPPORTED,
    claim_verdict,
    hypothesis_verdict,
    tally,
)
from miglink.designs import d1_prevalence as d1
from miglink.designs.base import Counts

STUDY, _ = load_study(None)
ST = STUDY.settings


def _table(exposure: str, outcome: str, a: int, b: int, c: int, d: int, k: int = 4) -> list[dict]:
    """``k`` identical strata of one 2x2 table (so the MH OR is a d / (b c))."""
    return [
        dict(exposure=exposure, outcome=outcome, sex="F", age_band=30 + 5 * i, util_q=1,
             obs_band=1, a=a, b=b, c=c, d=d)
        for i in range(k)
    ]  # fmt: skip


def _study(hyps: list[dict]) -> Study:
    raw = STUDY.model_dump(mode="json")
    raw["claims"] = [{"id": 3, "title": "t", "statement": "s", "rule": "majority",
                      "hypotheses": hyps}]  # fmt: skip
    return Study.model_validate(raw)


def _verdicts(study: Study, rows: list[dict]) -> dict[str, str]:
    counts = Counts("D1", frames={"tables": pd.DataFrame(rows)})
    tasks = d1.tasks(study)
    res = d1.estimate(counts, tasks, study.settings)
    calibrate_groups(res.controls, study.settings.min_negative_controls)
    table = apply_diagnostics(pd.DataFrame(label_key_rows(res.rows)), study.settings)
    _, claims = attach_verdicts(table, study)
    return {h["id"]: h["verdict"] for c in claims for h in c["hypotheses"]}


def test_d1_estimates_reach_every_verdict():
    rng = np.random.default_rng(3)
    rows = []
    for nc in STUDY.negative_controls:  # null negative controls: OR near 1, small spread
        c = int(rng.integers(1760, 1840))  # 10% of 18000 unexposed: OR 1 within sampling error
        rows += _table("migraine", nc, 200, 1800, c, 18000 - c)
    rows += _table("migraine", "sle", 400, 1600, 1000, 17000)  # OR 4.25
    rows += _table("migraine", "multiple_sclerosis", 50, 1950, 1000, 17000)  # OR 0.44
    rows += _table("migraine", "rheumatoid_arthritis", 2000, 18000, 2000, 18000, k=8)  # OR 1, big
    rows += _table("migraine", "sjogren", 1, 10, 10, 100, k=1)  # OR 1, tiny
    hyps = [
        {"id": "up", "text": "t", "design": "D1", "exposure": "migraine", "outcome": "sle"},
        {"id": "down", "text": "t", "design": "D1", "exposure": "migraine",
         "outcome": "multiple_sclerosis"},
        {"id": "null", "text": "t", "design": "D1", "exposure": "migraine",
         "outcome": "rheumatoid_arthritis"},
        {"id": "thin", "text": "t", "design": "D1", "exposure": "migraine", "outcome": "sjogren"},
        {"id": "none", "text": "t", "design": "D1", "exposure": "migraine",
         "outcome": "antiphospholipid_syndrome"},
    ]  # fmt: skip
    v = _verdicts(_study(hyps), rows)
    assert v == {
        "up": SUPPORTED,
        "down": CONTRADICTED,
        "null": NO_EVIDENCE,  # CI covers 1, MDRR well under 2, diagnostics pass
        "thin": INCONCLUSIVE,  # CI covers 1 but the data could not have shown an OR of 2
        "none": INCONCLUSIVE,  # no counts: not estimable, so the diagnostics fail
    }


def _row(lo, hi, *, cal=None, mdrr=1.5, passed=True, diagnostics="", reason=""):
    r = dict(ci_low=lo, ci_high=hi, mdrr=mdrr, diagnostics_pass=passed, diagnostics=diagnostics)
    r["not_analysed_reason"] = reason
    if cal:
        r["cal_ci_low"], r["cal_ci_high"] = cal
    return r


@pytest.mark.parametrize(
    ("row", "expected", "verdict"),
    [
        (None, "increase", NOT_ANALYSED),
        (_row(1.2, 2.0, reason="table absent"), "increase", NOT_ANALYSED),
        (_row(1.2, 2.0), "descriptive", ""),
        (_row(1.2, 2.0), "increase", SUPPORTED),
        (_row(1.2, 2.0, passed=False, diagnostics="events<5"), "increase", INCONCLUSIVE),
        (_row(0.5, 0.8), "increase", CONTRADICTED),
        (_row(0.5, 0.8), "decrease", SUPPORTED),
        (_row(1.2, 2.0), "decrease", CONTRADICTED),
        (_row(1.2, 2.0, cal=(0.9, 2.2)), "increase", NO_EVIDENCE),  # the calibrated CI decides
        (_row(0.9, 1.1, mdrr=2.5), "increase", INCONCLUSIVE),  # underpowered
        (_row(0.9, 1.1, passed=False, diagnostics="balance(smd_age)"), "increase", INCONCLUSIVE),
        (_row(float("nan"), float("nan")), "increase", INCONCLUSIVE),
    ],
)
def test_hypothesis_rule(row, expected, verdict):
    assert hypothesis_verdict(row, expected, ST) == verdict


@pytest.mark.parametrize(
    ("rule", "votes", "verdict"),
    [
        ("majority", [SUPPORTED, SUPPORTED, NO_EVIDENCE], SUPPORTED),
        ("majority", [SUPPORTED, NO_EVIDENCE], INCONCLUSIVE),
        ("majority", [CONTRADICTED, CONTRADICTED, INCONCLUSIVE], CONTRADICTED),
        # voting hypotheses disagreeing in direction: "mixed" whatever the rule
        ("majority", [SUPPORTED, CONTRADICTED, SUPPORTED], MIXED),
        ("all", [SUPPORTED, SUPPORTED], SUPPORTED),
        ("all", [SUPPORTED, CONTRADICTED], MIXED),
        ("all", [CONTRADICTED, INCONCLUSIVE], CONTRADICTED),
        ("all", [SUPPORTED, INCONCLUSIVE], INCONCLUSIVE),
        ("any", [SUPPORTED, NO_EVIDENCE], SUPPORTED),
        ("any", [CONTRADICTED, NO_EVIDENCE], CONTRADICTED),
        ("any", [SUPPORTED, CONTRADICTED], MIXED),
        ("majority", [NO_EVIDENCE, NO_EVIDENCE, NOT_ANALYSED], NO_EVIDENCE),
        ("majority", [NOT_ANALYSED, ""], NOT_ANALYSED),
        ("majority", ["", SUPPORTED], SUPPORTED),  # descriptive hypotheses do not vote
        # "not analysed" is in no denominator: 2 of 2 analysed is a majority, 2 of 4 was not
        ("majority", [SUPPORTED, SUPPORTED, NOT_ANALYSED, NOT_ANALYSED], SUPPORTED),
        ("majority", [SUPPORTED, NO_EVIDENCE, NOT_ANALYSED], INCONCLUSIVE),  # 1 of 2: no majority
        ("majority", [CONTRADICTED, CONTRADICTED, NOT_ANALYSED, NOT_ANALYSED], CONTRADICTED),
        ("all", [SUPPORTED, NOT_ANALYSED], SUPPORTED),  # every analysed hypothesis is supported
        ("all", [NOT_ANALYSED, NOT_ANALYSED], NOT_ANALYSED),
    ],
)
def test_claim_rule(rule, votes, verdict):
    claim = Claim(id=1, title="t", statement="s", rule=rule)
    assert claim_verdict(claim, votes) == verdict


@pytest.mark.parametrize(
    ("votes", "verdict"),
    [
        ([SUPPORTED, NO_EVIDENCE, NO_EVIDENCE], NO_EVIDENCE),  # the control's support is no vote
        ([SUPPORTED, SUPPORTED, NO_EVIDENCE], INCONCLUSIVE),  # 1 of 2 voting: no majority
        ([CONTRADICTED, SUPPORTED, SUPPORTED], SUPPORTED),  # a failed control is not "mixed"
        ([SUPPORTED, NOT_ANALYSED, NOT_ANALYSED], NOT_ANALYSED),  # only the control ran
    ],
)
def test_positive_controls_do_not_vote(votes, verdict):
    """The first hypothesis is a positive control (claim 7's interferon beta)."""
    claim = Claim(id=7, title="t", statement="s", rule="majority")
    roles = [POSITIVE_CONTROL] + ["test"] * (len(votes) - 1)
    assert claim_verdict(claim, votes, roles) == verdict


def test_tally_counts_k_of_n():
    votes = [SUPPORTED, SUPPORTED, CONTRADICTED, NOT_ANALYSED, INCONCLUSIVE, "", NO_EVIDENCE]
    roles = [POSITIVE_CONTROL] + ["test"] * 6
    t = tally(votes, roles).as_dict()
    assert t == {
        "n_hypotheses": 7,
        "n_voting": 4,  # SUPPORTED, CONTRADICTED, INCONCLUSIVE, NO_EVIDENCE
        "n_supported": 1,
        "n_contradicted": 1,
        "n_no_evidence": 1,
        "n_inconclusive": 1,
        "n_not_analysed": 1,
        "n_descriptive": 1,
        "n_positive_controls": 1,
    }
    with pytest.raises(ValueError):
        tally([SUPPORTED], [])


@pytest.mark.parametrize(
    ("holm", "expected", "verdict"),
    [
        (0.01, "increase", SUPPORTED),  # survives Holm at alpha 0.05
        (0.05, "increase", SUPPORTED),  # at alpha exactly: still significant (p <= alpha)
        (0.06, "increase", INCONCLUSIVE),  # CI excludes 1, the family's adjusted p does not
        (0.06, "decrease", INCONCLUSIVE),  # nor can it contradict
        (float("nan"), "increase", SUPPORTED),  # outside a family: the CI decides
    ],
)
def test_holm_adjusted_p_gates_a_decision(holm, expected, verdict):
    row = _row(1.2, 2.0)
    row["holm_p_value"] = holm
    assert hypothesis_verdict(row, expected, ST) == verdict


def test_holm_does_not_touch_a_null_result():
    row = _row(0.9, 1.1)
    row["holm_p_value"] = 0.9
    assert hypothesis_verdict(row, "increase", ST) == NO_EVIDENCE


@pytest.mark.parametrize(
    ("pct", "ci", "verdict"),
    [
        (95.0, (1.2, 2.0), SUPPORTED),  # above the 90th percentile and the CI excludes 1
        (90.0, (1.2, 2.0), NO_EVIDENCE),  # "above": the 90th percentile itself does not stand out
        (60.0, (1.2, 2.0), NO_EVIDENCE),  # raised, but like the background: not specific
        (99.0, (0.9, 1.5), NO_EVIDENCE),  # high percentile, CI covers 1 (MDRR 1.5)
        (99.0, (0.5, 0.8), CONTRADICTED),
        (float("nan"), (1.2, 2.0), INCONCLUSIVE),  # no background: the criterion cannot be read
    ],
)
def test_d8_specificity_applies_its_percentile_criterion(pct, ci, verdict):
    row = _row(*ci)
    row["phenome_percentile"] = pct
    assert hypothesis_verdict(row, "increase", ST, percentile_criterion=90.0) == verdict


def test_d8_percentile_criterion_needs_clean_diagnostics_for_no_evidence():
    row = _row(1.2, 2.0, passed=False, diagnostics="events<5")
    row["phenome_percentile"] = 50.0
    assert hypothesis_verdict(row, "increase", ST, percentile_criterion=90.0) == INCONCLUSIVE


# ----- the rules through attach_verdicts, on literal key rows --------------------------------


def _key(hid: str, lo: float, hi: float, p: float, cal: tuple | None = None, **extra) -> dict:
    """A passing key row of hypothesis ``hid`` (estimate the CI's geometric mean)."""
    r = dict(hypothesis=hid, analysis=hid, design="D5", role="primary", measure="IRR",
             method="sccs", estimate=(lo * hi) ** 0.5, ci_low=lo, ci_high=hi, p_value=p,
             mdrr=1.5, diagnostics_pass=True, diagnostics="", not_analysed_reason="")  # fmt: skip
    if cal:
        r["cal_ci_low"], r["cal_ci_high"], r["cal_p_value"] = cal
    return {**r, **extra}


def _sccs(hid: str, exposure: str, **extra) -> dict:
    return dict(id=hid, text="t", design="D5", exposure=exposure, outcome="migraine", **extra)


def _claims_of(hyps: list[dict], rows: list[dict], rule: str = "majority"):
    raw = STUDY.model_dump(mode="json")
    raw["claims"] = [{"id": 7, "title": "t", "statement": "s", "rule": rule, "hypotheses": hyps}]
    table, claims = attach_verdicts(pd.DataFrame(rows), Study.model_validate(raw))
    return table.set_index("hypothesis"), claims[0]


def test_holm_within_a_family_on_the_p_the_verdict_reads():
    """Four SCCS hypotheses in one family. Reference adjusted p: R 4.x
    ``p.adjust(c(0.01, 0.02, 0.04, 0.30), "holm")`` = 0.04 0.06 0.08 0.30. The third row's raw
    p is 0.0001 but it is calibrated (cal p 0.04): the calibrated p is the one adjusted."""
    fam = {"family": "sccs"}
    hyps = [_sccs("a", "corticosteroids", **fam), _sccs("b", "nsaids", **fam),
            _sccs("c", "methotrexate", **fam), _sccs("d", "rituximab", **fam),
            _sccs("e", "tnf_inhibitors")]  # fmt: skip
    rows = [
        _key("a", 1.1, 1.9, 0.01),
        _key("b", 1.05, 1.8, 0.02),
        _key("c", 1.3, 1.6, 0.0001, cal=(1.01, 2.0, 0.04)),
        _key("d", 0.9, 1.3, 0.30),
        _key("e", 1.02, 1.5, 0.03),  # outside the family: no adjustment
    ]
    table, claim = _claims_of(hyps, rows)
    assert table.loc[["a", "b", "c", "d"], "holm_p_value"].tolist() == pytest.approx(
        [0.04, 0.06, 0.08, 0.30], abs=1e-12
    )
    assert np.isnan(table.loc["e", "holm_p_value"])
    v = {h["id"]: h["verdict"] for h in claim["hypotheses"]}
    assert v == {"a": SUPPORTED, "b": INCONCLUSIVE, "c": INCONCLUSIVE, "d": NO_EVIDENCE,
                 "e": SUPPORTED}  # fmt: skip
    # 2 of 5 supported: no majority; without Holm it would have been 4 of 5
    assert claim["verdict"] == INCONCLUSIVE
    assert (claim["n_supported"], claim["n_voting"]) == (2, 5)


def test_a_family_member_not_analysed_leaves_the_family():
    """Reference: R ``p.adjust(c(0.004, 0.03), "holm")`` = 0.008 0.03 (the third member, not
    analysed, has no p and is not counted in m)."""
    fam = {"family": "sccs"}
    hyps = [_sccs("a", "corticosteroids", **fam), _sccs("b", "nsaids", **fam),
            _sccs("c", "methotrexate", **fam)]  # fmt: skip
    rows = [
        _key("a", 1.1, 1.9, 0.004),
        _key("b", 1.05, 1.8, 0.03),
        _key("c", np.nan, np.nan, np.nan, estimate=np.nan, not_analysed_reason="no drug table"),
    ]
    table, claim = _claims_of(hyps, rows)
    assert table.loc[["a", "b"], "holm_p_value"].tolist() == pytest.approx([0.008, 0.03])
    assert [h["verdict"] for h in claim["hypotheses"]] == [SUPPORTED, SUPPORTED, NOT_ANALYSED]
    assert claim["verdict"] == SUPPORTED  # 2 of 2 analysed
    assert (claim["n_voting"], claim["n_not_analysed"]) == (2, 1)


def test_positive_control_has_its_verdict_but_no_vote():
    hyps = [_sccs("ifn", "interferon_beta", role="positive_control"),
            _sccs("a", "corticosteroids"), _sccs("b", "nsaids")]  # fmt: skip
    rows = [_key("ifn", 1.5, 3.0, 1e-6), _key("a", 0.9, 1.1, 0.8), _key("b", 0.95, 1.2, 0.5)]
    table, claim = _claims_of(hyps, rows)
    ifn = claim["hypotheses"][0]
    assert (ifn["role"], ifn["verdict"]) == ("positive_control", SUPPORTED)
    assert table.loc["ifn", "verdict"] == SUPPORTED
    assert claim["verdict"] == NO_EVIDENCE  # before: 1 of 3 supported, and so "inconclusive"
    assert (claim["n_voting"], claim["n_positive_controls"]) == (2, 1)
    assert "positive control, does not vote" in claim["summary"]


def test_mixed_claim_states_both_counts():
    hyps = [_sccs("a", "corticosteroids"), _sccs("b", "nsaids"), _sccs("c", "rituximab")]
    rows = [_key("a", 1.5, 3.0, 1e-4), _key("b", 0.3, 0.7, 1e-3), _key("c", 0.9, 1.1, 0.8)]
    _, claim = _claims_of(hyps, rows, rule="any")
    assert claim["verdict"] == MIXED
    assert (claim["n_supported"], claim["n_contradicted"], claim["n_voting"]) == (1, 1, 3)
    assert claim["rule_text"].startswith("supported if at least one")  # the standard text


def _d8(pct_criterion: float | None = None) -> dict:
    h = dict(id="spec", text="t", design="D8", exposure="migraine", outcome="any_autoimmune",
             contrast="phenome_percentile")  # fmt: skip
    if pct_criterion is not None:
        h["percentile_criterion"] = pct_criterion
    return h


@pytest.mark.parametrize(
    ("criterion", "pct", "verdict"),
    [
        (None, 85.0, NO_EVIDENCE),  # the default criterion is the 90th percentile
        (None, 95.0, SUPPORTED),
        (80.0, 85.0, SUPPORTED),  # the study file's own criterion
        (97.5, 95.0, NO_EVIDENCE),
    ],
)
def test_d8_criterion_from_the_study_file(criterion, pct, verdict):
    row = _key("spec", 1.2, 1.6, 1e-5, cal=(1.1, 1.8, 1e-3), design="D8", measure="OR",
               method="phenome_background_calibrated", phenome_percentile=pct)  # fmt: skip
    _, claim = _claims_of([_d8(criterion)], [row])
    h = claim["hypotheses"][0]
    assert h["verdict"] == verdict
    assert h["percentile_criterion"] == (criterion or 90.0)


def test_no_evidence_needs_the_power_of_the_calibrated_interval():
    """The verdict reads the calibrated CI, so its MDRR is that CI's (issue 15): a raw MDRR of 1.5
    does not make "no evidence" of a calibrated CI 0.5-2.0 (its MDRR: exp(2.8016 * 0.3537) = 2.69)."""
    import math

    from miglink.claims.verdicts import verdict_mdrr

    wide = _row(1.1, 1.3, cal=(0.5, 2.0), mdrr=1.5)
    se = math.log(4.0) / (2 * 1.959963984540054)
    assert verdict_mdrr(wide) == pytest.approx(
        math.exp((1.959963984540054 + 0.8416212335729143) * se)
    )
    assert hypothesis_verdict(wide, "increase", ST) == INCONCLUSIVE
    narrow = _row(1.1, 1.3, cal=(0.9, 1.2), mdrr=1.5)
    assert verdict_mdrr(narrow) == 1.5  # the data's MDRR when it is the larger
    assert hypothesis_verdict(narrow, "increase", ST) == NO_EVIDENCE


def test_verdict_mdrr_column_is_the_mdrr_of_the_calibrated_interval():
    """The result table carries the MDRR the verdict reads: a calibrated row's is the larger of
    its data's and the one its calibrated CI's width implies (issue 15 item 2)."""
    from miglink.stats.level import z_interval, z_mdrr

    row = dict(design="D1", method="mantel_haenszel", role="primary", measure="OR",
               estimate=1.1, se_log=0.05, ci_low=1.0, ci_high=1.2, cal_ci_low=0.8,
               cal_ci_high=1.5, cal_estimate=1.1, p_value=0.05, cal_p_value=0.5)  # fmt: skip
    out = apply_diagnostics(pd.DataFrame([row]), ST).iloc[0]
    assert out["mdrr"] == pytest.approx(math.exp(z_mdrr() * 0.05))
    se_cal = math.log(1.5 / 0.8) / (2 * z_interval())
    assert out["verdict_mdrr"] == pytest.approx(math.exp(z_mdrr() * se_cal))
    assert out["verdict_mdrr"] > out["mdrr"]
    raw = apply_diagnostics(pd.DataFrame([{**row, "cal_ci_low": None, "cal_ci_high": None}]), ST)
    assert raw.iloc[0]["verdict_mdrr"] == pytest.approx(out["mdrr"])
