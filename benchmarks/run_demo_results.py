"""Run the 100k demo study (seed 42) with the code on PYTHONPATH; save the ungated results table.

usage: PYTHONPATH=src python benchmarks/run_demo_results.py OUT [DATA]  (see RESULTS.md, issue 14)
"""

import sys
import time
from pathlib import Path

from miglink.study import run_study
from miglink.synth import generate

data = Path(sys.argv[2] if len(sys.argv) > 2 else "demo-output/data")
if not (data / "truth.json").exists():
    generate(persons=100_000, seed=42, out=data)
t = time.perf_counter()
res = run_study(data, Path(sys.argv[1]) / "study", report=False, trusted=True)
print("study s", time.perf_counter() - t)
res.ungated("results").to_parquet(Path(sys.argv[1]) / "results_ungated.parquet")
