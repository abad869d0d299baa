"""calibration.json lists each negative control's log estimate and SE: a control whose row the
results gate withheld is withheld here too, and never alone (the fitted null's mean and sd are
two equations that would give a single missing control back)."""

from __future__ import annotations

import copy
import math

import pandas as pd


def _finite(x: object) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _published(gated: pd.DataFrame, key: str, name: object) -> bool:
    design, _, direction = key.partition(" ")
    rows = gated[(gated["role"] == "negative_control") & (gated["design"] == design)]
    if direction and "direction" in rows:
        rows = rows[rows["direction"] == direction]
    rows = rows[(rows["outcome"] == name) | (rows["exposure"] == name)]
    return not rows.empty and all(_finite(v) for v in rows["log_estimate"])


def gate_calibration(calibration: dict, gated: pd.DataFrame) -> dict:
    """A copy of ``calibration`` showing only the controls whose estimates the gated table shows."""
    out = copy.deepcopy(dict(calibration or {}))
    for key, info in out.items():
        controls = info.get("controls") or []
        hidden = [c for c in controls if not _published(gated, key, c.get("outcome"))]
        shown = [c for c in controls if c not in hidden]
        if len(hidden) == 1 and shown and _finite(info.get("mean")):
            # withhold the sparsest shown control too (largest SE), so the null fit cannot be
            # solved for the one missing control
            hidden.append(max(shown, key=lambda c: float(c.get("se_log") or 0)))
        for c in controls:
            if any(c is h for h in hidden):
                c["log_estimate"] = None
                c["se_log"] = None
                c["withheld"] = True
    return out
