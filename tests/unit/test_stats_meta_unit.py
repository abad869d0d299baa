"""Edge cases of pooling."""

from __future__ import annotations

import math

import pytest

from miglink.stats.meta import pool


def test_pool_empty_and_single():
    assert math.isnan(pool([], []).log_estimate)
    one = pool([0.3], [0.1])
    assert one.log_estimate == pytest.approx(0.3) and one.k == 1
    assert one.ci_low == pytest.approx(math.exp(0.3 - 1.959964 * 0.1), rel=1e-6)


def test_pool_drops_unusable_rows():
    res = pool([0.1, float("nan"), 0.2], [0.1, 0.1, float("inf")])
    assert res.k == 1 and res.extra["dropped"] == 2


def test_homogeneous_estimates_have_zero_tau2():
    res = pool([0.2, 0.2, 0.2], [0.1, 0.2, 0.3], method="REML")
    assert res.tau2 == 0 and res.i2 == 0
    est = res.to_estimate()
    assert est.method == "meta_reml" and est.estimate == pytest.approx(math.exp(0.2))


def test_unknown_method_raises():
    with pytest.raises(ValueError):
        pool([0.1, 0.2], [0.1, 0.1], method="XX")
