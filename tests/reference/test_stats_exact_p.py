"""Tail probabilities far below 1e-16 against R (tests/reference/r/mh_pvalues.R and its .out).

``1 - cdf`` loses every digit below about 1e-16 (statsmodels' CMH and Breslow–Day p-values are 0
for these tables); the estimators compute survival functions, so a strong effect keeps its p.
Bar, set before the first run: each p equals R's to 1e-7 relative (the z of these tables are
~10-23, where a 1e-12 relative error in z moves p by under 1e-9 relative).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from miglink.stats.twobytwo import cochran_armitage, mantel_haenszel, trend_test_grouped

# Strata of (a, b, c, d), as in mh_pvalues.R.
HUGE = pd.DataFrame(
    [[200, 50, 40, 210], [150, 60, 30, 160], [90, 40, 20, 120]], columns=list("abcd")
)
HETERO = pd.DataFrame(
    [[300, 100, 100, 300], [100, 300, 300, 100], [200, 200, 150, 250]], columns=list("abcd")
)


def _statsmodels_p(table: pd.DataFrame) -> tuple[float, float]:
    st = StratifiedTable(table.to_numpy(float).reshape(-1, 2, 2).transpose(1, 2, 0))
    return st.test_null_odds(correction=False).pvalue, st.test_equal_odds(adjust=True).pvalue


def test_statsmodels_own_p_underflows():
    # why the estimators recompute p: statsmodels 0.15 returns 1 - chi2.cdf, exactly 0 here
    assert _statsmodels_p(HUGE)[0] == 0.0
    assert _statsmodels_p(HETERO)[1] == 0.0


def test_mantel_haenszel_tiny_p_matches_r():
    est = mantel_haenszel(HUGE)
    # R 4.2.2 mantelhaen.test(correct = FALSE); RBG SE from its conf.int (mh_pvalues.out)
    assert est.estimate == pytest.approx(16.0516962843296, rel=1e-12)
    assert est.se_log == pytest.approx(0.14934458074362, rel=1e-10)
    # Wald p from the RBG SE, R: 2 * pnorm(-abs(z))
    assert est.p_value == pytest.approx(4.12175465741629e-77, rel=1e-7)
    # CMH chi-square 411.475853445922, R: mantelhaen.test()$p.value
    assert est.extra["cmh_p"] == pytest.approx(1.74933293042912e-91, rel=1e-7)
    # Breslow-Day with Tarone's adjustment, by hand in R (base R has none)
    assert est.extra["breslow_day_stat"] == pytest.approx(2.18075892937738, rel=1e-8)
    assert est.extra["breslow_day_p"] == pytest.approx(0.336088935623041, rel=1e-8)


def test_breslow_day_tiny_p_matches_r():
    est = mantel_haenszel(HETERO)
    # R 4.2.2 (mh_pvalues.out): mantelhaen.test(correct = FALSE) and Breslow-Day by hand
    assert est.estimate == pytest.approx(1.15384615384615, rel=1e-12)
    assert est.extra["cmh_p"] == pytest.approx(0.040825435641557, rel=1e-9)
    assert est.extra["breslow_day_stat"] == pytest.approx(409.033480379899, rel=1e-10)
    assert est.extra["breslow_day_p"] == pytest.approx(1.51184851843847e-89, rel=1e-7)


def test_breslow_day_at_an_mh_odds_ratio_of_exactly_one_matches_r():
    # statsmodels' Breslow-Day is NaN here (its quadratic's leading term is 1 - OR = 0)
    sym = HETERO.copy()
    sym.loc[2, ["c", "d"]] = [200, 200]
    est = mantel_haenszel(sym)
    # R (mh_pvalues.out, hetero_null): MH OR 1, CMH p 1, Breslow-Day 400, p 1.38389652673674e-87
    assert est.estimate == pytest.approx(1.0, rel=1e-12)
    assert est.extra["cmh_p"] == pytest.approx(1.0, rel=1e-12)
    assert est.extra["breslow_day_stat"] == pytest.approx(400.0, rel=1e-10)
    assert est.extra["breslow_day_p"] == pytest.approx(1.38389652673674e-87, rel=1e-7)


@pytest.mark.parametrize(
    ("scores", "events", "totals", "chisq", "p"),
    [
        # Agresti (2002) Table 3.7; R prop.trend.test: X-squared 6.57013394470554
        (
            [0, 0.5, 1.5, 4, 7],
            [48, 38, 5, 1, 1],
            [17114, 14502, 793, 127, 38],
            6.57013394470554,
            0.0103704145729975,
        ),
        # a steep trend; R prop.trend.test: X-squared 549.818181818182
        ([0, 1, 2, 3], [20, 80, 200, 400], [1000] * 4, 549.818181818182, 1.37893240695104e-121),
    ],
)
def test_cochran_armitage_matches_r_prop_trend_test(scores, events, totals, chisq, p):
    z, p_ca = cochran_armitage(scores, events, totals)
    assert z**2 == pytest.approx(chisq, rel=1e-10)
    assert p_ca == pytest.approx(p, rel=1e-7)
    df = pd.DataFrame({"score": scores, "events": events, "total": totals})
    est = trend_test_grouped(df, "score", "events", "total", [])
    assert est.extra["cochran_armitage_p"] == pytest.approx(p, rel=1e-7)
    assert math.isfinite(est.log_estimate)


def test_cochran_armitage_degenerate_is_nan():
    # no events, or a single score: no trend to test
    assert all(math.isnan(v) for v in cochran_armitage([0, 1], [0, 0], [10, 10]))
    assert all(math.isnan(v) for v in cochran_armitage([1, 1], [2, 3], [10, 10]))
