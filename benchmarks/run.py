"""``make bench``: every benchmark, each printing a table for benchmarks/RESULTS.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    for script, args in (
        ("bench_synth.py", ["100000", "1000000", "--markdown"]),
        ("bench_study.py", ["100000", "1000000", "10000000", "--markdown"]),
        ("bench_study.py", ["1000000", "--engine", "spark", "--markdown"]),
        ("bench_phewas.py", ["1000000", "--markdown"]),
    ):
        print(f"== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)
