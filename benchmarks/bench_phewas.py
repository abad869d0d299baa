"""Benchmark the phenome-wide scan (PheWAS) of migraine against all condition concepts (issue 7.3).

On the same synthetic OMOP population (default 1,000,000 persons, seed 2024, reused from
``--work``), each tool in its own subprocess so that peak RSS (``resource.getrusage``) is its own:

  (i)   miglink: ``open_cdm`` + ``build_features`` (timed and reported apart: ``features_s``), then
        the scan ``miglink.designs.d8_specificity.phenome_ors`` exactly as ``run_study`` calls it
        (exposure = the index set "migraine", the migraine / autoimmune / negative-control concepts
        excluded, ``phenome_min_persons``). ``scan_s`` covers its engine queries on the cached
        feature tables, the per-concept Mantel-Haenszel fits (RBG SE) and the Wald CI / p.
        After timing, the same process exports the inputs of (ii) and (iii) (not timed).
  (ii)  pandas (benchmarks/phewas_pandas.py): reads condition_occurrence.parquet and the person
        strata table exported by (i); person x concept, selection, per-stratum 2x2 and statsmodels
        StratifiedTable in pandas. ``pandas_total_s`` includes its reading; ``pandas_scan_s`` is
        the part after the person x concept table (what miglink's scan covers).
  (iii) PheTK 0.3.6 ``PheWAS`` (method "logit"), in its own virtualenv (created on first use from
        benchmarks/requirements-phetk.txt), on the same persons and the same phenotypes:
        cohort file = the person table of (i) with migraine as the independent variable and the
        four strata as covariates (sex as PheTK's sex_at_birth column, age band, utilisation
        quintile and observation band as 0/1 dummies); phecode-count file = person x condition
        concept with the record count (each standard condition concept is a "phecode");
        ``phecode_to_process`` = the concepts miglink reports; ``min_phecode_count=1`` (a case is
        anyone with a record, as in miglink). PheTK looks every phecode up in its phecode map (for
        the sex restriction) and silently skips phecodes it does not find, so it gets a custom map
        (``icd_version="custom"``, PheTK's documented option): one row per concept and source code,
        phecode = concept id, sex "Both". ``phetk_s`` = ``PheWAS(...)`` (reads its csv files and the
        map) + ``.run()`` (all fits, PheTK's default multithreading with ``--phetk-workers``).

Speed-ups are PheTK / miglink scan (the bar: >= 20x), PheTK / (miglink features + scan), and
pandas / miglink. Estimates: pandas must equal miglink to 1e-9 relative (asserted); PheTK's
main-effects logistic OR is compared with the stratified MH OR (same persons, same phenotypes,
different model): number of phenotypes, median |difference in log OR|, correlation, and the share
of phenotypes where the two 95% CIs agree on excluding 1.

``--phetk-max-phenotypes K`` runs PheTK on K phenotypes spread over the list and extrapolates its
fit time per phenotype (labelled "extrapolated"); the default runs all of them.

Usage: python benchmarks/bench_phewas.py [SIZES...] [--work DIR] [--phetk-workers N]
       [--phetk-max-phenotypes K] [--markdown]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import child, machine, run_json
from scipy import stats

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-phetk.txt"


GEN = """
import sys
from miglink.synth import generate
generate(int(sys.argv[1]), 2024, sys.argv[2])
print("{}")
"""

MIGLINK = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
import numpy as np
import pandas as pd
from scipy import stats
from miglink.claims.model import load_study
from miglink.concepts import load_concept_sets
from miglink.designs.d8_specificity import phenome_ors
from miglink.designs.strata import STRATA, with_flag
from miglink.features.build import build_features
from miglink.sources import open_cdm

data, out = sys.argv[1], Path(sys.argv[2])
t1 = time.perf_counter()
study, _ = load_study(None)
sets = load_concept_sets()
cdm = open_cdm(data)
ft = build_features(cdm, study, sets)
t2 = time.perf_counter()

# --- the scan, as run_study's D8 phenome stage calls it -------------------------------------
st = study.settings
idx = st.index_set
exclude = set()
for sid, ids in ft.resolved_ids.items():
    if sid == idx or sid.startswith("migraine") or sid in study.autoimmune or sid in study.negative_controls:
        exclude |= set(ids)
bg = phenome_ors(ft, idx, exclude, st.phenome_min_persons)
z = stats.norm.ppf(0.975)
bg["or"] = np.exp(bg["log_or"])
bg["ci_low"] = np.exp(bg["log_or"] - z * bg["se"])
bg["ci_high"] = np.exp(bg["log_or"] + z * bg["se"])
bg["p"] = 2 * stats.norm.sf(np.abs(bg["log_or"] / bg["se"]))
t3 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

# --- not timed: the inputs of the pandas baseline and of PheTK --------------------------------
out.mkdir(parents=True, exist_ok=True)
bg.to_parquet(out / "miglink.parquet", index=False)
P = with_flag(ft.persons, ft.conditions, idx, "exposed")
P = P.select("person_id", *STRATA, "exposed").execute()
P.to_parquet(out / "persons.parquet", index=False)
phenotypes = sorted(int(c) for c in bg["concept_id"])
(out / "spec.json").write_text(json.dumps(
    {"exclude_ids": sorted(int(i) for i in exclude), "min_persons": int(st.phenome_min_persons),
     "index_set": idx, "phenotypes": phenotypes}))
# PheTK cohort: numeric columns only; sex at birth 0/1 (male = 1); strata as 0/1 dummies
ph = out / "phetk"
ph.mkdir(exist_ok=True)
dropped_sex = int((~P["sex"].isin(["F", "M"])).sum())
C = P[P["sex"].isin(["F", "M"])]
cohort = pd.DataFrame({"person_id": C["person_id"], "migraine": C["exposed"].astype(int),
                       "sex": (C["sex"] == "M").astype(int)})
dummies = []
for col in ("age_band", "util_q", "obs_band"):
    for lev in sorted(C[col].unique())[1:]:
        name = f"{col}_{lev}"
        cohort[name] = (C[col] == lev).astype(int)
        dummies.append(name)
cohort.to_csv(ph / "cohort.csv", index=False)
co = cdm.table("condition_occurrence")
co = co.filter(co.condition_concept_id.notnull() & (co.condition_concept_id != 0))
counts = co.group_by(person_id=co.person_id, phecode=co.condition_concept_id).aggregate(
    count=co.person_id.count(), first_event_date=co.condition_start_date.min()).execute()
counts.to_csv(ph / "phecode_counts.csv", index=False)
codes = co.select(phecode=co.condition_concept_id, ICD=co.condition_source_value).distinct().execute()
names = {}
if cdm.has("concept"):
    cc = cdm.table("concept")
    names = dict(cc.select("concept_id", "concept_name").execute().itertuples(index=False))
m = codes.sort_values(["phecode", "ICD"]).reset_index(drop=True)
m["ICD"] = m["ICD"].fillna("").astype(str)
m = m.assign(flag=10, phecode_string=[names.get(int(c), f"concept {c}") for c in m["phecode"]],
             category_num="00", phecode_category="condition concept", sex="Both", icd10_only=0,
             code_val=m["phecode"].rank(method="dense").astype(float))
m[["phecode", "ICD", "flag", "phecode_string", "category_num", "phecode_category", "sex",
   "icd10_only", "code_val"]].to_csv(ph / "phecode_map.csv", index=False)
(ph / "covariates.json").write_text(json.dumps({"covariates": ["sex", *dummies],
                                                "persons_without_binary_sex": dropped_sex}))
t4 = time.perf_counter()
print(json.dumps({
    "miglink_import_s": t1 - t0, "miglink_features_s": t2 - t1, "miglink_scan_s": t3 - t2,
    "miglink_total_s": t3 - t0, "miglink_phenotypes": int(len(bg)),
    "miglink_peak_rss_gb": rss, "export_s": t4 - t3, "persons_in_scan": int(len(P)),
    "person_concept_rows": int(len(counts)),
}))
"""

