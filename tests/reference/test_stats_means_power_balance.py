"""Ratio of geometric means, MDRR, SMD and binomial share against library / published values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower

from miglink.stats.balance import smd_binary, smd_continuous, smd_from_sufficient
from miglink.stats.means import ratio_of_geometric_means
from miglink.stats.power import mdrr_cohort, mdrr_odds_ratio, mdrr_sccs
from miglink.stats.proportion import binomial_share


def _people(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        for g in (0, 1):
            if s == 5 and g == 1:
                continue  # a stratum holding one group only still informs the variance
            k = int(rng.integers(1, 40))
            y = rng.normal(0.5 + 0.1 * s + 0.25 * g, 0.8, size=k)
            rows += [(f"s{s}", g, v) for v in y]
    return pd.DataFrame(rows, columns=["stratum", "group", "y"])


def test_rgm_equals_person_level_ols():
    people = _people()
    cells = (
        people.assign(y2=people.y**2)
        .groupby(["stratum", "group"], as_index=False)
        .agg(n=("y", "size"), sum=("y", "sum"), sumsq=("y2", "sum"))
    )
    est = ratio_of_geometric_means(cells)
    # Library reference: statsmodels OLS on the individual rows.
    x = pd.get_dummies(people.stratum, drop_first=True, dtype=float)
    x.insert(0, "group", people.group.astype(float))
    ols = sm.OLS(people.y, sm.add_constant(x)).fit()
    assert est.log_estimate == pytest.approx(ols.params["group"], abs=1e-8)
    assert est.se_log == pytest.approx(ols.bse["group"], abs=1e-8)
    lo, hi = ols.conf_int().loc["group"]
    assert est.ci_low == pytest.approx(math.exp(lo), abs=1e-8)
    assert est.ci_high == pytest.approx(math.exp(hi), abs=1e-8)
    assert est.p_value == pytest.approx(ols.pvalues["group"], abs=1e-8)


def test_mdrr_closed_form_and_statsmodels_power():
    n1, n0, events = 2_000, 8_000, 150
    p = n1 / (n1 + n0)
    # Closed form (OHDSI CohortMethod computeMdrr): exp(sqrt((z_a + z_b)^2 / (p (1-p) E))).
    z = norm.ppf(0.975) + norm.ppf(0.8)
    expected = math.exp(math.sqrt(z**2 / (p * (1 - p) * events)))
    assert mdrr_cohort(n1, n0, events) == pytest.approx(expected, rel=1e-12)
    # Library reference: one-sample z-test power with n = E p (1-p) (se(log HR) = 1/sqrt(n)).
    d = NormalIndPower().solve_power(
        effect_size=None, nobs1=events * p * (1 - p), alpha=0.05, power=0.8, ratio=0
    )
    # statsmodels counts the far rejection tail too, a difference far below 1e-4 here.
    assert math.log(mdrr_cohort(n1, n0, events)) == pytest.approx(d, rel=1e-4)
    assert mdrr_odds_ratio(n1, n0, events) == mdrr_cohort(n1, n0, events)
    assert mdrr_sccs(events, p) == pytest.approx(expected, rel=1e-12)
    assert mdrr_cohort(0, 100, 10) == math.inf
    assert mdrr_cohort(10, 100, 0) == math.inf


def test_smd_matches_individual_rows():
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 2.0, 300)
    b = rng.normal(1.4, 1.5, 500)
    direct = (a.mean() - b.mean()) / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    got = smd_from_sufficient(len(a), a.sum(), (a**2).sum(), len(b), b.sum(), (b**2).sum())
    assert got == pytest.approx(direct, rel=1e-9)
    assert smd_continuous(a.mean(), a.var(ddof=1), b.mean(), b.var(ddof=1)) == pytest.approx(direct)
    # Austin (2009) binary SMD: (p1 - p0) / sqrt((p1 (1-p1) + p0 (1-p0)) / 2);
    # 0.30 vs 0.20 -> 0.1 / sqrt(0.185) = 0.2325.
    assert smd_binary(0.3, 0.2) == pytest.approx(0.2325, abs=5e-5)


def test_binomial_share_clopper_pearson():
    # Clopper-Pearson 95% limits for 2/10: 0.0252 to 0.5561; exact two-sided binomial
    # p = 2 * P(X <= 2 | n=10, 0.5) = 2 * 56/1024 = 0.109375 (Conover, Practical
    # Nonparametric Statistics, Table A3).
    est = binomial_share(2, 10)
    assert est.estimate == pytest.approx(0.2)
    assert est.ci_low == pytest.approx(0.0252, abs=5e-5)
    assert est.ci_high == pytest.approx(0.5561, abs=5e-5)
    assert est.p_value == pytest.approx(0.109375, abs=1e-12)
    assert math.isnan(est.log_estimate)
    # 5/10: symmetric limits 0.1871 to 0.8129, p = 1.
    half = binomial_share(5, 10)
    assert (round(half.ci_low, 4), round(half.ci_high, 4), half.p_value) == (0.1871, 0.8129, 1.0)
