"""Calibration integrated over the empirical null's posterior, against base R.

Reference: tests/reference/r/null_posterior.R (output null_posterior.out), which integrates the
same posterior (flat prior on mu, uniform on sigma in [0, 2], likelihood
prod dnorm(y_i, mu, sqrt(sigma^2 + s_i^2))) in two dimensions with nested integrate() and
solves the CI with uniroot: independent of the Python code's Gaussian-in-mu algebra and its
sigma grid. R's EmpiricalCalibration is not in Debian and has no calibrated CI over an
uncertain null (its MCMC null calibrates p only).
Bar, set before the first run: p, CI limits, estimate and the posterior mean of mu equal R's to
1e-4 relative (the grid's quadrature error; R's integrate is at 1e-10).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from miglink.stats.null_posterior import calibrate_posterior, fit_null_posterior

OUT = Path(__file__).parent / "r" / "null_posterior.out"

CASES = {
    "five": ([0.10, 0.25, -0.05, 0.18, 0.02], [0.10, 0.15, 0.12, 0.20, 0.08], 0.40, 0.10),
    "eight": (
        [0.31, -0.12, 0.05, 0.44, -0.20, 0.15, 0.02, 0.27],
        [0.08, 0.10, 0.06, 0.12, 0.09, 0.07, 0.05, 0.11],
        -0.30,
        0.15,
    ),
}


def _r_values() -> dict[str, list[float]]:
    out = {}
    for line in OUT.read_text().splitlines():
        name, *vals = line.split()
        out[name] = [float(v) for v in vals]
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_posterior_calibration_matches_r_integration(name):
    y, s, b, se = CASES[name]
    post = fit_null_posterior(y, s)
    p, lo, hi, est = calibrate_posterior(post, [b], [se], 0.95)
    mine = [p[0], lo[0], hi[0], est[0], post.summary()["mu_posterior_mean"]]
    assert mine == pytest.approx(_r_values()[name], rel=1e-4)