PHETK = r"""
import json, resource, sys, time
from contextlib import redirect_stdout
t0 = time.perf_counter()
from phetk.phewas import PheWAS
t1 = time.perf_counter()
a = json.loads(open(sys.argv[1]).read())
log = open(a["log"], "w")
with redirect_stdout(log):
    t2 = time.perf_counter()
    p = PheWAS(
        phecode_version="X",
        phecode_count_file_path=a["counts"],
        cohort_file_path=a["cohort"],
        covariate_cols=a["covariates"],
        independent_variable_of_interest="migraine",
        sex_at_birth_col="sex",
        male_as_one=True,
        icd_version="custom",
        phecode_map_file_path=a["map"],
        phecode_to_process=a["phenotypes"],
        min_cases=a["min_cases"],
        min_phecode_count=1,
        method="logit",
        output_file_path=a["output"],
    )
    t3 = time.perf_counter()
    p.run(parallelization=a["parallelization"], n_workers=a["n_workers"])
    t4 = time.perf_counter()
print(json.dumps({
    "phetk_import_s": t1 - t0, "phetk_init_s": t3 - t2, "phetk_run_s": t4 - t3,
    "phetk_s": t4 - t2, "phetk_tested": int(p.tested_count), "phetk_requested": len(a["phenotypes"]),
    "phetk_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
}))
"""


