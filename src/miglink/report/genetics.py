"""The report's genetic half of claim 2: the MR estimates with scatter, funnel and leave-one-out
plots, or, when no summary statistics were given, the published genetic evidence from the
literature table, marked as literature, not computed.

Everything is read from the gated artefacts: the results rows of design MR and the
``mr_instruments`` / ``mr_leave_one_out`` tables (GWAS variant associations, no counts).
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from miglink.report import charts, fmt
from miglink.report.literature import load_literature, scholarly_link

DESIGN = "MR"
LITERATURE_CLAIM = "2_genetics"
_TEMPLATE = """
<div class="mr-section">
<h3>Genetic half: two-sample Mendelian randomisation</h3>
{% if analyses %}
<p class="small muted">OR per unit of the exposure's genetic liability (exp of the causal
estimate; per unit of log-odds for a binary exposure). Key row: IVW, multiplicative random
effects; MR-Egger, weighted median and weighted mode are sensitivity rows. Directional
pleiotropy (Egger intercept p &lt; α), Steiger pointing the other way and mean F &lt; 10 fail
the diagnostics. GWAS summary statistics hold no person-level data.</p>
<table class="mr-estimates"><thead><tr><th>hypothesis</th><th>method</th><th class="num">OR (95% CI)</th>
<th class="num">p</th><th>diagnostics</th></tr></thead><tbody>
{% for r in rows %}<tr><td><code>{{ r.analysis }}</code>{% if r.note %}<div class="small muted">{{ r.note }}</div>{% endif %}</td>
<td>{{ r.method }}</td><td class="num">{{ r.ci }}</td><td class="num">{{ r.p }}</td><td>{{ r.diag }}</td></tr>{% endfor %}
</tbody></table>
{% for a in analyses %}<h4><code>{{ a.analysis }}</code> {{ a.pair }}</h4>
<div class="panels">{% for svg in a.svgs %}{{ svg }}{% endfor %}</div>{% endfor %}
{% endif %}
{% if not_analysed %}<p class="na mr-not-analysed">Not analysed: {{ not_analysed|join(", ") }}
({{ reason }}).</p>{% endif %}
{% if literature %}
<h4>Published genetic evidence <span class="tag mr-literature">literature, not computed</span></h4>
<table class="mr-literature-table small"><thead><tr><th>condition</th><th>direction</th><th>measure</th>
<th class="num">estimate (95% CI)</th><th>detail</th><th>source</th></tr></thead><tbody>
{% for p in literature %}<tr><td>{{ p.condition }}</td><td>{{ p.direction }}</td><td>{{ p.measure }}</td>
<td class="num">{{ p.estimate }}</td><td>{{ p.detail }}</td>
<td>{% if p.url %}<a href="{{ p.url }}" rel="noopener noreferrer">{{ p.short }}</a>{% else %}{{ p.short }}{% endif %}</td></tr>{% endfor %}
</tbody></table>
{% endif %}
</div>
"""


def genetics_section(art, claim: dict) -> Markup | None:
    """The MR block of a claim with MR hypotheses (None for every other claim)."""
    mr_hyps = [h for h in claim.get("hypotheses", []) if h.get("design") == DESIGN]
    if not mr_hyps:
        return None
    res = art.results
    rows = res[res["design"] == DESIGN] if "design" in res.columns else res.iloc[0:0]
    analysed = rows[pd.to_numeric(rows["estimate"], errors="coerce").notna()]
    names = list(dict.fromkeys(analysed["analysis"].astype(str)))
    tables = getattr(art, "tables", {}) or {}
    inst = tables.get("mr_instruments", pd.DataFrame())
    loo = tables.get("mr_leave_one_out", pd.DataFrame())
    not_analysed = [h["id"] for h in mr_hyps if h.get("verdict") == "not analysed"]
    reason_col = rows.get("not_analysed_reason", pd.Series(None, index=rows.index, dtype=object))
    reasons = reason_col[rows["method"] == "not_analysed"].dropna()
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(
        rows=[_row(r) for _, r in analysed.iterrows()],
        analyses=[_analysis_view(a, analysed, inst, loo) for a in names],
        not_analysed=not_analysed,
        reason=_reason(reasons),
        literature=literature_rows() if not names else [],
    )
    return Markup(html)


def _reason(reasons: pd.Series) -> str:
    texts = list(dict.fromkeys(str(r).split(" for ")[0] for r in reasons if str(r)))
    return "; ".join(texts) or "no summary statistics given"


def _row(r: pd.Series) -> dict[str, Any]:
    return {
        "analysis": r["analysis"],
        "method": str(r["method"]).removeprefix("mr_").replace("_", " "),
        "ci": fmt.ci(r["estimate"], r["ci_low"], r["ci_high"]),
        "p": fmt.pval(r["p_value"]),
        "diag": fmt.diagnostics_text(r.get("diagnostics")) or "pass",
        "note": r["note"] if isinstance(r.get("note"), str) else "",
    }


def _analysis_view(analysis: str, rows, inst: pd.DataFrame, loo: pd.DataFrame) -> dict:
    key = rows[(rows["analysis"] == analysis) & rows["hypothesis"].notna()]
    first = key.iloc[0] if not key.empty else rows[rows["analysis"] == analysis].iloc[0]
    v = inst[inst["analysis"] == analysis] if "analysis" in inst.columns else inst.iloc[0:0]
    lo = loo[loo["analysis"] == analysis] if "analysis" in loo.columns else loo.iloc[0:0]
    ivw = float(first["log_estimate"]) if fmt.is_num(first.get("log_estimate")) else math.nan
    svgs = [scatter(v, ivw), funnel(v, ivw), leave_one_out_chart(lo, ivw)]
    return {
        "analysis": analysis,
        "pair": f"{fmt.set_label(first['exposure'])} → {fmt.set_label(first['outcome'])}",
        "svgs": [Markup(charts.embed(s)) for s in svgs if s],
    }


def _numeric(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.to_numeric(df[c], errors="coerce") for c in cols})
    return out.replace([np.inf, -np.inf], np.nan).dropna()


def scatter(variants: pd.DataFrame, ivw: float) -> str | None:
    """Variant-outcome against variant-exposure associations (oriented to a positive exposure
    association, as MR-Egger), 95% bars, the IVW line through the origin and the Egger line."""
    if variants is None or len(variants) < 2:
        return None
    d = _numeric(variants, ("beta_exposure", "se_exposure", "beta_outcome", "se_outcome"))
    sign = np.where(d["beta_exposure"] < 0, -1.0, 1.0)
    d = d.assign(bx=d["beta_exposure"] * sign, by=d["beta_outcome"] * sign)
    z = 1.959964
    d = d.assign(
        x0=d["bx"] - z * d["se_exposure"],
        x1=d["bx"] + z * d["se_exposure"],
        y0=d["by"] - z * d["se_outcome"],
        y1=d["by"] + z * d["se_outcome"],
    )
    top = float(d["x1"].max())
    lines = [{"line": "IVW", "x": 0.0, "y": 0.0}, {"line": "IVW", "x": top, "y": ivw * top}]
    if len(d) >= 3:
        w = d["se_outcome"] ** -2
        slope, intercept = np.polyfit(d["bx"], d["by"], 1, w=np.sqrt(w))
        lines += [
            {"line": "MR-Egger", "x": 0.0, "y": float(intercept)},
            {"line": "MR-Egger", "x": top, "y": float(intercept + slope * top)},
        ]
    base = alt.Chart(d)
    pts = base.mark_circle(size=22, color=charts.INK).encode(
        x=alt.X("bx:Q", title="variant–exposure association"),
        y=alt.Y("by:Q", title="variant–outcome association"),
    )
    xbar = base.mark_rule(color="#999999").encode(x="x0:Q", x2="x1:Q", y="by:Q")
    ybar = base.mark_rule(color="#999999").encode(x="bx:Q", y="y0:Q", y2="y1:Q")
    fit = (
        alt.Chart(pd.DataFrame(lines))
        .mark_line(strokeWidth=1.6)
        .encode(x="x:Q", y="y:Q", color=alt.Color("line:N", title=None))
    )
    chart = alt.layer(xbar, ybar, pts, fit).properties(width=280, height=220, title="Scatter")
    return charts.to_svg(chart) if math.isfinite(ivw) else None


def funnel(variants: pd.DataFrame, ivw: float) -> str | None:
    """Each variant's ratio estimate against its precision (1 / SE), with the IVW estimate:
    asymmetry suggests directional pleiotropy."""
    if variants is None or len(variants) < 2 or not math.isfinite(ivw):
        return None
    d = _numeric(variants, ("ratio", "ratio_se"))
    d = d.assign(precision=1 / d["ratio_se"])
    pts = (
        alt.Chart(d)
        .mark_circle(size=22, color=charts.INK)
        .encode(
            x=alt.X("ratio:Q", title="ratio estimate (log OR per unit)"),
            y=alt.Y("precision:Q", title="precision (1 / SE)"),
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [ivw]})).mark_rule(color="#c8641e").encode(x="x:Q")
    return charts.to_svg(alt.layer(pts, rule).properties(width=240, height=220, title="Funnel"))


def leave_one_out_chart(loo: pd.DataFrame, ivw: float) -> str | None:
    """The random-effects IVW OR without each instrument in turn, with the all-instrument OR."""
    if loo is None or loo.empty or not math.isfinite(ivw):
        return None
    d = _numeric(loo.set_index("left_out"), ("estimate", "ci_lower", "ci_upper"))
    d = np.exp(d).reset_index()
    y = alt.Y("left_out:N", sort=list(d["left_out"]), title="left out", axis=alt.Axis(grid=False))
    x_scale = alt.Scale(type="log", nice=False, zero=False)
    base = alt.Chart(d)
    bars = base.mark_rule().encode(
        x=alt.X("ci_lower:Q", scale=x_scale, title="OR without it"), x2="ci_upper:Q", y=y
    )
    pts = base.mark_point(filled=True, size=30, color=charts.INK).encode(
        x=alt.X("estimate:Q", scale=x_scale), y=y
    )
    all_ = alt.Chart(pd.DataFrame({"x": [math.exp(ivw)]})).mark_rule(
        color="#c8641e", strokeDash=[4, 3]
    )
    chart = alt.layer(bars, pts, all_.encode(x=alt.X("x:Q", scale=x_scale)))
    height = max(80, 9 * len(d))
    return charts.to_svg(chart.properties(width=260, height=height, title="Leave one out"))


def literature_rows() -> list[dict[str, str]]:
    """The literature table's genetic rows for claim 2 (genetic correlation, MR), as shown."""
    lit = load_literature()
    lit = lit[lit["claim"] == LITERATURE_CLAIM]
    out = []
    for _, p in lit.iterrows():
        est = fmt.ci(p["estimate"], p["ci_low"], p["ci_high"]) if fmt.is_num(p["estimate"]) else "–"
        out.append(
            {
                "condition": p["condition"],
                "direction": p["direction"],
                "measure": p["measure"],
                "estimate": est,
                "detail": p.get("n_detail", ""),
                "short": p["short"],
                "url": scholarly_link(p["citation"], p.get("url", "")),
            }
        )
    return out
