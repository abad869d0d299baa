"""D7 family history: estimate on hand-made counts, tasks, and count on a tiny CDM."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.calibrate import calibrate_groups, dropped_targets
from miglink.claims.model import Settings, load_study
from miglink.designs import d7_family as d7
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task

SETTINGS = Settings()
NCS = [f"nc{i}" for i in range(6)]


def _tasks() -> list[Task]:
    key = Task("D7", "h2x", "fh", "migraine", role="primary", hypotheses=("h2x",))
    return [key] + [Task("D7", "h2x", "fh", nc, role="negative_control") for nc in NCS]


def _tab(outcome: str, a: int, b: int, c: int, d: int) -> dict:
    return dict(outcome=outcome, sex="F", age_band=30, util_q=1, obs_band=1, a=a, b=b, c=c, d=d)


def _counts() -> Counts:
    rows = [_tab("migraine", 20, 80, 10, 90)]
    # controls with ORs spread around 1 (a null can be fitted on them)
    rows += [_tab(nc, 10 + i, 90 - i, 10, 90) for i, nc in enumerate(NCS)]
    return Counts("D7", {"2x2 h2x": pd.DataFrame(rows)}, {"absent": None, "no_records": []})


def test_tasks_follow_the_study():
    study, _ = load_study(None)
    tasks = d7.tasks(study)
    keys = [t for t in tasks if t.hypotheses]
    assert [t.analysis for t in keys] == ["h2_fh_ai_to_migraine", "h2_fh_migraine_to_ai"]
    assert all(t.role == "primary" and t.hypotheses == (t.analysis,) for t in keys)
    ncs = [t for t in tasks if t.role == "negative_control"]
    assert len(ncs) == 2 * len(study.negative_controls)


def test_key_row_is_the_hand_odds_ratio_and_alone_marked():
    res = d7.estimate(_counts(), _tasks(), SETTINGS)
    key = res.rows[0]
    # one stratum: MH OR = crude OR = (20 * 90) / (80 * 10) = 2.25 (hand computation)
    assert key["method"] == "mantel_haenszel" and key["estimate"] == pytest.approx(2.25)
    # Woolf SE of the log OR: sqrt(1/20 + 1/80 + 1/10 + 1/90)
    assert key["se_log"] == pytest.approx(math.sqrt(1 / 20 + 1 / 80 + 1 / 10 + 1 / 90))
    assert key[HYPOTHESES_KEY] == ("h2x",)
    assert sum(HYPOTHESES_KEY in r for r in res.rows) == 1
    methods = [r["method"] for r in res.rows[:3]]
    assert methods == ["mantel_haenszel", "crude_woolf", "logistic_grouped"]
    ncs = res.rows[3:]
    assert [r["stratum"] for r in ncs] == [f"negative control {nc}" for nc in NCS]
    assert {r["role"] for r in ncs} == {"negative_control"}
    assert ncs[1]["estimate"] == pytest.approx((11 * 90) / (89 * 10))


def test_key_row_is_calibrated_by_a_declared_group():
    res = d7.estimate(_counts(), _tasks(), SETTINGS)
    (group,) = res.controls
    cal = res.rows[0]
    assert group.name == "D7 h2x" and group.targets == [cal] and not group.drop_uncalibrated
    assert group.controls == res.rows[3:]
    assert cal["role"] == "primary" and cal[HYPOTHESES_KEY] == ("h2x",)
    summary = calibrate_groups(res.controls, SETTINGS.min_negative_controls)["D7 h2x"]
    assert summary["n_controls"] == len(NCS)
    assert cal["note"] == (
        f"calibrated on {len(NCS)} negative-control outcomes of the same exposure "
        f"(null mean {summary['mean']:.3f}, sd {summary['sd']:.3f})"
    )
    assert math.isfinite(cal["cal_estimate"]) and not dropped_targets(res.controls)


def test_too_few_controls_leave_the_key_row_raw():
    counts = _counts()
    tasks = _tasks()[:3]  # two controls: fewer than min_negative_controls
    res = d7.estimate(counts, tasks, SETTINGS)
    calibrate_groups(res.controls, SETTINGS.min_negative_controls)
    assert not dropped_targets(res.controls)
    assert res.rows[0].get("cal_estimate") is None
    assert res.rows[0]["estimate"] == pytest.approx(2.25)


def test_groups_rebuild_from_rows():
    res = d7.estimate(_counts(), _tasks(), SETTINGS)
    (again,) = d7.control_groups(res.rows)
    (group,) = res.controls
    assert again.name == group.name and again.targets == group.targets
    assert again.controls == group.controls


@pytest.mark.parametrize(
    ("values", "reason", "note"),
    [
        (
            {"absent": "observation table absent", "no_records": []},
            "observation table absent",
            "observation table absent: family-history design (D7) cannot run",
        ),
        (
            {"absent": None, "no_records": ["h2x"]},
            "no fh records",
            "no fh records in the observation table",
        ),
    ],
)
def test_not_analysed(values, reason, note):
    res = d7.estimate(Counts("D7", {}, values), _tasks(), SETTINGS)
    (row,) = res.rows
    assert row["method"] == "not_analysed" and row["not_analysed_reason"] == reason
    assert row["note"] == note and row[HYPOTHESES_KEY] == ("h2x",) and row["role"] == "primary"
    assert not res.controls


def test_count_on_a_tiny_cdm(tiny):
    study, ft = tiny
    tasks = d7.tasks(study)
    counts = d7.count(ft, tasks)
    assert counts.values == {"absent": None, "no_records": []}
    for name, frame in counts.frames.items():
        assert name.startswith("2x2 ") and "person_id" not in frame.columns
        assert set(frame["outcome"]) <= {t.outcome for t in tasks}
    res = d7.estimate(counts, tasks, study.settings)
    assert sum(HYPOTHESES_KEY in r for r in res.rows) == 2
