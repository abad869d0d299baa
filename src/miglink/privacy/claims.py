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
    """'OR 1.35 (calibrated 95% CI 1.09-1.67; raw OR 1.09; Holm p 0.031) ' from a gated row, or ''.

    A calibrated interval is shown beside the calibrated estimate, never the raw one: the raw
    estimate sits outside the calibrated interval whenever the null is shifted (issue 18)."""
    if not _finite(r.get("estimate")):
        return ""
    m, est = r["measure"], float(r["estimate"])
    holm = f"; Holm p {float(r['holm_p_value']):.2g}" if _finite(r.get("holm_p_value")) else ""
    if _finite(r.get("cal_ci_low")) and _finite(r.get("cal_ci_high")):
        ci = f"calibrated 95% CI {float(r['cal_ci_low']):.2f}-{float(r['cal_ci_high']):.2f}"
        if _finite(r.get("cal_estimate")):
            return f"{m} {float(r['cal_estimate']):.2f} ({ci}; raw {m} {est:.2f}{holm}) "
        return f"raw {m} {est:.2f} ({ci}{holm}) "
    if _finite(r.get("ci_low")) and _finite(r.get("ci_high")):
        return f"{m} {est:.2f} (95% CI {float(r['ci_low']):.2f}-{float(r['ci_high']):.2f}{holm}) "
    return ""


def gate_claims(claims: list[dict], gated: pd.DataFrame) -> list[dict]:
    """A copy of ``claims`` whose summaries are re-rendered from the gated results table."""
    out = copy.deepcopy(list(claims or []))
    for c in out:
        c["summary"] = claim_summary(c.get("hypotheses", []), gated)
    return out
