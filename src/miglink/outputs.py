"""Write a run's artefacts: every table goes through the one minimum-cell gate, every file is atomic,
and the whole directory appears only when complete."""

from __future__ import annotations

import json
import logging
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from miglink import __version__
from miglink.io import atomic_dir, write_csv, write_json, write_parquet, write_text
from miglink.privacy import gate_count, gate_frame

log = logging.getLogger("miglink")

VERSION_PACKAGES = (
    "ibis-framework",
    "duckdb",
    "pyspark",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "lifelines",
    "empyricalcalibration",
    "pydantic",
    "pyarrow",
)

CURVE_COUNTS = ("at_risk", "events")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "miglink": __version__}
    for p in VERSION_PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding ints and '<N' labels become strings so every format agrees."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            vals = out[c].tolist()
            if any(isinstance(v, str) for v in vals) and any(
                isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                for v in vals
            ):
                out[c] = [
                    None if v is None or (isinstance(v, float) and v != v) else str(v) for v in vals
                ]
    return out


#: Rows whose estimate is a closed-form function of their shown counts: with one count
#: suppressed, the estimate would give it back, so the estimate is withheld too.
DERIVABLE_METHODS = ("crude_woolf", "persons_with_record", "descriptive", "clopper_pearson")
ESTIMATE_COLUMNS = ("estimate", "log_estimate", "se_log", "ci_low", "ci_high", "p_value")


def gated_results(results: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The results table as it may leave the program: small counts suppressed, and every number
    that would let a suppressed count be recomputed withheld with it."""
    from miglink.designs.rows import results_columns
    from miglink.privacy import is_small

    cols = results_columns()
    df = results.copy()
    for c in cols:
        if c not in df.columns:
            df[c] = None
    extra = [c for c in df.columns if c not in cols]
    df = df[cols + extra]
    for arm in ("exposed", "unexposed"):
        rate = f"ir_{arm}_per_1000py"
        if rate in df.columns:
            small = df[f"events_{arm}"].map(lambda v: is_small(v, min_cell))
            df[rate] = df[rate].astype(object).where(~small, None)
    counts = [
        c for c in ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed") if c in df
    ]
    any_small = df[counts].apply(lambda r: any(is_small(v, min_cell) for v in r), axis=1)
    derivable = df["method"].isin(DERIVABLE_METHODS) | df["measure"].isin(
        ["count", "share", "prevalence"]
    )
    hide = any_small & derivable
    for c in ESTIMATE_COLUMNS:
        df[c] = df[c].astype(object).where(~hide, None)
    if hide.any():
        df.loc[hide, "note"] = (
            df.loc[hide, "note"].fillna("").astype(str)
            + " [estimate withheld: it would reveal a suppressed count]"
        ).str.strip()
    return gate_frame(df, min_cell)


def write_run(
    run,
    out: Path,
    *,
    study,
    study_hash: str,
    data_description: str,
    engine: str,
    min_cell: int,
    report: bool = True,
    data_fingerprint: str | None = None,
) -> Path:
    """Write every artefact of ``run`` into ``out`` (atomically, as a whole directory).

    ``out`` must be absent, empty or a previous miglink output (see :mod:`miglink.outdir`).
    """
    with atomic_dir(out, kind="run") as tmp:
        res = _parquet_safe(gated_results(run.results, min_cell))
        write_parquet(tmp / "results.parquet", res)
        write_csv(tmp / "results.csv", res)
        write_json(tmp / "results.json", json.loads(res.to_json(orient="records")))
        write_json(
            tmp / "claims.json",
            {"study": study.name, "study_hash": study_hash, "claims": run.claims},
        )
        curves = run.curves
        if curves is not None and not curves.empty:
            curves = gate_frame(curves, min_cell, CURVE_COUNTS)
        write_parquet(
            tmp / "curves.parquet", _parquet_safe(curves if curves is not None else pd.DataFrame())
        )
        prev = run.prevalence.copy() if run.prevalence is not None else pd.DataFrame()
        if not prev.empty:
            small = (prev["n_cases"] > 0) & (prev["n_cases"] < min_cell)
            prev.loc[small | (prev["n_persons"] < min_cell), "prevalence"] = np.nan
            prev = gate_frame(prev, min_cell, ("n_persons", "n_cases"))
        write_parquet(tmp / "prevalence.parquet", _parquet_safe(prev))
        att = run.attrition if run.attrition is not None else pd.DataFrame()
        if not att.empty:
            att = gate_frame(att, min_cell, ("n",))
        write_parquet(tmp / "attrition.parquet", _parquet_safe(att))
        cal = {}
        for k, v in (run.calibration or {}).items():
            cal[k] = {kk: vv for kk, vv in v.items()}
            cal[k]["n_controls"] = v.get("n_controls")
        write_json(tmp / "calibration.json", cal)
        dq = run.data_quality or {}
        dq_g = {
            "fatal": [_gate_finding(f, min_cell) for f in dq.get("fatal", [])],
            "warnings": [_gate_finding(f, min_cell) for f in dq.get("warnings", [])],
        }
        from miglink.methods import methods_text

        run_json = {
            "miglink_version": __version__,
            "versions": versions(),
            "parameters": {
                "engine": engine,
                "min_cell": min_cell,
                "settings": study.settings.model_dump(),
            },
            "data_source": data_description,
            "data_fingerprint": data_fingerprint,
            "timings": run.timings,
            "data_quality": dq_g,
            "notes": run.notes,
            "resolution": run.resolution,
            "study": {"name": study.name, "hash": study_hash},
            "methods": methods_text(study),
        }
        write_json(tmp / "run.json", run_json)
        lines = [f"miglink {__version__} run", f"data: {data_description}", f"engine: {engine}"]
        lines += [f"stage {k}: {v:.3f} s" for k, v in run.timings.items()]
        lines += [f"note: {n}" for n in run.notes]
        write_text(tmp / "run.log", "\n".join(lines) + "\n")
        from miglink.federate.site import write_site_results

        write_site_results(
            run,
            tmp,
            study=study,
            study_hash=study_hash,
            data_description=data_description,
            min_cell=min_cell,
        )
        if report:
            try:
                from miglink.report import render_report
            except ImportError:  # report module not present in this build
                render_report = None
            if render_report is not None:
                render_report(tmp, tmp / "report.html")
    return out


def _gate_finding(f: dict, min_cell: int) -> dict:
    g = dict(f)
    if "n_rows" in g:
        g["n_rows"] = gate_count(g["n_rows"], min_cell)
    return g
