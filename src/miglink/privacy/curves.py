"""Disclosure control for Kaplan-Meier curves.

A curve published at every grid time with exact survival and numbers at risk gives back each
step's events and censorings: differences of cumulative events and of numbers at risk, and
S(t_k) / S(t_k-1) = 1 - d / n. So a curve is published only on a coarsened grid:

* the grid times are walked in order and a time is kept only if, since the last kept time, the
  events and the censorings are each 0 or at least the minimum, and the number still at risk is 0
  or at least the minimum (:func:`miglink.privacy.partitions.chain_keep`);
* survival and its 95% interval at the kept times are recomputed from the kept counts only, as an
  actuarial life table (Cutler & Ederer 1958: n' = n - c/2) with Greenwood's variance and the
  log(-log) interval lifelines uses (Kalbfleisch & Prentice 2002, §1.3). They carry no
  information beyond the published counts, so no within-step count can be solved from them;
* the curve ends early enough that the results table's event total for the arm, minus the
  events shown up to the end, is 0 or at least the minimum;
* an arm with fewer persons than the minimum publishes one row with no numbers and the reason.

What a site gives up: the curve's steps are at least the minimum apart in events and censorings,
and survival is the life-table value at those times (close to the Kaplan-Meier value where steps
are short and censoring light).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from miglink.privacy.partitions import chain_keep, is_safe
from miglink.stats.level import z_interval

#: Columns of a gated curve (the design's ``censored`` column is used, then dropped).
CURVE_COLUMNS = (
    "analysis",
    "group",
    "time",
    "survival",
    "ci_low",
    "ci_high",
    "at_risk",
    "events",
    "withheld",
)


def life_table(at_risk: list[float], events: list[float], censored: list[float]) -> pd.DataFrame:
    """Actuarial survival and log(-log) Greenwood CI (the run's level, 95% by default) after
    each step.

    ``at_risk[i]`` enters step i, ``events[i]`` and ``censored[i]`` leave during it.
    """
    s, v = 1.0, 0.0
    rows = []
    for n, d, c in zip(at_risk, events, censored, strict=True):
        n_eff = n - c / 2.0
        if n_eff > 0 and d > 0:
            s *= 1.0 - d / n_eff
            if n_eff > d:
                v += d / (n_eff * (n_eff - d))
        rows.append((s, *_loglog_ci(s, v)))
    return pd.DataFrame(rows, columns=["survival", "ci_low", "ci_high"])


def _loglog_ci(s: float, var_log_s: float) -> tuple[float, float]:
    if s >= 1.0 or var_log_s <= 0:
        return (s, s) if s < 1.0 else (1.0, 1.0)
    if s <= 0.0:
        return (0.0, 0.0)
    se = math.sqrt(var_log_s) / abs(math.log(s))
    z = z_interval()
    return (s ** math.exp(z * se), s ** math.exp(-z * se))


def gate_curve(
    g: pd.DataFrame, min_cell: int, event_totals: list[float] | None = None
) -> pd.DataFrame:
    """One arm's curve (rows by time: cumulative ``events`` and ``censored``, ``at_risk``) gated.

    ``event_totals`` are the arm's event counts the results table shows (over the whole
    follow-up): the curve's last shown time is moved back until each total minus the events shown
    up to it is 0 or >= ``min_cell`` (else the table gives the events after the curve's end).
    """
    g = g.sort_values("time")
    head = {"analysis": g["analysis"].iloc[0], "group": g["group"].iloc[0]}
    if "censored" not in g.columns or g[["events", "censored", "at_risk"]].isna().any().any():
        return _withheld(head, "withheld: the curve's censoring counts are not known")
    n0 = float(g["at_risk"].iloc[0])
    if n0 < min_cell:
        return _withheld(head, f"withheld: the arm has fewer than {min_cell} persons")
    ev = g["events"].astype(float).tolist()
    ce = g["censored"].astype(float).tolist()
    left = [n0 - e - c for e, c in zip(ev, ce, strict=True)]
    points = [(e, c, n) for e, c, n in zip(ev, ce, left, strict=True)]
    keep = chain_keep(points, min_cell)
    if not keep[0]:
        return _withheld(head, "withheld: no step of the curve has enough events and censorings")
    kept = [p for p, k in zip(points, keep, strict=True) if k]
    times = [t for t, k in zip(g["time"].tolist(), keep, strict=True) if k]
    totals = [float(v) for v in (event_totals or []) if v == v]
    while len(kept) > 1 and not all(is_safe(t - kept[-1][0], min_cell) for t in totals):
        kept.pop()
        times.pop()
    enter = [n0] + [p[2] for p in kept[:-1]]
    d = [kept[0][0]] + [b[0] - a[0] for a, b in zip(kept[:-1], kept[1:], strict=True)]
    c = [kept[0][1]] + [b[1] - a[1] for a, b in zip(kept[:-1], kept[1:], strict=True)]
    lt = life_table(enter, d, c)
    return pd.DataFrame(
        {
            "analysis": head["analysis"],
            "group": head["group"],
            "time": times,
            "survival": lt["survival"].to_numpy(),
            "ci_low": lt["ci_low"].to_numpy(),
            "ci_high": lt["ci_high"].to_numpy(),
            # at risk after the time (entering the next step) and events up to it
            "at_risk": [int(round(p[2])) for p in kept],
            "events": [int(round(p[0])) for p in kept],
            "withheld": "",
        }
    )


def _withheld(head: dict, reason: str) -> pd.DataFrame:
    row = dict.fromkeys(CURVE_COLUMNS, np.nan) | head | {"withheld": reason}
    row["at_risk"] = row["events"] = None
    return pd.DataFrame([row], columns=list(CURVE_COLUMNS))


def gate_curves(
    curves: pd.DataFrame | None, min_cell: int, results: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every curve of a run as it may leave the program (see the module docstring).

    ``results`` is the gated results table: the events it shows per analysis and arm bound where
    each curve may end (:func:`gate_curve`).
    """
    if curves is None or curves.empty:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    parts = [
        gate_curve(g, min_cell, _event_totals(results, a, grp))
        for (a, grp), g in curves.groupby(["analysis", "group"], sort=False)
    ]
    out = pd.concat(parts, ignore_index=True)
    for col in ("at_risk", "events"):
        out[col] = pd.Series(
            [None if v is None or (isinstance(v, float) and v != v) else int(v) for v in out[col]],
            dtype=object,
        )
    return out[list(CURVE_COLUMNS)]


def _event_totals(results: pd.DataFrame | None, analysis: str, group: str) -> list[float]:
    col = "events_exposed" if group == "exposed" else "events_unexposed"
    if results is None or results.empty or col not in results or "analysis" not in results:
        return []
    vals = pd.to_numeric(results.loc[results["analysis"] == analysis, col], errors="coerce")
    return sorted(set(vals.dropna().tolist()))
