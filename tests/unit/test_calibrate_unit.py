"""miglink.calibrate: the one calibration procedure every design and the pooled run use."""

import math

import numpy as np
import pytest

from miglink.calibrate import ControlGroup, calibrate_group, calibrate_groups
from miglink.stats.calibration import fit_null
from miglink.stats.null_posterior import calibrate_posterior, fit_null_posterior, loo_coverage

LOGS = [0.1, 0.2, -0.1, 0.0, 0.05, 0.12]
SES = [0.1, 0.2, 0.1, 0.3, 0.2, 0.15]


def _controls():
    rows = [
        {"outcome": f"nc{i}", "log_estimate": y, "se_log": s}
        for i, (y, s) in enumerate(zip(LOGS, SES, strict=True))
    ]
    # not usable: no estimate, zero SE
    rows += [{"outcome": "nan", "log_estimate": float("nan"), "se_log": 0.1}]
    rows += [{"outcome": "zero", "log_estimate": 0.3, "se_log": 0.0}]
    return rows


def test_group_summary_is_fit_null_and_cal_columns_the_posterior_calibration():
    target = {"log_estimate": 0.4, "se_log": 0.1}
    out = calibrate_group(_controls(), [target], min_controls=5)
    null = fit_null(LOGS, SES)
    p, lo, hi, est = calibrate_posterior(fit_null_posterior(LOGS, SES), [0.4], [0.1], 0.95)
    covered, n = loo_coverage(LOGS, SES, 0.95)
    assert (out["mean"], out["sd"], out["ease"]) == (null.mean, null.sd, null.ease)
    assert out["n_controls"] == 6
    assert out["loo_coverage"] == covered / n == target["cal_loo_coverage"]
    assert [c["outcome"] for c in out["controls"]] == [f"nc{i}" for i in range(6)]
    assert target["cal_p_value"] == pytest.approx(p[0], abs=1e-12)
    assert target["cal_ci_low"] == pytest.approx(lo[0], abs=1e-12)
    assert target["cal_ci_high"] == pytest.approx(hi[0], abs=1e-12)
    assert target["cal_estimate"] == pytest.approx(est[0], abs=1e-12)


def test_too_few_usable_controls_give_an_empty_null_and_no_cal_columns():
    target = {"log_estimate": 0.4, "se_log": 0.1}
    out = calibrate_group(_controls(), [target], min_controls=7)
    assert out["mean"] is None and out["sd"] is None and out["ease"] is None
    assert out["loo_coverage"] is None
    assert out["n_controls"] == 6
    assert "cal_p_value" not in target and "cal_loo_coverage" not in target


def test_inestimable_target_is_left_alone():
    bad = {"log_estimate": float("nan"), "se_log": 0.1}
    calibrate_group(_controls(), [bad], min_controls=5)
    assert "cal_p_value" not in bad


def test_groups_are_keyed_by_name_and_label_names_the_controls():
    ctrl = [dict(r, exposure=r["outcome"] + "_x") for r in _controls()]
    out = calibrate_groups(
        [
            ControlGroup("rev", ctrl, [], label="exposure"),
            ControlGroup("bg", ctrl, [], label=None),
        ],
        min_controls=5,
    )
    assert list(out) == ["rev", "bg"]
    assert out["rev"]["controls"][0]["outcome"] == "nc0_x"
    assert out["bg"]["controls"] == [] and out["bg"]["n_controls"] == 6
    assert math.isfinite(out["bg"]["mean"]) and np.isclose(out["bg"]["mean"], out["rev"]["mean"])
