"""miglink.stats.null_posterior: calibration integrated over the empirical null's uncertainty."""

import numpy as np
import pytest

from miglink.stats.calibration import calibrate, fit_null
from miglink.stats.null_posterior import (
    NullPosterior,
    calibrate_posterior,
    fit_null_posterior,
    loo_coverage,
    predictive_cdf,
)


def _controls(n, se, sd, seed, mean=0.1):
    rng = np.random.default_rng(seed)
    s = se * rng.uniform(0.8, 1.2, n)
    return rng.normal(mean, np.sqrt(sd**2 + s**2)), s


def _width(lo, hi):
    return float(np.log(hi / lo)[0])


def test_a_point_mass_posterior_is_the_librarys_plug_in_calibration():
    # posterior collapsed on (mu, sigma) = the MLE: exactly calibrateP / calibrateConfidenceInterval
    y, s = _controls(20, 0.1, 0.15, seed=1)
    null = fit_null(y, s)
    point = NullPosterior(
        np.array([null.sd]), np.array([1.0]), np.array([null.mean]), np.array([0.0]), 20
    )
    new = calibrate_posterior(point, [0.4, -0.2], [0.1, 0.3], 0.95)
    old = calibrate([0.4, -0.2], [0.1, 0.3], null)
    for a, b in zip(new, old, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_five_controls_widen_the_calibrated_ci_markedly():
    y, s = _controls(5, 0.1, 0.0, seed=2)
    null = fit_null(y, s)
    assert null.sd < 0.01  # the collapsed null of issue 15
    _, lo, hi, _ = calibrate_posterior(fit_null_posterior(y, s), [0.4], [0.1], 0.95)
    _, lo0, hi0, _ = calibrate([0.4], [0.1], null)
    assert _width(lo, hi) > 1.3 * _width(lo0, hi0)


def test_sixty_tight_controls_barely_widen_it():
    y, s = _controls(60, 0.02, 0.0, seed=3)
    _, lo, hi, _ = calibrate_posterior(fit_null_posterior(y, s), [0.4], [0.1], 0.95)
    _, lo0, hi0, _ = calibrate([0.4], [0.1], fit_null(y, s))
    assert _width(lo, hi) == pytest.approx(_width(lo0, hi0), rel=0.02)


def test_calibrated_ci_is_never_narrower_than_the_raw_ci():
    for seed, (n, se, sd) in enumerate([(5, 0.1, 0.0), (12, 0.05, 0.3), (60, 0.02, 0.0)]):
        y, s = _controls(n, se, sd, seed=10 + seed)
        post = fit_null_posterior(y, s)
        se_t = np.array([0.01, 0.1, 1.0])
        _, lo, hi, _ = calibrate_posterior(post, np.zeros(3), se_t, 0.95)
        assert np.all(np.log(hi / lo) >= 2 * 1.959963984540054 * se_t - 1e-9)


def test_identical_controls_give_a_finite_calibration():
    # degenerate sd: every control the same estimate; sigma's posterior sits near 0, no NaN
    y, s = np.full(8, 0.2), np.full(8, 0.05)
    post = fit_null_posterior(y, s)
    assert np.isclose(post.weight.sum(), 1.0) and post.summary()["sigma_posterior_median"] < 0.05
    p, lo, hi, est = calibrate_posterior(post, [0.2], [0.05], 0.95)
    assert np.all(np.isfinite([p, lo, hi, est])) and lo[0] < 1 < hi[0] and p[0] > 0.5


def test_predictive_cdf_is_a_distribution():
    y, s = _controls(10, 0.1, 0.1, seed=4)
    post = fit_null_posterior(y, s)
    f = predictive_cdf(post, [-10, 0.1, 10], [0.1, 0.1, 0.1])
    assert f[0] < 1e-12 and 0 < f[1] < 1 and f[2] > 1 - 1e-12


def test_loo_coverage_equals_refitting_without_each_control():
    y, s = _controls(9, 0.1, 0.2, seed=5)
    y[0] = 1.5  # one control far off: its own left-out CI misses 1
    covered = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        _, lo, hi, _ = calibrate_posterior(
            fit_null_posterior(y[keep], s[keep]), [y[i]], [s[i]], 0.95
        )
        covered += int(lo[0] <= 1 <= hi[0])
    assert loo_coverage(y, s, 0.95) == (covered, 9)
    assert covered < 9


def test_loo_coverage_of_a_null_that_fits_is_high_and_of_mixed_controls_low():
    y, s = _controls(40, 0.05, 0.05, seed=6)
    hit, n = loo_coverage(y, s, 0.95)
    assert hit / n >= 0.9
    # heavy tails: 17 tight controls and 3 far out; the Gaussian null misses exactly those 3
    tight = np.random.default_rng(7).normal(0, 0.02, 17)
    y2 = np.concatenate([tight, [0.9, -0.9, 1.0]])
    assert loo_coverage(y2, np.full(20, 0.02), 0.95) == (17, 20)
    assert loo_coverage(tight, np.full(17, 0.02), 0.95)[0] >= 16
