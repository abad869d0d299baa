"""Empirical calibration of result rows: one procedure for every design and for the pooled run.

A design hands over its negative-control rows and the rows to calibrate. The empirical null's
maximum-likelihood fit (``miglink.stats.calibration.fit_null``: mean, sd, EASE) is what
calibration.json reports; the calibrated p, CI and estimate written into the target rows
(``cal_*``) integrate over the null's posterior instead (``miglink.stats.null_posterior``), so a
null fitted on five controls, or one whose sd collapsed to 0, does not claim more precision than
the controls give (issue 15). ``cal_loo_coverage`` on every calibrated row is the share of the
group's controls whose calibrated CI holds 1 when each is calibrated on the null of the others:
the check that the Gaussian null describes these controls at all; the verdict needs it
(``claims.verdicts``). The returned summary is what calibration.json holds for the group, so
every design's null is reported the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from miglink.stats import level
from miglink.stats.calibration import NullModel, fit_null, kept_controls
from miglink.stats.null_posterior import calibrate_posterior, fit_null_posterior, loo_coverage


@dataclass
class ControlGroup:
    """Negative-control rows and the rows they calibrate, under one name in calibration.json.

    ``label`` is the row key that names each control in the summary (the negative-control
    concept set: the outcome, or the exposure for a reverse-direction design); None leaves the
    controls out of the summary (the phenome background has thousands).
    """

    name: str
    controls: list[dict]
    targets: list[dict] = field(default_factory=list)
    label: str | None = "outcome"
    #: note written into each calibrated target (``str.format`` fields: n_controls, mean, sd)
    calibrated_note: str | None = None
    #: note written into each target left uncalibrated (field: n_controls)
    uncalibrated_note: str | None = None
    #: targets left uncalibrated are dropped from the results (a calibrated-only sensitivity row)
    drop_uncalibrated: bool = False


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def usable_controls(controls: list[dict]) -> list[dict]:
    """Controls with a finite log estimate and a positive finite standard error."""
    return [
        r
        for r in controls
        if _finite(r.get("log_estimate")) and _finite(r.get("se_log")) and float(r["se_log"]) > 0
    ]


def calibrate_group(
    controls: list[dict],
    targets: list[dict],
    *,
    min_controls: int,
    label: str | None = "outcome",
) -> dict:
    """Fit the null on ``controls`` and write cal_* into every estimable target row.

    Returns the null's summary (mean, sd, ease, loo_coverage, n_controls, controls); mean, sd,
    ease and loo_coverage are None when fewer than ``min_controls`` controls are usable or the
    fit fails, and then no target is calibrated. Targets without a finite log estimate and SE
    are left as they are.
    """
    ctrl = usable_controls(controls)
    null = _fit(ctrl, min_controls)
    loo = _loo(ctrl) if null is not None else None
    summary = {
        "mean": null.mean if null is not None else None,
        "sd": null.sd if null is not None else None,
        "ease": null.ease if null is not None else None,
        "loo_coverage": loo,
        "n_controls": len(ctrl),
        "controls": []
        if label is None
        else [
            {"outcome": r[label], "log_estimate": r["log_estimate"], "se_log": r["se_log"]}
            for r in ctrl
        ],
    }
    if null is not None:
        _write_calibrated(targets, _kept(ctrl), loo, null.ease)
    return summary


def calibrate_groups(groups: list[ControlGroup], min_controls: int) -> dict:
    """calibrate_group for each group, then its notes; the calibration.json content by group.

    This is the one calibration step of a run (and of a pooled run): designs only declare their
    groups (:class:`ControlGroup`).
    """
    out = {}
    for g in groups:
        summary = calibrate_group(g.controls, g.targets, min_controls=min_controls, label=g.label)
        for r in g.targets:
            if _finite(r.get("cal_estimate")):
                if g.calibrated_note:
                    r["note"] = g.calibrated_note.format(**summary)
            elif g.uncalibrated_note:
                r["note"] = g.uncalibrated_note.format(**summary)
        out[g.name] = summary
    return out


def dropped_targets(groups: list[ControlGroup]) -> set[int]:
    """``id()`` of the target rows to drop: uncalibrated targets of ``drop_uncalibrated`` groups."""
    return {
        id(r)
        for g in groups
        if g.drop_uncalibrated
        for r in g.targets
        if not _finite(r.get("cal_estimate"))
    }


def _fit(ctrl: list[dict], min_controls: int) -> NullModel | None:
    if len(ctrl) < min_controls:
        return None
    return fit_null(
        np.array([float(r["log_estimate"]) for r in ctrl]),
        np.array([float(r["se_log"]) for r in ctrl]),
    )


def _kept(ctrl: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Log estimates and SEs of the controls the null is fitted on (fit_null's own filter)."""
    return kept_controls(
        [float(r["log_estimate"]) for r in ctrl], [float(r["se_log"]) for r in ctrl]
    )


def _loo(ctrl: list[dict]) -> float | None:
    covered, n = loo_coverage(*_kept(ctrl), level.confidence())
    return covered / n if n else None


def _write_calibrated(
    targets: list[dict], kept: tuple[np.ndarray, np.ndarray], loo: float | None, ease: float
) -> None:
    target = [r for r in targets if _finite(r.get("log_estimate")) and _finite(r.get("se_log"))]
    if not target:
        return
    cal = calibrate_posterior(
        fit_null_posterior(*kept),
        np.array([float(r["log_estimate"]) for r in target]),
        np.array([float(r["se_log"]) for r in target]),
        level.confidence(),
    )
    cal_p, lo, hi, ce = (np.asarray(x, dtype=float) for x in cal)
    for i, r in enumerate(target):
        r["cal_p_value"] = float(cal_p[i])
        r["cal_ci_low"] = float(lo[i])
        r["cal_ci_high"] = float(hi[i])
        r["cal_estimate"] = float(ce[i])
        r["cal_loo_coverage"] = loo
        r["cal_ease"] = float(ease)
