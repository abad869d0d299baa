"""Benchmark the whole study against the scan floor, in one run.

For each size: generate (or reuse) a synthetic OMOP population, then, each in its own subprocess
so peak RSS is that step's own:
  - the floor: a bare DuckDB scan of every fact-table column the study reads (person,
    observation_period, visit_occurrence, condition_occurrence, drug_exposure, measurement,
    observation), aggregated so nothing is skipped;
  - the study: miglink.run_study on the same files (report off: the study, not the rendering).
Writes a JSON line per size and, with --markdown, a table for benchmarks/RESULTS.md.

Usage: python benchmarks/bench_study.py [SIZES...] [--work DIR] [--engine duckdb|spark] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import child, machine

GEN = """
import sys
from miglink.synth import generate
generate(int(sys.argv[1]), 2024, sys.argv[2])
print("{}")
"""

SCAN = """
import json, resource, sys, time
import duckdb
d = sys.argv[1]
cols = {
    "person": "person_id, gender_concept_id, year_of_birth",
    "observation_period": "person_id, observation_period_start_date, observation_period_end_date",
    "visit_occurrence": "person_id, visit_start_date",
    "condition_occurrence": "person_id, condition_concept_id, condition_start_date, condition_source_value",
    "drug_exposure": "person_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date",
    "measurement": "person_id, measurement_concept_id, measurement_date, value_as_number",
    "observation": "person_id, observation_concept_id, observation_date",
}
con = duckdb.connect()
t0 = time.perf_counter()
rows = 0
for t, c in cols.items():
    # hash every value so the scan really reads and decodes each column (count() alone is
    # answered from parquet metadata)
    aggs = ", ".join(f"sum(hash({x.strip()}))" for x in c.split(","))
    r = con.execute(f"select count(*), {aggs} from read_parquet('{d}/{t}.parquet')").fetchone()
    rows += r[0]
wall = time.perf_counter() - t0
print(json.dumps({"scan_s": wall, "rows": rows,
                  "scan_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""

STUDY = """
import json, resource, sys, threading, time
import psutil
peak = [0]
def sample():
    # resident memory of this process and its children (Spark's JVM), sampled every 0.2 s
    me = psutil.Process()
    while True:
        try:
            rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            rss = 0
        peak[0] = max(peak[0], rss)
        time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
from miglink.study import run_study
res = run_study(sys.argv[1], sys.argv[2], engine=sys.argv[3], report=False, resume=False)
wall = time.perf_counter() - t0
run = json.load(open(sys.argv[2] + "/run.json"))
print(json.dumps({"study_s": wall, "rows_out": len(res.results), "stages": run["timings"],
                  "study_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "study_tree_peak_rss_gb": peak[0] / 1e9}))
"""


def run_size(n: int, work: Path, engine: str) -> dict:
    data = work / f"synth_{n}"
    if not (data / "truth.json").exists():
        t = time.perf_counter()
        child(GEN, str(n), str(data))
        print(f"generated {n:,} persons in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    scan = child(SCAN, str(data))
    study = child(STUDY, str(data), str(work / f"run_{n}_{engine}"), engine)
    out = {"persons": n, "engine": engine, **scan, **study}
    out["ratio_to_scan"] = out["study_s"] / out["scan_s"]
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        "| persons | engine | fact rows scanned | bare scan (s) | whole study (s) | ratio | study peak RSS (GB) | with child processes (GB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['persons']:,} | {r['engine']} | {r['rows']:,} | {r['scan_s']:.2f} | {r['study_s']:.1f} | "
            f"{r['ratio_to_scan']:.0f}x | {r['study_peak_rss_gb']:.2f} | "
            f"{r.get('study_tree_peak_rss_gb', float('nan')):.2f} |"
        )
    lines.append("")
    lines.append(
        "Stage timings (s): "
        + "; ".join(
            f"{r['persons']:,}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            for r in results
        )
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--work", default=str(Path(__file__).parent / "_work"))
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in a.sizes:
        r = run_size(n, work, a.engine)
        print(json.dumps(r), flush=True)
        results.append(r)
    if a.markdown:
        print(f"\n{machine()}\n")
        print(markdown(results))


if __name__ == "__main__":
    main()
