"""``make demo``: build the embedded synthetic population, run the whole study, write the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m miglink.demo", description=__doc__)
    ap.add_argument("--out", default="demo-output", help="output folder")
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    from miglink.errors import MiglinkError
    from miglink.study import run_study
    from miglink.synth import generate

    out = Path(args.out)
    data = out / "data"
    t0 = time.perf_counter()
    try:
        if not (data / "truth.json").exists():
            print(
                f"miglink demo: generating {args.persons:,} synthetic persons (seed {args.seed}) in {data}"
            )
            generate(persons=args.persons, seed=args.seed, out=data)
        else:
            print(f"miglink demo: reusing the synthetic population in {data}")
        t1 = time.perf_counter()
        print(f"miglink demo: data ready in {t1 - t0:.1f} s; running the study")

        def progress(stage: str) -> None:
            print(f"  {stage} ({time.perf_counter() - t1:.1f} s)", flush=True)

        run_study(data, out / "study", progress=progress)
    except MiglinkError as e:
        print(f"miglink: error: {e}", file=sys.stderr)
        return 2
    import json

    claims = json.loads((out / "study" / "claims.json").read_text())["claims"]
    for c in claims:
        print(f"  claim {c['id']}: {c['title']}: {c['verdict']}")
    report = (out / "study" / "report.html").resolve()
    print(f"miglink demo: done in {time.perf_counter() - t0:.1f} s")
    print(f"report: {report}" if report.exists() else f"results: {(out / 'study').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
