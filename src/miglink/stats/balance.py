"""Standardised mean differences from summary statistics, so balance needs only counts.

SMD uses the pooled SD sqrt((v1 + v0) / 2) (Austin 2009, Stat Med 28:3083); the usual
diagnostic threshold is |SMD| < 0.1.
"""

from __future__ import annotations

import math


def smd_continuous(m1: float, v1: float, m0: float, v0: float) -> float:
    """(m1 − m0) / sqrt((v1 + v0) / 2); 0 when both variances are 0 and means equal."""
    pooled = (v1 + v0) / 2
    if pooled <= 0:
        return 0.0 if m1 == m0 else float("inf") * (1 if m1 > m0 else -1)
    return (m1 - m0) / math.sqrt(pooled)


def smd_binary(p1: float, p0: float) -> float:
    """SMD of a binary covariate from the two prevalences."""
    return smd_continuous(p1, p1 * (1 - p1), p0, p0 * (1 - p0))


def mean_var_from_sufficient(n: float, total: float, sumsq: float) -> tuple[float, float]:
    """Mean and sample variance (ddof 1) from n, Σx, Σx²; variance 0 for n < 2."""
    if n <= 0:
        return float("nan"), float("nan")
    mean = total / n
    if n < 2:
        return mean, 0.0
    var = max((sumsq - total * total / n) / (n - 1), 0.0)
    return mean, var


def smd_from_sufficient(
    n1: float, sum1: float, sumsq1: float, n0: float, sum0: float, sumsq0: float
) -> float:
    """SMD between two groups from their (n, Σx, Σx²), as an engine query returns them."""
    m1, v1 = mean_var_from_sufficient(n1, sum1, sumsq1)
    m0, v0 = mean_var_from_sufficient(n0, sum0, sumsq0)
    if math.isnan(m1) or math.isnan(m0):
        return float("nan")
    return smd_continuous(m1, v1, m0, v0)
