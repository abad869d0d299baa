"""A Holm-adjusted p is a function of every family member's p: when one member's p is withheld
by the gate (a small count), no Holm p may be shown, or (m - j + 1) times the withheld p could be
read back from a neighbour's."""

from __future__ import annotations

import pandas as pd

from miglink.designs.rows import make_row
from miglink.privacy import gate_results


def _row(outcome: str, events: int, p: float, holm: float) -> dict:
    r = make_row(
        design="D5", exposure=outcome, outcome="migraine", measure="IRR", method="sccs",
        role="primary", analysis=f"h_{outcome}", estimate=1.5, log_estimate=0.405, se_log=0.2,
        ci_low=1.01, ci_high=2.2, p_value=p, n_exposed=500, n_unexposed=0,
        events_exposed=events, events_unexposed=400,
    )  # fmt: skip
    r["holm_p_value"] = holm
    return r


def test_a_withheld_member_p_withholds_every_holm_p():
    rows = [_row("a", 3, 0.01, 0.03), _row("b", 50, 0.02, 0.04), _row("c", 60, 0.2, 0.2)]
    out = gate_results(pd.DataFrame(rows), 5)
    assert out.loc[0, "p_value"] is None or pd.isna(out.loc[0, "p_value"])
    assert out["holm_p_value"].isna().all(), out["holm_p_value"].tolist()


def test_holm_p_is_shown_when_no_member_is_withheld():
    rows = [_row("a", 30, 0.01, 0.03), _row("b", 50, 0.02, 0.04), _row("c", 60, 0.2, 0.2)]
    out = gate_results(pd.DataFrame(rows), 5)
    assert out["holm_p_value"].astype(float).tolist() == [0.03, 0.04, 0.2]
