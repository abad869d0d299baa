"""D6 biomarkers: estimate on hand-made stratum sums, tasks, and count on a tiny CDM."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Settings, load_study
from miglink.designs import d6_biomarkers as d6
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task

SETTINGS = Settings()
KEY = Task(
    "D6", "h1x", "migraine", "crp", role="primary", hypotheses=("h1x",), options={"stratum": "all"}
)
SEC = Task(
    "D6", "h1x", "chronic_migraine", "crp", options={"stratum": "chronic_migraine vs no migraine"}
)


def _sums() -> pd.DataFrame:
    # group 1: y = 0.4, 0.6, 0.4, 0.6; group 0: y = -0.1, 0.1, -0.1, 0.1 (one stratum)
    return pd.DataFrame(
        {
            "stratum": ["s", "s"],
            "group": [1, 0],
            "n": [4, 4],
            "sum": [2.0, 0.0],
            "sumsq": [1.04, 0.04],
        }
    )


def _values(**kw) -> dict:
    return {"absent": None, "no_values": [], "unresolved": [], **kw}


def test_tasks_follow_the_study():
    study, _ = load_study(None)
    tasks = d6.tasks(study)
    keys = [t for t in tasks if t.hypotheses]
    assert [t.analysis for t in keys] == ["h1_crp", "h1_crp_no_ai", "h1_esr", "h1_esr_no_ai"]
    assert [t.options["stratum"] for t in keys][:2] == ["all", "no autoimmune disease"]
    sec = [(t.analysis, t.exposure) for t in tasks if not t.hypotheses]
    assert sec == [(a, g) for a in ("h1_crp", "h1_esr") for g in d6.SECONDARY_GROUPS]


def test_ratio_of_geometric_means_by_hand():
    frames = {"sums h1x migraine": _sums(), "sums h1x chronic_migraine": _sums()}
    res = d6.estimate(Counts("D6", frames, _values()), [KEY, SEC], SETTINGS)
    key, sec = res.rows
    # one stratum: log RGM = mean difference 0.5 - 0.0; residual variance 0.08 / (8 - 2)
    assert key["estimate"] == pytest.approx(math.exp(0.5))
    assert key["se_log"] == pytest.approx(math.sqrt(0.08 / 6 * (1 / 4 + 1 / 4)))
    assert (key["n_exposed"], key["n_unexposed"]) == (4, 4)
    assert key[HYPOTHESES_KEY] == ("h1x",) and HYPOTHESES_KEY not in sec
    assert sec["role"] == "secondary" and sec["stratum"] == "chronic_migraine vs no migraine"
    assert not res.controls


def test_empty_sums_are_not_estimable():
    frames = {"sums h1x migraine": _sums().iloc[:0]}
    (row,) = d6.estimate(
        Counts("D6", frames, _values(unresolved=["chronic_migraine"])), [KEY, SEC], SETTINGS
    ).rows
    assert row["estimate"] is None and row["n_exposed"] == 0
    assert row["note"].endswith("persons with a crp value: n_exposed with, n_unexposed without")


@pytest.mark.parametrize(
    ("values", "reason", "note"),
    [
        (
            _values(absent="measurement table absent"),
            "measurement table absent",
            "measurement table absent: claim-1 biomarker design (D6) cannot run",
        ),
        (_values(no_values=["h1x"]), "no crp values", "no crp values in the measurement table"),
    ],
)
def test_not_analysed_skips_the_secondary_rows(values, reason, note):
    (row,) = d6.estimate(Counts("D6", {}, values), [KEY, SEC], SETTINGS).rows
    assert row["method"] == "not_analysed" and row["not_analysed_reason"] == reason
    assert row["note"] == note and row[HYPOTHESES_KEY] == ("h1x",)


def test_count_on_a_tiny_cdm(tiny):
    study, ft = tiny
    tasks = d6.tasks(study)
    counts = d6.count(ft, tasks)
    assert counts.values["absent"] is None
    for frame in counts.frames.values():
        assert list(frame.columns) == ["stratum", "group", "n", "sum", "sumsq"]
    rows = d6.estimate(counts, tasks, study.settings).rows
    assert sum(HYPOTHESES_KEY in r for r in rows) == 4