def ensure_phetk(venv: Path) -> str:
    """The PheTK virtualenv's python; created (pinned requirements) on first use."""
    python = venv / "bin" / "python"
    marker = venv / ".requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text().strip() == want:
        return str(python)
    t = time.perf_counter()
    print(f"creating {venv} from {REQUIREMENTS.name} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    log = venv / "pip-install.log"
    with open(log, "w") as f:
        p = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    if p.returncode != 0:
        raise SystemExit(f"pip install -r {REQUIREMENTS} failed:\n" + log.read_text()[-3000:])
    marker.write_text(want + "\n")
    print(f"PheTK venv ready in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return str(python)


def _spread(items: list, k: int) -> list:
    if k <= 0 or k >= len(items):
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, k).round().astype(int))
    return [items[i] for i in idx]


def compare_pandas(mig: pd.DataFrame, pdf: pd.DataFrame) -> dict:
    """pandas must reproduce miglink: same phenotypes, same n, estimates to 1e-9 relative."""
    assert sorted(mig["concept_id"]) == sorted(pdf["concept_id"]), "different phenotype sets"
    j = mig.merge(pdf, on="concept_id", suffixes=("_m", "_p"))
    assert (j["n_m"] == j["n_p"]).all(), "different case counts"
    rel = {}
    for col in ("or", "se", "ci_low", "ci_high", "p"):
        rel[col] = float((j[f"{col}_p"] / j[f"{col}_m"] - 1).abs().max())
    worst = max(rel.values())
    assert worst <= 1e-9, f"pandas differs from miglink by {worst:.2e} relative ({rel})"
    return {"pandas_max_rel_diff": worst, "pandas_phenotypes_equal": len(j)}


def compare_phetk(mig: pd.DataFrame, res: pd.DataFrame) -> dict:
    """PheTK's adjusted logistic OR against miglink's stratified MH OR, per phenotype."""
    r = res.rename(columns={"phecode": "concept_id"})
    r["concept_id"] = r["concept_id"].astype("int64")
    j = mig.merge(r, on="concept_id", how="inner")
    if j.empty:
        return {"phetk_compared": 0}
    d = (j["beta"] - j["log_or"]).abs()
    # PheTK takes its SE and CI from statsmodels' printed summary (3 decimals); its beta and p are
    # unrounded, so the Wald SE is recovered from them (the printed SE where beta is ~0)
    z = pd.Series(stats.norm.isf(j["p_value"].to_numpy() / 2), index=j.index)
    se_p = (j["beta"].abs() / z).where(z > 0.01, j["standard_error"])
    sig_p = j["p_value"] < 0.05  # the Wald 95% CI excludes 1
    sig_m = (j["ci_low"] > 1) | (j["ci_high"] < 1)
    return {
        "phetk_compared": int(len(j)),
        "phetk_cases_equal_n": int((j["cases"] == j["n"]).sum()),
        "logor_median_abs_diff": float(d.median()),
        "logor_max_abs_diff": float(d.max()),
        "logor_corr": float(np.corrcoef(j["beta"], j["log_or"])[0, 1]) if len(j) > 1 else None,
        "se_median_ratio": float((se_p / j["se"]).median()),
        "ci_excl1_agree_share": float((sig_p == sig_m).mean()),
        "ci_excl1_both": int((sig_p & sig_m).sum()),
        "ci_excl1_miglink_only": int((sig_m & ~sig_p).sum()),
        "ci_excl1_phetk_only": int((sig_p & ~sig_m).sum()),
        "phetk_converged": int(j["converged"].astype(str).str.lower().eq("true").sum()),
    }


