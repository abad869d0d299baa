"""Estimators fail soft: a fit the data cannot support gives a "not estimable" result, never an
exception that ends the run; bugs in our own code still raise.

The SCCS frames below are the exact inputs that ended whole study runs on synthetic
populations (``miglink.synth.generate(persons=20_000, seed=3)`` and ``seed=11``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines.exceptions import ConvergenceError
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError

from miglink.designs.d5_sccs_rows import _fit_sccs
from miglink.stats.cohort import poisson_rate_ratio
from miglink.stats.estimate import Estimate
from miglink.stats.sccs import sccs_fit
from miglink.stats.soft import FitDiverged, attempt
from miglink.stats.twobytwo import logistic_grouped


def _sccs_seed3() -> pd.DataFrame:
    """Risk events only in a case with no baseline time; the other case has baseline events only
    (singular information after a few Newton steps: LinAlgError on the old code)."""
    return pd.DataFrame(
        {
            "person": [7891, 7891, 14475, 14475, 14475, 14475],
            "window": ["pre_exposure", "risk", "baseline", "pre_exposure", "risk", "risk"],
            "age_band": [55, 55, 55, 55, 55, 60],
            "length": [21, 694, 541, 30, 840, 343],
            "events": [0, 3, 1, 0, 0, 0],
        }
    )


def _sccs_seed11() -> pd.DataFrame:
    """One case; the age band 55 is seen only in the risk window and the (risk, 60) cell is
    empty, so the age-adjusted MLE is at infinity (OverflowError in exp on the old code)."""
    return pd.DataFrame(
        {
            "person": [6274, 6274, 6274],
            "window": ["baseline", "risk", "risk"],
            "age_band": [60, 55, 60],
            "length": [1759, 677, 141],
            "events": [3, 1, 0],
        }
    )


def test_sccs_with_no_informative_contrast_is_not_estimable():
    res = sccs_fit(_sccs_seed3(), age_col=None)
    assert set(res) == {"pre_exposure", "risk"}
    for est in res.values():
        assert math.isnan(est.estimate)
        assert est.note.startswith("not estimable:")


def test_sccs_diverging_age_adjusted_fit_is_not_estimable():
    res = sccs_fit(_sccs_seed11(), age_col="age_band")
    assert math.isnan(res["risk"].estimate)
    assert res["risk"].note.startswith("not estimable:")
    assert res["risk"].extra["fit_failed"]


def test_sccs_design_falls_back_to_the_unadjusted_fit():
    res, how = _fit_sccs(_sccs_seed11())
    # one case: the unadjusted IRR is the ratio of its rates, (1 / 818) / (3 / 1759)
    assert res["risk"].estimate == pytest.approx((1 / 818) / (3 / 1759), rel=1e-8)
    assert "not age adjusted" in how


def test_estimate_beyond_exp_range_is_not_estimable():
    est = Estimate.from_log(800.0, 1.0, "demo")
    assert math.isnan(est.estimate) and est.note.startswith("not estimable:")
    est = Estimate.from_log(1.0, 400.0, "demo")  # the CI upper bound would overflow
    assert math.isnan(est.ci_high) and est.note.startswith("not estimable:")


@pytest.mark.parametrize(
    ("exc", "word"),
    [
        (np.linalg.LinAlgError("Singular matrix"), "singular"),
        (OverflowError("math range error"), "overflow"),
        (FloatingPointError("overflow"), "overflow"),
        (FitDiverged("non-finite Newton step"), "diverged"),
        (PerfectSeparationError("separated"), "separation"),
        (ConvergenceError("no convergence"), "converge"),
    ],
)
def test_attempt_turns_numerical_failures_into_reasons(exc, word):
    def fit():
        raise exc

    res = attempt(fit)
    assert not res.ok and res.value is None
    assert res.reason.startswith("not estimable:") and word in res.reason


def test_attempt_treats_a_convergence_warning_as_failure():
    def fit():
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
        return 1.0

    assert "converge" in attempt(fit).reason


def test_attempt_reads_the_convergence_flag():
    assert "converge" in attempt(lambda: (1.0, False), converged=lambda r: r[1]).reason
    assert attempt(lambda: (1.0, True), converged=lambda r: r[1]).value == (1.0, True)


@pytest.mark.parametrize("exc", [KeyError("analysis"), TypeError("bad operand"), ValueError("x")])
def test_attempt_never_swallows_a_bug(exc):
    def fit():
        raise exc

    with pytest.raises(type(exc)):
        attempt(fit)


def test_logistic_with_exposure_constant_within_strata_says_why():
    # every stratum holds one exposure level only: the exposure is collinear with the strata
    df = pd.DataFrame(
        {
            "stratum": ["a", "a", "b", "b"],
            "exposed": [1, 1, 0, 0],
            "events": [2, 3, 1, 4],
            "total": [10, 12, 9, 11],
            "batch": ["x", "y", "x", "y"],
        }
    )
    est = logistic_grouped(df, "events", "total", "exposed", ["stratum"])
    assert math.isnan(est.estimate) and "collinear" in est.note


def test_poisson_with_exposure_collinear_with_strata_says_why():
    df = pd.DataFrame(
        {
            "stratum": ["a", "b"],
            "exposed": [1, 0],
            "events": [3, 2],
            "person_years": [10.0, 12.0],
        }
    )
    est = poisson_rate_ratio(df)
    assert math.isnan(est.estimate) and est.note.startswith("not estimable:")


def test_logistic_level_left_only_in_uninformative_strata_is_not_estimable():
    # found on miglink.synth.generate(persons=500, seed=8), D1: the exposed level has events and
    # non-events overall, but each of its strata has none or only events; once those strata are
    # dropped no exposure column is left (ValueError "need at least one array to stack" before)
    df = pd.DataFrame(
        {
            "stratum": ["s1", "s2", "s3"],
            "exposed": [0, 1, 1],
            "events": [3, 0, 2],
            "total": [10, 2, 2],
        }
    )
    est = logistic_grouped(df, "events", "total", "exposed", ["stratum"])
    assert math.isnan(est.estimate)
    assert est.note == "not estimable: level 1 is only in strata with no events or only events"


def test_sccs_design_without_baseline_time_is_not_estimable():
    # found on miglink.synth.generate(persons=500, seed=3), D5: the only exposed case is exposed
    # for its whole observation (MiglinkError "baseline window not found" ended the run before)
    iv = pd.DataFrame(
        {
            "person": [332, 332],
            "window": ["risk", "risk"],
            "age_band": [50, 55],
            "length": [528, 815],
            "events": [4, 8],
        }
    )
    res, how = _fit_sccs(iv)
    assert set(res) == {"pre_exposure", "risk"}
    for est in res.values():
        assert math.isnan(est.estimate)
        assert est.note == "not estimable: no exposed case has baseline (unexposed) time"
    assert how == "no baseline time"


def test_pooling_sites_far_apart_does_not_overflow():
    from miglink.stats.meta import pool

    # two sites at log OR +-600 (SE 1): tau² ~ 7e5, so exp() of the CI and prediction bounds
    # overflowed (OverflowError) before
    p = pool([600.0, -600.0], [1.0, 1.0])
    assert math.isnan(p.ci_high) and math.isnan(p.pi_high)
    assert p.to_estimate().note.startswith("not estimable:")
    # an SE whose square underflows to 0 is dropped like a zero SE, not an infinite weight
    assert pool([5.0, 5.0], [1e-300, 1e-300]).k == 0


def test_mdrr_beyond_exp_range_is_inf_not_overflow():
    from miglink.stats.power import mdrr_cohort

    # one exposed person with one event among a million: log MDRR ~ 2,800 (OverflowError before)
    assert mdrr_cohort(1, 10**6, 1) == math.inf
    assert mdrr_cohort(500, 500, 100) < 2


def test_diagnostics_mdrr_from_a_huge_se_is_inf_not_overflow():
    from miglink.claims.attach import apply_diagnostics
    from miglink.claims.model import load_study
    from miglink.designs.rows import make_row

    st = load_study()[0].settings
    row = make_row(
        design="D1",
        exposure="a",
        outcome="b",
        measure="OR",
        method="logistic_grouped",
        est=Estimate.from_log(1.0, 300.0, "logistic_grouped"),
    )
    out = apply_diagnostics(pd.DataFrame([row]), st)
    assert out["mdrr"].iloc[0] == math.inf


def test_ratio_of_geometric_means_beyond_exp_range_is_not_estimable():
    from miglink.stats.means import ratio_of_geometric_means

    # log values 704 and 706 vs -1 and 1 (two persons each): the CI upper bound is
    # exp(705 + 4.30 * 1.41) ~ exp(711), beyond math.exp's range (OverflowError before)
    df = pd.DataFrame(
        {
            "stratum": ["s", "s"],
            "group": [1, 0],
            "n": [2, 2],
            "sum": [1410.0, 0.0],
            "sumsq": [704.0**2 + 706.0**2, 2.0],
        }
    )
    est = ratio_of_geometric_means(df)
    assert math.isnan(est.estimate) and est.note.startswith("not estimable:")
