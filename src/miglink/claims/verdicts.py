"""Diagnostics and verdicts: per hypothesis from the (calibrated) 95% CI, per claim by its rule.

Hypothesis (PROTOCOL.md, 'Verdicts'; docs/protocol.md):
  supported     the CI excludes the null in the predicted direction and diagnostics pass
  contradicted  the CI excludes the null in the other direction and diagnostics pass (a failed
                diagnostic -- imbalance, too few events, event-dependent exposure -- makes the
                estimate unfit to decide either way: "inconclusive")
  no evidence   the CI includes the null while MDRR <= threshold (the data could have shown it)
  inconclusive  diagnostics fail, or the CI includes the null while MDRR > threshold
  not analysed  the design did not run (a table it needs is absent, or not implemented)
Two rules narrow "supported" / "contradicted", because a CI alone does not say them:
  multiplicity  in a declared family, the Holm-adjusted p (``holm_p_value``, of the p the verdict
                reads) must be <= alpha; a CI that excludes the null without it is "inconclusive"
  D8 criterion  a phenome-percentile hypothesis is supported only when its OR lies above the
                stated percentile of the phenome background (else "no evidence": it does not
                stand out), besides its calibrated CI excluding 1
  calibration   a key row read through a calibrated CI whose negative controls' leave-one-out
                coverage (``cal_loo_coverage``) is below ``min_loo_coverage`` (80%) is neither
                supported nor contradicted but "inconclusive": the Gaussian null does not describe
                those controls, so the calibrated CI is not trusted (diagnostic
                ``loo_coverage<80%``, and the row's note says so)

Claim: only *voting* hypotheses count: not descriptive, not a positive control, not "not
analysed" (a hypothesis the data could not answer says nothing for or against the claim).
Voting hypotheses some supported and some contradicted give "mixed" whatever the rule; else the
claim's rule (``RULE_TEXT`` in claims.model) decides, then "no evidence" when every voting
hypothesis is "no evidence", else "inconclusive". :func:`tally` gives the k of n the verdict
states.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from miglink.claims.model import Claim, Settings

#: Set (transiently, by claims.attach) on an SCCS key row whose pre-exposure window IRR has a CI
#: that excludes 1: the event-exposure independence assumption fails (SelfControlledCaseSeries'
#: pre-exposure check, p < alpha), so the key IRR cannot decide a verdict.
PRE_EXPOSURE_KEY = "_pre_exposure_dependent"

SUPPORTED, CONTRADICTED, NO_EVIDENCE, INCONCLUSIVE, NOT_ANALYSED = (
    "supported",
    "contradicted",
    "no evidence",
    "inconclusive",
    "not analysed",
)
MIXED = "mixed"
POSITIVE_CONTROL = "positive_control"


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
    if calibration_untrusted(row, st):
        fails.append(f"loo_coverage<{st.min_loo_coverage:.0%}")
    if row.get(PRE_EXPOSURE_KEY) is True:
        fails.append("pre_exposure_irr")
    ease = _f(row.get("cal_ease"))
    if row.get("design") == "D10" and math.isfinite(ease) and ease > st.max_ease:
        fails.append(f"ease>{st.max_ease:g}")
    return fails


def calibration_untrusted(row: dict, st: Settings) -> bool:
    """The row is calibrated on controls whose leave-one-out coverage is below the threshold.

    With a null that fits, each left-out control's calibrated CI holds 1 with probability about
    1 - alpha, so coverage below 80% has probability at most 2.5% for 5 or more controls at 95%
    (binomial: 2.3% at 5, 1.2% at 10, 0.3% at 20): rarely raised by chance, and raised when the
    controls are not exchangeable (heavy tails, systematic error the Gaussian null does not
    describe) -- then no calibrated CI of the group can be trusted.
    """
    loo = _f(row.get("cal_loo_coverage"))
    calibrated = math.isfinite(_f(row.get("cal_ci_low"))) and math.isfinite(
        _f(row.get("cal_ci_high"))
    )
    return calibrated and math.isfinite(loo) and loo < st.min_loo_coverage


def verdict_p(row: dict) -> float:
    """The p-value the verdict reads: calibrated where the verdict reads the calibrated CI."""
    lo, hi = _f(row.get("cal_ci_low")), _f(row.get("cal_ci_high"))
    cal_p = _f(row.get("cal_p_value"))
    if math.isfinite(lo) and math.isfinite(hi) and math.isfinite(cal_p):
        return cal_p
    return _f(row.get("p_value"))


def hypothesis_verdict(
    row: dict | None, expected: str, st: Settings, *, percentile_criterion: float | None = None
) -> str:
    """One hypothesis's verdict from its key row (module docstring). ``percentile_criterion``:
    the D8 phenome-percentile criterion; the Holm-adjusted p is read from the row."""
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
    holm = _f(row.get("holm_p_value"))
    if (up or down) and math.isfinite(holm) and holm > st.alpha:
        return INCONCLUSIVE  # the family's multiplicity control does not let it decide
    if (up or down) and calibration_untrusted(row, st):
        return INCONCLUSIVE  # the calibrated CI it reads is not trusted (calibration_untrusted)
    if down:
        return CONTRADICTED if passed else INCONCLUSIVE
    if up and percentile_criterion is not None:
        pct = _f(row.get("phenome_percentile"))
        if not math.isfinite(pct):
            return INCONCLUSIVE
        if pct <= percentile_criterion:
            return _null_verdict(row, st)  # raised, but no more than the background's ORs
    if up:
        return SUPPORTED if passed else INCONCLUSIVE
    return _null_verdict(row, st)


def _null_verdict(row: dict, st: Settings) -> str:
    """'No evidence' when the data could have shown the effect and every diagnostic passes."""
    mdrr = verdict_mdrr(row)
    if math.isfinite(mdrr) and mdrr <= st.mdrr_threshold and _only_fails_allowed(row):
        return NO_EVIDENCE
    return INCONCLUSIVE


def verdict_mdrr(row: dict) -> float:
    """The MDRR of the interval the verdict reads.

    The row's ``mdrr`` is the data's (from its counts). When the verdict reads a calibrated CI,
    which is wider by the null's spread, the effect the data could have shown is the larger of
    that and the MDRR the calibrated CI's width implies: exp((z_{1-a/2} + z_power) SE_cal), with
    SE_cal = log(high / low) / (2 z_{1-a/2}). Otherwise "no evidence" could be declared on a
    calibrated CI several-fold wide (issue 15).
    """
    from miglink.stats.level import z_interval, z_mdrr

    mdrr = _f(row.get("mdrr"))
    lo, hi = _f(row.get("cal_ci_low")), _f(row.get("cal_ci_high"))
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        return mdrr
    se_cal = math.log(hi / lo) / (2 * z_interval())
    cal = math.exp(min(z_mdrr() * se_cal, 700.0))
    return max(mdrr, cal) if math.isfinite(mdrr) else cal


def _only_fails_allowed(row: dict) -> bool:
    """'No evidence' needs a trustworthy null result: only power may not fail."""
    d = row.get("diagnostics") or ""
    return d == ""


@dataclass(frozen=True)
class Tally:
    """How a claim's hypotheses came out: the k of n its verdict states (claims.json)."""

    n_hypotheses: int
    n_voting: int
    n_supported: int
    n_contradicted: int
    n_no_evidence: int
    n_inconclusive: int
    n_not_analysed: int
    n_descriptive: int
    n_positive_controls: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def tally(verdicts: list[str], roles: list[str] | None = None) -> Tally:
    """Count a claim's hypothesis verdicts; ``roles`` (default all "test") marks positive
    controls. Descriptive hypotheses have the verdict ""."""
    roles = roles if roles is not None else ["test"] * len(verdicts)
    if len(roles) != len(verdicts):
        raise ValueError("one role per verdict")
    pc = [r == POSITIVE_CONTROL for r in roles]
    tested = [v for v, p in zip(verdicts, pc, strict=True) if not p and v]
    voting = [v for v in tested if v != NOT_ANALYSED]
    return Tally(
        n_hypotheses=len(verdicts),
        n_voting=len(voting),
        n_supported=voting.count(SUPPORTED),
        n_contradicted=voting.count(CONTRADICTED),
        n_no_evidence=voting.count(NO_EVIDENCE),
        n_inconclusive=voting.count(INCONCLUSIVE),
        n_not_analysed=len(tested) - len(voting),
        n_descriptive=sum(1 for v, p in zip(verdicts, pc, strict=True) if not p and not v),
        n_positive_controls=sum(pc),
    )


def claim_verdict(claim: Claim, verdicts: list[str], roles: list[str] | None = None) -> str:
    """The claim's verdict by its rule over its voting hypotheses (module docstring)."""
    t = tally(verdicts, roles)
    n, s, c = t.n_voting, t.n_supported, t.n_contradicted
    if n == 0:
        return NOT_ANALYSED
    if s > 0 and c > 0:
        return MIXED
    if claim.rule == "all":
        if c > 0:
            return CONTRADICTED
        if s == n:
            return SUPPORTED
    elif claim.rule == "any":
        if s > 0:
            return SUPPORTED
        if c > 0:
            return CONTRADICTED
    else:  # majority
        if s > n / 2:
            return SUPPORTED
        if c > n / 2:
            return CONTRADICTED
    if t.n_no_evidence == n:
        return NO_EVIDENCE
    return INCONCLUSIVE
