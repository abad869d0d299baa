"""Every verdict rule, on rows made by a design's estimator from hand-made counts.

D1's ``estimate`` runs on literal stratified 2x2 tables (no engine): the pipeline's calibration,
diagnostics and verdict steps then give each hypothesis the verdict the protocol's rule says
(PROTOCOL.md, 'Verdicts'). The branches of the rules are also tested one by one on literal rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miglink.calibrate import calibrate_groups
from miglink.claims.attach import apply_diagnostics, attach_verdicts, label_key_rows
from miglink.claims.model import Claim, Study, load_study
from miglink.claims.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_EVIDENCE,
    NOT_ANALYSED,
    SUPPORTED,
    claim_verdict,
    hypothesis_verdict,
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
        ("majority", [SUPPORTED, CONTRADICTED, SUPPORTED], INCONCLUSIVE),
        ("all", [SUPPORTED, SUPPORTED], SUPPORTED),
        ("all", [SUPPORTED, CONTRADICTED], CONTRADICTED),
        ("all", [SUPPORTED, INCONCLUSIVE], INCONCLUSIVE),
        ("any", [SUPPORTED, NO_EVIDENCE], SUPPORTED),
        ("any", [CONTRADICTED, NO_EVIDENCE], CONTRADICTED),
        ("any", [SUPPORTED, CONTRADICTED], INCONCLUSIVE),
        ("majority", [NO_EVIDENCE, NO_EVIDENCE, NOT_ANALYSED], NO_EVIDENCE),
        ("majority", [NOT_ANALYSED, ""], NOT_ANALYSED),
        ("majority", ["", SUPPORTED], SUPPORTED),  # descriptive hypotheses do not vote
    ],
)
def test_claim_rule(rule, votes, verdict):
    claim = Claim(id=1, title="t", statement="s", rule=rule)
    assert claim_verdict(claim, votes) == verdict
