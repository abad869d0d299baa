"""Render report.html from a result directory's artefacts.

The report is one self-contained HTML file: CSS inline, charts as inline SVG, no script, and a
Content-Security-Policy that forbids every network request, so it opens offline and can be
mailed or archived as is. A pooled result directory renders the same way.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup

from miglink.io import write_text
from miglink.privacy import redact_secrets
from miglink.report import charts, fmt
from miglink.report.artefacts import RunArtefacts, load_run
from miglink.report.attrition_view import attrition_svg, attrition_views
from miglink.report.banners import claim_banner
from miglink.report.calibration_view import calibration_views, claim_keys
from miglink.report.d10 import d10_views
from miglink.report.genetics import genetics_section
from miglink.report.headline import headline_view
from miglink.report.links import artefact_links
from miglink.report.literature import comparable, published_for, scholarly_link
from miglink.report.sites import sites_view

#: Our cross-sectional designs: an association without time order matches published estimates
#: of either direction.
CROSS_SECTIONAL_DESIGNS = {"D1", "D3", "D6", "D7", "D8"}

#: Measures drawn on the forest plot's ratio axis (shares, counts and prevalences are listed only).
RATIO_MEASURES = {"OR", "HR", "IRR", "RR", "RGM", "ROR", "RHR"}

#: Designs whose estimates are calibrated against negative controls (PROTOCOL.md).
CALIBRATED_DESIGNS = ("D1", "D2")


def render_report(run_dir: Path, out_path: Path | None = None) -> Path:
    """Write ``report.html`` (default ``run_dir/report.html``) atomically; return its path."""
    run_dir = Path(run_dir)
    art = load_run(run_dir)
    html = render_html(art)
    return write_text(Path(out_path) if out_path else run_dir / "report.html", html)


def render_html(art: RunArtefacts) -> str:
    """The report's HTML text for loaded artefacts."""
    env = Environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt.num, ci=fmt.ci, pval=fmt.pval, count=fmt.count, slug=fmt.slug)
    templates = resources.files("miglink.report") / "templates"
    template = env.from_string((templates / "report.html.j2").read_text(encoding="utf-8"))
    css = (templates / "report.css").read_text(encoding="utf-8")
    return template.render(css=Markup(css), **build_context(art))


# ---------------------------------------------------------------------------------------------
# context


def _label(set_id: Any) -> str:
    return fmt.set_label(set_id)


def _key_row(results: pd.DataFrame, hyp: dict[str, Any]) -> pd.Series | None:
    """The results row that carries a hypothesis.

    Several rows can share an analysis id (sensitivity methods, strata); the key row is the one
    naming the hypothesis, else the primary one, with stratum "all" first.
    """
    r = results
    sel = r[r["analysis"] == hyp["analysis"]] if hyp.get("analysis") else r.iloc[0:0]
    if sel.empty:
        sel = r[r["hypothesis"] == hyp.get("id")]
    if sel.empty:
        return None
    for mask in (sel["hypothesis"] == hyp.get("id"), sel["role"] == "primary"):
        if mask.any():
            sel = sel[mask]
            break
    if "stratum" in sel.columns and (sel["stratum"] == "all").any():
        sel = sel[sel["stratum"] == "all"]
    return sel.iloc[0]


def _get(row: pd.Series | None, col: str) -> Any:
    if row is None or col not in row.index:
        return None
    v = row[col]
    return None if (v is not None and not isinstance(v, str) and pd.isna(v)) else v


