"""One calibration panel per fitted null, as calibration.json names them ("D1", "D2 forward",
"D2 reverse", "D5 SCCS", ...): the funnel draws that null's own controls, so the two D2
directions are never mixed in one plot, and a null whose sd collapsed is said to be degenerate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from miglink.report import charts, fmt

#: A null sd (log scale) below this is degenerate: the controls show no spread beyond their own
#: sampling error, so the calibrated interval is the raw one shifted, not widened.
DEGENERATE_SD = 0.01


def _controls(cal: dict[str, Any], ncs: pd.DataFrame, design: str, group: str) -> pd.DataFrame:
    """The null's controls: calibration.json's own list (log estimate, SE), else the results'
    negative-control rows of its design (and direction) for older files without a list."""
    listed = pd.DataFrame([c for c in cal.get("controls") or [] if isinstance(c, dict)])
    if not listed.empty and "log_estimate" in listed.columns:
        log_est = pd.to_numeric(listed["log_estimate"], errors="coerce")
        return listed.assign(estimate=np.exp(log_est))
    rows = ncs[ncs["design"] == design]
    if group and "direction" in rows.columns and (rows["direction"] == group).any():
        rows = rows[rows["direction"] == group]
    return rows


def degenerate(sd: Any) -> bool:
    return fmt.is_num(sd) and float(sd) < DEGENERATE_SD


def calibration_views(results: pd.DataFrame, calibration: dict) -> dict[str, dict[str, Any]]:
    """``{null key: view}``: one per fitted null, and one per design with negative controls but
    no null in calibration.json (drawn without a fitted null)."""
    ncs = results[results["role"] == "negative_control"]
    keys = list(calibration)
    covered = {k.partition(" ")[0] for k in keys}
    keys += sorted(set(ncs["design"].dropna().astype(str)) - covered)
    # a null named by a direction or an analysis calibrates only those rows ("D2 forward",
    # "D7 h2_fh_ai_to_migraine"); one named otherwise ("D5 SCCS") calibrates its whole design
    names = {"forward", "reverse"}
    for c in ("analysis", "hypothesis"):
        names |= set(results[c].dropna().astype(str))
    views: dict[str, dict[str, Any]] = {}
    for key in keys:
        cal = calibration.get(key) or {}
        design, _, group = key.partition(" ")
        controls = _controls(cal, ncs, design, group)
        mean, sd = cal.get("mean"), cal.get("sd")
        fitted = fmt.is_num(mean) and fmt.is_num(sd)
        title = (
            f"{key}: empirical null mean {fmt.num(mean)}, sd {fmt.num(sd, 3)} (log scale)"
            if fitted
            else f"{key}: negative controls (no fitted null)"
        )
        svg = charts.calibration(
            controls,
            float(mean) if fitted else None,
            float(sd) if fitted else None,
            title=title,
        )
        withheld = bool(cal.get("controls")) and all(
            c.get("withheld") for c in cal["controls"] if isinstance(c, dict)
        )
        views[key] = {
            "key": key,
            "design": design,
            "group": group,
            "svg": svg,
            "reason": "every control's estimate is withheld by the minimum-cell gate"
            if withheld
            else "no negative control with an estimate to draw",
            "mean": fmt.num(mean, 3),
            "sd": fmt.num(sd, 4) if degenerate(sd) else fmt.num(sd, 3),
            "ease": fmt.num(cal.get("ease"), 3),
            "n_controls": fmt.count(cal.get("n_controls", len(controls))),
            "degenerate": degenerate(sd),
            "named": group in names,
        }
    return views


def claim_keys(views: dict[str, dict[str, Any]], rows: pd.DataFrame, designs: list[str]) -> list:
    """The nulls a claim's rows are calibrated on: its designs' nulls, narrowed to the claim's
    directions or analyses where a null is named by one (D2 forward / reverse, D7 per analysis)."""
    names = set(rows["analysis"].dropna().astype(str)) | set(
        rows["hypothesis"].dropna().astype(str)
    )
    if "direction" in rows.columns:
        names |= set(rows["direction"].dropna().astype(str))
    return [
        key
        for key, v in views.items()
        if v["design"] in designs and (not v["named"] or v["group"] in names)
    ]
