"""settings.alpha and settings.power drive every interval and MDRR (stats/level.py)."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from miglink.stats.estimate import Estimate
from miglink.stats.level import interval_level, z_interval, z_mdrr
from miglink.stats.power import mdrr_cohort
from miglink.stats.proportion import binomial_share


def test_default_level_is_the_protocols():
    assert z_interval() == float(norm.ppf(0.975)) == 1.959963984540054
    assert z_mdrr() == pytest.approx(1.959963984540054 + 0.8416212335729143, abs=1e-15)


def test_alpha_sets_the_wald_interval():
    e95 = Estimate.from_log(0.5, 0.2, "m")
    with interval_level(0.10, 0.8):
        e90 = Estimate.from_log(0.5, 0.2, "m")
    assert e95.ci_low == pytest.approx(math.exp(0.5 - 1.959963984540054 * 0.2), rel=1e-15)
    # z_{0.95} = 1.6448536269514722 (R: qnorm(0.95))
    assert e90.ci_low == pytest.approx(math.exp(0.5 - 1.6448536269514722 * 0.2), rel=1e-15)
    assert e90.p_value == e95.p_value  # the p-value does not depend on the level


def test_alpha_and_power_set_the_mdrr():
    base = mdrr_cohort(1000, 4000, 100)
    with interval_level(0.05, 0.9):
        more_power = mdrr_cohort(1000, 4000, 100)
    # z = qnorm(0.975) + qnorm(0.9) = 1.959964 + 1.281552; p = 0.2, E = 100
    z = 1.959963984540054 + 1.2815515655446004
    assert more_power == pytest.approx(math.exp(math.sqrt(z**2 / (0.2 * 0.8 * 100))), rel=1e-12)
    assert more_power > base


def test_alpha_sets_the_exact_interval():
    with interval_level(0.01, 0.8):
        wide = binomial_share(30, 100)
    narrow = binomial_share(30, 100)
    assert wide.ci_low < narrow.ci_low and wide.ci_high > narrow.ci_high


def test_the_level_is_restored_after_the_block():
    with pytest.raises(ValueError), interval_level(1.5, 0.8):
        pass
    with interval_level(0.2, 0.5):
        pass
    assert z_interval() == 1.959963984540054
