"""Minimum detectable relative risk: the verdict rule needs to know what the data could show.

All three use the normal approximation of OHDSI CohortMethod's ``computeMdrr``:
MDRR = exp(sqrt((z_{1-α/2} + z_{power})² / (p (1 − p) E))), where p is the exposed share and
E the number of informative events (Schoenfeld 1983 for the log hazard ratio). alpha and power
default to the run's (:mod:`miglink.stats.level`).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from miglink.stats import level


def _mdrr(p: float, events: float, alpha: float | None, power: float | None) -> float:
    if not (0 < p < 1) or not events > 0:
        return float("inf")
    alpha = level.alpha() if alpha is None else alpha
    power = level.power() if power is None else power
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return exp_or_inf(math.sqrt(z**2 / (p * (1 - p) * events)))


def exp_or_inf(log_mdrr: float) -> float:
    """MDRR from its log; inf (nothing detectable) where exp overflows, e.g. one exposed person
    among a million (math.exp raised OverflowError)."""
    return math.exp(log_mdrr) if log_mdrr < 709.0 else float("inf")


def mdrr_cohort(
    n_exposed: float,
    n_unexposed: float,
    total_events: float,
    alpha: float | None = None,
    power: float | None = None,
) -> float:
    """MDRR of a cohort comparison (hazard or rate ratio); inf when nothing is detectable."""
    total = n_exposed + n_unexposed
    return _mdrr(n_exposed / total if total > 0 else 0.0, total_events, alpha, power)


def mdrr_odds_ratio(
    n_exposed: float,
    n_unexposed: float,
    n_cases: float,
    alpha: float | None = None,
    power: float | None = None,
) -> float:
    """MDRR of a prevalence odds ratio: the cohort formula with cases as events.

    Valid when the outcome is rare (OR ≈ RR); for a common outcome it is optimistic.
    """
    return mdrr_cohort(n_exposed, n_unexposed, n_cases, alpha, power)


def mdrr_sccs(
    n_events: float,
    exposed_time_share: float,
    alpha: float | None = None,
    power: float | None = None,
) -> float:
    """MDRR of a self-controlled case series from the events and the exposed share of time.

    Under the null an event falls in exposed time with probability p = exposed share, so the
    log IRR has variance ≈ 1 / (E p (1 − p)) (the SCCS package's ``computeMdrr`` refines
    this with a binomial / signed-root method; this normal form is slightly optimistic for
    very small p).
    """
    return _mdrr(exposed_time_share, n_events, alpha, power)
