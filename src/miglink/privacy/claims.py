"""Claim summaries are rendered from the gated results only, so a summary (in claims.json or the
report) can never show a number the results table withholds."""

from __future__ import annotations

import copy
import math

import pandas as pd


def _finite(x: object) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def claim_summary(hyps: list[dict], results: pd.DataFrame) -> str:
    """One line per claim: each hypothesis's key estimate (when published), its Holm-adjusted p
    (in a family, when published) and its verdict; a positive control is marked as one (it does
    not vote)."""
    parts = []
    for h in hyps:
        verdict = h.get("verdict") or "descriptive"
        if h.get("role") == "positive_control":
            verdict = f"{verdict} (positive control, does not vote)"
        if not h.get("analysis"):
            parts.append(f"{h['id']}: {verdict}")
            continue
        row = results[(results.analysis == h["analysis"]) & (results.hypothesis == h["id"])]
        if row.empty:
            continue
        parts.append(f"{h['id']}: {_estimate_text(row.iloc[0])}{verdict}")
    return "; ".join(parts)


def _estimate_text(r: pd.Series) -> str:
    """'OR 1.23 (calibrated 95% CI 1.01-1.50; Holm p 0.031) ' from a gated row, or ''."""
    if not _finite(r.get("estimate")):
        return ""
    holm = f"; Holm p {float(r['holm_p_value']):.2g}" if _finite(r.get("holm_p_value")) else ""
    for lo, hi, label in (("cal_ci_low", "cal_ci_high", "calibrated 95% CI"),
                          ("ci_low", "ci_high", "95% CI")):  # fmt: skip
        if _finite(r.get(lo)) and _finite(r.get(hi)):
            return (
                f"{r['measure']} {float(r['estimate']):.2f} ({label} "
                f"{float(r[lo]):.2f}-{float(r[hi]):.2f}{holm}) "
            )
    return ""


def gate_claims(claims: list[dict], gated: pd.DataFrame) -> list[dict]:
    """A copy of ``claims`` whose summaries are re-rendered from the gated results table."""
    out = copy.deepcopy(list(claims or []))
    for c in out:
        c["summary"] = claim_summary(c.get("hypotheses", []), gated)
    return out
