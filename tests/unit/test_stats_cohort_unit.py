"""Edge cases of the cohort estimators."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.stats.cohort import cox_matched, incidence_rate, poisson_rate_ratio


def test_incidence_no_person_time_is_nan():
    assert math.isnan(incidence_rate(3, 0).estimate)


def test_poisson_no_exposed_events_is_nan():
    df = pd.DataFrame(
        {"stratum": ["a", "a"], "exposed": [1, 0], "events": [0, 5], "person_years": [10.0, 20.0]}
    )
    est = poisson_rate_ratio(df)
    assert math.isnan(est.estimate) and "no events" in est.note


def test_poisson_strata_without_events_do_not_change_estimate():
    base = pd.DataFrame(
        {
            "stratum": ["a", "a", "b", "b"],
            "exposed": [1, 0, 1, 0],
            "events": [10, 5, 7, 9],
            "person_years": [100.0, 120.0, 50.0, 90.0],
        }
    )
    empty = pd.DataFrame(
        {"stratum": ["c", "c"], "exposed": [1, 0], "events": [0, 0], "person_years": [40.0, 60.0]}
    )
    a = poisson_rate_ratio(base)
    b = poisson_rate_ratio(pd.concat([base, empty]))
    assert a.log_estimate == pytest.approx(b.log_estimate, abs=1e-10)
    assert b.extra["n_strata"] == 2


def test_poisson_events_without_time_is_user_error():
    df = pd.DataFrame({"stratum": ["a"], "exposed": [1], "events": [2], "person_years": [0.0]})
    with pytest.raises(MiglinkError) as err:
        poisson_rate_ratio(df)
    assert err.value.column == "person_years"


def test_cox_no_events_among_exposed_is_nan():
    df = pd.DataFrame(
        {"t": [1.0, 2.0, 3.0, 4.0], "e": [0, 1, 0, 1], "x": [1, 0, 1, 0], "s": [1, 1, 2, 2]}
    )
    est = cox_matched(df, "t", "e", "x", "s")
    assert math.isnan(est.estimate) and est.note


def test_cox_missing_column_is_user_error():
    with pytest.raises(MiglinkError):
        cox_matched(pd.DataFrame({"t": [1.0]}), "t", "e", "x", "s")


def test_poisson_exposure_constant_within_every_stratum_is_nan():
    df = pd.DataFrame(
        {
            "stratum": ["a", "b"],
            "exposed": [1, 0],
            "events": [4, 6],
            "person_years": [10.0, 20.0],
        }
    )
    est = poisson_rate_ratio(df)
    assert math.isnan(est.estimate) and "collinear" in est.note


def test_cox_exposure_constant_within_every_set_is_nan():
    df = pd.DataFrame(
        {"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 1, 1, 1], "x": [1, 1, 0, 0], "s": [1, 1, 2, 2]}
    )
    est = cox_matched(df, "t", "e", "x", "s")
    assert math.isnan(est.estimate) and est.note


def test_zero_event_rate_has_finite_row_values_or_nan():
    row = incidence_rate(0, 500).as_row()
    assert row["estimate"] == 0 and math.isnan(row["log_estimate"]) and row["ci_high"] > 0
