"""Meta-analysis against metafor's documented BCG results and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from miglink.stats.meta import log_or_from_counts, log_rr_from_counts, pool

# BCG vaccine trials (Colditz et al. 1994, JAMA 271:698; metafor::dat.bcg):
# tpos, tneg, cpos, cneg.
BCG = np.array(
    [
        [4, 119, 11, 128],
        [6, 300, 29, 274],
        [3, 228, 11, 209],
        [62, 13536, 248, 12619],
        [33, 5036, 47, 5761],
        [180, 1361, 372, 1079],
        [8, 2537, 10, 619],
        [505, 87886, 499, 87892],
        [29, 7470, 45, 7232],
        [17, 1699, 65, 1600],
        [186, 50448, 141, 27197],
        [5, 2493, 3, 2338],
        [27, 16886, 29, 17825],
    ]
)


def _bcg():
    return log_rr_from_counts(*BCG.T)


def test_reml_bcg_matches_metafor():
    # metafor: rma(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg, measure="RR"):
    # estimate -0.7145, se 0.1798, tau^2 0.3132, I^2 92.22%, Q(df = 12) = 152.2330.
    y, se = _bcg()
    res = pool(y, se, method="REML")
    assert res.log_estimate == pytest.approx(-0.7145, abs=5e-5)
    assert res.se_log == pytest.approx(0.1798, abs=5e-5)
    assert res.tau2 == pytest.approx(0.3132, abs=5e-5)
    assert res.i2 == pytest.approx(92.22, abs=5e-3)
    assert res.q == pytest.approx(152.2330, abs=5e-4)
    assert res.k == 13 and res.q_p < 1e-20
    assert res.extra["converged"]


def test_dl_bcg_matches_metafor_and_statsmodels():
    # metafor: rma(..., method="DL"): estimate -0.7141, tau^2 0.3088.
    y, se = _bcg()
    res = pool(y, se, method="DL")
    assert res.log_estimate == pytest.approx(-0.7141, abs=5e-5)
    assert res.tau2 == pytest.approx(0.3088, abs=5e-5)
    # Library reference: statsmodels combine_effects, method_re="chi2" (DerSimonian-Laird).
    sm_res = combine_effects(y, se**2, method_re="chi2")
    assert res.tau2 == pytest.approx(sm_res.tau2, rel=1e-10)
    assert res.log_estimate == pytest.approx(sm_res.mean_effect_re, rel=1e-10)
    assert res.se_log == pytest.approx(sm_res.sd_eff_w_re, rel=1e-10)
    # Under DL the metafor I^2 equals Higgins' (Q - df) / Q.
    assert res.i2 == pytest.approx(100 * (res.q - 12) / res.q, rel=1e-10)


def test_pm_solves_the_paule_mandel_equation():
    # Paule-Mandel: the generalised Q at tau^2 equals its expectation k - 1.
    y, se = _bcg()
    res = pool(y, se, method="PM")
    w = 1 / (se**2 + res.tau2)
    mu = w @ y / w.sum()
    assert float(w @ (y - mu) ** 2) == pytest.approx(12, rel=1e-6)
    assert res.log_estimate == pytest.approx(mu, rel=1e-10)


def test_reml_score_is_zero_at_estimate():
    y, se = _bcg()
    tau2 = pool(y, se, method="REML").tau2
    w = 1 / (se**2 + tau2)
    mu = w @ y / w.sum()
    # REML estimating equation (Viechtbauer 2005, eq. 12).
    score = np.sum(w**2 * ((y - mu) ** 2 - se**2)) / np.sum(w**2) + 1 / w.sum() - tau2
    assert score == pytest.approx(0, abs=1e-8)


def test_fixed_effect_and_hksj():
    y, se = _bcg()
    fe = pool(y, se, method="FE")
    w = 1 / se**2
    assert fe.log_estimate == pytest.approx(w @ y / w.sum(), rel=1e-12)
    assert fe.se_log == pytest.approx(math.sqrt(1 / w.sum()), rel=1e-12)
    assert fe.tau2 == 0
    hk = pool(y, se, method="DL", hksj=True)
    sm_res = combine_effects(y, se**2, method_re="chi2")
    # statsmodels' HKSJ-scaled SE of the random-effects mean.
    assert hk.se_log == pytest.approx(sm_res.sd_eff_w_re_hksj, rel=1e-10)


def test_counts_helpers_correct_zero_cells():
    y, se = log_or_from_counts([0, 10], [10, 20], [5, 5], [5, 30])
    assert y[0] == pytest.approx(math.log(0.5 * 5.5 / (10.5 * 5.5)))
    assert y[1] == pytest.approx(math.log(10 * 30 / (20 * 5)))
    assert se[1] == pytest.approx(math.sqrt(1 / 10 + 1 / 20 + 1 / 5 + 1 / 30))
    rr, _ = log_rr_from_counts([4], [119], [11], [128])
    assert rr[0] == pytest.approx(math.log((4 / 123) / (11 / 139)))


def test_hksj_interval_and_pm_match_statsmodels():
    # DL and PM pooling are statsmodels' combine_effects; the HKSJ interval is its WLS interval
    y, se = _bcg()
    hk = pool(y, se, method="DL", hksj=True)
    ci_re_wls = combine_effects(y, se**2, method_re="chi2").conf_int(use_t=True)[3]
    assert math.log(hk.ci_low) == pytest.approx(ci_re_wls[0], rel=1e-12)
    assert math.log(hk.ci_high) == pytest.approx(ci_re_wls[1], rel=1e-12)
    pm = pool(y, se, method="PM")
    sm_pm = combine_effects(y, se**2, method_re="iterated")
    assert pm.tau2 == pytest.approx(sm_pm.tau2, rel=1e-12)
    assert pm.se_log == pytest.approx(sm_pm.sd_eff_w_re, rel=1e-12)


def test_dl_tau2_is_truncated_at_zero():
    # homogeneous estimates: Q < k - 1, so (Q - df) / C < 0; statsmodels keeps it negative,
    # metafor (and miglink) truncate at 0, which makes the random-effects fit the fixed one
    y, se = np.array([0.10, 0.11, 0.09]), np.array([0.2, 0.2, 0.2])
    assert combine_effects(y, se**2, method_re="chi2").tau2 < 0
    dl, fe = pool(y, se, method="DL"), pool(y, se, method="FE")
    assert dl.tau2 == 0
    assert dl.log_estimate == pytest.approx(fe.log_estimate, rel=1e-15)
    assert dl.se_log == pytest.approx(fe.se_log, rel=1e-15)
    assert dl.i2 == 0
