"""Attrition diagrams: one column of boxes joined by arrows per cohort, as inline SVG.

The counts are the gated attrition table's (miglink.privacy.partitions.gate_attrition keeps a
step only if it and its change from the last kept step are 0 or at least the minimum cell), so
the number excluded between two shown steps is itself safe and is printed beside the arrow. A
withheld step keeps its box, labelled "withheld", and no difference is printed across it.
The SVG is drawn by hand (no ids, no script) so any number of diagrams can share one page.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from miglink.report import fmt

BOX_W, BOX_H, GAP, LEFT, WIDTH = 330, 48, 30, 8, 520
WRAP = 52


def _n_text(n: Any, withheld: Any) -> tuple[str, float | None]:
    """The box's count text and its number (None when not a number)."""
    if isinstance(n, str) and n.strip().replace(".", "", 1).isdigit():
        n = float(n)  # a count column written as text ("5400") beside labels ("<5")
    if fmt.is_num(n):
        return f"n = {fmt.count(n)}", float(n)
    if isinstance(n, str) and n.strip():
        return f"n {n.strip()}" if n.strip().startswith("<") else n.strip(), None
    return ("withheld" if str(withheld or "").strip() else "n not available"), None


def attrition_svg(steps: list[dict[str, Any]], title: str = "") -> Markup:
    """The diagram of ``steps`` (dicts with description, n and optionally withheld), in order."""
    if not steps:
        return Markup("")
    height = len(steps) * (BOX_H + GAP) - GAP + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="attrition-diagram" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'style="max-width:100%;height:auto">',
        f"<title>{escape(title or 'attrition')}</title>",
    ]
    last: float | None = None
    for i, s in enumerate(steps):
        y = 2 + i * (BOX_H + GAP)
        n_text, n = _n_text(s.get("n"), s.get("withheld"))
        lines = textwrap.wrap(str(s.get("description") or ""), WRAP)[:2] or [""]
        parts.append(
            f'<rect x="{LEFT}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" '
            'fill="#f5f6f8" stroke="#1f4e79" stroke-width="1.2"/>'
        )
        for j, line in enumerate(lines):
            parts.append(
                f'<text x="{LEFT + 8}" y="{y + 15 + 12 * j}" font-size="11" '
                f'font-family="Helvetica, Arial, sans-serif" fill="#1d1d1f">{escape(line)}</text>'
            )
        parts.append(
            f'<text x="{LEFT + BOX_W - 8}" y="{y + BOX_H - 7}" font-size="12" font-weight="700" '
            f'text-anchor="end" font-family="Helvetica, Arial, sans-serif" fill="#1f4e79">'
            f"{escape(n_text)}</text>"
        )
        if i:
            parts.append(_arrow(y - GAP, y, last, n))
        if n is not None:
            last = n
    parts.append("</svg>")
    return Markup("".join(parts))


def _arrow(y0: float, y1: float, before: float | None, after: float | None) -> str:
    """The arrow into a box, with the persons excluded when both ends are shown."""
    x = LEFT + BOX_W / 2
    out = (
        f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1 - 6}" stroke="#555" stroke-width="1.4"/>'
        f'<polygon points="{x - 5},{y1 - 7} {x + 5},{y1 - 7} {x},{y1}" fill="#555"/>'
    )
    if before is not None and after is not None and before > after:
        out += (
            f'<text x="{x + 12}" y="{(y0 + y1) / 2 + 4}" font-size="11" fill="#666a70" '
            f'font-family="Helvetica, Arial, sans-serif">excluded {fmt.count(before - after)}</text>'
        )
    return out


def design_of(key: str, res: pd.DataFrame) -> str:
    """The design an attrition key belongs to: its results rows' design, else its prefix."""
    rows = res[res["analysis"] == key] if "analysis" in res.columns else res.iloc[0:0]
    if len(rows) and isinstance(rows["design"].iloc[0], str):
        return rows["design"].iloc[0]
    head = key.split("__", 1)[0]
    return head.upper() if head.lower().startswith("d") and head[1:].isdigit() else "other"


def attrition_views(att: pd.DataFrame, res: pd.DataFrame) -> list[dict[str, Any]]:
    """Every cohort of attrition.parquet, grouped by design: ``[{design, cohorts: [...]}]``."""
    if att is None or att.empty:
        return []
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, sel in att.groupby("analysis", sort=True):
        sel = sel.sort_values("step")
        steps = [
            {"description": r.get("description"), "n": r.get("n"), "withheld": r.get("withheld")}
            for r in sel.to_dict("records")
        ]
        groups.setdefault(design_of(str(key), res), []).append(
            {"analysis": str(key), "svg": attrition_svg(steps, title=str(key))}
        )
    return [{"design": d, "cohorts": groups[d]} for d in sorted(groups)]
