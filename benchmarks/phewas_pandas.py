"""The phenome-wide scan of migraine against every condition concept, in plain pandas.

Baseline (b) of issue 7 item 3 (benchmarks/bench_phewas.py runs it): the same estimates as
``miglink.designs.d8_specificity.phenome_ors`` -- one Mantel-Haenszel odds ratio of migraine per
standard condition concept, stratified on sex x age band x utilisation quintile x observation
band, with the Robins-Breslow-Greenland SE -- written the way an analyst would write it with pandas
and statsmodels, without miglink.

Which baseline is the fair one. The per-person part (the four strata and the migraine flag) is taken
as input, from miglink's feature build (a parquet file of person_id, sex, age_band, util_q,
obs_band, exposed); everything of the phenome is done here in pandas from the raw OMOP file:

    condition_occurrence.parquet -> person x concept (distinct) -> persons per concept (the
    min_persons selection, less the excluded concepts) -> per-concept, per-stratum 2x2 ->
    statsmodels StratifiedTable (MH OR, RBG SE) -> Wald CI and p.

Deriving the strata and the flag in pandas as well would mean re-implementing miglink's concept-set
resolution (descendants, source-value patterns) and its utilisation quantiles, i.e. a second
implementation of the feature build rather than of the scan; any difference there would make "the
same output" a matter of reconciling two definitions of migraine instead of measuring the scan. The
person table is small (one row per person) and read from parquet inside the timed run, so the pandas
timing still includes all its own input reading. PheTK gets the same person table (as its cohort
file), so all three tools answer the same question on the same persons.

Usage: python benchmarks/phewas_pandas.py DATA_DIR PERSONS_PARQUET SPEC_JSON OUT_PARQUET
(SPEC_JSON holds {"exclude_ids": [...], "min_persons": N}); prints one JSON line of timings.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable

STRATA = ["sex", "age_band", "util_q", "obs_band"]
Z95 = float(stats.norm.ppf(0.975))


def read_inputs(
    data_dir: str | Path, persons_path: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two columns of condition_occurrence the scan needs, and the person strata table."""
    co = pd.read_parquet(
        Path(data_dir) / "condition_occurrence.parquet",
        columns=["person_id", "condition_concept_id"],
    )
    persons = pd.read_parquet(persons_path, columns=["person_id", *STRATA, "exposed"])
    return co, persons


def person_concept(co: pd.DataFrame) -> pd.DataFrame:
    """Distinct person x standard condition concept (concept 0 = unmapped, left out)."""
    co = co[co["condition_concept_id"].notna() & (co["condition_concept_id"] != 0)]
    pc = co.drop_duplicates(["person_id", "condition_concept_id"])
    return pc.rename(columns={"condition_concept_id": "concept_id"}).reset_index(drop=True)


def select_phenotypes(pc: pd.DataFrame, exclude_ids, min_persons: int) -> list[int]:
    """Concepts recorded for at least ``min_persons`` persons, less the excluded ones."""
    sizes = pc.groupby("concept_id").size()
    keep = sizes[(sizes >= min_persons) & ~sizes.index.isin(list(exclude_ids))]
    return sorted(int(c) for c in keep.index)


def stratified_2x2(pc: pd.DataFrame, persons: pd.DataFrame, keep: list[int]) -> pd.DataFrame:
    """Cells a, b, c, d (exposed cases, exposed non-cases, unexposed cases, unexposed non-cases)
    for every selected concept and every stratum that has persons."""
    totals = (
        persons.groupby([*STRATA, "exposed"])
        .size()
        .unstack("exposed", fill_value=0)
        .reindex(columns=[0, 1], fill_value=0)
        .rename(columns={0: "n0", 1: "n1"})
        .reset_index()
    )
    cases = (
        pc[pc["concept_id"].isin(keep)]
        .merge(persons, on="person_id", how="inner")
        .groupby(["concept_id", *STRATA, "exposed"])
        .size()
        .unstack("exposed", fill_value=0)
        .reindex(columns=[0, 1], fill_value=0)
        .rename(columns={0: "k0", 1: "k1"})
        .reset_index()
    )
    grid = pd.DataFrame({"concept_id": keep}).merge(totals, how="cross")
    t = grid.merge(cases, on=["concept_id", *STRATA], how="left")
    k0 = t["k0"].fillna(0).astype("int64")
    k1 = t["k1"].fillna(0).astype("int64")
    out = t[["concept_id", *STRATA]].copy()
    out["a"] = k1
    out["b"] = t["n1"] - k1
    out["c"] = k0
    out["d"] = t["n0"] - k0
    return out


def mantel_haenszel_per_concept(tab: pd.DataFrame) -> pd.DataFrame:
    """MH OR and RBG SE per concept (statsmodels StratifiedTable), Wald 95% CI and p."""
    rows = []
    for cid, t in tab.groupby("concept_id", sort=True):
        cells = t[["a", "b", "c", "d"]].to_numpy(dtype=float)
        # a stratum with fewer than two persons adds nothing to the MH sums; dropping it avoids 0/0
        cells = cells[cells.sum(axis=1) >= 2]
        if len(cells) == 0:
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            st = StratifiedTable(cells.reshape(-1, 2, 2).transpose(1, 2, 0))
            log_or = float(np.log(st.oddsratio_pooled))
            se = float(st.logodds_pooled_se)
        if not (np.isfinite(log_or) and np.isfinite(se) and se > 0):
            continue
        rows.append(
            {
                "concept_id": int(cid),
                "log_or": log_or,
                "se": se,
                "n": int(t["a"].sum() + t["c"].sum()),
                "or": float(np.exp(log_or)),
                "ci_low": float(np.exp(log_or - Z95 * se)),
                "ci_high": float(np.exp(log_or + Z95 * se)),
                "p": float(2 * stats.norm.sf(abs(log_or / se))),
            }
        )
    return pd.DataFrame(rows)


def scan(
    data_dir: str | Path, persons_path: str | Path, exclude_ids, min_persons: int
) -> tuple[pd.DataFrame, dict]:
    """The whole pandas scan; returns the results and the wall time of each step (s)."""
    t0 = time.perf_counter()
    co, persons = read_inputs(data_dir, persons_path)
    t1 = time.perf_counter()
    pc = person_concept(co)
    del co
    t2 = time.perf_counter()
    keep = select_phenotypes(pc, exclude_ids, min_persons)
    tab = stratified_2x2(pc, persons, keep)
    t3 = time.perf_counter()
    res = mantel_haenszel_per_concept(tab)
    t4 = time.perf_counter()
    timings = {
        "pandas_read_s": t1 - t0,
        "pandas_person_concept_s": t2 - t1,
        "pandas_select_2x2_s": t3 - t2,
        "pandas_mh_s": t4 - t3,
        "pandas_total_s": t4 - t0,
        # the part that corresponds to miglink's scan, which starts from its cached person x
        # concept table: selection of the concepts, the stratified 2x2 and the MH fits
        "pandas_scan_s": t4 - t2,
    }
    return res, timings


def main() -> None:
    data_dir, persons_path, spec_path, out_path = sys.argv[1:5]
    spec = json.loads(Path(spec_path).read_text())
    res, timings = scan(data_dir, persons_path, spec["exclude_ids"], int(spec["min_persons"]))
    res.to_parquet(out_path, index=False)
    timings["pandas_phenotypes"] = int(len(res))
    timings["pandas_peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
