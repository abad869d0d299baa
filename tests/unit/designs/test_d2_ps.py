"""D2's PS-stratified row: follow-up rules, aggregates by hand, the Cox fit on the compressed
risk table against lifelines on the persons, and a case-only covariate moving the row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from miglink.designs.base import Task
from miglink.designs.d2_ps_pairs import (
    compress_risk_table,
    fit_ps,
    followup,
    pair_aggregates,
)
from miglink.designs.d2_ps_rows import ps_row
from miglink.stats.ps_outcome import cox_from_risk_table, risk_table

NAN = float("nan")
TASK = Task("D2", "d2__migraine__sle", "migraine", "sle", options={"direction": "forward"})


def test_followup_follows_d2_counts_rules():
    """Index day 100, observation to 500; each row one rule of d2_counts (by hand)."""
    m = pd.DataFrame(
        dict(index_day=[100] * 7, m_obs_end=[500] * 6 + [100],
             m_death=[NAN, NAN, 250, NAN, NAN, NAN, NAN],
             censor_day=[NAN, NAN, NAN, 200, 300, NAN, NAN])
    )  # fmt: skip
    outcome = np.array([300, 100, NAN, 300, 300, 600, NAN])
    time, event = followup(m, outcome)
    # event at 300; outcome on index: not at risk; death; censored (index condition) before the
    # outcome; outcome on the censoring day counts; outcome after observation; no follow-up
    np.testing.assert_array_equal(time, [200, 0, 150, 100, 200, 400, 0])
    np.testing.assert_array_equal(event, [1, 0, 0, 0, 1, 0, 0])


def _hand_example():
    """Eight members at risk and one without follow-up (left out before stratifying)."""
    t = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0])
    ps = np.array([0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.4, 0.9, 0.5])
    time = np.array([10, 20, 15, 30, 5, 25, 12, 40, 0], float)
    event = np.array([1, 0, 1, 0, 1, 0, 1, 0, 0], bool)
    x = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 1, 1, 0, 1]], float).T)
    return x, t, ps, time, event


def test_pair_aggregates_by_hand():
    agg = pair_aggregates(*_hand_example(), n_strata=2)
    # two strata cut at the median PS 0.5 of the eight at risk: {0.1..0.4} and {0.6..0.9};
    # censoring moved to the stratum's last event time at or before it (40, 20 -> 15; 30, 25 -> 12)
    expect = pd.DataFrame(
        dict(stratum=[0, 0, 0, 1, 1, 1], treatment=[0, 0, 1, 0, 1, 1],
             time=[5.0, 12, 12, 15, 10, 15], events=[1, 0, 1, 1, 1, 0],
             censored=[0, 2, 0, 1, 0, 1])
    )  # fmt: skip
    pd.testing.assert_frame_equal(agg.risk, expect, check_dtype=False)
    s = agg.summary
    assert (s["n_t"], s["n_c"], s["e_t"], s["e_c"]) == (3, 5, 2, 2)
    assert (s["pd_t"], s["pd_c"]) == (42.0, 115.0)
    # preference in [0.3, 0.7] <=> PS in [0.2046, 0.5833] (P = 3/8): PS 0.3 and 0.4
    assert s["equipoise"] == pytest.approx(2 / 8)
    # covariate: cases 1, 0, 1; comparators 1, 0, 0, 1, 0 -> SMD before
    # (2/3 - 2/5) / sqrt((2/9 + 6/25) / 2); after, stratum 0's three comparators weigh 1/3:
    # comparator mean 4/9, variance 20/81
    before = (2 / 3 - 2 / 5) / math.sqrt((2 / 9 + 6 / 25) / 2)
    after = (2 / 3 - 4 / 9) / math.sqrt((2 / 9 + 20 / 81) / 2)
    assert agg.balance["smd_before"].iloc[0] == pytest.approx(before)
    assert agg.balance["smd_after"].iloc[0] == pytest.approx(after)
    assert s["max_abs_smd_after"] == pytest.approx(after)


def _lifelines_stratified(time, event, t, strata) -> float:
    """Reference: lifelines CoxPHFitter (Efron ties) on the person rows, stratified."""
    from lifelines import CoxPHFitter

    df = pd.DataFrame(dict(time=time, event=event.astype(int), t=t.astype(float), s=strata))
    return float(CoxPHFitter().fit(df, "time", "event", strata=["s"]).params_["t"])


def test_compressed_risk_table_gives_the_person_level_cox():
    rng = np.random.default_rng(3)
    n = 300
    t = rng.integers(0, 2, n)
    strata = rng.integers(0, 3, n)
    time = rng.integers(1, 40, n).astype(float)  # many ties
    event = rng.random(n) < 0.4
    tab = risk_table(time, event, t, strata)
    small = compress_risk_table(tab)
    assert len(small) < len(tab)
    fit = cox_from_risk_table(small)
    assert fit.log_hr == pytest.approx(_lifelines_stratified(time, event, t, strata), abs=1e-6)
    assert fit.log_hr == pytest.approx(cox_from_risk_table(tab).log_hr, abs=1e-10)


def _frames(agg) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = dict(index_set="migraine", outcome_set="sle")
    summary = dict(**agg.summary, auc=0.5, prior_c=0.01, n_covariates=1, near_predictors=0)
    return agg.risk.assign(**key), pd.DataFrame([{**key, **summary, "note": ""}])


def test_ps_row_is_the_stratified_cox_of_the_persons():
    x, t, ps, time, event = _hand_example()
    row = ps_row(*_frames(pair_aggregates(x, t, ps, time, event, n_strata=2)), TASK)
    # R survival coxph(Surv(time, ev) ~ t + strata(PS > 0.5), ties = "efron") on the eight
    # persons: tests/reference/r/d2_ps_reference.R / .out (lifelines stops at 0.62413 here)
    assert row["log_estimate"] == pytest.approx(0.623903346785855, abs=1e-12)
    assert row["se_log"] == pytest.approx(1.019031601787381, abs=1e-10)
    assert row["analysis"] == "d2__migraine__sle__ps_stratified"
    assert (row["role"], row["method"], row["direction"]) == (
        "sensitivity",
        "cox_ps_stratified",
        "forward",
    )
    assert (row["n_exposed"], row["events_unexposed"]) == (3, 2)
    assert "2 PS strata" in row["note"] and "equipoise 0.25" in row["note"]


def test_a_case_only_baseline_covariate_changes_the_ps_row():
    """A condition recorded before index in 60% of cases and no comparator, which also raises
    the outcome's hazard: the PS picks it up and the row moves towards the null."""
    rng = np.random.default_rng(11)
    n_t, n_c = 150, 600
    t = np.r_[np.ones(n_t, int), np.zeros(n_c, int)]
    noise = (rng.random((n_t + n_c, 4)) < 0.3).astype(float)
    prior = np.r_[rng.random(n_t) < 0.6, np.zeros(n_c, bool)].astype(float)
    rate = 0.002 * np.exp(1.5 * prior)
    time = np.ceil(rng.exponential(1 / rate))
    censor = rng.integers(200, 1500, n_t + n_c)
    event, time = time <= censor, np.minimum(time, censor)

    def row(cols):
        x = sp.csr_matrix(cols)
        agg = pair_aggregates(x, t, fit_ps(x, t).ps, time, event)
        return ps_row(*_frames(agg), TASK)

    without = row(noise)
    with_prior = row(np.column_stack([noise, prior]))
    assert with_prior["estimate"] < without["estimate"] - 0.3
    # the case-only condition is imbalanced before (SMD > 1) and the PS strata separate it
    assert with_prior["note"] != without["note"]
