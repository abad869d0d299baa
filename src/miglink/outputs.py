"""Write a run's artefacts: every table goes through the one minimum-cell gate, every file is atomic,
and the whole directory appears only when complete."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from miglink import __version__
from miglink.federate.site import write_site_results
from miglink.io import atomic_dir, write_csv, write_json, write_parquet, write_text
from miglink.privacy import (
    gate_calibration,
    gate_claims,
    gate_count,
    redact_secrets,
)
from miglink.privacy.spec import SPEC_FILE, encode_table, write_specification
from miglink.privacy.tables import gated_tables
from miglink.versions import versions

#: the comparative cohorts' tables (design D10), written when a run has them
D10_TABLES = ("d10_table1", "d10_balance", "d10_preference", "d10_diagnostics")
#: claim 2's MR instruments and leave-one-out estimates (miglink.genetics.hypotheses)
MR_TABLES = ("mr_instruments", "mr_leave_one_out")

log = logging.getLogger("miglink")


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
    database_id: str = "unknown",
) -> Path:
    """Write every artefact of ``run`` into ``out`` (atomically, as a whole directory).

    ``out`` must be absent, empty or a previous miglink output (see :mod:`miglink.outdir`).
    Tables are written in the shape of ``resultsDataModelSpecification.csv`` (written beside
    them): ``database_id`` on every row, counts as numbers (miglink.privacy.spec).
    """
    # no secret in any artefact: the source is described without credentials or query strings
    data_description = redact_secrets(data_description)
    notes = [redact_secrets(n) for n in run.notes]
    with atomic_dir(out, kind="run") as tmp:
        gated = gated_tables(run, min_cell)
        files = {k: encode_table(v, k, database_id) for k, v in gated.items()}
        res = _parquet_safe(files["results"])
        write_parquet(tmp / "results.parquet", res)
        write_csv(tmp / "results.csv", res)
        write_json(tmp / "results.json", json.loads(res.to_json(orient="records")))
        write_json(
            tmp / "claims.json",
            {
                "study": study.name,
                "study_hash": study_hash,
                "claims": gate_claims(run.claims, gated["results"]),
            },
        )
        # curves, prevalence and attrition: coarsened so no count or difference of counts is
        # small (miglink.privacy.curves, miglink.privacy.partitions; docs/privacy-tables.md)
        for name in ("curves", "prevalence", "attrition"):
            write_parquet(tmp / f"{name}.parquet", _parquet_safe(files[name]))
        # the comparative cohorts' Table 1, balance, preference score (miglink.privacy.d10)
        for name in D10_TABLES + MR_TABLES:
            if not gated[name].empty:
                write_parquet(tmp / f"{name}.parquet", _parquet_safe(files[name]))
        write_specification(tmp / SPEC_FILE)
        write_json(tmp / "calibration.json", gate_calibration(run.calibration, gated["results"]))
        run_json = _run_json(
            run, study, study_hash, data_description, engine, min_cell, data_fingerprint, notes
        )
        run_json["parameters"]["database_id"] = database_id
        # persons / with the index set / with any autoimmune disease: sums of the gated cells
        from miglink.report.headline import headline_counts

        run_json["headline"] = headline_counts(
            gated["prevalence"], study.settings.index_set, min_cell
        )
        write_json(tmp / "run.json", run_json)
        lines = [f"miglink {__version__} run", f"data: {data_description}", f"engine: {engine}"]
        lines += [f"stage {k}: {v:.3f} s" for k, v in run.timings.items()]
        lines += [f"note: {n}" for n in notes]
        write_text(tmp / "run.log", "\n".join(lines) + "\n")
        write_site_results(
            run,
            tmp,
            study=study,
            study_hash=study_hash,
            data_description=data_description,
            min_cell=min_cell,
            gated=gated,
        )
        if report:
            try:
                from miglink.report import render_report
            except ImportError:  # report module not present in this build
                render_report = None
            if render_report is not None:
                render_report(tmp, tmp / "report.html")
    return out


def _run_json(
    run, study, study_hash, data_description, engine, min_cell, data_fingerprint, notes
) -> dict:
    """run.json: versions, parameters, source, timings, gated data-quality findings, methods."""
    from miglink.methods import methods_text

    dq = run.data_quality or {}
    dq_g = {
        "fatal": [_gate_finding(f, min_cell) for f in dq.get("fatal", [])],
        "warnings": [_gate_finding(f, min_cell) for f in dq.get("warnings", [])],
    }
    return {
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
        "notes": notes,
        "resolution": run.resolution,
        "resolution_notes": getattr(run, "resolution_notes", {}),
        "study": {"name": study.name, "hash": study_hash},
        "methods": methods_text(study),
    }


def default_database_id(data: object) -> str:
    """The data folder's (or file's) name: what a site calls its database unless told otherwise
    (``miglink run --database-id``). A URL gives its last path part or host, never credentials."""
    import re
    from urllib.parse import urlparse

    text = str(data)
    if "://" in text:
        u = urlparse(text)
        name = (u.path or "").rstrip("/").rsplit("/", 1)[-1] or (u.hostname or "")
    else:
        p = Path(text)
        name = p.stem if p.suffix.lower() in (".duckdb", ".db", ".parquet") else p.name
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return name or "unknown"


def _gate_finding(f: dict, min_cell: int) -> dict:
    g = dict(f)
    if "n_rows" in g:
        g["n_rows"] = gate_count(g["n_rows"], min_cell)
    return g
