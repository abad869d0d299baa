"""The report's comparative new-user cohort section (design D10), one block per comparison.

Per key analysis: the attrition of both arms, the PS diagnostics, Table 1, the preference-score
distribution, the balance scatter plot (|SMD| before vs after) and the KM curves, all read from
the gated artefacts (``d10_*.parquet``, attrition, curves), in the style of the claim sections.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
from markupsafe import Markup

from miglink.report import charts, fmt

ARMS = ("target", "comparator")


def preference_chart(bins: pd.DataFrame, title: str = "") -> str | None:
    """Preference-score distribution per arm: share of the arm per (merged) bin, as steps."""
    if bins is None or bins.empty:
        return None
    rows = []
    for arm in ARMS:
        n = pd.to_numeric(bins[f"n_{arm}"], errors="coerce")
        total = n.sum()
        if not total or n.isna().all():
            continue
        width = (bins["bin_high"] - bins["bin_low"]).astype(float)
        for lo, hi, v, w in zip(bins["bin_low"], bins["bin_high"], n, width, strict=True):
            rows.append({"arm": arm, "lo": float(lo), "hi": float(hi), "density": v / total / w})
    if not rows:
        return None
    df = pd.DataFrame(rows)
    colour = alt.Color(
        "arm:N",
        title=None,
        scale=alt.Scale(domain=list(ARMS), range=["#b2182b", "#2166ac"]),
    )
    chart = (
        alt.Chart(df)
        .mark_rect(opacity=0.45)
        .encode(
            x=alt.X("lo:Q", title="preference score", scale=alt.Scale(domain=[0, 1])),
            x2="hi:Q",
            y=alt.Y("density:Q", title="density"),
            y2=alt.datum(0),
            color=colour,
        )
    )
    return charts.to_svg(chart.properties(width=360, height=180, title=title))


def balance_chart(bal: pd.DataFrame, title: str = "") -> str | None:
    """|SMD| after vs before adjustment per covariate, with the 0.1 line."""
    if bal is None or bal.empty:
        return None
    df = pd.DataFrame(
        {
            "before": pd.to_numeric(bal["smd_before"], errors="coerce").abs(),
            "after": pd.to_numeric(bal["smd_after"], errors="coerce").abs(),
        }
    ).dropna()
    if df.empty:
        return None
    top = float(max(df["before"].max(), df["after"].max(), 0.15))
    pts = (
        alt.Chart(df)
        .mark_circle(size=18, opacity=0.5, color="#1f5fa8")
        .encode(
            x=alt.X("before:Q", title="|SMD| before", scale=alt.Scale(domain=[0, top])),
            y=alt.Y("after:Q", title="|SMD| after", scale=alt.Scale(domain=[0, top])),
        )
    )
    rule = alt.Chart(pd.DataFrame({"y": [0.1]})).mark_rule(color="#c8641e").encode(y="y:Q")
    return charts.to_svg(alt.layer(pts, rule).properties(width=260, height=220, title=title))


def _attrition(att: pd.DataFrame, analysis: str) -> list[dict[str, Any]]:
    if att.empty:
        return []
    arms = {a: att[att["analysis"] == f"{analysis}__{a}"].sort_values("step") for a in ARMS}
    if arms["target"].empty:
        return []
    c = arms["comparator"].set_index("step")
    return [
        {
            "step": s.step,
            "description": s.description,
            "target": fmt.count(s.n),
            "comparator": fmt.count(c["n"].get(s.step)) if s.step in c.index else "–",
        }
        for s in arms["target"].itertuples()
    ]


def _table1(t1: pd.DataFrame, analysis: str) -> list[dict[str, Any]]:
    if t1.empty:
        return []
    sel = t1[t1["analysis"] == analysis]
    return [
        {
            "section": r.section,
            "name": r.covariate_name,
            "n_target": fmt.count(r.n_target_before),
            "n_comparator": fmt.count(r.n_comparator_before),
            "pct_before": f"{fmt.num(r.pct_target_before, 1)} / {fmt.num(r.pct_comparator_before, 1)}",
            "pct_after": f"{fmt.num(r.pct_target_after, 1)} / {fmt.num(r.pct_comparator_after, 1)}",
            "smd_before": fmt.num(r.smd_before, 2),
            "smd_after": fmt.num(r.smd_after, 2),
        }
        for r in sel.itertuples()
    ]


def d10_views(art, km_views) -> list[dict[str, Any]]:
    """One view per D10 key analysis (rows of method cox_ps_* / cox_iptw with an estimate or
    a reason), with ``km_views(curves, [analysis])`` the report's own KM renderer."""
    res = art.results
    tables = getattr(art, "tables", {}) or {}
    diag = tables.get("d10_diagnostics", pd.DataFrame())
    pref = tables.get("d10_preference", pd.DataFrame())
    bal = tables.get("d10_balance", pd.DataFrame())
    t1 = tables.get("d10_table1", pd.DataFrame())
    rows = res[(res["design"] == "D10") & (res["role"] != "negative_control")]
    rows = rows[~rows["analysis"].astype(str).str.endswith("__unadjusted")]
    out = []
    for r in rows.itertuples():
        a = str(r.analysis)
        d = diag[diag["analysis"] == a] if not diag.empty else diag
        comp = str(d["comparison"].iloc[0]) if len(d) else ""
        p = pref[pref["comparison"] == comp] if comp and not pref.empty else pd.DataFrame()
        b = bal[bal["analysis"] == a] if not bal.empty else bal
        out.append(
            {
                "analysis": a,
                "comparison": comp,
                "hr": fmt.ci(r.estimate, r.ci_low, r.ci_high),
                "note": r.note if isinstance(r.note, str) else "",
                "diagnostics": {
                    k: fmt.num(d[k].iloc[0], 2) if len(d) else "–"
                    for k in ("auc", "equipoise", "max_abs_smd_before", "max_abs_smd_after")
                },
                "n_covariates": int(d["n_covariates"].iloc[0]) if len(d) else None,
                "n_balance_shown": int(len(b)),
                "attrition": _attrition(art.attrition, a),
                "table1": _table1(t1, a),
                "preference": Markup(charts.embed(preference_chart(p, title=comp))),
                "balance": Markup(charts.embed(balance_chart(b, title=a))),
                "km": km_views(art.curves, [a]),
            }
        )
    return out
