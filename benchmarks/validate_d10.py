"""Validity of design D10 alone on the confounding-by-indication worlds (issue 16's bar).

    PYTHONPATH=src python benchmarks/validate_d10.py --persons 100000 \\
        --null-seeds 7101 7102 7103 --planted-seeds 7104 7105 7106

Generates worlds ``indication_null`` / ``indication_planted`` (validate.py's scenarios), runs only
design D10 of the bundled study (count, estimate, calibration, diagnostics: the whole study's
other designs read nothing these worlds plant) and reads each row against truth.json with
validate.py's own ``annotate`` / ``coverage``. Bar: the PS-adjusted CI covers the planted HR in
>= 90% of planted pairs, the unadjusted one does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import validate as v  # noqa: E402


def run_d10(w: v.World, work: Path) -> dict:
    import json

    from miglink.calibrate import calibrate_groups, dropped_targets
    from miglink.claims.attach import apply_diagnostics, label_key_rows
    from miglink.claims.model import load_study
    from miglink.designs import d10_comparative as d10
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.stats.level import interval_level
    from miglink.study import study_concept_sets
    from miglink.synth import generate

    cdm_dir = work / w.label
    if not (cdm_dir / "truth.json").exists():
        generate(persons=w.persons, seed=w.seed, out=cdm_dir, scenario=v.INDICATION[w.name])
    study, _ = load_study()
    t0 = time.perf_counter()
    ft = build_features(open_cdm(cdm_dir), study, study_concept_sets(study))
    tasks = d10.tasks(study)
    with interval_level(study.settings.alpha, study.settings.power):
        res = d10.estimate(d10.count(ft, tasks), tasks, study.settings)
        calibrate_groups(res.controls, study.settings.min_negative_controls)
        drop = dropped_targets(res.controls)
        rows = label_key_rows([r for r in res.rows if id(r) not in drop])
        table = apply_diagnostics(pd.DataFrame(rows), study.settings)
    t = time.perf_counter() - t0
    print(f"{w.label}: D10 {t:.1f} s", flush=True)
    truth = json.loads((cdm_dir / "truth.json").read_text())
    return {"world": w, "truth": truth, "results": table, "claims": [], "t_run": t}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--null-seeds", type=int, nargs="+", default=[7101, 7102, 7103])
    ap.add_argument("--planted-seeds", type=int, nargs="+", default=[7104, 7105, 7106])
    ap.add_argument("--work", type=Path, default=Path("/tmp/miglink-validate-d10"))
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    from miglink.claims.model import load_study

    study, _ = load_study()
    worlds = [v.World("indication_null", s, args.persons) for s in args.null_seeds]
    worlds += [v.World("indication_planted", s, args.persons) for s in args.planted_seeds]
    frames = [v.annotate(run_d10(w, args.work), study) for w in worlds]
    df = pd.concat(frames, ignore_index=True)
    df = df[df["design"] == "D10"]
    for kind in ("raw", "calibrated"):
        df[f"covers_{kind}"] = v.coverage(df, kind)
    cols = ["world", "group", "analysis", "estimate", "ci_low", "ci_high", "cal_ci_low"]
    cols += ["cal_ci_high", "true_value", "covers_raw", "covers_calibrated", "max_smd"]
    cols += ["diagnostics", "n_exposed", "events_exposed", "events_unexposed"]
    keys = df[~df["group"].str.contains("negative")]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(keys[cols].to_string(index=False))
        summary = df.groupby(["null_world", "group"])[["covers_raw", "covers_calibrated"]]
        print(summary.agg(["mean", "count"]).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
