"""The report's comparative new-user cohort section renders what the gated D10 tables hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from miglink.report.artefacts import RunArtefacts
from miglink.report.d10 import balance_chart, d10_views, preference_chart
from miglink.report.render import _km, render_html
from miglink.schema import columns

A = "h7_ifn_vs_ga_migraine"


def _art() -> RunArtefacts:
    row = dict.fromkeys(columns())
    row |= {
        "analysis": A,
        "design": "D10",
        "role": "primary",
        "exposure": "interferon_beta",
        "outcome": "migraine",
        "measure": "HR",
        "method": "cox_ps_matched",
        "estimate": 1.4,
        "ci_low": 1.1,
        "ci_high": 1.8,
        "note": "PS AUC 0.75",
    }
    crude = row | {"analysis": f"{A}__unadjusted", "role": "secondary", "estimate": 0.8}
    att = pd.DataFrame(
        [
            (f"{A}__{arm}", i, d, n)
            for arm, k in (("target", 0), ("comparator", 1))
            for i, (d, n) in enumerate(
                [("Original cohorts", 900 - 300 * k), ("Matched on the propensity score", 500)]
            )
        ],
        columns=["analysis", "step", "description", "n"],
    )
    tables = {
        "d10_diagnostics": pd.DataFrame(
            [
                {
                    "comparison": "ms",
                    "analysis": A,
                    "auc": 0.75,
                    "equipoise": 0.6,
                    "n_covariates": 500,
                    "max_abs_smd_before": 0.5,
                    "max_abs_smd_after": 0.06,
                }
            ]
        ),
        "d10_preference": pd.DataFrame(
            {
                "comparison": "ms",
                "bin_low": [0, 0.5],
                "bin_high": [0.5, 1],
                "n_target": [300, 600],
                "n_comparator": [400, "<5"],
            }
        ),
        "d10_balance": pd.DataFrame(
            {
                "comparison": "ms",
                "analysis": A,
                "covariate_id": [1, 2],
                "covariate_name": ["a", "b"],
                "smd_before": [0.5, -0.2],
                "smd_after": [0.05, 0.01],
            }
        ),
        "d10_table1": pd.DataFrame(
            [
                {
                    "comparison": "ms",
                    "analysis": A,
                    "section": "demographics",
                    "covariate_id": 8532001,
                    "covariate_name": "sex: female",
                    "n_target_before": 600,
                    "n_comparator_before": 450,
                    "pct_target_before": 66.7,
                    "pct_comparator_before": 75.0,
                    "pct_target_after": 70.0,
                    "pct_comparator_after": 71.0,
                    "smd_before": -0.18,
                    "smd_after": -0.02,
                }
            ]
        ),
    }
    return RunArtefacts(
        run_dir=Path("."),
        results=pd.DataFrame([row, crude]),
        claims=[],
        attrition=att,
        tables=tables,
    )


def test_one_view_per_key_analysis_with_every_panel():
    (v,) = d10_views(_art(), _km)
    assert v["analysis"] == A and v["comparison"] == "ms"
    assert [s["target"] for s in v["attrition"]] == ["900", "500"]
    assert [s["comparator"] for s in v["attrition"]] == ["600", "500"]
    assert v["table1"][0]["name"] == "sex: female" and v["n_balance_shown"] == 2
    assert "<svg" in v["preference"] and "<svg" in v["balance"]
    html = render_html(_art())
    assert "Comparative new-user cohorts" in html and "sex: female" in html


def test_charts_need_data():
    assert preference_chart(pd.DataFrame()) is None and balance_chart(pd.DataFrame()) is None
    # an arm withheld whole (no safe bin) is left out of the chart, the other still drawn
    bins = pd.DataFrame(
        {"bin_low": [0.0], "bin_high": [1.0], "n_target": [None], "n_comparator": [40]}
    )
    assert preference_chart(bins) is not None
