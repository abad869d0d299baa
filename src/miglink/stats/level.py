"""The study's significance level and power, read by every interval and MDRR.

The study file's ``settings.alpha`` and ``settings.power`` hold for a whole run (and a pooled
run): the pipeline enters :func:`interval_level` once around estimation, and every estimator
reads :func:`z_interval`, :func:`alpha` and :func:`power` instead of a fixed 95% / 80%. Outside
a run the protocol defaults (0.05, 0.8) apply, so a direct call of an estimator gives the 95%
interval R gives.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from scipy.stats import norm

DEFAULT = (0.05, 0.8)
_LEVEL: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
    "miglink_interval_level", default=DEFAULT
)


@contextmanager
def interval_level(alpha: float, power: float) -> Iterator[None]:
    """Within the block, intervals are (1 - alpha) and MDRRs are at ``power``."""
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1); got {alpha}, {power}")
    token = _LEVEL.set((float(alpha), float(power)))
    try:
        yield
    finally:
        _LEVEL.reset(token)


def alpha() -> float:
    """Two-sided significance level of every interval."""
    return _LEVEL.get()[0]


def power() -> float:
    """Power at which the minimum detectable relative risk is computed."""
    return _LEVEL.get()[1]


def confidence() -> float:
    """The interval's coverage, 1 - alpha (0.95 by default)."""
    return 1.0 - alpha()


def z_interval() -> float:
    """Normal quantile of a two-sided (1 - alpha) interval (1.959963984540054 at 0.05)."""
    return _z(1.0 - alpha() / 2.0)


def z_mdrr() -> float:
    """z_{1-alpha/2} + z_{power}: the MDRR's multiplier of the log-scale SE."""
    return _z(1.0 - alpha() / 2.0) + _z(power())


@cache
def _z(q: float) -> float:
    return float(norm.ppf(q))
