"""Calibration is unavailable, not wrong, when controls are too few."""

from __future__ import annotations

import numpy as np

from miglink.stats.calibration import calibrate, fit_null


def test_fewer_than_five_usable_controls_gives_none():
    assert fit_null([0.1, 0.2, -0.1, 0.0], [0.1, 0.2, 0.1, 0.3]) is None
    # NaN, infinite and zero-SE controls do not count as usable.
    logs = [0.1, 0.2, -0.1, 0.0, np.nan, 0.3]
    ses = [0.1, 0.2, 0.1, 0.3, 0.2, np.inf]
    assert fit_null(logs, ses) is None


def test_calibrate_nan_input_gives_nan():
    null = fit_null([0.1, 0.2, -0.1, 0.0, 0.05, 0.12], [0.1, 0.2, 0.1, 0.3, 0.2, 0.15])
    p, lo, hi, est = calibrate([np.nan, 0.3], [0.1, 0.1], null)
    assert np.isnan(p[0]) and np.isnan(lo[0]) and np.isfinite(p[1]) and lo[1] < est[1] < hi[1]
