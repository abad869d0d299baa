"""``miglink demo`` (and ``make demo``): build the embedded synthetic population, run the whole
study, write the report. ``python -m miglink.demo`` stays as the same command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: Persons in the demo population (the size ``make demo`` is benchmarked on).
DEMO_PERSONS = 100_000
DEMO_SEED = 42


def run_demo(
    out: str | Path = "demo-output",
    persons: int = DEMO_PERSONS,
    seed: int = DEMO_SEED,
    echo: Callable[[str], None] = print,
    study: str | Path | None = None,
) -> Path:
    """Generate (or reuse) the synthetic CDM in ``out/data``, run the study into ``out/study``
    and return the report's path (or the results folder with no report). A population already
    in ``out/data`` is reused only when it has the asked size and seed, so ``--persons`` is
    never silently ignored."""
    from miglink.study import run_study
    from miglink.synth import generate

    out = Path(out)
    data = out / "data"
    t0 = time.perf_counter()
    if _same_population(data, persons, seed):
        echo(f"miglink demo: reusing the synthetic population in {data}")
    else:
        echo(f"miglink demo: generating {persons:,} synthetic persons (seed {seed}) in {data}")
        generate(persons=persons, seed=seed, out=data)
    t1 = time.perf_counter()
    echo(f"miglink demo: data ready in {t1 - t0:.1f} s; running the study")

    def progress(stage: str) -> None:
        echo(f"  {stage} ({time.perf_counter() - t1:.1f} s)")

    run_study(data, out / "study", study=study, progress=progress)
    claims = json.loads((out / "study" / "claims.json").read_text())["claims"]
    for c in claims:
        echo(f"  claim {c['id']}: {c['title']}: {c['verdict']}")
    report = (out / "study" / "report.html").resolve()
    echo(f"miglink demo: done in {time.perf_counter() - t0:.1f} s")
    return report if report.exists() else (out / "study").resolve()


def _same_population(data: Path, persons: int, seed: int) -> bool:
    """The folder holds a finished population of this size and seed (truth.json is written
    last; a population from before truth.json named them is trusted as before)."""
    truth = data / "truth.json"
    if not truth.exists():
        return False
    try:
        meta = json.loads(truth.read_text())
    except (OSError, ValueError):
        return False
    got = (meta.get("persons"), meta.get("seed")) if isinstance(meta, dict) else (None, None)
    return all(g is None or g == w for g, w in zip(got, (persons, seed), strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m miglink.demo", description=__doc__)
    ap.add_argument("--out", default="demo-output", help="output folder")
    ap.add_argument("--persons", type=int, default=DEMO_PERSONS)
    ap.add_argument("--seed", type=int, default=DEMO_SEED)
    args = ap.parse_args(argv)

    from miglink.errors import MiglinkError

    try:
        where = run_demo(args.out, args.persons, args.seed, echo=lambda m: print(m, flush=True))
    except MiglinkError as e:
        print(f"miglink: error: {e}", file=sys.stderr)
        return 2
    print(f"report: {where}" if where.suffix == ".html" else f"results: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
