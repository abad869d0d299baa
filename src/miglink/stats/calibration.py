"""Empirical calibration on negative controls (Schuemie et al. 2014, 2018), via empyricalcalibration.

The empirical null is a Gaussian fitted to the negative-control log estimates (``fitNull``).
P-values are calibrated against it (``calibrateP``); CIs with the systematic error model
that null implies (``convertNullToErrorModel``: same error at every true effect), which is
the OHDSI procedure when only negative controls exist. When positive controls with known
true effects are supplied, the error model is fitted on all controls instead
(``fitSystematicErrorModel``). EASE summarises the null in one number.

This is the plug-in procedure (the null taken as known). Result rows are calibrated with
``miglink.stats.null_posterior``, which integrates over the null's uncertainty and equals
``calibrate`` here when that posterior is a point mass; ``fit_null`` still gives the mean, sd and
EASE that calibration.json reports.

Why not ``fitSystematicErrorModel`` with ``trueLogRr = 0`` on negatives alone: the slopes are
then unidentified and, on the package's own ``sccs`` dataset, the BFGS fit wanders off
(meanIntercept ≈ 20, sdIntercept ≈ 74) and every calibrated CI is NaN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from miglink.stats import level

MIN_CONTROLS = 5
_EXTREME = math.log(100)  # fitNull drops |log RR| > log(100); count only what it keeps


@dataclass(frozen=True)
class NullModel:
    """Empirical null (log scale) and the systematic error model used for CIs."""

    mean: float
    sd: float
    n_controls: int
    ease: float
    error_model: tuple[float, float, float, float]  # meanIntercept, meanSlope, sdIntercept, sdSlope
    n_positive_controls: int = 0


def _usable(log_est, se) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(log_est, dtype=float).ravel()
    s = np.asarray(se, dtype=float).ravel()
    keep = np.isfinite(y) & np.isfinite(s) & (s > 0) & (np.abs(y) <= _EXTREME)
    return y[keep], s[keep], keep


def kept_controls(log_est, se) -> tuple[np.ndarray, np.ndarray]:
    """The controls ``fitNull`` fits on: finite, positive SE, |log estimate| <= log(100)."""
    y, s, _ = _usable(log_est, se)
    return y, s


def fit_null(
    neg_log,
    neg_se,
    pos_log=None,
    pos_se=None,
    pos_true_log=None,
    min_controls: int = MIN_CONTROLS,
) -> NullModel | None:
    """Fit the empirical null on negative controls; None when fewer than ``min_controls`` are usable.

    Optional positive controls (estimates with known true log effects) let the CI error model
    learn how bias changes with effect size.
    """
    import empiricalcalibration as ec

    y, s, _ = _usable(neg_log, neg_se)
    if len(y) < min_controls:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = ec.fitNull(y, s)
        if not (math.isfinite(null.mean) and math.isfinite(null.sd)):
            return None
        ease = float(ec.computeExpectedAbsoluteSystematicError(null))
        n_pos = 0
        if pos_log is not None:
            py = np.asarray(pos_log, dtype=float).ravel()
            ps = np.asarray(pos_se, dtype=float).ravel()
            pt = np.asarray(pos_true_log, dtype=float).ravel()
            ok = np.isfinite(py) & np.isfinite(ps) & (ps > 0) & np.isfinite(pt)
            n_pos = int(ok.sum())
        if n_pos > 0:
            model = ec.fitSystematicErrorModel(
                np.concatenate([y, py[ok]]),
                np.concatenate([s, ps[ok]]),
                np.concatenate([np.zeros(len(y)), pt[ok]]),
            )
        else:
            model = ec.convertNullToErrorModel(null)
    return NullModel(
        mean=float(null.mean),
        sd=float(null.sd),
        n_controls=int(len(y)),
        ease=ease,
        error_model=tuple(float(v) for v in np.asarray(model)),
        n_positive_controls=n_pos,
    )


def calibrate(
    log_est, se, null: NullModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated (p, CI low, CI high, point estimate) per estimate; CI and estimate on the ratio scale.

    Vectorised over arrays; non-finite inputs give NaN.
    """
    import empiricalcalibration as ec
    from empiricalcalibration import Null, SystematicErrorModel

    y = np.atleast_1d(np.asarray(log_est, dtype=float))
    s = np.atleast_1d(np.asarray(se, dtype=float))
    y, s = np.broadcast_arrays(y, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.asarray(ec.calibrateP(Null(null.mean, null.sd), y, s), dtype=float)
        model = SystematicErrorModel(
            list(null.error_model), ["meanIntercept", "meanSlope", "sdIntercept", "sdSlope"]
        )
        ci = ec.calibrateConfidenceInterval(y, s, model, ciWidth=level.confidence())
    return (
        p,
        np.exp(ci["logLb95Rr"].to_numpy(float)),
        np.exp(ci["logUb95Rr"].to_numpy(float)),
        np.exp(ci["logRr"].to_numpy(float)),
    )


def ease(null: NullModel) -> float:
    """Expected absolute systematic error of the null (computeExpectedAbsoluteSystematicError)."""
    return null.ease
