"""Charts as inline SVG: Altair (Vega-Lite) specs rendered server-side by vl-convert.

Rendering to SVG at build time keeps the report self-contained and script-free: it opens
offline, makes no network request, needs no JavaScript bundle and prints sharply. Each function
returns an SVG string, or ``None`` when there is nothing to draw (the template then says
"not available").
"""

from __future__ import annotations

import itertools
import json
import math
import re
from functools import lru_cache

import altair as alt
import numpy as np
import pandas as pd

FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"
INK = "#222222"
GRID = "#e6e6e6"
KIND_COLOURS = {
    "this study": "#4d4d4d",
    "calibrated": "#1f5fa8",
    "published": "#c8641e",
    "site": "#4d4d4d",
    "pooled (random effects)": "#1f5fa8",
    "pooled (fixed effect)": "#6b3fa0",
}
KIND_SHAPES = {
    "this study": "square",
    "calibrated": "circle",
    "published": "diamond",
    "site": "square",
    "pooled (random effects)": "diamond",
    "pooled (fixed effect)": "triangle-up",
}
GROUP_COLOURS = {"exposed": "#b2182b", "unexposed": "#2166ac"}
#: "all": a concept set the privacy gate could show only for both sexes together
SEX_COLOURS = {"F": "#b2182b", "M": "#2166ac", "all": "#555555"}

_ids = itertools.count(1)


