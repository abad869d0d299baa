"""Cohort estimators against published values and independent library fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.conditional_models import ConditionalPoisson
from statsmodels.duration.hazard_regression import PHReg

from miglink.stats.cohort import cox_matched, incidence_rate, kaplan_meier, poisson_rate_ratio

# Doll & Hill British doctors, coronary deaths (Stata's dollhill3 dataset; Breslow & Day
# vol. II, Table 2.1): per 10-year age band, smokers then non-smokers.
DOLL = pd.DataFrame(
    {
        "stratum": [f"age{i}" for i in range(5)] * 2,
        "exposed": [1] * 5 + [0] * 5,
        "events": [32, 104, 206, 186, 102, 2, 12, 28, 28, 31],
        "person_years": [52407, 43248, 28612, 12663, 5317, 18790, 10673, 5710, 2585, 1462],
    }
)


def test_incidence_rate_exact_poisson_limits():
    # Exact Poisson limits for 10 events (Ulm 1990, Am J Epidemiol 131:373; also
    # Garwood 1936): 4.7954 to 18.3904, i.e. per 1,000 person-years for 10 / 1000 PY.
    est = incidence_rate(10, 1000, per=1000)
    assert est.estimate == pytest.approx(10.0)
    assert est.ci_low == pytest.approx(4.7954, abs=5e-4)
    assert est.ci_high == pytest.approx(18.3904, abs=5e-4)
    zero = incidence_rate(0, 1000, per=1000)
    # Zero events: upper limit -ln(0.025) = 3.6889 events.
    assert zero.estimate == 0 and zero.ci_high == pytest.approx(3.6889, abs=5e-4)


def test_poisson_rate_ratio_doll_hill_matches_stata():
    # Stata manual: poisson deaths smokes i.agecat, exposure(pyears) irr ->
    # smokes IRR 1.425519, SE .1530638, 95% CI 1.154984 to 1.759421.
    est = poisson_rate_ratio(DOLL)
    assert est.estimate == pytest.approx(1.425519, abs=5e-6)
    assert est.estimate * est.se_log == pytest.approx(0.1530638, abs=5e-7)
    assert est.ci_low == pytest.approx(1.154984, abs=5e-6)
    assert est.ci_high == pytest.approx(1.759421, abs=5e-6)


def test_poisson_rate_ratio_equals_conditional_poisson():
    # Library reference: the conditional Poisson likelihood (strata as groups) gives the same
    # exposure coefficient as Poisson with stratum fixed effects.
    cp = ConditionalPoisson(
        DOLL.events.to_numpy(float),
        DOLL[["exposed"]].to_numpy(float),
        groups=DOLL.stratum.to_numpy(),
        offset=np.log(DOLL.person_years.to_numpy(float)),
    ).fit(disp=0)
    est = poisson_rate_ratio(DOLL)
    assert est.log_estimate == pytest.approx(cp.params[0], abs=1e-6)
    assert est.se_log == pytest.approx(cp.bse[0], rel=1e-4)


def test_poisson_one_stratum_closed_form():
    df = DOLL[DOLL.stratum == "age2"]
    est = poisson_rate_ratio(df)
    assert est.estimate == pytest.approx((206 / 28612) / (28 / 5710), rel=1e-8)
    assert est.se_log == pytest.approx(math.sqrt(1 / 206 + 1 / 28), rel=1e-6)


# Freireich et al. (1963) remission times, as in Gehan (1965); "+" censored.
SIXMP = [6, 6, 6, -6, 7, -9, 10, -10, -11, 13, 16, -17, -19, -20, 22, 23, -25, -32, -32, -34, -35]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def _gehan() -> pd.DataFrame:
    rows = [(abs(t), int(t > 0), 0) for t in SIXMP] + [(t, 1, 1) for t in PLACEBO]
    return pd.DataFrame(rows, columns=["time", "event", "placebo"])


def test_kaplan_meier_6mp_matches_r_survfit():
    # R: survfit(Surv(time, status) ~ 1, conf.type = "log-log") on the 6-MP arm
    # (6-MP arm of the Freireich/Gehan data, as in KMsurv::drug6mp), printed values:
    # time n.risk survival lower upper
    ref = {
        6: (21, 0.857, 0.620, 0.952),
        7: (17, 0.807, 0.563, 0.923),
        10: (15, 0.753, 0.503, 0.889),
        13: (12, 0.690, 0.432, 0.849),
        16: (11, 0.627, 0.368, 0.805),
        22: (7, 0.538, 0.268, 0.747),
        23: (6, 0.448, 0.188, 0.680),
    }
    km = kaplan_meier(_gehan(), "time", "event", "placebo", list(ref))
    arm = km[km.group == 0].set_index("time")
    for t, (n_risk, s, lo, hi) in ref.items():
        row = arm.loc[float(t)]
        assert row.at_risk == n_risk
        assert row.survival == pytest.approx(s, abs=5e-4)
        assert row.ci_low == pytest.approx(lo, abs=5e-4)
        assert row.ci_high == pytest.approx(hi, abs=5e-4)
    assert arm.loc[23.0, "events"] == 9


def test_cox_gehan_matches_r_coxph():
    # R: coxph(Surv(time, status) ~ placebo) on the Gehan data, Efron ties:
    # coef 1.572, se(coef) 0.412, exp(coef) 4.817.
    est = cox_matched(_gehan(), "time", "event", "placebo", None)
    assert est.log_estimate == pytest.approx(1.572, abs=5e-4)
    assert est.se_log == pytest.approx(0.412, abs=5e-4)
    assert est.estimate == pytest.approx(4.817, abs=5e-3)


def test_cox_stratified_equals_statsmodels_phreg():
    rng = np.random.default_rng(11)
    n_sets = 150
    rows = []
    for s in range(n_sets):
        base = rng.gamma(2.0, 0.5)
        for k in range(5):
            exposed = int(k == 0)
            t = rng.exponential(1 / (base * (1.8 if exposed else 1.0)))
            c = rng.uniform(0.3, 3.0)
            rows.append((s, exposed, round(min(t, c), 2), int(t <= c)))
    df = pd.DataFrame(rows, columns=["set", "exposed", "time", "event"])
    est = cox_matched(df, "time", "event", "exposed", "set")
    ph = PHReg(
        df.time.to_numpy(),
        df[["exposed"]].to_numpy(float),
        status=df.event.to_numpy(),
        strata=df.set.to_numpy(),
        ties="efron",
    ).fit()
    assert est.log_estimate == pytest.approx(ph.params[0], abs=1e-5)
    assert est.se_log == pytest.approx(ph.bse[0], rel=1e-4)


def test_fast_cox_equals_lifelines_with_two_covariates_and_ties():
    # Library reference: lifelines CoxPHFitter (Efron ties) stratified on the matched set.
    from lifelines import CoxPHFitter

    from miglink.stats.coxfast import fit_cox_efron

    rng = np.random.default_rng(8)
    m = 200
    s = np.repeat(np.arange(m), 5)
    x = np.tile([1, 0, 0, 0, 0], m)
    z = rng.normal(size=len(s))
    t = np.round(rng.exponential(1 / (0.1 * np.exp(0.4 * x + 0.3 * z))), 0) + 1  # many ties
    c = rng.integers(1, 20, len(s))
    df = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x, "z": z, "s": s})
    fit = fit_cox_efron(df.t, df.e, df[["x", "z"]], df.s)
    cph = CoxPHFitter().fit(df, "t", "e", strata=["s"])
    assert fit.converged
    assert fit.params == pytest.approx(cph.params_.to_numpy(), abs=1e-5)
    assert np.sqrt(np.diag(fit.cov)) == pytest.approx(cph.standard_errors_.to_numpy(), rel=1e-5)
    assert fit.loglik == pytest.approx(cph.log_likelihood_, abs=1e-6)
