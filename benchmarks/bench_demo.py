"""Benchmark ``make demo`` from a fresh clone (issue 6: under 3 minutes on this machine).

Clones the repository into a temporary folder (with ../shared beside it when present), runs
``make demo`` there and times it, split into the environment creation (``make venv``) and the demo
itself (100k synthetic persons, the whole study, the report). In the same run, the baseline is a
bare DuckDB scan of the demo's fact tables (as in bench_study.py) so the demo's study time can be
read as a ratio.

Usage: python benchmarks/bench_demo.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="miglink-demo-bench-"))
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    venv_s = _timed(["make", "venv"], clone)
    demo_s = _timed(["make", "demo"], clone)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_study import SCAN, _child

    scan = _child(SCAN, str(clone / "demo-output" / "data"))
    report = clone / "demo-output" / "study" / "report.html"
    out = {
        "make_venv_s": round(venv_s, 1),
        "make_demo_s": round(demo_s, 1),
        "total_s": round(venv_s + demo_s, 1),
        "scan_floor_s": round(scan["scan_s"], 3),
        "demo_to_scan_ratio": round(demo_s / scan["scan_s"]),
        "report_written": report.exists(),
    }
    print(json.dumps(out))
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
