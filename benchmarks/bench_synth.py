"""Benchmark the synthetic generator: wall time and peak RSS per size, one subprocess each.

Usage: python benchmarks/bench_synth.py [SIZES...] [--out DIR] [--markdown]
(default sizes 100000 1000000; e.g. 10000000 for the 10M target). Each size runs in a fresh
process so the peak resident set size (resource.getrusage ru_maxrss, children) is that run's.
Targets (issue 3): 1M persons <= 60 s, 10M persons <= 15 min, peak memory <= 8 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

CHILD = """
import json, resource, sys, time
from miglink.synth import generate
n, out = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
truth = generate(n, 2024, out)
wall = time.perf_counter() - t0
print(json.dumps({"persons": n, "wall_s": wall,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "tables": truth.tables}))
"""


def run_one(n: int, workdir: Path) -> dict:
    out = workdir / f"synth_{n}"
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = time.perf_counter() - t0
    res["disk_gb"] = sum(f.stat().st_size for f in out.iterdir()) / 1e9
    shutil.rmtree(out, ignore_errors=True)
    return res


def markdown(results: list[dict]) -> str:
    cpu = f"{psutil.cpu_count(logical=True)} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB"
    lines = [
        "| persons | wall (s) | peak RSS (GB) | condition rows | visit rows | files on disk (GB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        t = r["tables"]
        lines.append(
            f"| {r['persons']:,} | {r['wall_s']:.1f} | {r['peak_rss_gb']:.2f} | "
            f"{t['condition_occurrence']:,} | {t['visit_occurrence']:,} | {r['disk_gb']:.2f} |"
        )
    lines.append("")
    lines.append(
        f"Machine: {cpu}, Python {platform.python_version()}; `python benchmarks/bench_synth.py`."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.sizes:
        r = run_one(n, work)
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.markdown:
        print(markdown(results))


if __name__ == "__main__":
    main()
