"""Edge cases of the 2×2 estimators: NaN (never raise) on thin data, clear user errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.stats.twobytwo import (
    logistic_grouped,
    logistic_grouped_levels,
    mantel_haenszel,
    odds_ratio_woolf,
    trend_test_grouped,
)


def test_woolf_empty_margin_is_nan_with_note():
    est = odds_ratio_woolf(0, 0, 5, 30)
    assert math.isnan(est.estimate) and "margin" in est.note
    assert not est.estimable


def test_as_row_keys_exist_in_results_schema():
    from importlib.resources import files

    schema = files("miglink") / "data" / "results_schema.csv"
    names = {line.split(",")[0] for line in schema.read_text().splitlines()[1:]}
    assert set(odds_ratio_woolf(10, 20, 5, 30).as_row()) <= names


def test_mh_no_discordant_information_is_nan():
    t = pd.DataFrame({"a": [0, 0], "b": [10, 5], "c": [0, 0], "d": [7, 9]})
    est = mantel_haenszel(t)
    assert math.isnan(est.estimate) and est.note


def test_mh_missing_column_names_table_and_column():
    with pytest.raises(MiglinkError) as err:
        mantel_haenszel(pd.DataFrame({"a": [1], "b": [2], "c": [3]}))
    assert err.value.column == "d" and err.value.n_rows == 1


def test_mh_ignores_strata_of_one_person():
    base = pd.DataFrame({"a": [10, 4], "b": [20, 30], "c": [5, 3], "d": [30, 40]})
    extra = pd.concat([base, pd.DataFrame({"a": [1], "b": [0], "c": [0], "d": [0]})])
    assert mantel_haenszel(extra).estimate == pytest.approx(mantel_haenszel(base).estimate)


def test_logistic_drops_strata_without_events():
    df = pd.DataFrame(
        {
            "s": ["x", "x", "y", "y", "z", "z"],
            "e": [0, 1, 0, 1, 0, 1],
            "k": [10, 20, 5, 9, 0, 0],
            "n": [100, 100, 80, 70, 50, 60],
        }
    )
    with_empty = logistic_grouped(df, "k", "n", "e", ["s"])
    without = logistic_grouped(df[df.s != "z"], "k", "n", "e", ["s"])
    assert with_empty.log_estimate == pytest.approx(without.log_estimate, abs=1e-10)
    assert with_empty.extra["converged"]


def test_logistic_levels_reference_and_empty_level():
    df = pd.DataFrame(
        {
            "sub": ["none", "aura", "no_aura", "unspecified"],
            "k": [50, 12, 20, 0],
            "n": [1000, 100, 200, 30],
        }
    )
    res = logistic_grouped_levels(df, "k", "n", "sub", [], reference="none")
    assert set(res) == {"aura", "no_aura", "unspecified"}
    # No covariates: the OR is the crude 2x2 OR against the reference level.
    assert res["aura"].estimate == pytest.approx((12 / 88) / (50 / 950), rel=1e-8)
    assert math.isnan(res["unspecified"].estimate)
    with pytest.raises(MiglinkError):
        logistic_grouped_levels(df, "k", "n", "sub", [], reference="nothing")


def test_logistic_rejects_events_above_total():
    df = pd.DataFrame({"e": [0, 1], "k": [5, 11], "n": [10, 10]})
    with pytest.raises(MiglinkError) as err:
        logistic_grouped(df, "k", "n", "e", [])
    assert err.value.n_rows == 1


def test_trend_single_level_is_nan():
    df = pd.DataFrame({"score": [1, 1], "k": [3, 4], "n": [10, 10], "s": ["a", "b"]})
    assert math.isnan(trend_test_grouped(df, "score", "k", "n", ["s"]).estimate)


def test_logistic_exposure_constant_within_every_stratum_is_nan():
    df = pd.DataFrame({"s": ["x", "y"], "e": [1, 0], "k": [5, 7], "n": [50, 60]})
    est = logistic_grouped(df, "k", "n", "e", ["s"])
    assert math.isnan(est.estimate) and "collinear" in est.note
