"""The calibration gate: a verdict read through a calibrated CI whose negative controls' leave-one-
out coverage is below ``min_loo_coverage`` (80%) is neither supported nor contradicted."""

from __future__ import annotations

import math

import pandas as pd

from miglink.claims.attach import apply_diagnostics
from miglink.claims.model import load_study
from miglink.claims.verdicts import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    calibration_untrusted,
    hypothesis_verdict,
)

ST = load_study(None)[0].settings


def _row(cal_lo, cal_hi, loo, **kw):
    row = dict(
        design="D1", method="mantel_haenszel", role="primary", measure="OR", analysis="a",
        estimate=math.sqrt(cal_lo * cal_hi), log_estimate=0.5 * math.log(cal_lo * cal_hi),
        se_log=0.1, ci_low=cal_lo * 1.1, ci_high=cal_hi / 1.1, cal_ci_low=cal_lo,
        cal_ci_high=cal_hi, cal_p_value=0.001, cal_loo_coverage=loo, mdrr=1.3,
        events_exposed=100, events_unexposed=400, note="",
    )  # fmt: skip
    row.update(kw)
    return row


def _diagnosed(row):
    return apply_diagnostics(pd.DataFrame([row]), ST).iloc[0].to_dict()


def test_threshold_is_the_protocols_80_percent():
    assert ST.min_loo_coverage == 0.8


def test_supported_needs_the_loo_coverage():
    ok = _diagnosed(_row(1.3, 2.0, loo=0.85))
    assert ok["diagnostics_pass"] and hypothesis_verdict(ok, "increase", ST) == SUPPORTED
    bad = _diagnosed(_row(1.3, 2.0, loo=0.75))
    assert bad["diagnostics"] == "loo_coverage<80%" and not bad["diagnostics_pass"]
    assert hypothesis_verdict(bad, "increase", ST) == INCONCLUSIVE
    assert "calibration not trusted" in bad["note"] and "75% < 80%" in bad["note"]


def test_contradicted_needs_it_too():
    ok = _diagnosed(_row(0.5, 0.8, loo=0.9))
    assert hypothesis_verdict(ok, "increase", ST) == CONTRADICTED
    bad = _diagnosed(_row(0.5, 0.8, loo=0.6))
    assert hypothesis_verdict(bad, "increase", ST) == INCONCLUSIVE


def test_no_evidence_is_not_read_off_an_untrusted_calibration():
    bad = _diagnosed(_row(0.9, 1.1, loo=0.6))
    assert hypothesis_verdict(bad, "increase", ST) == INCONCLUSIVE


def test_uncalibrated_rows_are_not_gated():
    raw = _row(1.3, 2.0, loo=0.5, cal_ci_low=float("nan"), cal_ci_high=float("nan"))
    raw.update(design="D3", method="mh_subgroup", ci_low=1.3, ci_high=2.0)
    assert not calibration_untrusted(raw, ST)
    assert hypothesis_verdict(_diagnosed(raw), "increase", ST) == SUPPORTED


def test_d10_verdict_needs_ease_at_most_a_quarter():
    # OHDSI's study diagnostics: EASE <= 0.25; here it gates the comparative new-user cohort
    d10 = dict(design="D10", method="cox_ps_matched", measure="HR")
    ok = _diagnosed(_row(1.3, 2.0, loo=0.9, cal_ease=0.24, **d10))
    assert ok["diagnostics_pass"] and hypothesis_verdict(ok, "increase", ST) == SUPPORTED
    bad = _diagnosed(_row(1.3, 2.0, loo=0.9, cal_ease=0.26, **d10))
    assert bad["diagnostics"] == "ease>0.25"
    assert hypothesis_verdict(bad, "increase", ST) == INCONCLUSIVE
    # other designs report EASE (calibration.json, cal_ease) and are gated by the LOO coverage
    assert _diagnosed(_row(1.3, 2.0, loo=0.9, cal_ease=0.4))["diagnostics_pass"]
