"""Benchmark the covariate builder (issue 16): covariate_records once, build_covariates per cohort.

Usage: python benchmarks/bench_covariates.py CDM [--rows 30000] [--seed 1]
The cohort stands in for a new-user cohort: each person's first drug record, a random sample of
``--rows`` persons. Prints one JSON line (times in seconds, peak RSS in MB).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def main() -> None:
    from miglink.features.covariates import CovariateSettings, build_covariates, covariate_records
    from miglink.sources import open_cdm

    ap = argparse.ArgumentParser()
    ap.add_argument("cdm")
    ap.add_argument("--rows", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    cdm = open_cdm(a.cdm)
    t0 = time.perf_counter()
    rec = covariate_records(cdm)
    n_records = int(rec.count().execute())
    t_records = time.perf_counter() - t0
    drugs = rec.filter(rec.domain == "drug")
    first = drugs.group_by("person_id").aggregate(index_day=drugs.day.min()).execute()
    first = first.sort_values("person_id")
    first = first.sample(n=min(a.rows, len(first)), random_state=a.seed).reset_index(drop=True)
    first["row_id"] = np.arange(len(first), dtype="int64")
    builds = []
    for _ in range(2):
        t0 = time.perf_counter()
        cov = build_covariates(rec, first, cdm, CovariateSettings())
        builds.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    x = cov.to_csr()
    t_csr = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "records": n_records,
        "covariate_records_s": round(t_records, 2),
        "rows": cov.n_rows,
        "covariates": len(cov.ref),
        "triples": int(x.nnz),
        "build_covariates_s": [round(b, 2) for b in builds],
        "to_csr_s": round(t_csr, 3),
        "peak_rss_mb": round(peak),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
