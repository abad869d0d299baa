"""D10's Table 1, balance table and preference-score distribution leave only safe counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from miglink.privacy.d10 import gate_balance, gate_preference, gate_table1, merge_bins
from miglink.privacy.tables import gated_tables

MIN = 5


def _balance() -> pd.DataFrame:
    """Four covariates; arms of 100 / 50 before, 40 / 40 after adjustment."""
    rows = []
    # (name, n_t_before, n_c_before, n_t_after, n_c_after)
    for i, (name, a, b, c, d) in enumerate(
        [
            ("common", 50, 20, 20, 18),  # safe everywhere
            ("rare in comparator", 30, 3, 12, 3),  # 3 < 5: hidden
            ("nearly everyone", 98, 50, 38, 40),  # 100 - 98 = 2 without it: hidden
            ("absent in comparator", 10, 0, 8, 0),  # 0 is a structural zero: shown
        ]
    ):
        rows.append(
            {
                "comparison": "c",
                "analysis": "h",
                "section": "demographics",
                "covariate_id": i,
                "covariate_name": name,
                "n_target_before": a,
                "n_comparator_before": b,
                "n_target_after": c,
                "n_comparator_after": d,
                "n_target_total_before": 100,
                "n_comparator_total_before": 50,
                "n_target_total_after": 40,
                "n_comparator_total_after": 40,
                "mean_t_before": a / 100,
                "mean_c_before": b / 50,
                "mean_t_after": c / 40,
                "mean_c_after": d / 40,
                "smd_before": 0.3,
                "smd_after": 0.01,
            }
        )
    return pd.DataFrame(rows)


def test_balance_and_table1_drop_covariates_with_small_counts():
    bal = gate_balance(_balance(), MIN)
    assert list(bal["covariate_name"]) == ["common", "absent in comparator"]
    assert not [c for c in bal.columns if c.startswith("n_")]  # no count column leaves
    t1 = gate_table1(_balance(), MIN)
    assert list(t1["covariate_name"]) == ["common", "absent in comparator"]
    assert t1.loc[0, "pct_target_before"] == 50.0
    for c in ("n_target_before", "n_comparator_before"):
        assert not [v for v in t1[c] if 0 < v < MIN]


def test_preference_bins_merge_until_each_arm_is_safe():
    bins = pd.DataFrame(
        {
            "comparison": "c",
            "bin_low": np.arange(6) / 6,
            "bin_high": np.arange(1, 7) / 6,
            "n_target": [0, 2, 4, 10, 1, 1],
            "n_comparator": [0, 6, 1, 9, 0, 3],
        }
    )
    out = merge_bins(bins, MIN)
    assert out["n_target"].sum() == 18 and out["n_comparator"].sum() == 19  # a partition
    for c in ("n_target", "n_comparator"):
        assert all(v == 0 or v >= MIN for v in out[c])
    assert out["bin_low"].iloc[0] == 0 and out["bin_high"].iloc[-1] == 1
    # the last unsafe run (1, 1 / 0, 3) joined the bin before it
    assert len(out) == 3
    tiny = bins.assign(n_target=[0, 1, 1, 0, 0, 1])  # 3 target persons: no safe bin at all
    gated = gate_preference(tiny, MIN)
    assert gated["n_target"].isna().all() and gated["n_comparator"].notna().all()


def test_gated_tables_carry_the_d10_tables():
    class Run:
        results = pd.DataFrame()
        curves = prevalence = attrition = pd.DataFrame()
        tables = {"d10_balance": _balance(), "d10_table1": _balance()}

    g = gated_tables(Run(), MIN)
    assert len(g["d10_balance"]) == 2 and len(g["d10_table1"]) == 2
    assert g["d10_preference"].empty and g["d10_diagnostics"].empty
