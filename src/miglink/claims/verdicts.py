"""Diagnostics and verdicts: per hypothesis from the (calibrated) 95% CI, per claim by its rule.

Hypothesis (PROTOCOL.md, 'Verdicts'):
  supported     the CI excludes the null in the predicted direction and diagnostics pass
  contradicted  the CI excludes the null in the other direction
  no evidence   the CI includes the null while MDRR <= threshold (the data could have shown it)
  inconclusive  diagnostics fail, or the CI includes the null while MDRR > threshold
  not analysed  the design did not run (a table it needs is absent, or not implemented)
"""

from __future__ import annotations

import math

from miglink.claims.model import Claim, Settings

SUPPORTED, CONTRADICTED, NO_EVIDENCE, INCONCLUSIVE, NOT_ANALYSED = (
    "supported",
    "contradicted",
    "no evidence",
    "inconclusive",
    "not analysed",
)


def _f(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def diagnose(row: dict, st: Settings, calibration_expected: bool) -> list[str]:
    """Names of failed diagnostics for one estimate row (empty list: all pass)."""
    fails = []
    if not math.isfinite(_f(row.get("estimate"))) or not math.isfinite(_f(row.get("se_log"))):
        fails.append("not_estimable")
    ev = [_f(row.get("events_exposed")), _f(row.get("events_unexposed"))]
    if row.get("measure") in ("OR", "HR", "IRR", "RR") and any(
        math.isfinite(e) and e < st.min_events_for_estimate for e in ev
    ):
        fails.append(f"events<{st.min_events_for_estimate}")
    # MDRR is reported with every estimate but is not a pass/fail diagnostic: a CI that excludes
    # the null is evidence whatever the power; power decides only between 'no evidence' and
    # 'inconclusive' when the CI includes the null (see hypothesis_verdict).
    bf = row.get("balance_fail")
    if isinstance(bf, str) and bf:
        fails.append(f"balance({row['balance_fail']})")
    if calibration_expected and not math.isfinite(_f(row.get("cal_ci_low"))):
        fails.append("no_empirical_null")
    return fails


def hypothesis_verdict(row: dict | None, expected: str, st: Settings) -> str:
    if row is None:
        return NOT_ANALYSED
    reason = row.get("not_analysed_reason")
    if isinstance(reason, str) and reason:
        return NOT_ANALYSED
    if expected == "descriptive":
        return ""
    lo, hi = _f(row.get("cal_ci_low")), _f(row.get("cal_ci_high"))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = _f(row.get("ci_low")), _f(row.get("ci_high"))
    passed = bool(row.get("diagnostics_pass"))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    up = lo > 1.0
    down = hi < 1.0
    if expected == "decrease":
        up, down = down, up
    mdrr = _f(row.get("mdrr"))
    if down:
        return CONTRADICTED
    if up:
        return SUPPORTED if passed else INCONCLUSIVE
    if math.isfinite(mdrr) and mdrr <= st.mdrr_threshold and _only_fails_allowed(row):
        return NO_EVIDENCE
    return INCONCLUSIVE


def _only_fails_allowed(row: dict) -> bool:
    """'No evidence' needs a trustworthy null result: only power may not fail."""
    d = row.get("diagnostics") or ""
    return d == ""


def claim_verdict(claim: Claim, verdicts: list[str]) -> str:
    votes = [v for v in verdicts if v]  # descriptive hypotheses do not vote
    analysed = [v for v in votes if v != NOT_ANALYSED]
    if not analysed:
        return NOT_ANALYSED
    n = len(votes)
    s = sum(v == SUPPORTED for v in votes)
    c = sum(v == CONTRADICTED for v in votes)
    if claim.rule == "all":
        if c > 0:
            return CONTRADICTED
        if s == n:
            return SUPPORTED
    elif claim.rule == "any":
        if s > 0 and c == 0:
            return SUPPORTED
        if c > 0 and s == 0:
            return CONTRADICTED
    else:  # majority
        if c == 0 and s > n / 2:
            return SUPPORTED
        if s == 0 and c > n / 2:
            return CONTRADICTED
    if all(v == NO_EVIDENCE for v in analysed):
        return NO_EVIDENCE
    return INCONCLUSIVE
