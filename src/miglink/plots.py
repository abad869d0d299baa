"""Figures of a :class:`miglink.result.StudyResult`: forest, Kaplan-Meier and calibration funnel.

Each helper draws from the gated tables only (a withheld estimate, curve point or control is not
drawn), returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any
backend: a notebook shows it, ``fig.savefig("x.png")`` writes it). matplotlib is an optional
dependency: ``pip install miglink[plot]``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from miglink.errors import MiglinkError
from miglink.report.calibration_view import degenerate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from miglink.result import StudyResult

__all__ = ["plot_calibration", "plot_forest", "plot_km"]


def _figure(height: float, width: float = 7.0) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the install
        raise MiglinkError(
            "the plotting helpers need matplotlib: pip install 'miglink[plot]'"
        ) from None
    return Figure(figsize=(width, height), layout="constrained")


def _num(v: object) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def forest_rows(result: StudyResult, claim: int | str | None = None) -> pd.DataFrame:
    """The forest plot's rows: one per hypothesis with a key row (of ``claim``, or all), its
    calibrated estimate and interval where calibrated, else the raw ones; NaN where withheld."""
    rows = []
    for c in result.claims:
        if claim is not None and str(c.get("id")) != str(claim):
            continue
        for h in c.get("hypotheses", []):
            r = result.key_row(h)
            if r is None:
                continue
            cal = not math.isnan(_num(r.get("cal_estimate"))) and not math.isnan(
                _num(r.get("cal_ci_low"))
            )
            p = "cal_" if cal else ""
            est = _num(r.get("cal_estimate" if cal else "estimate"))
            lo, hi = _num(r.get(f"{p}ci_low")), _num(r.get(f"{p}ci_high"))
            rows.append(
                {
                    "claim": c.get("id"),
                    "hypothesis": h.get("id"),
                    "measure": r.get("measure"),
                    "estimate": est,
                    "ci_low": lo,
                    "ci_high": hi,
                    "calibrated": cal,
                    "verdict": h.get("verdict") or "descriptive",
                }
            )
    cols = ["claim", "hypothesis", "measure", "estimate", "ci_low", "ci_high", "calibrated"]
    return pd.DataFrame(rows, columns=[*cols, "verdict"])


def plot_forest(result: StudyResult, claim: int | str | None = None) -> Figure:
    """Each hypothesis's key estimate and interval on a log axis (calibrated where calibrated:
    filled marker; raw: open marker); a hypothesis without a published estimate keeps its row,
    labelled "no estimate"."""
    rows = forest_rows(result, claim)
    if rows.empty:
        raise MiglinkError(f"no hypothesis with a results row for claim {claim!r}")
    fig = _figure(1.0 + 0.35 * len(rows))
    ax = fig.subplots()
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows.itertuples(), strict=True):
        if math.isnan(r.estimate) or r.estimate <= 0:
            ax.text(1.0, y, "no estimate", va="center", ha="center", fontsize=8, color="grey")
            continue
        if not (math.isnan(r.ci_low) or math.isnan(r.ci_high)) and r.ci_low > 0:
            ax.plot([r.ci_low, r.ci_high], [y, y], color="black", lw=1.2)
        face = "black" if r.calibrated else "white"
        ax.plot([r.estimate], [y], "s", color="black", markerfacecolor=face, ms=6)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    _log_axis(ax)
    ax.set_yticks(ys, [f"{r.hypothesis} ({r.verdict})" for r in rows.itertuples()])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"estimate ({result.level}% CI; filled: calibrated)")
    ax.set_title(f"Claim {claim}" if claim is not None else "Key estimates")
    return fig


def km_analyses(result: StudyResult) -> list[str]:
    """The analyses whose curves have at least one published point."""
    cur = result.curves
    if cur.empty or "survival" not in cur:
        return []
    shown = cur[pd.to_numeric(cur["survival"], errors="coerce").notna()]
    return list(dict.fromkeys(shown["analysis"]))


def plot_km(result: StudyResult, analysis: str | None = None, *, bands: bool = True) -> Figure:
    """Kaplan-Meier curves of one analysis (default: the first with published points), one step
    line per group with its pointwise band; withheld points (an arm under the minimum cell size,
    coarsened times) are not drawn. With no published point at all, the figure says so."""
    shown = km_analyses(result)
    fig = _figure(4.0)
    ax = fig.subplots()
    if analysis is None and not shown:  # small data: every arm under the minimum cell size
        ax.text(0.5, 0.5, "no curve of this run has a published point", ha="center")
        ax.set_axis_off()
        return fig
    analysis = analysis or shown[0]
    cur = result.curves
    cur = cur[cur["analysis"] == analysis] if "analysis" in cur else cur
    if cur.empty:
        raise MiglinkError(f"no curves for analysis {analysis!r}; analyses with points: {shown}")
    for group, g in cur.groupby("group", sort=True):
        g = g.assign(
            time=pd.to_numeric(g["time"], errors="coerce"),
            survival=pd.to_numeric(g["survival"], errors="coerce"),
        ).dropna(subset=["time", "survival"])
        if g.empty:
            continue
        g = g.sort_values("time")
        (line,) = ax.step(g["time"], g["survival"], where="post", label=str(group))
        if bands and {"ci_low", "ci_high"} <= set(g.columns):
            lo = pd.to_numeric(g["ci_low"], errors="coerce")
            hi = pd.to_numeric(g["ci_high"], errors="coerce")
            ax.fill_between(g["time"], lo, hi, step="post", alpha=0.2, color=line.get_color())
    ax.set_xlabel("years since index")
    ax.set_ylabel("survival (no outcome)")
    ax.set_title(analysis.replace("__", " · ").replace("_", " "))
    if ax.get_lines():
        ax.legend(loc="lower left")
    return fig


def calibration_points(result: StudyResult, group: str) -> pd.DataFrame:
    """The published negative controls of one calibration group (withheld ones left out)."""
    info = result.calibration.get(group)
    if info is None:
        raise MiglinkError(
            f"no calibration group {group!r}; groups: {', '.join(result.calibration) or 'none'}"
        )
    pts = [
        {"outcome": c.get("outcome"), "log_estimate": _num(c.get("log_estimate")),
         "se_log": _num(c.get("se_log"))}
        for c in info.get("controls") or []
        if not c.get("withheld")
    ]  # fmt: skip
    df = pd.DataFrame(pts, columns=["outcome", "log_estimate", "se_log"])
    return df.dropna(subset=["log_estimate", "se_log"]).reset_index(drop=True)


def plot_calibration(result: StudyResult, group: str) -> Figure:
    """The funnel of a calibration group's negative controls (estimate against its standard
    error) with the no-effect funnel and, where one was fitted, the empirical null's mean."""
    pts = calibration_points(result, group)
    info = result.calibration[group]
    fig = _figure(4.0, 5.5)
    ax = fig.subplots()
    z = _z(result.alpha)
    se_max = max([0.1, *pts["se_log"].tolist()]) * 1.1
    se = [se_max * i / 50 for i in range(51)]
    ax.plot([math.exp(-z * s) for s in se], se, color="grey", lw=0.8)
    ax.plot([math.exp(z * s) for s in se], se, color="grey", lw=0.8)
    ax.scatter(pts["log_estimate"].map(math.exp), pts["se_log"], s=18, color="tab:blue")
    mean = _num(info.get("mean"))
    null = "no fitted null"
    if not math.isnan(mean):
        ax.axvline(math.exp(mean), color="tab:red", lw=1, ls="--")
        sd = _num(info.get("sd"))
        null = f"null mean {math.exp(mean):.2f}, sd {sd:.3g}"
        if degenerate(sd):  # as the report says: calibration is then a shift without spread
            null += " (degenerate null)"
    _log_axis(ax)
    ax.set_ylim(se_max, 0)
    ax.set_xlabel("estimate (negative controls)")
    ax.set_ylabel("standard error of the log estimate")
    ax.set_title(f"{group}: {len(pts)} controls shown; {null}", fontsize=9)
    return fig


def _log_axis(ax) -> None:
    """A log x axis labelled with plain ratios (0.5, 1, 2), no minor-tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))
