"""Compare two ungated results tables row for row (keyed), every column, to 1e-9.

usage: python benchmarks/compare_results.py BEFORE.parquet AFTER.parquet (see RESULTS.md, issue 14)
"""

import math
import sys

import pandas as pd

a = pd.read_parquet(sys.argv[1])
b = pd.read_parquet(sys.argv[2])
KEY = ["design", "analysis", "method", "stratum", "exposure", "outcome", "role", "hypothesis"]
for d in (a, b):
    d["hypothesis"] = d["hypothesis"].fillna("")
ka, kb = a.set_index(KEY), b.set_index(KEY)
print("rows", len(a), len(b), "dup keys", ka.index.duplicated().sum(), kb.index.duplicated().sum())
print("only before:", list(ka.index.difference(kb.index)))
print("only after:", list(kb.index.difference(ka.index)))
common = ka.index.intersection(kb.index)
cols = sorted(set(ka.columns) | set(kb.columns))
diffs = {}
for c in cols:
    if c not in ka.columns or c not in kb.columns:
        print("column only in one:", c)
        continue
    for k in common:
        x, y = ka.at[k, c], kb.at[k, c]
        nx = x is None or (isinstance(x, float) and math.isnan(x))
        ny = y is None or (isinstance(y, float) and math.isnan(y))
        if nx and ny:
            continue
        try:
            fx, fy = float(x), float(y)
            same = fx == fy or (
                math.isfinite(fx) and math.isfinite(fy) and abs(fx - fy) <= 1e-9 * max(1, abs(fx))
            )
        except (TypeError, ValueError):
            same = str(x) == str(y)
        if not same:
            diffs.setdefault(c, []).append((k, x, y))
for c, v in diffs.items():
    print(f"{c}: {len(v)} rows differ; e.g.")
    for k, x, y in v[:4]:
        print("   ", k[:2], k[7], repr(x), "->", repr(y))
print("DIFFERENT COLUMNS:", list(diffs) or "none")
