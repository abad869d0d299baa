"""``pool --table`` against metafor's published BCG results and statsmodels' combine_effects."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from miglink.federate.table import Z95, pool_table

# BCG vaccine trials (Colditz et al. 1994, JAMA 271:698; metafor::dat.bcg): tpos, tneg, cpos, cneg.
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


@pytest.fixture
def bcg_counts(tmp_path):
    t = BCG
    df = pd.DataFrame(
        {
            "study": [f"trial {i + 1}" for i in range(len(t))],
            "exposed_events": t[:, 0],
            "exposed_total": t[:, 0] + t[:, 1],
            "unexposed_events": t[:, 2],
            "unexposed_total": t[:, 2] + t[:, 3],
        }
    )
    p = tmp_path / "bcg.csv"
    df.to_csv(p, index=False)
    return p


def test_bcg_counts_reml_matches_metafor(bcg_counts, tmp_path):
    # metafor: rma(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg, measure="RR"):
    # estimate -0.7145, tau^2 0.3132, I^2 92.22%, Q(df = 12) = 152.2330, 95% CI -1.0669 to -0.3622.
    s = pool_table(bcg_counts, "RR", tmp_path / "out", method="REML")
    assert math.log(s["estimate"]) == pytest.approx(-0.7145, abs=5e-5)
    assert s["tau2"] == pytest.approx(0.3132, abs=5e-5)
    assert s["i2"] == pytest.approx(92.22, abs=5e-3)
    assert s["q"] == pytest.approx(152.2330, abs=5e-4)
    assert math.log(s["ci_low"]) == pytest.approx(-1.0669, abs=5e-4)
    assert math.log(s["ci_high"]) == pytest.approx(-0.3622, abs=5e-4)
    assert s["k"] == 13 and s["method"] == "REML"
    on_disk = json.loads((tmp_path / "out" / "pooled.json").read_text())
    for key in ("estimate", "ci_low", "ci_high", "tau2", "i2", "q", "method", "k"):
        assert on_disk[key] == s[key]
    svg = (tmp_path / "out" / "forest.svg").read_text()
    assert svg.startswith("<svg") and "trial 13" in svg


def test_bcg_counts_dl_matches_metafor(bcg_counts, tmp_path):
    # metafor: rma(..., measure="RR", method="DL"): estimate -0.7141, tau^2 0.3088.
    s = pool_table(bcg_counts, "RR", tmp_path / "out", method="DL")
    assert math.log(s["estimate"]) == pytest.approx(-0.7141, abs=5e-5)
    assert s["tau2"] == pytest.approx(0.3088, abs=5e-5)


def test_estimate_layout_gives_the_same_pool_as_counts(bcg_counts, tmp_path):
    # published-style input: each trial's RR and 95% CI, from the same counts
    from miglink.stats.meta import log_rr_from_counts

    y, se = log_rr_from_counts(*BCG.T)
    df = pd.DataFrame(
        {
            "study": range(13),
            "estimate": np.exp(y),
            "ci_low": np.exp(y - Z95 * se),
            "ci_high": np.exp(y + Z95 * se),
        }
    )
    p = tmp_path / "bcg_est.csv"
    df.to_csv(p, index=False, float_format="%.17g")
    a = pool_table(p, "RR", tmp_path / "a")
    b = pool_table(bcg_counts, "RR", tmp_path / "b")
    for key in ("estimate", "ci_low", "ci_high", "tau2", "i2", "q"):
        assert a[key] == pytest.approx(b[key], rel=1e-9)
    assert a["input_layout"] == "estimate_ci" and b["input_layout"] == "counts_2x2"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("method", "sm_method"), [("DL", "chi2"), ("PM", "iterated")])
def test_generated_inputs_match_statsmodels(tmp_path, seed, method, sm_method):
    # Library reference: statsmodels.stats.meta_analysis.combine_effects on the same log estimates.
    rng = np.random.default_rng(seed)
    k = 12
    se = rng.uniform(0.1, 0.6, k)
    y = 0.3 + rng.normal(0, 0.25, k) + rng.normal(0, se)
    df = pd.DataFrame(
        {
            "study": [f"s{i}" for i in range(k)],
            "estimate": np.exp(y),
            "ci_low": np.exp(y - Z95 * se),
            "ci_high": np.exp(y + Z95 * se),
        }
    )
    p = tmp_path / "gen.csv"
    df.to_csv(p, index=False, float_format="%.17g")
    s = pool_table(p, "HR", tmp_path / "out", method=method)
    ref = combine_effects(y, se**2, method_re=sm_method)
    frame = ref.summary_frame()
    re_row = frame.loc["random effect"]
    assert math.log(s["estimate"]) == pytest.approx(re_row["eff"], rel=1e-6)
    assert math.log(s["ci_low"]) == pytest.approx(re_row["ci_low"], rel=1e-6, abs=1e-8)
    assert math.log(s["ci_high"]) == pytest.approx(re_row["ci_upp"], rel=1e-6, abs=1e-8)
    assert s["tau2"] == pytest.approx(ref.tau2, rel=1e-6, abs=1e-10)
    assert s["q"] == pytest.approx(ref.q, rel=1e-9)
    if method == "DL":  # for DL, I² = tau²/(tau² + s²) equals statsmodels' (Q − df)/Q
        assert s["i2"] == pytest.approx(100 * ref.i2, rel=1e-6, abs=1e-8)


def test_fixed_effect_matches_statsmodels(tmp_path):
    rng = np.random.default_rng(7)
    se = rng.uniform(0.1, 0.5, 8)
    y = rng.normal(0, 0.3, 8)
    df = pd.DataFrame(
        {
            "study": range(8),
            "estimate": np.exp(y),
            "ci_low": np.exp(y - Z95 * se),
            "ci_high": np.exp(y + Z95 * se),
        }
    )
    p = tmp_path / "fe.csv"
    df.to_csv(p, index=False, float_format="%.17g")
    s = pool_table(p, "OR", tmp_path / "out", method="FE")
    fe = combine_effects(y, se**2).summary_frame().loc["fixed effect"]
    assert math.log(s["estimate"]) == pytest.approx(fe["eff"], rel=1e-9)
    assert math.log(s["ci_low"]) == pytest.approx(fe["ci_low"], rel=1e-9)