#: Vega-Lite config shared by every chart (set on the spec dict: altair's configure_* methods
#: deep-copy the whole chart, data included, once per call).
CONFIG = {
    "font": FONT,
    "background": "white",
    "axis": {
        "labelColor": INK,
        "titleColor": INK,
        "gridColor": GRID,
        "domainColor": "#888888",
        "tickColor": "#888888",
        "labelFontSize": 11,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
    },
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
    "title": {"fontSize": 12, "fontWeight": "bold", "anchor": "start", "color": INK},
    "view": {"stroke": None},
}


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to SVG text (identical specs are rendered once per process)."""
    spec = chart.to_dict(validate=False)
    spec["config"] = CONFIG
    return _render(json.dumps(spec, sort_keys=True, default=str))


@lru_cache(maxsize=256)
def _render(spec_json: str) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(json.loads(spec_json))


def embed(svg: str | None) -> str:
    """Prepare an SVG for one place in the page: unique element ids, width scaled by CSS.

    vl-convert names clip paths ``clip1``, ``clip2``... in every SVG; inline in one document,
    a second chart would otherwise clip to the first chart's rectangles. Call once per insertion.
    """
    if not svg:
        return ""
    prefix = f"c{next(_ids)}-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    return re.sub(r'^<svg ([^>]*?)width="(\d+)" height="(\d+)"', _responsive, svg, count=1)


def _responsive(m: re.Match) -> str:
    w, h = m.group(2), m.group(3)
    return f'<svg {m.group(1)}width="{w}" height="{h}" style="max-width:100%;height:auto"'


def _log_domain(values: pd.Series, lo: float = 0.05, hi: float = 50.0) -> list[float]:
    v = pd.to_numeric(values, errors="coerce")
    v = v[np.isfinite(v) & (v > 0)]
    if v.empty:
        return [0.5, 2.0]
    a = max(min(float(v.min()), 0.8), lo)
    b = min(max(float(v.max()), 1.25), hi)
    return [a / 1.1, b * 1.1]


def forest(rows: pd.DataFrame, title: str = "") -> str | None:
    """Forest plot of ratio estimates: one line per (hypothesis, series).

    ``rows`` has columns label, kind ("this study", "calibrated", "published"), estimate,
    ci_low, ci_high, in display order. Missing intervals draw the point alone.
    """
    if rows is None or rows.empty:
        return None
    df = rows.copy()
    df = df[pd.to_numeric(df["estimate"], errors="coerce") > 0]
    if df.empty:
        return None
    order = list(dict.fromkeys(df["label"]))
    domain = _log_domain(pd.concat([df["estimate"], df["ci_low"], df["ci_high"]]))
    df["ci_low"] = df["ci_low"].clip(lower=domain[0], upper=domain[1])
    df["ci_high"] = df["ci_high"].clip(lower=domain[0], upper=domain[1])
    kinds = [k for k in KIND_COLOURS if k in set(df["kind"])]
    colour = alt.Color(
        "kind:N",
        title=None,
        scale=alt.Scale(domain=kinds, range=[KIND_COLOURS[k] for k in kinds]),
    )
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320, grid=False))
    x_scale = alt.Scale(type="log", domain=domain, nice=False)
    base = alt.Chart(df)
    bars = base.mark_rule(strokeWidth=1.6, clip=True).encode(
        x=alt.X("ci_low:Q", scale=x_scale, title="ratio (log scale)"),
        x2="ci_high:Q",
        y=y,
        color=colour,
    )
    points = base.mark_point(filled=True, size=55, opacity=1, clip=True).encode(
        x=alt.X("estimate:Q", scale=x_scale),
        y=y,
        color=colour,
        shape=alt.Shape(
            "kind:N",
            title=None,
            scale=alt.Scale(
                domain=kinds,
                range=[KIND_SHAPES[k] for k in kinds],
            ),
        ),
    )
    null = (
        alt.Chart(pd.DataFrame({"x": [1.0]}))
        .mark_rule(color="#555555", strokeDash=[4, 3])
        .encode(x=alt.X("x:Q", scale=x_scale))
    )
    chart = alt.layer(null, bars, points).properties(
        width=420, height=max(60, 18 * len(order)), title=title
    )
    return to_svg(chart)


def km(curve: pd.DataFrame, title: str = "") -> str | None:
    """Kaplan–Meier curves (survival free of the outcome) by group, with 95% bands."""
    if curve is None or curve.empty:
        return None
    df = curve.copy()
    for c in ("time", "survival", "ci_low", "ci_high"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df.dropna(subset=["time", "survival"]).sort_values(["group", "time"])
    if df.empty:
        return None
    lows = df["ci_low"] if "ci_low" in df.columns else df["survival"]
    ymin = float(np.nanmin([lows.min(), df["survival"].min()]))
    ymin = max(0.0, math.floor((ymin - 0.02) * 50) / 50)
    groups = [g for g in GROUP_COLOURS if g in set(df["group"])] + sorted(
        set(df["group"]) - set(GROUP_COLOURS)
    )
    colour = alt.Color(
        "group:N",
        title=None,
        scale=alt.Scale(domain=groups, range=[GROUP_COLOURS.get(g, "#666666") for g in groups]),
    )
    x = alt.X("time:Q", title="years since index", scale=alt.Scale(nice=False))
    y_scale = alt.Scale(domain=[ymin, 1.0], zero=False)
    layers = []
    if {"ci_low", "ci_high"} <= set(df.columns) and df["ci_low"].notna().any():
        layers.append(
            alt.Chart(df)
            .mark_area(interpolate="step-after", opacity=0.15)
            .encode(x=x, y=alt.Y("ci_low:Q", scale=y_scale), y2="ci_high:Q", color=colour)
        )
    layers.append(
        alt.Chart(df)
        .mark_line(interpolate="step-after", strokeWidth=1.8)
        .encode(
            x=x,
            y=alt.Y("survival:Q", scale=y_scale, title="free of outcome"),
            color=colour,
        )
    )
    return to_svg(alt.layer(*layers).properties(width=360, height=200, title=title))


def at_risk_table(curve: pd.DataFrame, max_columns: int = 8) -> tuple[list[str], list[list[str]]]:
    """Numbers at risk at whole years (as gated by the writer): (header, rows)."""
    if curve is None or curve.empty or "at_risk" not in curve.columns:
        return [], []
    df = curve.copy()
    df["time"] = pd.to_numeric(df["time"], errors="coerce")
    df = df.dropna(subset=["time"])  # a withheld arm has one row with no time and no numbers
    if df.empty:
        return [], []
    horizon = float(df["time"].max())
    step = max(1, math.ceil(horizon / max_columns))
    times = list(range(0, int(math.floor(horizon)) + 1, step))
    header = [f"{t} y" for t in times]
    rows = []
    from miglink.report.fmt import count

    for group, g in df.sort_values("time").groupby("group", sort=True):
        cells = []
        for t in times:
            before = g[g["time"] <= t]
            cells.append(count(before["at_risk"].iloc[-1]) if not before.empty else "–")
        rows.append([str(group), *cells])
    return header, rows


def _band_start(band: str) -> float:
    m = re.match(r"\s*(\d+)", str(band))
    return float(m.group(1)) if m else float("inf")


def prevalence(prev: pd.DataFrame, set_id: str, label: str) -> str | None:
    """Age–sex prevalence by age band (5-year, or wider where the gate merged bands) for one
    concept set (suppressed cells left out)."""
    if prev is None or prev.empty:
        return None
    df = prev[prev["set_id"] == set_id].copy()
    df["prevalence"] = pd.to_numeric(df["prevalence"], errors="coerce")
    # ties (bands the gate merged differently per sex share a start) broken by the label, so
    # the axis order does not depend on string hashing
    bands = sorted(set(df["age_band"].astype(str)), key=lambda b: (_band_start(b), b))
    df = df.dropna(subset=["prevalence"])
    if df.empty:
        return None
    df = df[["sex", "age_band", "prevalence"]].assign(age_band=df["age_band"].astype(str))
    sexes = [s for s in SEX_COLOURS if s in set(df["sex"])]
    colour = alt.Color(
        "sex:N",
        title=None,
        scale=alt.Scale(domain=sexes, range=[SEX_COLOURS[s] for s in sexes]),
        legend=alt.Legend(orient="bottom", direction="horizontal"),
    )
    base = alt.Chart(df).encode(
        x=alt.X("age_band:O", sort=bands, title="age band", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("prevalence:Q", title="prevalence", axis=alt.Axis(format="%")),
        color=colour,
    )
    chart = alt.layer(base.mark_line(strokeWidth=1.5), base.mark_point(filled=True, size=20))
    return to_svg(chart.properties(width=230, height=130, title=label))


def calibration(
    controls: pd.DataFrame, mean: float | None, sd: float | None, title: str = ""
) -> str | None:
    """Negative-control estimates against their standard errors, with the fitted null.

    Points left of the grey dashed lines have a nominal p < 0.05; outside the blue lines they
    remain significant after calibration against the empirical null (log-scale mean, sd): the
    OHDSI calibration-effect plot (Schuemie et al. 2014).
    """
    pts = _control_points(controls)
    if pts is None:
        return None
    se_max = float(max(pts["se"].max() * 1.15, 0.3))
    domain = [0.1, 10.0]
    ln = _p05_boundaries(se_max, mean, sd, domain)
    x_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_scale = alt.Scale(domain=[se_max, 0.0], nice=False)
    lines_chart = (
        alt.Chart(ln)
        .mark_line(strokeWidth=1.3, clip=True)
        .encode(
            x=alt.X("x:Q", scale=x_scale, title="estimate (log scale)"),
            y=alt.Y("se:Q", scale=y_scale, title="standard error (log scale)"),
            detail="line:N",
            order="se:Q",
            color=alt.Color(
                "kind:N",
                title="p = 0.05 boundary",
                scale=alt.Scale(domain=["nominal", "calibrated"], range=["#9a9a9a", "#1f5fa8"]),
            ),
            strokeDash=alt.StrokeDash(
                "kind:N",
                legend=None,
                scale=alt.Scale(domain=["nominal", "calibrated"], range=[[4, 3], [1, 0]]),
            ),
        )
    )
    points = (
        alt.Chart(pts)
        .mark_point(filled=True, size=36, opacity=0.85, stroke="white", strokeWidth=0.5, clip=True)
        .encode(
            x=alt.X("estimate:Q", scale=x_scale),
            y=alt.Y("se:Q", scale=y_scale),
            fill=alt.Fill(
                "significant:N",
                title="negative controls",
                scale=alt.Scale(domain=["p ≥ 0.05", "p < 0.05"], range=["#1b7837", "#c8641e"]),
            ),
        )
    )
    layers = [lines_chart, points]
    if mean is not None and np.isfinite(mean):
        layers.append(
            alt.Chart(pd.DataFrame({"x": [float(np.exp(mean))]}))
            .mark_rule(color="#1f5fa8", strokeWidth=1)
            .encode(x=alt.X("x:Q", scale=x_scale))
        )
    chart = (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(width=360, height=220, title=title)
    )
    return to_svg(chart)


def _control_points(controls: pd.DataFrame | None) -> pd.DataFrame | None:
    """Estimate, SE (from the CI when absent) and nominal significance of each plottable
    negative control; None when none can be drawn."""
    if controls is None or controls.empty:
        return None
    df = controls.copy()
    est = pd.to_numeric(df.get("estimate"), errors="coerce")
    se = pd.to_numeric(df.get("se_log"), errors="coerce") if "se_log" in df.columns else None
    if se is None or se.isna().all():
        lo = pd.to_numeric(df.get("ci_low"), errors="coerce")
        hi = pd.to_numeric(df.get("ci_high"), errors="coerce")
        se = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
    pts = pd.DataFrame({"estimate": est, "se": se, "outcome": df.get("outcome", "")})
    pts = pts[np.isfinite(pts["estimate"]) & (pts["estimate"] > 0) & np.isfinite(pts["se"])]
    if pts.empty:
        return None
    pts["significant"] = np.where(
        np.abs(np.log(pts["estimate"])) > 1.959964 * pts["se"], "p < 0.05", "p ≥ 0.05"
    )
    return pts


def _p05_boundaries(
    se_max: float, mean: float | None, sd: float | None, domain: list[float]
) -> pd.DataFrame:
    """The nominal p = 0.05 lines and, with a fitted null, the calibrated ones, over SE."""
    grid = np.linspace(0.0, se_max, 60)
    lines = [
        pd.DataFrame({"x": np.exp(s * 1.959964 * grid), "se": grid, "line": f"nominal {k}"})
        for s, k in ((-1, "lower"), (1, "upper"))
    ]
    if mean is not None and sd is not None and np.isfinite(mean) and np.isfinite(sd):
        half = 1.959964 * np.sqrt(sd**2 + grid**2)
        lines += [
            pd.DataFrame({"x": np.exp(mean - half), "se": grid, "line": "calibrated lower"}),
            pd.DataFrame({"x": np.exp(mean + half), "se": grid, "line": "calibrated upper"}),
        ]
    ln = pd.concat(lines, ignore_index=True)
    ln["kind"] = np.where(ln["line"].str.startswith("nominal"), "nominal", "calibrated")
    return ln[(ln["x"] >= domain[0]) & (ln["x"] <= domain[1])]
