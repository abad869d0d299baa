"""The pooled report's sites section: per-site rows, a per-site forest per key estimate, and
the heterogeneity of each pooled estimate (I², tau², Cochran's Q and its p, prediction interval).

Everything comes from pooled.json, which ``miglink pool`` writes beside the pooled results
(miglink.federate.pool; each key's ``sites`` list is miglink.federate.site_forest). Only
estimates and intervals are shown per site, never a site's counts: those beside the summed
pooled counts could give back a count a site suppressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from miglink.report import charts, fmt


def site_names(run: dict[str, Any], n: int) -> list[str]:
    """A short name per site: its data source, else its file's folder, else "site k"."""
    sites = run.get("sites") or []
    names = []
    for i in range(n):
        s = sites[i] if i < len(sites) and isinstance(sites[i], dict) else {}
        name = str(s.get("data_source") or "").strip()
        if not name and s.get("file"):
            p = Path(str(s["file"]))
            name = p.parent.name if p.name == "site_results.json" else p.stem
        names.append(f"site {i + 1}" + (f": {name}" if name else ""))
    return names


def _key_entries(res: pd.DataFrame, analyses: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """(hypothesis, pooled.json entry) for every hypothesis's key row that was pooled."""
    keyed = res[res["hypothesis"].notna() & (res["hypothesis"].astype(str) != "")]
    out = []
    for r in keyed.itertuples():
        for a in analyses:
            same = all(
                str(a.get(k) or "") == str(getattr(r, k, "") or "")
                for k in ("analysis", "method", "stratum")
            )
            if same and a.get("sites"):
                out.append((str(r.hypothesis), a))
                break
    return out


def _forest(entry: dict[str, Any], names: list[str]) -> Markup:
    rows = [
        {
            "label": names[s["site"]] if s["site"] < len(names) else f"site {s['site'] + 1}",
            "kind": "site",
            "estimate": s.get("estimate"),
            "ci_low": s.get("ci_low"),
            "ci_high": s.get("ci_high"),
        }
        for s in entry["sites"]
    ]
    for kind, prefix in (("pooled (random effects)", ""), ("pooled (fixed effect)", "fe_")):
        rows.append(
            {
                "label": kind,
                "kind": kind,
                "estimate": entry.get(f"{prefix}estimate"),
                "ci_low": entry.get(f"{prefix}ci_low"),
                "ci_high": entry.get(f"{prefix}ci_high"),
            }
        )
    df = pd.DataFrame(rows, columns=["label", "kind", "estimate", "ci_low", "ci_high"])
    return Markup(charts.embed(charts.forest(df)))


def heterogeneity(entry: dict[str, Any]) -> dict[str, str]:
    """I² (%), tau², Q with its p and the prediction interval of one pooled key, formatted."""
    i2 = entry.get("i2")  # percent (miglink.stats.meta)
    return {
        "i2": f"{fmt.num(i2, 0)}%" if fmt.is_num(i2) else "–",
        "tau2": fmt.num(entry.get("tau2"), 3),
        "q": fmt.num(entry.get("q"), 2),
        "q_p": fmt.pval(entry.get("q_p")),
        "pi": fmt.interval(entry.get("pi_low"), entry.get("pi_high"))
        if fmt.is_num(entry.get("pi_low"))
        else "–",
        "k": f"{entry.get('k_pooled', '–')} of {entry.get('k_sites', '–')}",
        "method": str(entry.get("pool_method") or ""),
    }


def sites_view(art: Any) -> dict[str, Any] | None:
    """The pooled report's per-site section, or None for a single-site run."""
    pooled = getattr(art, "pooled", None) or {}
    analyses = pooled.get("analyses") or []
    if not (art.run or {}).get("pooled") and not analyses:
        return None
    n_sites = int(pooled.get("k_sites") or len((art.run or {}).get("sites") or []))
    names = site_names(art.run or {}, n_sites)
    keys = []
    for hyp, entry in _key_entries(art.results, analyses):
        keys.append(
            {
                "hypothesis": hyp,
                "analysis": entry.get("analysis"),
                "measure": entry.get("measure") or "",
                "pooled": fmt.ci(entry.get("estimate"), entry.get("ci_low"), entry.get("ci_high")),
                "fixed": fmt.ci(
                    entry.get("fe_estimate"), entry.get("fe_ci_low"), entry.get("fe_ci_high")
                ),
                "het": heterogeneity(entry),
                "sites": [
                    {
                        "name": names[s["site"]] if s["site"] < len(names) else str(s["site"]),
                        "estimate": "withheld by the site"
                        if s.get("withheld") and not fmt.is_num(s.get("estimate"))
                        else fmt.ci(s.get("estimate"), s.get("ci_low"), s.get("ci_high")),
                    }
                    for s in entry["sites"]
                ],
                "forest": _forest(entry, names),
            }
        )
    return {
        "names": names,
        "method": str(pooled.get("method") or ""),
        "keys": keys,
        "all": [
            dict(heterogeneity(a), analysis=a.get("analysis"), measure=a.get("measure") or "")
            for a in analyses
            if a.get("role") != "negative_control" and (a.get("k_pooled") or 0) >= 2
        ],
    }
