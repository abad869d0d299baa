"""``site_results.json``: what one site shares with a network — aggregates only, gated.

A site that cannot share patient rows shares, per estimate, what pooling needs: the log estimate,
its SE, gated counts and, where counts are small, a log-likelihood profile on a fixed grid (as
OHDSI's EvidenceSynthesis shares). The file also names the study file by its hash (pooling refuses
mixed studies), embeds the study definition (so the pool can reach verdicts without it), describes
the data source and lists software versions. docs/federation.md documents the format.

Everything in the file comes from the gated tables (``miglink.privacy.tables.gated_tables``): the gated
results table and the coarsened prevalence table (docs/privacy-tables.md), never the raw run.

Profiles. The run keeps only each estimate's total counts, not its per-stratum cells, so the
stratified conditional likelihood of an adjusted estimate cannot be rebuilt here. Two kinds exist:

* ``conditional_2x2``: for crude odds ratios (method ``crude_woolf``) whose four cells (a, n1-a,
  c, n0-c) are all shown and none is below the minimum, the exact conditional (non-central
  hypergeometric) log-likelihood of the shown table — a function of the four cells, so it is
  never shared when one of them is small;
* ``normal``: otherwise, the quadratic -(b - log_estimate)² / (2·se²). It carries no information
  beyond the estimate and SE, so it cannot reveal a suppressed count; it is always used when any
  count of the row is suppressed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from miglink import __version__
from miglink.io import write_json
from miglink.privacy import gate_count, is_small
from miglink.privacy.partitions import vector_safe
from miglink.privacy.results import WITHHELD_PREFIX
from miglink.privacy.tables import gated_tables
from miglink.schema import site_columns
from miglink.versions import versions

FORMAT = "miglink-site-results"
FORMAT_VERSION = 1
FILE_NAME = "site_results.json"

#: Log-ratio grid of every likelihood profile: -3 to 3 by 0.05 (121 points).
GRID_START, GRID_STOP, GRID_STEP = -3.0, 3.0, 0.05
#: Decimals of each shared log-likelihood value. At 4 the rounding noise (±5e-5 per point, over a
#: 0.05 grid) moved the pooled profile maximum by ~3e-4 on the log scale; at 6 by ~3e-6. The
#: values are functions of counts and estimates the file already shows, so digits disclose nothing.
PROFILE_DECIMALS = 6
#: Rows with any count below this get a likelihood profile.
PROFILE_BELOW = 10
RATIO_MEASURES = ("OR", "HR", "IRR", "RR", "RGM", "ROR")
PROPORTION_MEASURES = ("share", "count", "prevalence")

#: What a site shares of each row, from the schema's ``site`` column (miglink.schema).
ROW_KEYS = site_columns("key")
COUNT_KEYS = site_columns("count")
#: Shared numbers; the first six are the estimate and its interval, withheld together.
FLOAT_KEYS = site_columns("value")
ESTIMATE_KEYS = ("log_estimate", "se_log", "estimate", "ci_low", "ci_high", "p_value")


def grid() -> np.ndarray:
    n = int(round((GRID_STOP - GRID_START) / GRID_STEP)) + 1
    return np.round(GRID_START + GRID_STEP * np.arange(n), 10)


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _clean(x: Any) -> Any:
    """JSON-safe scalar: NaN/NA become None, numpy scalars become Python ones."""
    if x is None:
        return None
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    try:
        if pd.isna(x):
            return None
    except (TypeError, ValueError):
        pass
    return x


def normal_profile(log_estimate: float, se: float, b: np.ndarray | None = None) -> np.ndarray:
    """Quadratic log-likelihood (max 0) implied by a normal sampling distribution of the log ratio."""
    b = grid() if b is None else b
    return -((b - log_estimate) ** 2) / (2 * se**2)


def conditional_2x2_profile(
    a: int, n1: int, c: int, n0: int, b: np.ndarray | None = None
) -> np.ndarray:
    """Exact conditional log-likelihood of log OR for one 2×2 table (max 0 over the grid).

    Given the margins, the exposed events follow Fisher's non-central hypergeometric distribution
    with odds ratio exp(b); its log-probability of ``a`` is the conditional log-likelihood
    (Breslow & Day 1980, vol. I §4.2). scipy.stats.nchypergeom_fisher computes it.
    """
    b = grid() if b is None else b
    m = a + c  # total events
    ll = np.array([stats.nchypergeom_fisher.logpmf(a, n1 + n0, n1, m, math.exp(x)) for x in b])
    return ll - np.nanmax(ll)


def profile_for(row: dict, min_cell: int) -> dict | None:
    """The likelihood profile shared for ``row``, or None when its counts are all >= PROFILE_BELOW."""
    y, se = _num(row.get("log_estimate")), _num(row.get("se_log"))
    if row.get("measure") not in RATIO_MEASURES or not (
        math.isfinite(y) and math.isfinite(se) and se > 0
    ):
        return None
    counts = [
        _num(row.get(k)) for k in ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed")
    ]
    known = [v for v in counts if math.isfinite(v)]
    suppressed = any(
        _hidden(row.get(k), min_cell)
        for k in ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed")
    )
    if not suppressed and (not known or min(known) >= PROFILE_BELOW):
        return None
    exact = row.get("method") == "crude_woolf" and len(known) == 4 and not suppressed
    if exact:
        n1, n0, a, c = (int(v) for v in counts)
        # the exact profile is a function of all four cells: only when none of them is small
        exact = vector_safe([a, n1 - a, c, n0 - c], min_cell)
    if exact:
        ll = conditional_2x2_profile(a, n1, c, n0)
        kind = "conditional_2x2"
    else:
        ll = normal_profile(y, se)
        kind = "normal"
    return {
        "kind": kind,
        "log_likelihood": [
            round(float(v), PROFILE_DECIMALS) if math.isfinite(v) else None for v in ll
        ],
    }


def _hidden(v: Any, min_cell: int) -> bool:
    """A suppressed count: the gate's "<N" label, or (on ungated input) a small number."""
    return (isinstance(v, str) and v.strip().startswith("<")) or is_small(v, min_cell)


