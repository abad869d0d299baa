"""``miglink pool --table``: pool a CSV of published (or site) estimates, or of 2×2 counts.

Two layouts are accepted, so a reviewer can pool a paper's forest plot or its raw counts:

* ``study,estimate,ci_low,ci_high`` (ratio scale; the SE is recovered from the 95% CI width);
* ``study,exposed_events,exposed_total,unexposed_events,unexposed_total`` (OR or RR only; 0.5 is
  added to every cell of a table holding a zero, metafor's default).

Pooling itself is :func:`miglink.stats.meta.pool` (tested against metafor on the BCG trials).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from miglink.errors import MiglinkError
from miglink.io import write_json, write_text
from miglink.stats.meta import PooledEstimate, log_or_from_counts, log_rr_from_counts, pool

Z95 = 1.959963984540054
MEASURES = ("OR", "RR", "HR")
METHODS = ("REML", "DL", "PM", "FE")
ESTIMATE_COLUMNS = ("study", "estimate", "ci_low", "ci_high")
COUNT_COLUMNS = ("study", "exposed_events", "exposed_total", "unexposed_events", "unexposed_total")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read the CSV; every problem becomes a MiglinkError naming the file, column and rows."""
    p = Path(path)
    if not p.exists():
        raise MiglinkError(f"table file not found: {p}", table=str(p))
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise MiglinkError(
            f"{p} is not a readable CSV file: {str(e).splitlines()[0]}", table=str(p)
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _numeric(df: pd.DataFrame, cols: tuple[str, ...], name: str) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        v = pd.to_numeric(out[c], errors="coerce")
        bad = int(v.isna().sum())
        if bad:
            raise MiglinkError(
                f"{name}: column {c!r} has {bad} row(s) that are empty or not numbers",
                table=name,
                column=c,
                n_rows=bad,
            )
        out[c] = v.astype(float)
    return out


def study_estimates(df: pd.DataFrame, measure: str, name: str = "table") -> pd.DataFrame:
    """Per-study log estimate and SE from either accepted layout (columns study, log_estimate, se_log)."""
    if measure not in MEASURES:
        raise MiglinkError(f"--measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if len(df) == 0:
        raise MiglinkError(f"{name} has no rows", table=name, n_rows=0)
    cols = set(df.columns)
    if set(ESTIMATE_COLUMNS) <= cols:
        d = _numeric(df, ESTIMATE_COLUMNS[1:], name)
        bad = (d.estimate <= 0) | (d.ci_low <= 0) | (d.ci_high <= 0)
        if bad.any():
            raise MiglinkError(
                f"{name}: estimate, ci_low and ci_high must be positive ratios; {int(bad.sum())} row(s) are not",
                table=name,
                column="estimate",
                n_rows=int(bad.sum()),
            )
        bad = ~((d.ci_low <= d.estimate) & (d.estimate <= d.ci_high) & (d.ci_low < d.ci_high))
        if bad.any():
            raise MiglinkError(
                f"{name}: need ci_low <= estimate <= ci_high with ci_low < ci_high; {int(bad.sum())} row(s) break it",
                table=name,
                column="ci_low",
                n_rows=int(bad.sum()),
            )
        y = np.log(d.estimate.to_numpy())
        se = (np.log(d.ci_high.to_numpy()) - np.log(d.ci_low.to_numpy())) / (2 * Z95)
        source = "estimate_ci"
    elif set(COUNT_COLUMNS) <= cols:
        if measure == "HR":
            raise MiglinkError(
                f"{name}: 2x2 counts give an OR or RR, not an HR; use --measure OR or RR, or give estimate,ci_low,ci_high",
                table=name,
            )
        d = _numeric(df, COUNT_COLUMNS[1:], name)
        a, n1, c, n0 = (d[k].to_numpy() for k in COUNT_COLUMNS[1:])
        bad = (
            (a < 0)
            | (c < 0)
            | (a > n1)
            | (c > n0)
            | (n1 <= 0)
            | (n0 <= 0)
            | (np.mod(np.r_[a, n1, c, n0], 1) != 0).reshape(4, -1).any(axis=0)
        )
        if bad.any():
            raise MiglinkError(
                f"{name}: counts must be whole numbers with 0 <= events <= total and total > 0; "
                f"{int(bad.sum())} row(s) break it",
                table=name,
                column="exposed_events",
                n_rows=int(bad.sum()),
            )
        fn = log_or_from_counts if measure == "OR" else log_rr_from_counts
        y, se = fn(a, n1 - a, c, n0 - c)
        source = "counts_2x2"
    else:
        raise MiglinkError(
            f"{name} has columns {', '.join(df.columns)}; expected {','.join(ESTIMATE_COLUMNS)} or "
            f"{','.join(COUNT_COLUMNS)} ({len(df)} rows)",
            table=name,
            n_rows=len(df),
        )
    out = pd.DataFrame(
        {"study": df["study"].astype(str).to_numpy(), "log_estimate": y, "se_log": se}
    )
    out.attrs["source"] = source
    return out


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def pooled_summary(res: PooledEstimate, measure: str) -> dict:
    """The pooled.json fields (ratio scale, I² in percent) plus the log-scale values."""
    return {
        "measure": measure,
        "estimate": _finite(res.estimate),
        "ci_low": _finite(res.ci_low),
        "ci_high": _finite(res.ci_high),
        "tau2": _finite(res.tau2),
        "i2": _finite(res.i2),
        "q": _finite(res.q),
        "q_p": _finite(res.q_p),
        "method": res.method + ("+HKSJ" if res.hksj else ""),
        "k": res.k,
        "log_estimate": _finite(res.log_estimate),
        "se_log": _finite(res.se_log),
        "p_value": _finite(res.p_value),
        "pi_low": _finite(res.pi_low),
        "pi_high": _finite(res.pi_high),
    }


def pool_table(
    path: str | Path,
    measure: str,
    out: str | Path,
    *,
    method: str = "REML",
    hksj: bool = False,
) -> dict:
    """Pool the studies in ``path``; write ``out/pooled.json`` and ``out/forest.svg``; return pooled.json."""
    method = method.upper()
    if method not in METHODS:
        raise MiglinkError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    name = Path(path).name
    est = study_estimates(read_table(path), measure.upper(), name)
    measure = measure.upper()
    res = pool(est.log_estimate, est.se_log, method=method, hksj=hksj)
    if res.k == 0:
        raise MiglinkError(
            f"{name}: no row has a usable estimate and SE", table=name, n_rows=len(est)
        )
    w = 1 / (est.se_log.to_numpy() ** 2 + (res.tau2 if math.isfinite(res.tau2) else 0.0))
    w = np.where(np.isfinite(w), w, 0.0)
    studies = [
        {
            "study": s,
            "estimate": _finite(math.exp(y)) if math.isfinite(y) else None,
            "ci_low": _finite(math.exp(y - Z95 * v)) if math.isfinite(y + v) else None,
            "ci_high": _finite(math.exp(y + Z95 * v)) if math.isfinite(y + v) else None,
            "log_estimate": _finite(y),
            "se_log": _finite(v),
            "weight_percent": float(100 * wi / w.sum()) if w.sum() > 0 else None,
        }
        for s, y, v, wi in zip(est.study, est.log_estimate, est.se_log, w, strict=True)
    ]
    summary = pooled_summary(res, measure) | {
        "input": str(path),
        "input_layout": est.attrs.get("source"),
        "studies": studies,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "pooled.json", summary)
    write_text(out / "forest.svg", forest_svg(studies, summary, measure))
    return summary


def forest_svg(studies: list[dict], pooled: dict, measure: str) -> str:
    """A forest plot (log axis) of the studies and the pooled diamond, as standalone SVG."""
    import altair as alt

    from miglink.report.charts import to_svg

    rows = [
        {
            "label": s["study"],
            "est": s["estimate"],
            "lo": s["ci_low"],
            "hi": s["ci_high"],
            "kind": "study",
            "order": i,
        }
        for i, s in enumerate(studies)
        if s["estimate"] is not None
    ]
    label = (
        f"Pooled ({pooled['method']}, I² {pooled['i2']:.0f}%)"
        if pooled["i2"] is not None
        else "Pooled"
    )
    rows.append(
        {
            "label": label,
            "est": pooled["estimate"],
            "lo": pooled["ci_low"],
            "hi": pooled["ci_high"],
            "kind": "pooled",
            "order": len(rows),
        }
    )
    df = pd.DataFrame(rows)
    y = alt.Y("label:N", sort=alt.SortField("order"), title=None)
    x_scale = alt.Scale(type="log")
    base = alt.Chart(df).encode(y=y)
    rules = base.mark_rule().encode(
        x=alt.X("lo:Q", scale=x_scale, title=f"{measure} (95% CI, log scale)"), x2="hi:Q"
    )
    points = base.mark_point(filled=True).encode(
        x=alt.X("est:Q", scale=x_scale),
        shape=alt.Shape(
            "kind:N",
            scale=alt.Scale(domain=["study", "pooled"], range=["square", "diamond"]),
            legend=None,
        ),
        size=alt.Size(
            "kind:N", scale=alt.Scale(domain=["study", "pooled"], range=[40, 160]), legend=None
        ),
    )
    null = (
        alt.Chart(pd.DataFrame({"x": [1.0]}))
        .mark_rule(strokeDash=[4, 4], color="grey")
        .encode(x="x:Q")
    )
    chart = (rules + points + null).properties(width=420, height=max(18 * len(df), 80))
    return to_svg(chart)
