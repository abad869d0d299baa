"""2×2 estimators against published values and independent library fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import Table

from miglink.stats.estimate import Estimate
from miglink.stats.twobytwo import (
    cochran_armitage,
    logistic_grouped,
    mantel_haenszel,
    odds_ratio_woolf,
    ratio_of_estimates,
    trend_test_grouped,
)

# UC Berkeley admissions 1973 (R datasets::UCBAdmissions), per department:
# a = male admitted, b = male rejected, c = female admitted, d = female rejected.
UCB = pd.DataFrame(
    {
        "dept": list("ABCDEF"),
        "a": [512, 353, 120, 138, 53, 22],
        "b": [313, 207, 205, 279, 138, 351],
        "c": [89, 17, 202, 131, 94, 24],
        "d": [19, 8, 391, 244, 299, 317],
    }
)


def test_woolf_physicians_health_study():
    # Agresti, Categorical Data Analysis 2nd ed. (2002) §2.3.3, Table 2.3 (aspirin and MI):
    # placebo 189 MI / 10845 none, aspirin 104 / 10933 -> OR 1.832, ASE(log) 0.123,
    # 95% CI 1.44 to 2.33.
    est = odds_ratio_woolf(189, 10845, 104, 10933)
    assert est.estimate == pytest.approx(1.832, abs=5e-4)
    assert est.se_log == pytest.approx(0.123, abs=5e-4)
    assert est.ci_low == pytest.approx(1.44, abs=5e-3)
    assert est.ci_high == pytest.approx(2.33, abs=5e-3)
    # Closed form (Woolf 1955): var(log OR) = sum of reciprocal cells.
    assert est.se_log == pytest.approx(
        math.sqrt(1 / 189 + 1 / 10845 + 1 / 104 + 1 / 10933), rel=1e-12
    )


def test_woolf_haldane_correction_only_when_a_cell_is_zero():
    est = odds_ratio_woolf(0, 20, 5, 30)
    # Haldane: add 0.5 to every cell -> (0.5 * 30.5) / (20.5 * 5.5).
    assert est.estimate == pytest.approx(0.5 * 30.5 / (20.5 * 5.5), rel=1e-12)
    assert est.se_log == pytest.approx(
        math.sqrt(1 / 0.5 + 1 / 20.5 + 1 / 5.5 + 1 / 30.5), rel=1e-12
    )
    assert est.extra["corrected"] == 0.5
    plain = odds_ratio_woolf(1, 20, 5, 30)
    assert plain.estimate == pytest.approx(30 / 100, rel=1e-12)
    assert "corrected" not in plain.extra


def test_mantel_haenszel_ucb_admissions_matches_r():
    # R 4.x: mantelhaen.test(UCBAdmissions) prints "common odds ratio 0.9046968",
    # "95 percent confidence interval: 0.7719074 1.0603298" (Robins-Breslow-Greenland);
    # mantelhaen.test(UCBAdmissions, correct = FALSE): X-squared = 1.5246, p-value = 0.2169.
    est = mantel_haenszel(UCB)
    assert est.estimate == pytest.approx(0.9046968, abs=5e-8)
    assert est.ci_low == pytest.approx(0.7719074, abs=5e-8)
    assert est.ci_high == pytest.approx(1.0603298, abs=5e-8)
    assert est.extra["cmh_p"] == pytest.approx(0.2169, abs=5e-5)
    # Agresti (2002) §6.3.5 / R's woolf() example: strong heterogeneity across departments,
    # Breslow-Day statistic 18.83 on 5 df.
    assert est.extra["breslow_day_stat"] == pytest.approx(18.83, abs=5e-3)
    assert est.extra["breslow_day_p"] < 0.005


def test_mantel_haenszel_single_stratum_equals_crude():
    one = UCB.iloc[[2]]
    mh = mantel_haenszel(one)
    crude = odds_ratio_woolf(*one[["a", "b", "c", "d"]].iloc[0])
    assert mh.estimate == pytest.approx(crude.estimate, rel=1e-12)
    # RBG variance reduces to Woolf's with one stratum (Robins, Breslow, Greenland 1986).
    assert mh.se_log == pytest.approx(crude.se_log, rel=1e-10)


def _ucb_grouped() -> pd.DataFrame:
    male = UCB.assign(male=1, events=UCB.a, total=UCB.a + UCB.b)
    female = UCB.assign(male=0, events=UCB.c, total=UCB.c + UCB.d)
    return pd.concat([male, female])[["dept", "male", "events", "total"]]


def test_logistic_grouped_ucb_matches_r_glm():
    # R: glm(cbind(Admitted, Rejected) ~ Dept + Gender, binomial, data = as.data.frame(...))
    # GenderFemale 0.09987 (SE 0.08085), i.e. male vs female log OR -0.09987.
    est = logistic_grouped(_ucb_grouped(), "events", "total", "male", ["dept"])
    assert est.log_estimate == pytest.approx(-0.09987, abs=5e-6)
    assert est.se_log == pytest.approx(0.08085, abs=5e-6)


def test_logistic_grouped_equals_individual_logit():
    # Library reference: statsmodels Logit on the expanded person-level rows.
    rng = np.random.default_rng(7)
    rows = []
    for s in range(4):
        for e in (0, 1):
            n = int(rng.integers(50, 200))
            p = 1 / (1 + math.exp(-(-1.5 + 0.3 * s + 0.6 * e)))
            k = int(rng.binomial(n, p))
            rows.append({"stratum": f"s{s}", "exposed": e, "events": k, "total": n})
    grouped = pd.DataFrame(rows)
    est = logistic_grouped(grouped, "events", "total", "exposed", ["stratum"])
    y, x = [], []
    for r in rows:
        for outcome, count in ((1, r["events"]), (0, r["total"] - r["events"])):
            for _ in range(count):
                y.append(outcome)
                x.append([1.0, r["exposed"]] + [float(r["stratum"] == f"s{j}") for j in (1, 2, 3)])
    fit = sm.Logit(np.array(y), np.array(x)).fit(disp=0)
    assert est.log_estimate == pytest.approx(fit.params[1], abs=1e-8)
    assert est.se_log == pytest.approx(fit.bse[1], rel=1e-6)


def test_ratio_of_estimates_altman_bland():
    # Altman & Bland, BMJ 2003;326:219 (HRT and non-vertebral fractures): RR 0.67 (0.46-0.98)
    # under 60 vs 0.88 (0.71-1.08) at 60+; d = -0.2726, SE(d) = 0.2206, z = -1.24,
    # ratio of RRs 0.76 (0.49 to 1.17).
    def from_ci(rr, lo, hi):
        return Estimate.from_log(math.log(rr), (math.log(hi) - math.log(lo)) / (2 * 1.959964), "x")

    r = ratio_of_estimates(from_ci(0.67, 0.46, 0.98), from_ci(0.88, 0.71, 1.08))
    assert r.log_estimate == pytest.approx(-0.2726, abs=1e-4)
    assert r.se_log == pytest.approx(0.2206, abs=1e-4)
    assert r.log_estimate / r.se_log == pytest.approx(-1.24, abs=5e-3)
    assert (round(r.estimate, 2), round(r.ci_low, 2), round(r.ci_high, 2)) == (0.76, 0.49, 1.17)


# Agresti (2002) Table 3.7: maternal alcohol (drinks/day scored 0, 0.5, 1.5, 4, 7) and
# congenital malformation; linear-by-linear M^2 = 6.57 (P = 0.01), n = 32574.
ALCOHOL = pd.DataFrame(
    {
        "score": [0, 0.5, 1.5, 4.0, 7.0],
        "events": [48, 38, 5, 1, 1],
        "total": [17114, 14502, 793, 127, 38],
    }
)


def test_cochran_armitage_agresti_alcohol():
    z, p = cochran_armitage(ALCOHOL.score, ALCOHOL.events, ALCOHOL.total)
    n = ALCOHOL.total.sum()
    m2 = z**2 * (n - 1) / n
    assert m2 == pytest.approx(6.57, abs=5e-3)
    # statsmodels' linear-by-linear test gives M^2; CA = N/(N-1) * M^2.
    tab = np.column_stack([ALCOHOL.events, ALCOHOL.total - ALCOHOL.events])
    lbl = Table(tab).test_ordinal_association(
        row_scores=ALCOHOL.score.to_numpy(), col_scores=np.array([1.0, 0.0])
    )
    assert z**2 == pytest.approx(lbl.zscore**2 * n / (n - 1), rel=1e-10)
    est = trend_test_grouped(ALCOHOL, "score", "events", "total", [])
    assert est.extra["cochran_armitage_p"] == pytest.approx(p, rel=1e-12)
    assert est.extra["cochran_armitage_p"] == pytest.approx(0.0104, abs=2e-4)


def test_trend_logistic_equals_individual_logit():
    est = trend_test_grouped(ALCOHOL, "score", "events", "total", [])
    x = np.repeat(ALCOHOL.score.to_numpy(), 2)
    y = np.tile([1.0, 0.0], len(ALCOHOL))
    w = np.column_stack([ALCOHOL.events, ALCOHOL.total - ALCOHOL.events]).ravel()
    fit = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial(), freq_weights=w).fit()
    assert est.log_estimate == pytest.approx(fit.params[1], abs=1e-8)
    assert est.se_log == pytest.approx(fit.bse[1], rel=1e-6)
