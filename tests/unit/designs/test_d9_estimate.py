"""D9 tasks and estimate on hand-made counts (no engine): the share recorded first, its exact
CI and test, ties, the not-estimable path and the key row."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import beta

from miglink.claims.model import Study
from miglink.designs import d9_order as d9
from miglink.designs.base import HYPOTHESES_KEY, Counts


def _h(id_: str, exposure: str = "migraine", outcome: str = "any_autoimmune") -> dict:
    return {
        "id": id_,
        "text": id_,
        "design": "D9",
        "exposure": exposure,
        "outcome": outcome,
        "expected": "descriptive",
    }


STUDY = Study.model_validate(
    {
        "name": "d9 unit",
        "negative_controls": ["nc"],
        "autoimmune": ["sle"],
        "claims": [
            {
                "id": 9,
                "title": "t",
                "statement": "s",
                "hypotheses": [_h("h_order"), _h("h_sle", outcome="sle"), _h("h_order_again")],
            }
        ],
    }
)


def _counts(*recs: tuple[str, int, int, int]) -> Counts:
    return Counts(
        design="D9",
        frames={"order": pd.DataFrame(recs, columns=["analysis", "n", "first_n", "ties"])},
    )


def test_tasks_one_per_distinct_pair():
    tasks = d9.tasks(STUDY)
    got = [(t.analysis, t.exposure, t.outcome, t.role, t.hypotheses) for t in tasks]
    assert got == [
        (
            "h_order_again",
            "migraine",
            "any_autoimmune",
            "descriptive",
            ("h_order", "h_order_again"),
        ),
        ("h_sle", "migraine", "sle", "descriptive", ("h_sle",)),
    ]


def test_share_with_clopper_pearson_ci_and_exact_test():
    tasks = d9.tasks(STUDY)
    res = d9.estimate(
        _counts(("h_order_again", 10, 6, 2), ("h_sle", 3, 0, 3)), tasks, STUDY.settings
    )
    row, _ = res.rows
    # 10 pairs, 2 same-day: 6 of 8 with migraine first
    assert row["estimate"] == pytest.approx(0.75)
    assert (row["n_exposed"], row["n_unexposed"], row["events_exposed"]) == (6, 2, 2)
    # Clopper-Pearson (1934): lower = Beta(0.025; k, n-k+1), upper = Beta(0.975; k+1, n-k);
    # R binom.test(6, 8): 0.3491442 0.9681460
    assert row["ci_low"] == pytest.approx(beta.ppf(0.025, 6, 3), rel=1e-9)
    assert row["ci_high"] == pytest.approx(beta.ppf(0.975, 7, 2), rel=1e-9)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.3491442, 0.9681460), abs=5e-7)
    # exact two-sided test against 1/2: P(X >= 6) + P(X <= 2) = 2 * (28 + 8 + 1) / 256
    assert row["p_value"] == pytest.approx(74 / 256, rel=1e-12)
    assert (row["measure"], row["method"], row["role"]) == (
        "share",
        "clopper_pearson",
        "descriptive",
    )
    assert row["stratum"] == "both recorded after washout, ties excluded"
    assert row["note"].startswith("share with migraine recorded first")
    assert row[HYPOTHESES_KEY] == ("h_order", "h_order_again")
    assert res.controls == []


def test_only_ties_is_not_estimable():
    tasks = d9.tasks(STUDY)
    res = d9.estimate(
        _counts(("h_order_again", 0, 0, 0), ("h_sle", 3, 0, 3)), tasks, STUDY.settings
    )
    for row in res.rows:
        assert row["estimate"] is None
        assert row["n_unexposed"] == 0
    assert res.rows[1]["events_exposed"] == 3
    assert res.rows[1][HYPOTHESES_KEY] == ("h_sle",)
