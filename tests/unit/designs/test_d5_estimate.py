"""D5 drugs: estimate on hand-made counts (SCCS profiles, new-user cohort, burden), tasks, and
count on a tiny CDM."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Settings, load_study
from miglink.designs import d5_drugs as d5
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task
from miglink.designs.d5_new_user import NOTE

SETTINGS = Settings()
SCCS = Task(
    "D5", "h7s", "drug", "migraine", role="primary", hypotheses=("h7s",), options={"kind": "sccs"}
)
NU = Task(
    "D5",
    "h7n",
    "immunomodulators",
    "migraine",
    role="primary",
    hypotheses=("h7n",),
    contrast="new_user",
    options={"kind": "new_user"},
)
NCS = [f"nc{i}" for i in range(3)]
NU_NC = [
    Task(
        "D5",
        "h7n__nc",
        "immunomodulators",
        nc,
        role="negative_control",
        contrast="new_user",
        options={"kind": "new_user_nc", "of": "h7n"},
    )
    for nc in NCS
]
BURDEN = Task(
    "D5",
    "h7b",
    "nsaids",
    "moh",
    role="descriptive",
    hypotheses=("h7b",),
    contrast="burden",
    options={"kind": "burden"},
)


def _profiles() -> pd.DataFrame:
    """Two cases with one profile (baseline 100 d with 1 event, risk 50 d with 2 events each)."""
    return pd.DataFrame(
        {
            "pattern": [0, 0],
            "window": ["baseline", "risk"],
            "age_band": ["30", "30"],
            "length": [100, 50],
            "events": [2, 4],
            "n_persons": [2, 2],
        }
    )


def _burden() -> pd.DataFrame:
    return pd.DataFrame(
        {"both": [1, 1, 0, 0], "nsaid": [0, 1, 0, 1], "n": [10, 30, 50, 50], "moh": [1, 3, 2, 4]}
    )


def _values(**kw) -> dict:
    return {"drugs_absent": None, "sccs": {"h7s": "ok"}, **kw}


def test_tasks_follow_the_study():
    study, _ = load_study(None)
    tasks = d5.tasks(study)
    kinds = [t.options["kind"] for t in tasks]
    assert kinds.count("sccs") == 7 and kinds.count("burden") == 1
    assert kinds.count("new_user_nc") == len(study.negative_controls)
    # every SCCS drug has one negative-control task per negative-control outcome
    assert kinds.count("sccs_nc") == 7 * len(study.negative_controls)
    nc = [t for t in tasks if t.options["kind"] == "sccs_nc"]
    assert {t.role for t in nc} == {"negative_control"} and not any(t.hypotheses for t in nc)
    assert {(t.options["of"], t.analysis) for t in nc} == {
        (h, f"{h}__nc") for h in {t.analysis for t in tasks if t.options["kind"] == "sccs"}
    }
    assert {t.analysis for t in tasks if t.options["kind"] == "new_user_nc"} == {
        "h7_newuser_immunomodulator__nc"
    }
    assert [t.role for t in tasks if t.contrast == "burden"] == ["descriptive"]


def test_sccs_irr_by_hand():
    counts = Counts("D5", {"sccs h7s": _profiles()}, _values())
    key, pre = d5.estimate(counts, [SCCS], SETTINGS).rows
    # one profile, one age band: the conditional MLE is the rate ratio (4 / 50) / (2 / 100) = 4,
    # var(log IRR) = 1/4 + 1/2 (conditional binomial of the case's events; Farrington 1995)
    assert key["estimate"] == pytest.approx(4.0, rel=1e-8)
    assert key["se_log"] == pytest.approx(math.sqrt(1 / 4 + 1 / 2), rel=1e-6)
    assert (key["n_exposed"], key["events_exposed"], key["events_unexposed"]) == (2, 4, 2)
    assert key["person_years_exposed"] == pytest.approx(100 / 365.25)
    assert key["person_years_unexposed"] == pytest.approx(200 / 365.25)
    assert "no case crosses an age band: not age adjusted" in key["note"]
    assert key[HYPOTHESES_KEY] == ("h7s",) and HYPOTHESES_KEY not in pre
    assert pre["role"] == "secondary" and math.isnan(pre["estimate"])
    assert "no pre_exposure time" in pre["note"]


def _pre_profiles() -> pd.DataFrame:
    """One profile of two cases: baseline 100 d (2 events), pre-exposure 31 d (4), risk 50 d (2)."""
    return pd.DataFrame(
        {
            "pattern": [0, 0, 0],
            "window": ["baseline", "pre_exposure", "risk"],
            "age_band": ["30"] * 3,
            "length": [100, 31, 50],
            "events": [2, 4, 2],
            "n_persons": [2, 2, 2],
        }
    )


def test_sccs_key_counts_the_pre_exposure_window_as_baseline():
    """Key IRR: risk vs baseline + pre-exposure, (2/50) / (6/131); the pre-exposure row keeps
    its own IRR against baseline, (4/31) / (2/100), and the note flags event dependence."""
    counts = Counts("D5", {"sccs h7s": _pre_profiles()}, _values())
    key, pre = d5.estimate(counts, [SCCS], SETTINGS).rows
    assert key["estimate"] == pytest.approx((2 / 50) / (6 / 131), rel=1e-6)
    assert key["events_unexposed"] == 6 and key["person_years_unexposed"] == pytest.approx(
        2 * 131 / 365.25
    )
    assert pre["estimate"] == pytest.approx((4 / 31) / (2 / 100), rel=1e-6)
    assert pre["events_unexposed"] == 2
    assert pre["ci_low"] > 1 and "encounters lead to starts" in key["note"]


def _nc_tasks(outcomes: list[str]) -> list[Task]:
    return [
        Task(
            "D5",
            "h7s__nc",
            "drug",
            nc,
            role="negative_control",
            options={"kind": "sccs_nc", "of": "h7s"},
        )
        for nc in outcomes
    ]


def _nc_profile(risk_events: int) -> pd.DataFrame:
    p = _profiles()
    return p.assign(events=[6, risk_events])


def test_sccs_negative_controls_form_the_d5_sccs_group():
    """Estimable negative-control outcomes give one risk-window row each (no pre-exposure row);
    one not estimable gives none; the group "D5 SCCS" holds them and calibrates the key row."""
    ncs = [f"nc{i}" for i in range(6)]
    frames = {"sccs h7s": _profiles()}
    status = {}
    for i, nc in enumerate(ncs):
        status[f"h7s__nc {nc}"] = "ok" if i else "no_events"
        if i:
            frames[f"sccs_nc h7s__nc {nc}"] = _nc_profile(2 + i)
    counts = Counts("D5", frames, _values(sccs_nc=status))
    res = d5.estimate(counts, [SCCS, *_nc_tasks(ncs)], SETTINGS)
    nc_rows = [r for r in res.rows if r["role"] == "negative_control"]
    assert [r["outcome"] for r in nc_rows] == ncs[1:]
    assert all(r["stratum"].startswith("risk window") for r in nc_rows)
    assert all(HYPOTHESES_KEY not in r for r in nc_rows)
    (group,) = res.controls
    assert group.name == "D5 SCCS" and group.controls == nc_rows
    assert [r["analysis"] for r in group.targets] == ["h7s"]
    # a pooled run rebuilds the same group from the rows alone
    (again,) = d5.control_groups(res.rows)
    assert again.controls == group.controls and again.targets == group.targets
    from miglink.calibrate import calibrate_groups

    summary = calibrate_groups(res.controls, min_controls=5)
    assert summary["D5 SCCS"]["n_controls"] == 5
    assert math.isfinite(group.targets[0]["cal_estimate"])


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("no_eras", "no person with a migraine encounter and drug exposure"),
        ("no_events", "no exposed person with a migraine encounter in observation (drug)"),
    ],
)
def test_sccs_not_analysed(status, note):
    (row,) = d5.estimate(Counts("D5", {}, _values(sccs={"h7s": status})), [SCCS], SETTINGS).rows
    assert row["method"] == "not_analysed" and row["not_analysed_reason"] == "no exposed cases"
    assert row["note"] == note and row["measure"] == "IRR" and row[HYPOTHESES_KEY] == ("h7s",)


def _cohort_frames(with_strata: bool = True) -> dict:
    strata = pd.DataFrame(
        [
            ("immunomodulators", out, "c1", exp, n, ev, pd_)
            for out in ["migraine", *NCS]
            for exp, n, ev, pd_ in ((1, 10, 4, 3652.5), (0, 40, 4, 14610.0))
        ],
        columns=["index_set", "outcome_set", "cell", "exposed", "n", "events", "person_days"],
    )
    if not with_strata:
        strata = strata.iloc[:0]
    km = pd.DataFrame(
        columns=["index_set", "outcome_set", "exposed", "month", "events", "censored"]
    )
    bal = pd.DataFrame(
        columns=[
            "index_set",
            "exposed",
            "n",
            "age_sum",
            "age_sumsq",
            "female",
            "visits_sum",
            "visits_sumsq",
            "prior_nc",
        ]
    )
    att = pd.DataFrame(columns=["index_set", "step", "description", "n"])
    parts = dict(strata=strata, km=km, balance=bal, attrition=att)
    return {f"new_user h7n {k}": v for k, v in parts.items()}


def test_new_user_rows_and_declared_group():
    counts = Counts("D5", _cohort_frames(), _values(sccs={}))
    res = d5.estimate(counts, [NU, *NU_NC], SETTINGS)
    key, *ncs = res.rows
    # one matched cell: HR = (4 / 10 y) / (4 / 40 y) = 4, SE of log = sqrt(1/4 + 1/4)
    assert key["estimate"] == pytest.approx(4.0, rel=1e-6)
    assert key["se_log"] == pytest.approx(math.sqrt(0.5), rel=1e-5)
    assert key["method"] == "new_user_poisson_matched_strata" and key["note"] == NOTE
    assert key["stratum"] == "new users vs matched non-users" and key[HYPOTHESES_KEY] == ("h7n",)
    assert [r["analysis"] for r in ncs] == ["h7n__nc"] * 3
    assert {r["stratum"] for r in ncs} == {"negative control"}
    assert not any(HYPOTHESES_KEY in r for r in ncs)
    (group,) = res.controls
    assert group.name == "D5 h7n" and group.targets == [key] and group.controls == ncs
    assert not group.drop_uncalibrated


def test_new_user_without_cohort_is_not_analysed():
    counts = Counts("D5", _cohort_frames(with_strata=False), _values(sccs={}))
    res = d5.estimate(counts, [NU, *NU_NC], SETTINGS)
    (row,) = res.rows
    assert row["not_analysed_reason"] == "no new users" and row["measure"] == "HR"
    assert not res.controls


def test_burden_shares_by_hand():
    counts = Counts("D5", {"burden h7b": _burden()}, _values(sccs={}))
    rows = d5.estimate(counts, [BURDEN], SETTINGS).rows
    assert len(rows) == 6
    # with autoimmune disease: 4 of 40 have MOH, 30 of 40 NSAIDs, 3 of 30 NSAID users MOH
    assert [r["estimate"] for r in rows[:3]] == pytest.approx([4 / 40, 30 / 40, 3 / 30])
    assert [r["estimate"] for r in rows[3:]] == pytest.approx([6 / 100, 50 / 100, 4 / 50])
    assert [HYPOTHESES_KEY in r for r in rows] == [True] + [False] * 5
    assert rows[1]["note"] == "share of persons with an NSAID record"


def test_without_drug_table_only_burden_runs():
    why = "drug_exposure table absent"
    counts = Counts("D5", {"burden h7b": _burden()}, _values(drugs_absent=why, sccs={}))
    rows = d5.estimate(counts, [SCCS, NU, *NU_NC, BURDEN], SETTINGS).rows
    assert [r["method"] for r in rows[:2]] == ["not_analysed"] * 2
    assert [r["measure"] for r in rows[:2]] == ["IRR", "HR"]
    assert rows[0]["note"] == f"{why}: drug design (D5) cannot run"
    assert rows[3]["note"] == "drug_exposure absent"


def test_count_on_a_tiny_cdm(tiny):
    study, ft = tiny
    tasks = d5.tasks(study)
    counts = d5.count(ft, tasks)
    assert counts.values["drugs_absent"] is None
    assert set(counts.values["sccs"]) == {t.analysis for t in tasks if t.options["kind"] == "sccs"}
    nc = [t for t in tasks if t.options["kind"] == "sccs_nc"]
    assert set(counts.values["sccs_nc"]) == {f"{t.analysis} {t.outcome}" for t in nc}
    for name, frame in counts.frames.items():
        assert "person" not in frame.columns and "person_id" not in frame.columns, name
    res = d5.estimate(counts, tasks, study.settings)
    assert sum(HYPOTHESES_KEY in r for r in res.rows) == 9