def site_row(row: dict, min_cell: int) -> dict:
    """One shared estimate: identifiers, log estimate and SE, gated counts, optional profile."""
    out: dict[str, Any] = {k: _clean(row.get(k)) for k in ROW_KEYS}
    for k in FLOAT_KEYS:
        out[k] = _clean(_num(row.get(k)))
    for k in COUNT_KEYS:
        if k in row and _clean(row.get(k)) is not None:
            out[k] = gate_count(_clean(row.get(k)), min_cell)
    for side in ("exposed", "unexposed"):
        py = _num(row.get(f"person_years_{side}"))
        # person-time of a group whose size is suppressed is withheld with it
        n_shown = not _hidden(row.get(f"n_{side}"), min_cell)
        out[f"person_years_{side}"] = round(py, 1) if math.isfinite(py) and n_shown else None
    for k in site_columns("text"):
        text = _clean(row.get(k))
        out[k] = text if isinstance(text, str) else ""
    for k in site_columns("optional"):
        v = _clean(_num(row.get(k)))
        if v is not None:
            out[k] = v
    suppressed = any(_hidden(row.get(k), min_cell) for k in COUNT_KEYS)
    method = str(row.get("method") or "")
    if suppressed and (row.get("measure") in PROPORTION_MEASURES or method.startswith("crude")):
        # a proportion or a crude ratio plus the shown counts would give the suppressed one back
        for k in ESTIMATE_KEYS:
            out[k] = None
        out["withheld"] = (
            "estimate withheld: a count is suppressed and this estimate would reveal it"
        )
    if out["log_estimate"] is None and WITHHELD_PREFIX in str(row.get("note") or ""):
        # the gate withheld it (privacy), as opposed to a fit that failed: pooling must know
        out.setdefault("withheld", "estimate withheld by the site's disclosure gate")
    out["profile"] = profile_for(row, min_cell) if out["log_estimate"] is not None else None
    return out


def site_results(
    run, study, study_hash: str, data_description: str, min_cell: int, gated: dict | None = None
) -> dict:
    """The content of site_results.json for one run (``run`` is a study.StudyRun, before gating)."""
    # built from the gated artefacts, never from the raw run: one gate for every route
    # (write_run passes the tables it has already gated: the gate runs once per run)
    gated = gated if gated is not None else gated_tables(run, min_cell)
    res = gated["results"]
    rows = (
        [site_row(r, min_cell) for r in res.to_dict("records")]
        if res is not None and len(res)
        else []
    )
    cal = {
        k: {kk: _clean(v.get(kk)) for kk in ("mean", "sd", "ease", "n_controls")}
        for k, v in (run.calibration or {}).items()
    }
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "miglink_version": __version__,
        "versions": versions(),
        "study": {
            "name": study.name,
            "hash": study_hash,
            "definition": study.model_dump(mode="json"),
        },
        "data_source": data_description,
        "min_cell": int(min_cell),
        "profile_grid": {
            "start": GRID_START,
            "stop": GRID_STOP,
            "step": GRID_STEP,
            "scale": "log ratio",
        },
        "profile_kinds": {
            "conditional_2x2": "exact conditional log-likelihood of the shown crude 2x2 table",
            "normal": "quadratic approximation from log_estimate and se_log (no further information)",
        },
        "site_calibration": cal,
        "site_claims": [{"id": c.get("id"), "verdict": c.get("verdict")} for c in run.claims or []],
        "estimates": rows,
        "prevalence": site_prevalence(gated["prevalence"], min_cell),
    }


def site_prevalence(prev: pd.DataFrame | None, min_cell: int) -> list[dict]:
    """Persons and cases per concept set, sex and (possibly merged) age band from the gated
    prevalence table; the pool sums a band only where every site shows that same band."""
    if prev is None or prev.empty:
        return []
    cols = ["set_id", "sex", "age_band", "n_persons", "n_cases"]
    if any(c not in prev.columns for c in cols):
        return []
    return [
        {
            "set_id": str(r["set_id"]),
            "sex": _clean(r["sex"]),
            "age_band": str(r["age_band"]),
            "n_persons": gate_count(_clean(r["n_persons"]), min_cell),
            "n_cases": gate_count(_clean(r["n_cases"]), min_cell),
        }
        for r in prev[cols].to_dict("records")
    ]


def write_site_results(
    run,
    tmp_dir: Path,
    *,
    study,
    study_hash: str,
    data_description: str,
    min_cell: int,
    gated: dict | None = None,
) -> Path:
    """Write ``tmp_dir/site_results.json`` atomically; returns its path."""
    return write_json(
        Path(tmp_dir) / FILE_NAME,
        site_results(run, study, study_hash, data_description, min_cell, gated),
    )
