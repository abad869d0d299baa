"""Disclosure control for the comparative new-user cohort's tables (design D10).

* **Table 1 and the balance table**: a covariate's arm prevalence times the arm size (which the
  results and the attrition publish) gives back the persons with it, and its SMD with the arm
  sizes gives back the prevalences. So a covariate is shown only if, in each arm before and
  after adjustment, the persons with it and the persons without it are each 0 or at least the
  minimum cell; the rest are dropped (not masked), and the count columns are dropped from the
  balance table. The maximum |SMD| over all covariates (in ``d10_diagnostics``) is one number
  from which no count can be solved.
* **Preference-score distribution**: adjacent bins are merged until every bin's count in each
  arm is 0 or at least the minimum (a partition of the arm: no difference of shown counts is
  small); a last unsafe run joins the bin before it, and an arm too small for any safe bin is
  withheld whole.
"""

from __future__ import annotations

import pandas as pd

from miglink.privacy.partitions import is_safe

ARMS = ("target", "comparator")
PHASES = ("before", "after")
BALANCE_COLUMNS = (
    "comparison",
    "analysis",
    "covariate_id",
    "covariate_name",
    "smd_before",
    "smd_after",
)
TABLE1_COLUMNS = (
    "comparison",
    "analysis",
    "section",
    "covariate_id",
    "covariate_name",
    "n_target_before",
    "n_comparator_before",
    "pct_target_before",
    "pct_comparator_before",
    "pct_target_after",
    "pct_comparator_after",
    "smd_before",
    "smd_after",
)


def _safe_rows(df: pd.DataFrame, min_cell: int) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    for arm in ARMS:
        for ph in PHASES:
            n = df[f"n_{arm}_{ph}"].astype(float)
            total = df[f"n_{arm}_total_{ph}"].astype(float)
            with_it = n.map(lambda v: is_safe(v, min_cell))
            without = (total - n).map(lambda v: is_safe(v, min_cell))
            ok &= with_it & without
    return ok


def gate_balance(df: pd.DataFrame | None, min_cell: int) -> pd.DataFrame:
    """SMD before / after of every covariate whose counts pass (module docstring)."""
    if df is None or df.empty:
        return pd.DataFrame(columns=list(BALANCE_COLUMNS))
    return df[_safe_rows(df, min_cell)][list(BALANCE_COLUMNS)].reset_index(drop=True)


def gate_table1(df: pd.DataFrame | None, min_cell: int) -> pd.DataFrame:
    """Table 1 (prevalence per arm before / after) with the unsafe covariates dropped."""
    if df is None or df.empty:
        return pd.DataFrame(columns=list(TABLE1_COLUMNS))
    out = df[_safe_rows(df, min_cell)].copy()
    for arm, m in (("target", "t"), ("comparator", "c")):
        out[f"pct_{arm}_before"] = 100 * out[f"mean_{m}_before"]
        out[f"pct_{arm}_after"] = 100 * out[f"mean_{m}_after"]
    for c in ("n_target_before", "n_comparator_before"):
        out[c] = out[c].astype("int64")
    return out[list(TABLE1_COLUMNS)].reset_index(drop=True)


def merge_bins(bins: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """One comparison's bins merged left to right until each arm's count is safe."""
    runs: list[list[float]] = []  # [low, high, n_target, n_comparator]
    cur: list[float] | None = None
    for r in bins.sort_values("bin_low").itertuples():
        if cur is None:
            cur = [r.bin_low, r.bin_high, 0.0, 0.0]
        cur[1], cur[2], cur[3] = r.bin_high, cur[2] + r.n_target, cur[3] + r.n_comparator
        if is_safe(cur[2], min_cell) and is_safe(cur[3], min_cell):
            runs.append(cur)
            cur = None
    if cur is not None:
        if runs:
            last = runs[-1]
            runs[-1] = [last[0], cur[1], last[2] + cur[2], last[3] + cur[3]]
        else:
            runs.append(cur)
    out = pd.DataFrame(runs, columns=["bin_low", "bin_high", "n_target", "n_comparator"])
    for c in ("n_target", "n_comparator"):
        if not out[c].map(lambda v: is_safe(v, min_cell)).all():
            out[c] = None  # an arm too small for one safe bin: withheld whole
    return out


def gate_preference(df: pd.DataFrame | None, min_cell: int) -> pd.DataFrame:
    """The preference-score distribution per comparison, bins merged to safe counts."""
    cols = ["comparison", "bin_low", "bin_high", "n_target", "n_comparator"]
    if df is None or df.empty:
        return pd.DataFrame(columns=cols)
    parts = [
        merge_bins(g, min_cell).assign(comparison=cid)
        for cid, g in df.groupby("comparison", sort=False)
    ]
    out = pd.concat(parts, ignore_index=True)[cols]
    for c in ("n_target", "n_comparator"):
        out[c] = pd.Series([None if v is None or v != v else int(v) for v in out[c]], dtype=object)
    return out


def gate_d10_tables(tables: dict[str, pd.DataFrame], min_cell: int) -> dict[str, pd.DataFrame]:
    """Every D10 table as it may leave the program."""
    diag = tables.get("d10_diagnostics")
    return {
        "d10_table1": gate_table1(tables.get("d10_table1"), min_cell),
        "d10_balance": gate_balance(tables.get("d10_balance"), min_cell),
        "d10_preference": gate_preference(tables.get("d10_preference"), min_cell),
        "d10_diagnostics": diag.copy() if diag is not None else pd.DataFrame(),
    }
