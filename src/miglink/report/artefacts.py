"""Read a run (or pooled) result directory into memory for rendering.

The report is a rendering of these artefacts only: it never touches the data. Every file except
results and claims is optional; an absent or empty one becomes an empty frame or dict, which the
report shows as "not available".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from miglink.errors import MiglinkError
from miglink.privacy import DEFAULT_MIN_CELL, gate_claims, gate_count, gate_frame, gate_results
from miglink.privacy.spec import decode_table
from miglink.schema import columns_typed

#: Numeric columns of the results table (counts stay as they are: they may hold "<5").
#: Numeric columns of the results table (miglink.schema): read as numbers whatever the file.
FLOAT_COLUMNS = columns_typed("float")
#: the D10 tables and their count columns (gated again, a no-op on what the writer gated)
D10_TABLES = {
    "d10_table1": ("n_target_before", "n_comparator_before"),
    "d10_balance": (),
    "d10_preference": ("n_target", "n_comparator"),
    "d10_diagnostics": (),
    "mr_instruments": (),  # GWAS variant associations: no counts
    "mr_leave_one_out": (),
}


@dataclass
class RunArtefacts:
    """Everything a run directory holds, already gated for privacy by the writer."""

    run_dir: Path
    results: pd.DataFrame
    claims: list[dict[str, Any]]
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    prevalence: pd.DataFrame = field(default_factory=pd.DataFrame)
    attrition: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    min_cell: int = DEFAULT_MIN_CELL
    #: the comparative cohorts' tables (d10_table1, d10_balance, d10_preference, d10_diagnostics)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: pooled.json of a pooled run (per-key heterogeneity and site estimates), else empty
    pooled: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise MiglinkError(f"{path.name} in {path.parent} is not valid JSON: {e}") from None


def _read_optional_json(run_dir: Path, name: str) -> dict[str, Any]:
    """An optional JSON artefact (calibration, run, pooled), or {} when absent."""
    path = run_dir / name
    return (_read_json(path) or {}) if path.exists() else {}


def _read_table(run_dir: Path, stem: str) -> pd.DataFrame:
    """parquet if present, else CSV, else an empty frame; counts back as the gate's labels
    (a file writes "<5" as -5 and a withheld count in count_labels: miglink.privacy.spec)."""
    pq, csv = run_dir / f"{stem}.parquet", run_dir / f"{stem}.csv"
    if pq.exists():
        return decode_table(pd.read_parquet(pq), stem)
    if csv.exists():
        return decode_table(pd.read_csv(csv, keep_default_na=True), stem)
    return pd.DataFrame()


def _require(df: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MiglinkError(
            f"{table} lacks column(s) {missing} ({len(df)} rows); it was not written by this "
            "version of miglink",
            table=table,
            column=missing[0],
            n_rows=len(df),
        )


def load_run(run_dir: str | Path) -> RunArtefacts:
    """Load the artefacts of ``run_dir``; only results and claims.json are required."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MiglinkError(f"result directory not found: {run_dir}")
    if not any((run_dir / f"results.{ext}").exists() for ext in ("parquet", "csv")):
        raise MiglinkError(f"no results.parquet or results.csv in {run_dir}", table="results")
    results = _read_table(run_dir, "results")
    _require(
        results,
        "results",
        ("claim", "hypothesis", "analysis", "design", "role", "exposure", "outcome", "measure"),
    )
    for col in FLOAT_COLUMNS:
        if col in results.columns:
            results[col] = pd.to_numeric(results[col], errors="coerce")
    claims_path = run_dir / "claims.json"
    if not claims_path.exists():
        raise MiglinkError(f"no claims.json in {run_dir}", table="claims")
    claims = _read_json(claims_path).get("claims", [])

    curves = _read_table(run_dir, "curves")
    if not curves.empty:
        _require(curves, "curves", ("analysis", "group", "time", "survival"))
    prevalence = _read_table(run_dir, "prevalence")
    if not prevalence.empty:
        _require(prevalence, "prevalence", ("set_id", "sex", "age_band", "prevalence"))
        prevalence["prevalence"] = pd.to_numeric(prevalence["prevalence"], errors="coerce")
    attrition = _read_table(run_dir, "attrition")
    if not attrition.empty:
        _require(attrition, "attrition", ("analysis", "step", "description", "n"))

    calibration = _read_optional_json(run_dir, "calibration.json")
    run = _read_optional_json(run_dir, "run.json")
    # The writer gated every artefact already; the report is an artefact too, so it passes its
    # counts through the same gate once more (a no-op on gated input).
    min_cell = int((run.get("parameters") or {}).get("min_cell") or DEFAULT_MIN_CELL)
    # The results pass the same policy as the table (a no-op on a table this version wrote), and
    # claim summaries are re-rendered from those gated rows: the report never shows more.
    results = gate_results(results, min_cell)
    for col in FLOAT_COLUMNS:
        if col in results.columns:
            results[col] = pd.to_numeric(results[col], errors="coerce")
    claims = gate_claims(claims, results)
    if not curves.empty:
        curves = gate_frame(curves, min_cell, ("at_risk", "events"))
    if not prevalence.empty:
        prevalence = gate_frame(prevalence, min_cell, ("n_persons", "n_cases"))
        hidden = pd.Series(False, index=prevalence.index)
        for col in ("n_persons", "n_cases"):
            if col in prevalence.columns:
                hidden |= prevalence[col].map(lambda v: isinstance(v, str) and v.startswith("<"))
        prevalence.loc[hidden, "prevalence"] = float("nan")
    if not attrition.empty:
        attrition = gate_frame(attrition, min_cell, ("n",))
    for kind in ("fatal", "warnings"):
        for finding in (run.get("data_quality") or {}).get(kind, []) or []:
            if isinstance(finding, dict) and "n_rows" in finding:
                finding["n_rows"] = gate_count(finding["n_rows"], min_cell)
    tables = {}
    for stem, counts in D10_TABLES.items():
        t = _read_table(run_dir, stem)
        tables[stem] = gate_frame(t, min_cell, counts) if not t.empty else t
    return RunArtefacts(
        pooled=_read_optional_json(run_dir, "pooled.json"),
        tables=tables,
        run_dir=run_dir,
        results=results,
        claims=claims,
        curves=curves,
        prevalence=prevalence,
        attrition=attrition,
        calibration=calibration,
        run=run,
        min_cell=min_cell,
    )
