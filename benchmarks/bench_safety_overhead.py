"""What the safety round (issue 13) costs: the whole study at 100k persons through `miglink run`
(--out, --no-resume: content fingerprint, --out guard, strict casts, the disclosure gate) on the
code before the round against this checkout, in the same run, two runs each.

    git worktree add --detach /tmp/miglink-before 237dd5c
    .venv/bin/python benchmarks/bench_safety_overhead.py /tmp/miglink-before/src
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(before_src: str, work: Path = Path("benchmarks/_work/safety")) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    cdm = work / "cdm100k"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    if not cdm.exists():
        code = f"from miglink.synth import generate; generate(persons=100_000, seed=1, out={str(cdm)!r})"
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
    res: dict[str, list[float]] = {}
    for label, src in (("before", before_src), ("after", str(REPO / "src"))):
        for i in range(2):
            out = work / f"out-{label}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            argv = ["run", "--data", str(cdm), "--out", str(out), "--quiet", "--no-resume"]
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "miglink.cli.main", *argv],
                check=True,
                env={**os.environ, "PYTHONPATH": src},
            )
            res.setdefault(label, []).append(round(time.perf_counter() - t, 1))
    return res


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), indent=1))
