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
    """One line per claim: each hypothesis's key estimate (when published) and its verdict."""
    parts = []
    for h in hyps:
        if not h.get("analysis"):
            parts.append(f"{h['id']}: {h['verdict']}")
            continue
        row = results[(results.analysis == h["analysis"]) & (results.hypothesis == h["id"])]
        if row.empty:
            continue
        r = row.iloc[0]
        verdict = h.get("verdict") or "descriptive"
        if not _finite(r.get("estimate")):
            parts.append(f"{h['id']}: {verdict}")
        elif _finite(r.get("cal_ci_low")) and _finite(r.get("cal_ci_high")):
            parts.append(
                f"{h['id']}: {r['measure']} {float(r['estimate']):.2f} (calibrated 95% CI "
                f"{float(r['cal_ci_low']):.2f}-{float(r['cal_ci_high']):.2f}) {verdict}"
            )
        elif _finite(r.get("ci_low")) and _finite(r.get("ci_high")):
            parts.append(
                f"{h['id']}: {r['measure']} {float(r['estimate']):.2f} (95% CI "
                f"{float(r['ci_low']):.2f}-{float(r['ci_high']):.2f}) {verdict}"
            )
        else:
            parts.append(f"{h['id']}: {verdict}")
    return "; ".join(parts)


def gate_claims(claims: list[dict], gated: pd.DataFrame) -> list[dict]:
    """A copy of ``claims`` whose summaries are re-rendered from the gated results table."""
    out = copy.deepcopy(list(claims or []))
    for c in out:
        c["summary"] = claim_summary(c.get("hypotheses", []), gated)
    return out