def _published(hyp: dict[str, Any], row: pd.Series | None, claim_id: int) -> dict[str, Any]:
    """Published estimates for the hypothesis's pair, split into comparable and other."""
    measure = _get(row, "measure") or ""
    design = hyp.get("design") or _get(row, "design") or ""
    pub = published_for(
        str(hyp.get("exposure", "")),
        str(hyp.get("outcome", "")),
        claim_id,
        any_direction=design in CROSS_SECTIONAL_DESIGNS,
    )
    # Published estimates proper before derived ones, migraine before broader "headache".
    pub = (
        pub.assign(
            _rank=pub["derived"].astype(int) * 2 + (pub["phenotype"] == "headache").astype(int)
        )
        .sort_values("_rank", kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    same = comparable(pub, measure) if measure else pub.iloc[0:0]
    items = []
    for i, p in pub.iterrows():
        items.append(
            {
                "comparable": i in same.index,
                "measure": p["measure"],
                "family": p["family"],
                "derived": bool(p["derived"]),
                "estimate": fmt.ci(p["estimate"], p["ci_low"], p["ci_high"]),
                "design": p.get("design", ""),
                "population": p.get("population", ""),
                "direction": p["direction"],
                "phenotype": _label(p["phenotype"]),
                "condition": p["condition"],
                "short": p["short"],
                "citation": p["citation"],
                "key": f"{p['citation']}|{p['direction']}|{p['measure']}|{p['estimate']}",
                "url": scholarly_link(p["citation"], p.get("url", "")),
            }
        )
    return {"items": items, "same": same, "n_other": len(items) - len(same)}


def _claim_published(hyps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A claim's published rows, each once, with the hypotheses it stands beside.

    Each hypothesis is listed with its own measure and whether the published measure matches it,
    so an OR listed beside both an OR and an HR hypothesis is marked comparable to the first only.
    """
    seen: dict[str, dict[str, Any]] = {}
    for h in hyps:
        measure = _get(h["row"], "measure") or ""
        for item in h["published"]["items"]:
            entry = seen.setdefault(item["key"], dict(item, hypotheses=[]))
            entry["hypotheses"].append(
                {"id": h["id"], "measure": measure, "same": item["comparable"]}
            )
            entry["comparable"] = entry["comparable"] or item["comparable"]
    return sorted(seen.values(), key=lambda e: (not e["comparable"], e["derived"]))


def _forest_rows(hyps: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for h in hyps:
        r = h["row"]
        m = _get(r, "measure")
        if r is None or m not in RATIO_MEASURES or not fmt.is_num(_get(r, "estimate")):
            continue
        head = f"{h['id']} · {m}"
        rows.append(
            {
                "label": f"{head} · this study",
                "kind": "this study",
                "estimate": _get(r, "estimate"),
                "ci_low": _get(r, "ci_low"),
                "ci_high": _get(r, "ci_high"),
            }
        )
        cal_est = _get(r, "cal_estimate")
        # the calibrated point is drawn only with its own estimate: never the raw one inside
        # the calibrated interval
        if fmt.is_num(_get(r, "cal_ci_low")) and fmt.is_num(cal_est):
            rows.append(
                {
                    "label": f"{head} · calibrated",
                    "kind": "calibrated",
                    "estimate": cal_est,
                    "ci_low": _get(r, "cal_ci_low"),
                    "ci_high": _get(r, "cal_ci_high"),
                }
            )
        seen: set[str] = set()
        for _, p in h["published"]["same"].iterrows():
            label = f"{head} · {p['short']}"
            k = 2
            while label in seen:
                label, k = f"{head} · {p['short']} ({k})", k + 1
            seen.add(label)
            rows.append(
                {
                    "label": label,
                    "kind": "published",
                    "estimate": p["estimate"],
                    "ci_low": p["ci_low"],
                    "ci_high": p["ci_high"],
                }
            )
    return pd.DataFrame(rows, columns=["label", "kind", "estimate", "ci_low", "ci_high"])


def _row_view(r: pd.Series) -> dict[str, Any]:
    diag_pass = _get(r, "diagnostics_pass")
    return {
        "analysis": _get(r, "analysis") or "",
        "hypothesis": _get(r, "hypothesis") or "",
        "design": _get(r, "design") or "",
        "role": _get(r, "role") or "",
        "stratum": _get(r, "stratum") or "all",
        "measure": _get(r, "measure") or "",
        "method": _get(r, "method") or "",
        "pair": f"{_label(_get(r, 'exposure'))} → {_label(_get(r, 'outcome'))}",
        "n_exposed": fmt.count(_get(r, "n_exposed")),
        "n_unexposed": fmt.count(_get(r, "n_unexposed")),
        "events_exposed": fmt.count(_get(r, "events_exposed")),
        "events_unexposed": fmt.count(_get(r, "events_unexposed")),
        "estimate": fmt.ci(_get(r, "estimate"), _get(r, "ci_low"), _get(r, "ci_high")),
        "p": fmt.pval(_get(r, "p_value")),
        "calibrated": _calibrated(r),
        "cal_p": fmt.pval(_get(r, "cal_p_value")),
        "holm_p": fmt.pval(_get(r, "holm_p_value")),
        "mdrr": fmt.num(
            _get(r, "verdict_mdrr") if fmt.is_num(_get(r, "verdict_mdrr")) else _get(r, "mdrr")
        ),
        "max_smd": fmt.num(_get(r, "max_smd"), 3),
        "diag": "pass"
        if diag_pass is True or str(diag_pass).lower() == "true"
        else ("fail" if diag_pass is not None else "n/a"),
        "diagnostics": fmt.diagnostics_text(_get(r, "diagnostics")),
        "verdict": fmt.verdict_of(_get(r, "verdict")) if _get(r, "verdict") else "",
        "note": _get(r, "note") or "",
    }


def _calibrated(r: pd.Series) -> str:
    """The calibrated estimate with its calibrated CI; the interval alone when the row has no
    calibrated point estimate (the raw estimate is never set inside a calibrated interval)."""
    lo, hi, est = _get(r, "cal_ci_low"), _get(r, "cal_ci_high"), _get(r, "cal_estimate")
    if not (fmt.is_num(lo) and fmt.is_num(hi)):
        return "–"
    return fmt.ci(est, lo, hi) if fmt.is_num(est) else f"CI {fmt.interval(lo, hi)}"


def _attrition_key(att_keys: set[str], res: pd.DataFrame, analysis: str) -> str | None:
    """The attrition table's key of an analysis: its own id, else its index cohort's
    ("d2__sle__migraine" -> "d2__sle": D2 writes one attrition per index set, shared by every
    outcome of that cohort)."""
    if analysis in att_keys:
        return analysis
    rows = res[res["analysis"] == analysis]
    for d, e in zip(rows["design"], rows["exposure"], strict=True):
        key = f"{str(d).lower()}__{e}"
        if key in att_keys:
            return key
    return None


def _step_n(s: Any) -> str:
    """An attrition step's persons; "withheld" where the gate withheld it (not a dash)."""
    if fmt.is_num(s.n) or isinstance(s.n, str):
        return fmt.count(s.n)
    return "withheld" if str(getattr(s, "withheld", "") or "").strip() else "–"


def _attrition(att: pd.DataFrame, analyses: list[str], res: pd.DataFrame) -> list[dict[str, Any]]:
    if att.empty:
        return []
    keys = set(att["analysis"].astype(str))
    out, seen = [], set()
    for a in analyses:
        k = _attrition_key(keys, res, a)
        if k is None or k in seen:
            continue
        seen.add(k)
        sel = att[att["analysis"] == k].sort_values("step")
        out.append(
            {
                "analysis": k,
                "svg": attrition_svg(sel.to_dict("records"), title=k),
                "steps": [
                    {"step": s.step, "description": s.description, "n": _step_n(s)}
                    for s in sel.itertuples()
                ],
            }
        )
    return out


def km_title(res: pd.DataFrame | None, analysis: str) -> str:
    """A KM panel's title from the pair's names ("migraine → SLE (D2, forward)"), not the id."""
    rows = res[res["analysis"] == analysis] if res is not None else pd.DataFrame()
    if rows.empty:
        return _label(analysis)
    r = rows.iloc[0]
    what = ", ".join(str(x) for x in (_get(r, "design"), _get(r, "direction")) if x)
    return f"{_label(_get(r, 'exposure'))} → {_label(_get(r, 'outcome'))}" + (
        f" ({what})" if what else ""
    )


def _km(
    curves: pd.DataFrame, analyses: list[str], res: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    if curves.empty:
        return []
    out = []
    for a in analyses:
        c = curves[curves["analysis"] == a]
        if c.empty:
            continue
        header, rows = charts.at_risk_table(c)
        out.append(
            {
                "analysis": a,
                "svg": Markup(charts.embed(charts.km(c, title=km_title(res, a)))),
                "title": km_title(res, a),
                "at_risk_header": header,
                "at_risk": rows,
            }
        )
    return out


def _prevalence(art: RunArtefacts, set_id: str) -> dict[str, Any] | None:
    """A set's age-sex panel, or a sentence when every cell with cases is suppressed (a plot of
    the surviving zero cells would read as a prevalence of 0%)."""
    prev = art.prevalence
    if prev is None or prev.empty:
        return None
    sel = prev[prev["set_id"] == set_id]
    if sel.empty:
        return None
    shown = pd.to_numeric(sel["prevalence"], errors="coerce")
    if not (shown > 0).any():
        n_hidden = int(shown.isna().sum())
        if not n_hidden:
            return {"svg": None, "text": f"{_label(set_id)}: no cases in any age band"}
        return {
            "svg": None,
            "text": f"{_label(set_id)}: suppressed — every age–sex cell with cases is below "
            f"the minimum cell count ({art.min_cell}); suppressed cells: {n_hidden}",
        }
    svg = charts.prevalence(prev, set_id, _label(set_id))
    return {"svg": Markup(charts.embed(svg)), "text": ""} if svg else None


def _hyp_methods(h: dict[str, Any]) -> str:
    r = h["row"]
    design = h.get("design") or _get(r, "design") or ""
    measure = _get(r, "measure")
    method = _get(r, "method")
    parts = [
        f"{h['id']}: design {design} ({fmt.DESIGN_NAMES.get(design, 'unknown design')}), "
        f"exposure {_label(h.get('exposure'))}, outcome {_label(h.get('outcome'))}"
    ]
    if measure:
        parts.append(
            f"measure {fmt.MEASURE_NAMES.get(measure, measure)}"
            + (f" by {str(method).replace('_', ' ')}" if method else "")
        )
    expected = h.get("expected") or _get(r, "expected")
    if expected:
        parts.append(f"predicted {expected}")
    if design in CALIBRATED_DESIGNS:
        parts.append("confidence interval calibrated against the negative controls")
    return "; ".join(parts) + "."


def _finding(f: Any) -> dict[str, str]:
    """A data-quality finding (a dict with check/table/column/n_rows/message, or plain text)."""
    if not isinstance(f, dict):
        return {"check": "", "table": "", "column": "", "n_rows": "–", "message": str(f)}
    out = {k: str(f.get(k) or "") for k in ("check", "table", "column", "message")}
    out["n_rows"] = fmt.count(f.get("n_rows"))
    return out


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(d, dict):
        out: list[tuple[str, str]] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, ", ".join(map(str, d)) if isinstance(d, list) else str(d))]


def _markdown(text: str) -> Markup:
    """Markdown-ish methods text to HTML, raw HTML escaped (the text is data, not markup)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False})
    html = md.render(text or "")
    # The text's own headings sit below the report's section (h2) and subsection (h3) levels.
    html = re.sub(
        r"<(/?)h([1-6])>", lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + 2)}>", html
    )
    return Markup(html)


def build_context(art: RunArtefacts) -> dict[str, Any]:
    """Everything the template needs, as plain values and pre-rendered SVG."""
    res = art.results
    run = art.run or {}
    calib = calibration_views(res, art.calibration)
    methods = run.get("methods", "")
    methods_per_claim = methods if isinstance(methods, dict) else {}
    claims = [
        _claim_view(art, c, calib, methods_per_claim)
        for c in sorted(art.claims, key=lambda c: int(c.get("id", 0)))
    ]

    dq = run.get("data_quality", {}) or {}
    pooled = run.get("pooled")
    ncs = res[res["role"] == "negative_control"]
    counts = {v: sum(1 for c in claims if c["verdict"] == v) for v in fmt.VERDICTS}
    return {
        "title": (run.get("study") or {}).get("name") or "miglink study",
        "study_hash": (run.get("study") or {}).get("hash", ""),
        "data_source": redact_secrets(run.get("data_source", "")),
        "miglink_version": run.get("miglink_version", ""),
        "pooled": pooled,
        "headline": headline_view(art),
        "attrition": attrition_views(art.attrition, res),
        "sites": sites_view(art),
        "links": artefact_links(art.run_dir),
        "claims": claims,
        "comparisons": d10_views(art, lambda c, a: _km(c, a, res)),
        "verdict_counts": counts,
        "n_estimates": int((res["role"] != "negative_control").sum()),
        "n_negative_controls": int(len(ncs)),
        "calibration": [dict(v, svg=None) for v in calib.values()],
        "dq_fatal": [_finding(f) for f in dq.get("fatal", []) or []],
        "dq_warnings": [_finding(w) for w in dq.get("warnings", []) or []],
        "notes": [redact_secrets(n) for n in run.get("notes", []) or []],
        "dq_available": bool(dq),
        "versions": sorted((run.get("versions") or {}).items()),
        "parameters": _flatten(run.get("parameters") or {}),
        "timings": [(k, fmt.num(v, 1)) for k, v in (run.get("timings") or {}).items()],
        "methods": _markdown(methods) if isinstance(methods, str) and methods else None,
    }


def _claim_view(
    art: RunArtefacts, c: dict, calib: dict[str, dict[str, Any]], methods_per_claim: dict
) -> dict[str, Any]:
    """One claim's section: its hypotheses, rows, charts and methods text."""
    res = art.results
    cid = int(c.get("id", 0))
    hyps = [_hypothesis_view(res, h, cid) for h in c.get("hypotheses", [])]
    published = _claim_published(hyps)
    claim_rows = _claim_rows(res, c, cid)
    analyses = list(dict.fromkeys(claim_rows["analysis"].astype(str)))
    designs = sorted(set(claim_rows["design"].dropna()) | {h.get("design") for h in hyps} - {None})
    sets = []
    for h in hyps:
        sets += [h.get("exposure"), h.get("outcome")]
    sets = [s for s in dict.fromkeys(sets) if s]
    prevalence = [p for p in (_prevalence(art, s) for s in sets) if p]
    verdict = fmt.verdict_of(c.get("verdict"))
    estimated = [h for h in hyps if fmt.is_num(_get(h["row"], "estimate"))]
    key = next((h for h in estimated if h["verdict"] == verdict), None) or next(
        iter(estimated), None
    )
    return {
        "id": cid,
        "banner": claim_banner(hyps, verdict),
        "title": c.get("title", f"Claim {cid}"),
        "statement": c.get("statement", ""),
        "verdict": verdict,
        "rule": c.get("rule", ""),
        "rule_text": c.get("rule_text", ""),
        "tally": tally_text(c),
        "votes": _votes_text(c),
        "summary": c.get("summary", ""),
        "hypotheses": hyps,
        "published": published,
        "key": key,
        "forest": Markup(charts.embed(charts.forest(_forest_rows(hyps)))),
        "genetics": genetics_section(art, c),
        "km": _km(art.curves, analyses, res),
        "prevalence": prevalence,
        # resolution_notes: why a set this claim uses matched no record (concepts.coverage)
        "resolution_notes": [
            n for k, n in ((art.run or {}).get("resolution_notes") or {}).items() if k in sets
        ],
        "calibration": [
            dict(
                calib[d],
                svg=Markup(charts.embed(calib[d]["svg"])) if calib[d]["svg"] else None,
            )
            for d in claim_keys(calib, claim_rows, designs)
        ],
        "attrition": _attrition(art.attrition, analyses, res),
        "rows": [_row_view(r) for _, r in claim_rows.iterrows()],
        "methods": _markdown(methods_per_claim.get(str(cid), ""))
        if methods_per_claim.get(str(cid))
        else None,
    }


_TALLY_KEY = {
    "supported": "n_supported",
    "contradicted": "n_contradicted",
    "no evidence": "n_no_evidence",
    "inconclusive": "n_inconclusive",
}


def tally_text(c: dict) -> str:
    """The k of n beside a claim's verdict ("3 of 5"): how many voting hypotheses carry it.
    Empty for claims.json files written before the tally (or with no voting hypothesis)."""
    n = c.get("n_voting")
    if not isinstance(n, int) or n <= 0:
        return ""
    verdict = fmt.verdict_of(c.get("verdict"))
    if verdict == "mixed":
        return f"{c.get('n_supported', 0)} supported, {c.get('n_contradicted', 0)} contradicted, of {n}"
    key = _TALLY_KEY.get(verdict)
    return f"{c.get(key, 0)} of {n}" if key else ""


def _votes_text(c: dict) -> str:
    """Which hypotheses did not vote, and why (not analysed, positive control, descriptive)."""
    if not isinstance(c.get("n_voting"), int):
        return ""
    parts = [f"{c['n_voting']} of {c.get('n_hypotheses', 0)} hypotheses vote"]
    for key, what in (
        ("n_not_analysed", "not analysed"),
        ("n_positive_controls", "positive control(s), shown with their own verdict"),
        ("n_descriptive", "descriptive"),
    ):
        if c.get(key):
            parts.append(f"{c[key]} {what}")
    return "; ".join(parts)


def _hypothesis_view(res: pd.DataFrame, h: dict, cid: int) -> dict[str, Any]:
    row = _key_row(res, h)
    hv = {"role": "test", "family": None, "percentile_criterion": None, **h}  # older claims.json
    hv["row"] = row
    hv["view"] = _row_view(row) if row is not None else None
    verdict = h.get("verdict") or _get(row, "verdict")
    descriptive = h.get("role") == "descriptive" or h.get("expected") == "descriptive"
    if not descriptive and row is not None and _get(row, "role") == "descriptive":
        descriptive = not verdict
    # a descriptive hypothesis has no verdict by design: it is described, not "not analysed"
    hv["verdict"] = "descriptive" if descriptive and not verdict else fmt.verdict_of(verdict)
    hv["published"] = _published(h, row, cid)
    hv["methods"] = _hyp_methods(hv)
    return hv


def _claim_rows(res: pd.DataFrame, c: dict, cid: int) -> pd.DataFrame:
    """Rows of the claim: those numbered with it, and every row sharing an analysis with one of
    its hypotheses (sensitivity and secondary methods carry no claim number)."""
    numbered = pd.to_numeric(res["claim"], errors="coerce") == cid
    key_analyses = set(res.loc[numbered, "analysis"]) | {
        h["analysis"] for h in c.get("hypotheses", []) if h.get("analysis")
    }
    return res[
        (numbered | res["analysis"].isin(key_analyses)) & (res["role"] != "negative_control")
    ]
