"""Estimator behaviour beyond the reference values: scaling rules, limits, Steiger, errors."""

import numpy as np
import pytest

from miglink.errors import MiglinkError
from miglink.genetics.estimators import egger, ivw
from miglink.genetics.robust import weighted_median_of
from miglink.genetics.steiger import steiger
from miglink.stats.level import interval_level


def _exact(k=20):
    bx = np.linspace(0.05, 0.2, k)
    return bx, np.full(k, 0.01), 0.5 * bx, np.full(k, 0.02)


def test_under_dispersion_never_narrows_the_random_effects_interval():
    bx, bxse, by, byse = _exact()  # no residual at all: residual SE ~0
    fe, re = ivw(bx, bxse, by, byse, random_effects=False), ivw(bx, bxse, by, byse)
    assert re.estimate == pytest.approx(0.5)
    # random effects: the regression SE over min(1, sigma) = the SE with sigma set to 1
    assert re.se == pytest.approx(1 / np.sqrt(np.sum(bx**2 / byse**2)))
    assert fe.se == pytest.approx(re.se)  # the fixed-effect SE is the sigma = 1 SE
    noisy = by + np.where(np.arange(len(by)) % 2 == 0, 0.1, -0.1)  # over-dispersed: sigma > 1
    assert ivw(bx, bxse, noisy, byse).se > ivw(bx, bxse, noisy, byse, random_effects=False).se


def test_egger_orients_to_positive_exposure_betas():
    bx, bxse, by, byse = _exact()
    flip = np.arange(len(bx)) % 2 == 0
    s = np.where(flip, -1, 1)
    a, b = egger(bx, bxse, by + 0.01, byse), egger(bx * s, bxse, (by + 0.01) * s, byse)
    assert b.slope.estimate == pytest.approx(a.slope.estimate)
    assert b.intercept.estimate == pytest.approx(0.01)


def test_study_level_sets_the_interval():
    bx, bxse, by, byse = _exact()
    w95 = ivw(bx, bxse, by, byse)
    with interval_level(0.1, 0.8):
        w90 = ivw(bx, bxse, by, byse)
    assert (w90.ci_upper - w90.ci_lower) < (w95.ci_upper - w95.ci_lower)


def test_too_few_variants_or_bad_ses():
    with pytest.raises(MiglinkError, match="at least 3"):
        egger([0.1, 0.2], [0.01] * 2, [0.1, 0.2], [0.1] * 2)
    with pytest.raises(MiglinkError, match="positive"):
        ivw([0.1, 0.2], [0.01] * 2, [0.1, 0.2], [0.1, 0])


def test_weighted_median_of_interpolates_bowdens_way():
    # equal weights 1/3: standardised cumulative weights 1/6, 1/2, 5/6 -> the middle value
    assert weighted_median_of(np.array([3.0, 1.0, 2.0]), np.ones(3)) == pytest.approx(2.0)
    # weights 1, 3: cumulative 0.125, 0.625 -> 1 + (0.5 - 0.125) / 0.5 = 1.75
    assert weighted_median_of(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(1.75)


def test_steiger_direction():
    bx, bxse = np.full(10, 0.1), np.full(10, 0.01)  # t = 10 in n = 10 000
    by, byse = np.full(10, 0.02), np.full(10, 0.01)  # t = 2
    s = steiger(bx, bxse, np.full(10, 1e4), by, byse, np.full(10, 1e4))
    assert s.correct_direction and s.p_value < 1e-6
    assert s.r2_exposure == pytest.approx(10 * 100 / (100 + 1e4 - 2))
    r = steiger(by, byse, np.full(10, 1e4), bx, bxse, np.full(10, 1e4))
    assert not r.correct_direction and r.z == pytest.approx(-s.z)
    with pytest.raises(MiglinkError, match="sample size"):
        steiger(bx, bxse, np.full(10, np.nan), by, byse, np.full(10, 1e4))
