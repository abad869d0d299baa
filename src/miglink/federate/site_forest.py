"""Each site's own estimate of a pooled key, for the pooled report's per-site forest plot.

``pool_estimates`` tags every site row with its site's position (``_site``) before grouping, so
``pooled.json`` can list, per key, what each site published beside the pooled estimate and its
heterogeneity (I², tau², Q). Only estimates and SEs travel, never counts: a site's counts beside
the summed pooled counts could give a suppressed one back.
"""

from __future__ import annotations

import math
from typing import Any

from miglink.stats import level


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def site_estimates(rs: list[dict]) -> list[dict]:
    """Each site's own estimate of a key (log estimate and SE as its site file published them,
    no count), so the pooled report can draw the per-site forest beside the pooled estimate."""
    z = level.z_interval()
    out = []
    for r in rs:
        y, se = _finite(r.get("log_estimate")), _finite(r.get("se_log"))
        shown = y is not None and se is not None and se > 0
        out.append(
            {
                "site": int(r.get("_site", len(out))),
                "estimate": math.exp(y) if y is not None else None,
                "ci_low": math.exp(y - z * se) if shown else None,
                "ci_high": math.exp(y + z * se) if shown else None,
                "se_log": se,
                "withheld": bool(r.get("withheld")),
            }
        )
    return out
