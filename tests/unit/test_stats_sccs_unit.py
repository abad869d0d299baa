"""Edge cases of the SCCS fit."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.stats.sccs import sccs_fit


def test_window_without_events_is_nan_and_others_unchanged():
    df = pd.DataFrame(
        {
            "person": [1, 1, 1, 2, 2, 2],
            "window": ["baseline", "risk", "pre_exposure"] * 2,
            "length": [300, 40, 30, 200, 60, 30],
            "events": [3, 2, 0, 1, 2, 0],
        }
    )
    res = sccs_fit(df, age_col=None)
    assert math.isnan(res["pre_exposure"].estimate) and res["pre_exposure"].note
    without = sccs_fit(df[df.window != "pre_exposure"], age_col=None)
    assert res["risk"].log_estimate == pytest.approx(without["risk"].log_estimate, abs=1e-10)


def test_missing_baseline_is_user_error():
    df = pd.DataFrame({"person": [1], "window": ["risk"], "length": [10], "events": [1]})
    with pytest.raises(MiglinkError) as err:
        sccs_fit(df, age_col=None)
    assert err.value.column == "window"


def test_events_in_empty_interval_is_user_error():
    df = pd.DataFrame(
        {"person": [1, 1], "window": ["baseline", "risk"], "length": [0, 10], "events": [1, 1]}
    )
    with pytest.raises(MiglinkError):
        sccs_fit(df, age_col=None)
