"""Benchmark the large-scale propensity model (issue 16): fit_propensity WITH cross-validation on
a synthetic sparse cohort of 500k persons x 20k covariates, wall time and peak RSS.

Usage: python benchmarks/bench_propensity.py [--n 500000] [--p 20000] [--seed 16] [--markdown]
The fit runs in a fresh process so its peak RSS (resource ru_maxrss) is the fit's own. The
baseline, measured in the same run, is one fixed-C L1 fit (liblinear) on the full data: the
ratio says how much the cross-validation costs on top of the one fit every PS model needs.
Bar (issue 16): <= 120 s on 2 cores, peak RSS <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import scipy.sparse as sp

try:
    from _common import child, machine
except ImportError:  # imported as benchmarks.bench_propensity
    from benchmarks._common import child, machine


def synthetic_cohort(
    n: int, p: int, seed: int, nnz_per_row: float = 100.0, n_true: int = 50
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary sparse covariates with power-law prevalence and treatment from a sparse true model.

    Each person draws Poisson(nnz_per_row) covariates with probability proportional to
    rank^-1.1 (a few near-universal covariates, a long tail of rare ones, as in
    FeatureExtraction output); the true PS model has ``n_true`` non-zero coefficients among the
    500 most common covariates.
    """
    rng = np.random.default_rng(seed)
    weight = np.arange(1, p + 1, dtype=float) ** -1.1
    cdf = np.cumsum(weight / weight.sum())
    k = rng.poisson(nnz_per_row, n)
    rows = np.repeat(np.arange(n, dtype=np.int32), k)
    cols = np.searchsorted(cdf, rng.random(int(k.sum()))).astype(np.int32)
    cols = np.minimum(cols, p - 1)
    x = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, p))
    x.sum_duplicates()
    x.data[:] = 1.0
    true = rng.choice(min(500, p), n_true, replace=False)
    beta = rng.normal(0, 0.5, n_true)
    eta = -0.3 + x[:, true] @ beta
    treatment = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return x, treatment


CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from bench_propensity import synthetic_cohort
from miglink.stats.propensity import fit_propensity
n, p, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
mode = sys.argv[5]
t0 = time.perf_counter()
x, t = synthetic_cohort(n, p, seed)
gen = time.perf_counter() - t0
t0 = time.perf_counter()
if mode == "cv":
    fit = fit_propensity(x, t, seed=seed, n_jobs=2)
else:
    fit = fit_propensity(x, t, seed=seed, c=float(mode))
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(json.dumps({"gen_s": gen, "fit_s": wall, "rss_gb": rss, "auc": fit.auc, "c": fit.c,
  "nnz": int(x.nnz), "n_t": int(t.sum()), "nonzero_coef": len(fit.coefficients),
  "sampled": fit.sampled, "cv": fit.cv_scores}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--p", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    here = str(__import__("pathlib").Path(__file__).resolve().parent)
    cv = child(CHILD, str(a.n), str(a.p), str(a.seed), here, "cv")
    base = child(CHILD, str(a.n), str(a.p), str(a.seed), here, repr(cv["c"]))
    rows = [
        ("fixed-C L1 fit (baseline)", base),
        ("fit_propensity with CV", cv),
    ]
    print(machine(), file=sys.stderr)
    print(json.dumps({"cv": cv, "baseline": base}), file=sys.stderr)
    print(f"n={a.n} p={a.p} seed={a.seed} nnz={cv['nnz']} treated={cv['n_t']}")
    print("| step | fit s | ratio to baseline | peak RSS GB | AUC | C | non-zero coefs |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['fit_s']:.1f} | {r['fit_s'] / base['fit_s']:.2f} | "
            f"{r['rss_gb']:.2f} | {r['auc']:.4f} | {r['c']:.4g} | {r['nonzero_coef']} |"
        )


if __name__ == "__main__":
    main()