def run_size(n: int, work: Path, a: argparse.Namespace) -> dict:
    data = work / f"synth_{n}"
    if not (data / "truth.json").exists():
        t = time.perf_counter()
        child(GEN, str(n), str(data))
        print(f"generated {n:,} persons in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    out = work / f"phewas_{n}"
    out.mkdir(parents=True, exist_ok=True)
    r: dict = {"persons": n}
    r.update(child(MIGLINK, str(data), str(out)))
    print(f"{n:,}: miglink done", file=sys.stderr, flush=True)

    # (ii) pandas
    r.update(
        run_json(
            [
                sys.executable,
                str(HERE / "phewas_pandas.py"),
                str(data),
                str(out / "persons.parquet"),
                str(out / "spec.json"),
                str(out / "pandas.parquet"),
            ],
            miglink=False,
        )
    )
    mig = pd.read_parquet(out / "miglink.parquet")
    r.update(compare_pandas(mig, pd.read_parquet(out / "pandas.parquet")))
    print(f"{n:,}: pandas done", file=sys.stderr, flush=True)

    # (iii) PheTK
    if not a.skip_phetk:
        python = ensure_phetk(Path(a.phetk_venv) if a.phetk_venv else work / "venv-phetk")
        spec = json.loads((out / "spec.json").read_text())
        cov = json.loads((out / "phetk" / "covariates.json").read_text())
        phen = [str(c) for c in _spread(spec["phenotypes"], a.phetk_max_phenotypes)]
        args = {
            "counts": str(out / "phetk" / "phecode_counts.csv"),
            "cohort": str(out / "phetk" / "cohort.csv"),
            "map": str(out / "phetk" / "phecode_map.csv"),
            "covariates": cov["covariates"],
            "phenotypes": phen,
            "min_cases": spec["min_persons"],
            "output": str(out / "phetk" / "results.tsv"),
            "log": str(out / "phetk" / "phetk_stdout.log"),
            "parallelization": "multithreading",
            "n_workers": a.phetk_workers,
        }
        (out / "phetk" / "args.json").write_text(json.dumps(args))
        r.update(
            run_json(
                [python, "-c", PHETK, str(out / "phetk" / "args.json")],
                log=out / "phetk" / "phetk_stderr.log",
                miglink=False,
            )
        )
        r["phetk_workers"] = a.phetk_workers
        r["persons_without_binary_sex"] = cov["persons_without_binary_sex"]
        r["phetk_extrapolated"] = len(phen) < len(spec["phenotypes"])
        if r["phetk_extrapolated"]:
            per = r["phetk_run_s"] / len(phen)
            r["phetk_run_per_phenotype_s"] = per
            r["phetk_s_measured"] = r["phetk_s"]
            r["phetk_s"] = r["phetk_init_s"] + per * len(spec["phenotypes"])
        res = pd.read_csv(out / "phetk" / "results.tsv", sep="\t", dtype={"phecode": str})
        r.update(compare_phetk(mig, res))
        r["phetk_over_miglink_scan"] = r["phetk_s"] / r["miglink_scan_s"]
        r["phetk_over_miglink_features_scan"] = r["phetk_s"] / (
            r["miglink_features_s"] + r["miglink_scan_s"]
        )
        print(f"{n:,}: PheTK done", file=sys.stderr, flush=True)
    r["pandas_scan_over_miglink_scan"] = r["pandas_scan_s"] / r["miglink_scan_s"]
    r["pandas_total_over_miglink_features_scan"] = r["pandas_total_s"] / (
        r["miglink_features_s"] + r["miglink_scan_s"]
    )
    return r


def markdown(results: list[dict]) -> str:
    lines = [
        "| persons | tool | timing covers | phenotypes | wall (s) | peak RSS (GB) | x miglink scan |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        n = f"{r['persons']:,}"
        ms = r["miglink_scan_s"]
        lines.append(
            f"| {n} | miglink scan | `phenome_ors` on the cached feature tables: engine queries, "
            f"2x2 per stratum, MH fits, Wald CI/p | {r['miglink_phenotypes']} | {ms:.2f} | "
            f"{r['miglink_peak_rss_gb']:.2f} (incl. features) | 1x |"
        )
        fs = r["miglink_features_s"] + ms
        lines.append(
            f"| {n} | miglink features + scan | `open_cdm` + `build_features` (every feature table "
            f"of the study, {r['miglink_features_s']:.1f} s) + the scan | "
            f"{r['miglink_phenotypes']} | {fs:.1f} | {r['miglink_peak_rss_gb']:.2f} | "
            f"{fs / ms:.1f}x |"
        )
        lines.append(
            f"| {n} | pandas scan | from the person x concept table: selection, 2x2 per stratum, "
            f"StratifiedTable MH fits | {r['pandas_phenotypes']} | {r['pandas_scan_s']:.2f} | "
            f"{r['pandas_peak_rss_gb']:.2f} (whole run) | {r['pandas_scan_over_miglink_scan']:.1f}x |"
        )
        lines.append(
            f"| {n} | pandas total | + reading condition_occurrence.parquet and the person table, "
            f"person x concept | {r['pandas_phenotypes']} | {r['pandas_total_s']:.1f} | "
            f"{r['pandas_peak_rss_gb']:.2f} | {r['pandas_total_s'] / ms:.1f}x |"
        )
        if "phetk_s" in r:
            label = "PheTK PheWAS (logit)"
            covers = (
                f"`PheWAS(...)` reading its cohort / phecode-count / map csv files "
                f"({r['phetk_init_s']:.1f} s) + `.run()`: one statsmodels Logit per phenotype, "
                f"{r['phetk_workers'] or 'default'} worker thread(s)"
            )
            if r.get("phetk_extrapolated"):
                label += " (extrapolated)"
                covers += (
                    f"; measured on {r['phetk_requested']} phenotypes "
                    f"({r['phetk_run_per_phenotype_s']:.2f} s each), scaled to all"
                )
            lines.append(
                f"| {n} | {label} | {covers} | {r['phetk_tested']} | {r['phetk_s']:.1f} | "
                f"{r['phetk_peak_rss_gb']:.2f} | {r['phetk_over_miglink_scan']:.0f}x |"
            )
    lines.append("")
    for r in results:
        n = f"{r['persons']:,}"
        s = (
            f"{n} persons: pandas = miglink on all {r['pandas_phenotypes_equal']} phenotypes "
            f"(max relative difference {r['pandas_max_rel_diff']:.1e} over OR, SE, CI, p)."
        )
        if "phetk_s" in r:
            s += (
                f" PheTK vs miglink: {r['phetk_over_miglink_scan']:.0f}x the scan, "
                f"{r['phetk_over_miglink_features_scan']:.1f}x features + scan. Estimates on "
                f"{r['phetk_compared']} common phenotypes (PheTK main-effects logistic OR vs "
                f"stratified MH OR): median |diff log OR| {r['logor_median_abs_diff']:.4f} "
                f"(max {r['logor_max_abs_diff']:.3f}), correlation {r['logor_corr']:.4f}, median "
                f"SE ratio {r['se_median_ratio']:.3f}, 95% CIs agree on excluding 1 for "
                f"{100 * r['ci_excl1_agree_share']:.1f}% ({r['ci_excl1_both']} both, "
                f"{r['ci_excl1_miglink_only']} miglink only, {r['ci_excl1_phetk_only']} PheTK "
                f"only); case counts equal for {r['phetk_cases_equal_n']}; PheTK reports "
                f"converged for {r['phetk_converged']} (the others hit statsmodels' 35 Newton "
                f"iterations because a covariate level has no cases, e.g. no stroke in an "
                f"age band: that level's coefficient diverges, the migraine coefficient is stable)."
            )
        lines.append(s)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[1_000_000])
    ap.add_argument("--work", default=str(HERE / "_work"))
    ap.add_argument("--phetk-venv", default=None, help="default: WORK/venv-phetk")
    ap.add_argument(
        "--phetk-workers",
        type=int,
        default=os.cpu_count(),
        help="PheTK's n_workers, threads (default: all cores; PheTK's own default, 2/3 of the "
        "cores, is 1 thread on 2 cores and 1.4x slower at 100k)",
    )
    ap.add_argument("--phetk-max-phenotypes", type=int, default=0, help="0 = all (default)")
    ap.add_argument("--skip-phetk", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in a.sizes:
        r = run_size(n, work, a)
        print(json.dumps(r), flush=True)
        results.append(r)
    if a.markdown:
        print(f"\n{machine()}\n")
        print(markdown(results))


if __name__ == "__main__":
    main()
