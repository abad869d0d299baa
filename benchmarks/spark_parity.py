"""Spark against DuckDB on every dataset in ../shared/data: the whole study, artefact by artefact.

Issue 17's bar: "the whole study completes on every dataset in ../shared/data and equals DuckDB
to 1e-9". Each dataset is run twice with ``miglink run`` (DuckDB, then Spark local[2]), the same
``--database-id``, no resume, no report; the two --out folders are compared with the PostgreSQL
tests' comparison (tests/postgres/pg_helpers.assert_runs_equal: results, curves, prevalence,
attrition parquet row by row to a relative 1e-9; claims.json and calibration.json value by value).
The suite keeps one whole-study Spark parity test (tests/parity) and the MIMIC load parity; this
runs outside it because a whole study on Spark costs one to two minutes even on 27 persons
(query latency, not data size).

Usage: python benchmarks/spark_parity.py [--work DIR] [--only NAME ...] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from _common import SRC, machine

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests" / "postgres"))
from pg_helpers import assert_runs_equal  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "real_data"))
import test_study_all_datasets as _datasets  # noqa: E402

#: dataset id -> path under shared/data: the datasets the suite runs the whole study on
DATASETS = _datasets.DATASETS


def _run(data: Path, out: Path, engine: str, name: str) -> float:
    """One ``miglink run``; its wall time (a failure ends the benchmark with its stderr)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "miglink", "run", "--data", str(data), "--out", str(out)]
    cmd += ["--engine", engine, "--database-id", name, "--no-resume", "--no-report", "--quiet"]
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=SRC)
    p = subprocess.run(cmd, env=env, capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"{name} on {engine}: exit {p.returncode}\n{p.stderr.decode()[-3000:]}")
    return time.perf_counter() - t0


def compare(name: str, work: Path) -> dict:
    """Run one dataset on both engines and compare the artefacts."""
    data = SHARED / DATASETS[name]
    a, b = work / f"{name}-duckdb", work / f"{name}-spark"
    row = {"dataset": name, "duckdb_s": _run(data, a, "duckdb", name)}
    row["spark_s"] = _run(data, b, "spark", name)
    row["results_rows"] = len(pd.read_parquet(a / "results.parquet"))
    try:
        assert_runs_equal(a, b)
        row["equal"] = "yes"
    except AssertionError as e:  # the first difference, named by artefact and column
        row["equal"] = f"NO: {e}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "_work" / "spark_parity"))
    ap.add_argument("--only", nargs="*", default=list(DATASETS))
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.only:
        rows.append(compare(name, work))
        print(json.dumps(rows[-1]), flush=True)
    if args.markdown:
        print(f"\n{machine()}\n")
        print("| dataset | results rows | DuckDB (s) | Spark (s) | equal to 1e-9 |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['dataset']} | {r['results_rows']} | {r['duckdb_s']:.1f} | "
                f"{r['spark_s']:.1f} | {r['equal']} |"
            )


if __name__ == "__main__":
    main()
