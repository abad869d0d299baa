"""Outcome model: Cox from a risk table equals the person-level fit; R coxph reference values
(tests/reference/r/ps_reference.R); lifelines route; Kaplan-Meier per arm."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miglink.stats.coxfast import fit_cox_efron
from miglink.stats.ps_outcome import (
    cox_from_risk_table,
    cox_outcome,
    kaplan_meier_arms,
    kaplan_meier_from_risk_table,
    risk_table,
)

R_OUT = Path(__file__).resolve().parents[1] / "reference" / "r" / "ps_reference.out"


def _r(tag: str) -> tuple[float, float]:
    for line in R_OUT.read_text().splitlines():
        if line.startswith(tag + " "):
            f = line.split()
            return float(f[1]), float(f[2])
    raise KeyError(tag)


def _r_data():
    i = np.arange(200)  # the deterministic data of ps_reference.R
    treatment = ((i * 7) % 3 == 0).astype(int)
    time = 1 + (i * 37) % 23 + treatment * ((i * 13) % 5)
    event = ((i * 11) % 5 != 0).astype(int)
    return time.astype(float), event, treatment, i % 4, 0.5 + (i % 7) / 4


def test_stratified_efron_equals_r_coxph():
    time, event, t, s, _ = _r_data()
    b, se = _r("cox_strata_efron")  # R survival 3.5-3: coxph(ties="efron", strata(stratum))
    for method in ("efron", "lifelines"):
        fit = cox_outcome(time, event, t, s, method=method)
        assert fit.log_hr == pytest.approx(b, abs=1e-8)
        assert fit.se == pytest.approx(se, abs=1e-8)
    breslow, _ = _r("cox_strata_breslow")  # Cyclops' ties: a visibly different estimate here
    assert abs(fit.log_hr - breslow) > 5e-3


def test_weighted_robust_equals_r_coxph_without_ties():
    i = np.arange(200)
    t = ((i * 7) % 3 == 0).astype(int)
    time = 1 + (i * 37) % 23 + 0.001 * i
    event = ((i * 11) % 5 != 0).astype(int)
    b, se = _r("cox_weighted_robust_untied")  # R: coxph(weights = w, robust = TRUE)
    fit = cox_outcome(time, event, t, weights=0.5 + (i % 7) / 4)
    assert fit.method == "lifelines_weighted_robust"
    assert fit.log_hr == pytest.approx(b, abs=1e-8)
    assert fit.se == pytest.approx(se, rel=1e-6)


def test_weighted_robust_with_ties_point_estimate_equals_r():
    time, event, t, _, w = _r_data()
    b, se = _r("cox_weighted_robust")  # R: the same, tied times
    fit = cox_outcome(time, event, t, weights=w)
    assert fit.log_hr == pytest.approx(b, abs=1e-8)
    # lifelines' robust SE under tied times is not R's (0.1910 vs 0.1956 here): documented
    assert fit.se == pytest.approx(se, rel=0.05)


def _matched(seed=7, sets=3000, k=3):
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(sets), k + 1)
    t = np.tile([1] + [0] * k, sets)
    frailty = np.repeat(rng.gamma(2, 0.5, sets), k + 1)
    tt = np.ceil(rng.exponential(200 / (frailty * np.exp(0.4 * t))))
    c = np.ceil(rng.uniform(30, 365, len(t)))
    return np.minimum(tt, c), (tt <= c).astype(int), t, s


def test_risk_table_fit_equals_the_person_level_fit():
    time, event, t, s = _matched()
    table = risk_table(time, event, t, s)
    assert len(table) < len(time) and set(table.columns) >= {"events", "censored"}
    agg = cox_from_risk_table(table)
    person = fit_cox_efron(time, event, t[:, None].astype(float), s)  # coxfast, person rows
    assert agg.log_hr == pytest.approx(float(person.params[0]), abs=1e-9)
    assert agg.se == pytest.approx(float(np.sqrt(person.cov[0, 0])), abs=1e-9)
    assert agg.events_t + agg.events_c <= event.sum()


def test_lifelines_pseudo_rows_equal_lifelines_on_persons():
    from lifelines import CoxPHFitter

    time, event, t, s = _matched(sets=150)
    df = pd.DataFrame({"time": time, "event": event, "treatment": t * 1.0, "stratum": s % 5})
    ref = CoxPHFitter().fit(
        df, "time", "event", strata=["stratum"], fit_options={"precision": 1e-12}
    )
    fit = cox_from_risk_table(risk_table(time, event, t, s % 5), method="lifelines")
    assert fit.log_hr == pytest.approx(float(ref.params_["treatment"]), abs=1e-9)
    assert fit.se == pytest.approx(float(ref.standard_errors_["treatment"]), abs=1e-9)
    from statsmodels.duration.hazard_regression import PHReg

    ph = PHReg(time, t[:, None] * 1.0, status=event, strata=s % 5, ties="efron").fit()
    ours = cox_from_risk_table(risk_table(time, event, t, s % 5))
    assert ours.log_hr == pytest.approx(float(ph.params[0]), abs=1e-9)  # statsmodels PHReg
    # lifelines stops ~1e-6 away on these heavy ties (PHReg and coxfast agree with ours)
    assert ours.log_hr == pytest.approx(fit.log_hr, abs=1e-5)


def test_unmatched_rows_and_uninformative_sets_are_dropped():
    time, event, t, s = _matched(sets=200)
    s2 = s.copy()
    s2[:8] = -1  # two sets unmatched
    full = cox_outcome(time[8:], event[8:], t[8:], s[8:])
    assert cox_outcome(time, event, t, s2).log_hr == pytest.approx(full.log_hr, abs=1e-12)
    none = cox_outcome(time, np.where(t == 1, 0, event), t, s)
    assert np.isnan(none.log_hr) and "no events" in none.note


def test_kaplan_meier_per_arm_equals_lifelines_and_weights_replicate():
    from lifelines import KaplanMeierFitter

    time, event, t, _ = _matched(sets=100)
    km = kaplan_meier_arms(time, event, t)
    ref = KaplanMeierFitter().fit(time[t == 1], event[t == 1])
    arm = km[km.treatment == 1].set_index("time")
    np.testing.assert_allclose(
        arm["survival"], ref.survival_function_.loc[arm.index].iloc[:, 0], rtol=1e-12
    )
    w = np.where(np.arange(len(t)) % 3 == 0, 2.0, 1.0)  # integer weights = duplicated persons
    rep = np.repeat(np.arange(len(t)), w.astype(int))
    a = kaplan_meier_arms(time, event, t, w)
    b = kaplan_meier_from_risk_table(risk_table(time[rep], event[rep], t[rep]))
    np.testing.assert_allclose(a["survival"], b["survival"], rtol=1e-12)
    np.testing.assert_allclose(a["at_risk"], b["at_risk"])


def test_weighted_table_is_refused_by_the_efron_route():
    time, event, t, s = _matched(sets=50)
    table = risk_table(time, event, t, s, weights=np.full(len(t), 0.7))
    with pytest.raises(ValueError, match="integer event counts"):
        cox_from_risk_table(table)


def test_events_at_time_zero_stay_on_the_curve():
    km = kaplan_meier_arms(
        np.array([0.0, 0, 1, 2, 3, 3]), np.array([1, 0, 1, 1, 0, 1]), np.array([1, 1, 1, 0, 0, 0])
    )
    arm = km[km.treatment == 1]
    assert arm["time"].tolist() == [0.0, 1.0] and arm["survival"].iloc[0] == pytest.approx(2 / 3)
