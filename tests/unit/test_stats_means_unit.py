"""Edge cases of the sufficient-statistic estimators."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.stats.balance import mean_var_from_sufficient, smd_continuous
from miglink.stats.means import ratio_of_geometric_means
from miglink.stats.proportion import binomial_share


def test_rgm_needs_a_stratum_with_both_groups():
    df = pd.DataFrame(
        {
            "stratum": ["a", "b"],
            "group": [1, 0],
            "n": [5, 6],
            "sum": [2.0, 3.0],
            "sumsq": [4.0, 5.0],
        }
    )
    est = ratio_of_geometric_means(df)
    assert math.isnan(est.estimate) and "both groups" in est.note


def test_rgm_missing_column_is_user_error():
    with pytest.raises(MiglinkError) as err:
        ratio_of_geometric_means(pd.DataFrame({"stratum": ["a"], "group": [1], "n": [3]}))
    assert err.value.column == "sum"


def test_rgm_unadjusted_is_ratio_of_geometric_means():
    # One stratum: exp(mean log y1 - mean log y0), i.e. the ratio of geometric means.
    df = pd.DataFrame(
        {
            "stratum": ["a", "a"],
            "group": [1, 0],
            "n": [2, 3],
            "sum": [3.0, 3.0],
            "sumsq": [5.0, 3.5],
        }
    )
    assert ratio_of_geometric_means(df).estimate == pytest.approx(math.exp(1.5 - 1.0))


def test_sufficient_single_person_has_zero_variance():
    assert mean_var_from_sufficient(1, 2.0, 4.0) == (2.0, 0.0)
    assert smd_continuous(1.0, 0.0, 1.0, 0.0) == 0.0


def test_share_rejects_impossible_counts_as_nan():
    assert math.isnan(binomial_share(5, 3).estimate)
