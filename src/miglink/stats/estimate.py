"""The one result type every estimator returns.

A single shape lets designs, calibration, verdicts and the results table treat an odds ratio,
a hazard ratio and a share alike; ``as_row`` names its keys after ``results_schema.csv`` so a
row can be written without renaming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from miglink.stats.level import z_interval

Z95 = float(stats.norm.ppf(0.975))
NAN = float("nan")
#: Largest |log ratio| (estimate or CI bound) reported: math.exp overflows just above 709.78.
MAX_LOG = 700.0


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% CI and two-sided p-value.

    ``estimate`` is on the ratio scale (a share for proportions); ``log_estimate`` and
    ``se_log`` are on the log scale (NaN for shares). Quantities that cannot be estimated
    are NaN, with the reason in ``extra["note"]``.
    """

    estimate: float
    log_estimate: float
    se_log: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def estimable(self) -> bool:
        """True when the point estimate is a finite number."""
        return math.isfinite(self.estimate)

    @property
    def note(self) -> str:
        return str(self.extra.get("note", ""))

    def as_row(self) -> dict[str, Any]:
        """Keys named as in ``data/results_schema.csv`` (estimate columns only)."""
        return {
            "estimate": self.estimate,
            "log_estimate": self.log_estimate,
            "se_log": self.se_log,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "method": self.method,
            "note": self.note,
        }

    @classmethod
    def from_log(
        cls,
        log_estimate: float,
        se_log: float,
        method: str,
        extra: dict[str, Any] | None = None,
        *,
        p_value: float | None = None,
    ) -> Estimate:
        """Wald CI (level: :mod:`miglink.stats.level`, 95% by default) and two-sided normal p
        from a log-scale estimate and its SE."""
        extra = dict(extra or {})
        z = z_interval()
        if not (math.isfinite(log_estimate) and math.isfinite(se_log) and se_log > 0):
            extra.setdefault("note", "not estimable: non-finite estimate or standard error")
            return cls.missing(method, extra["note"], extra)
        if abs(log_estimate) + z * se_log > MAX_LOG:
            # exp() of this overflows (Python raises OverflowError): the fit ran off to a
            # boundary (sparse or separated data); a ratio beyond e^700 is not an estimate
            extra["note"] = (
                "not estimable: the estimate or its CI diverges (sparse or separated data)"
            )
            return cls.missing(method, extra["note"], extra)
        if p_value is None:
            p_value = float(2 * stats.norm.sf(abs(log_estimate / se_log)))
        return cls(
            estimate=math.exp(log_estimate),
            log_estimate=float(log_estimate),
            se_log=float(se_log),
            ci_low=math.exp(log_estimate - z * se_log),
            ci_high=math.exp(log_estimate + z * se_log),
            p_value=float(p_value),
            method=method,
            extra=extra,
        )

    @classmethod
    def missing(cls, method: str, note: str, extra: dict[str, Any] | None = None) -> Estimate:
        """An all-NaN estimate that says why (never raise on thin data)."""
        extra = dict(extra or {})
        extra["note"] = note
        return cls(NAN, NAN, NAN, NAN, NAN, NAN, method, extra)
