"""D4 estimate on hand-made counts (no engine): the aura contrast (single stratum, so every OR is
ad/bc with Woolf's SE, to which the Mantel-Haenszel OR and the Robins-Breslow-Greenland variance
reduce), the incident cohort's rows (whole population, the groups at index and their ratios),
the not-analysed paths and the key rows; D4's tasks."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Settings, load_study
from miglink.designs import d4_incident
from miglink.designs import d4_vascular as d4
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task
from miglink.designs.rows import REASON_KEY

ST = Settings()
STRATUM = dict(sex="F", age_band=40, util_q=1, obs_band=2)
AURA = Task("D4", "h_aura", "migraine_with_aura", "sle", "primary", ("h_aura",),
            contrast="aura_vs_no_aura", options={"kind": "aura"})  # fmt: skip
VASC = Task("D4", "h_vasc", "sle", "ischaemic_stroke", "primary", ("h_vasc",),
            contrast="incident", options={"kind": "incident"})  # fmt: skip
AURA_STROKE = Task("D4", "h_as", "migraine_with_aura", "ischaemic_stroke", "primary", ("h_as",),
                   contrast="incident", options={"kind": "incident"})  # fmt: skip
#: (exposed events, person-years), (unexposed events, person-years) per cohort group
GROUPS = {"all": ((3, 50), (4, 200)), "migraine": ((2, 10), (2, 40)),
          "aura": ((1, 4), (1, 16)), "no_migraine": ((1, 40), (2, 160))}  # fmt: skip
ODD = Task("D4", "h_odd", "sle", "vte", "descriptive", ("h_odd",), subgroup="other",
           options={"kind": "unknown"})  # fmt: skip
#: persons (n) and SLE cases (k) per migraine category: none, without, with aura, unspecified
N = {0: (1000, 10), 1: (100, 2), 2: (100, 6), 3: (50, 1)}


def _counts(resolved: bool = True) -> Counts:
    totals = pd.DataFrame([dict(**STRATUM, cat=c, n=n) for c, (n, _k) in N.items()])
    cases = pd.DataFrame([dict(outcome="sle", **STRATUM, cat=c, k=k) for c, (_n, k) in N.items()])
    days = 365.25
    frames = dict(aura_totals=totals, aura_cases=cases)
    for g, ((e1, py1), (e0, py0)) in GROUPS.items():
        for idx, out in (("sle", "ischaemic_stroke"), ("migraine_with_aura", "ischaemic_stroke")):
            frames[f"cohort_{g}_strata"] = pd.concat(
                [frames.get(f"cohort_{g}_strata", pd.DataFrame())]
                + [pd.DataFrame(
                    [dict(index_set=idx, outcome_set=out, cell="a", exposed=x, n=n,
                          events=e, person_days=py * days)
                     for x, n, e, py in ((1, 10, e1, py1), (0, 40, e0, py0))]
                )], ignore_index=True,
            )  # fmt: skip
        frames[f"cohort_{g}_km"] = pd.DataFrame(
            dict(index_set="sle", outcome_set="ischaemic_stroke", exposed=[1, 0], month=[3, 3],
                 events=[e1, e0], n=[10, 40], censored=[10 - e1, 40 - e0])
        )  # fmt: skip
        frames[f"cohort_{g}_balance"] = pd.DataFrame(
            [dict(index_set="sle", exposed=x, n=10, age_sum=400.0, age_sumsq=16000.0,
                  visits_sum=0.0, visits_sumsq=0.0, female_sum=5.0, prior_sum=0.0)
             for x in (0, 1)]
        )  # fmt: skip
        frames[f"cohort_{g}_attrition"] = pd.DataFrame(
            dict(index_set=["sle"], step=[1], description=["new"], n=[10])
        )
    return Counts(design="D4", frames=frames, values={"aura_resolved": resolved})


def _woolf(a, b, c, d):
    return a * d / (b * c), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def test_aura_contrast_rows():
    rows = d4.estimate(_counts(), [AURA], ST).rows
    assert [r["method"] for r in rows] == ["mh_or_with_vs_without_aura"] + [
        "mantel_haenszel"
    ] * 3 + ["ratio_of_mh_odds_ratios"]
    key, without, with_, unspec, ratio = rows
    or_key, se_key = _woolf(6, 94, 2, 98)  # with aura vs without aura
    assert key["estimate"] == pytest.approx(or_key) and key["se_log"] == pytest.approx(se_key)
    assert (key["measure"], key["role"], key["stratum"], key[HYPOTHESES_KEY]) == (
        "ROR", "primary", "with vs without aura", ("h_aura",)
    )  # fmt: skip
    assert without["estimate"] == pytest.approx(_woolf(2, 98, 10, 990)[0])
    assert with_["estimate"] == pytest.approx(_woolf(6, 94, 10, 990)[0])
    assert unspec["estimate"] == pytest.approx(_woolf(1, 49, 10, 990)[0])
    assert without["stratum"] == "migraine without aura vs none"
    assert without["exposure"] == "migraine without aura" and without["role"] == "secondary"
    # one stratum: the reference cancels, the ratio of ORs equals the direct OR; its SE adds both
    se = math.hypot(_woolf(6, 94, 10, 990)[1], _woolf(2, 98, 10, 990)[1])
    assert ratio["estimate"] == pytest.approx(or_key) and ratio["se_log"] == pytest.approx(se)
    assert ratio["role"] == "sensitivity" and {r["analysis"] for r in rows} == {"h_aura"}
    assert sum(HYPOTHESES_KEY in r for r in rows) == 1


def test_incident_rows_groups_ratios_and_curves():
    res = d4.estimate(_counts(), [VASC], ST)
    key, mig, aura, none, r_mig, r_aura = res.rows
    assert key["estimate"] == pytest.approx((3 / 50) / (4 / 200), rel=1e-6)  # one cell
    assert key["se_log"] == pytest.approx(math.sqrt(1 / 3 + 1 / 4), rel=1e-6)
    assert (key["design"], key["method"], key["stratum"], key["measure"], key["role"]) == (
        "D4", "poisson_matched_strata", "whole population", "HR", "primary"
    )  # fmt: skip
    assert key[HYPOTHESES_KEY] == ("h_vasc",) and key["note"] == d4_incident.NOTE
    assert [r["stratum"] for r in (mig, aura, none)] == [
        "migraine at index", "migraine with aura at index", "no migraine at index"
    ]  # fmt: skip
    assert all(r["role"] == "secondary" and HYPOTHESES_KEY not in r for r in res.rows[1:])
    hr = {g: (e1 / py1) / (e0 / py0) for g, ((e1, py1), (e0, py0)) in GROUPS.items()}
    assert mig["estimate"] == pytest.approx(hr["migraine"], rel=1e-6)
    assert none["estimate"] == pytest.approx(hr["no_migraine"], rel=1e-6)
    # ratio of HRs on disjoint person-time: SE of the log ratio from both SEs (Altman & Bland)
    assert r_mig["measure"] == "RHR" and r_mig["method"] == "ratio_of_hazard_ratios"
    assert r_mig["estimate"] == pytest.approx(hr["migraine"] / hr["no_migraine"], rel=1e-6)
    se = math.hypot(math.sqrt(1 / 2 + 1 / 2), math.sqrt(1 / 1 + 1 / 2))
    assert r_mig["se_log"] == pytest.approx(se, rel=1e-6)
    assert r_aura["stratum"] == "migraine with aura at index vs no migraine at index"
    assert r_aura["estimate"] == pytest.approx(hr["aura"] / hr["no_migraine"], rel=1e-6)
    assert set(res.curves["analysis"]) == {"h_vasc"} and res.controls == []
    assert res.attrition.to_dict("records") == [
        {"analysis": "d4__sle", "step": 1, "description": "new", "n": 10}
    ]


def test_migraine_exposure_gets_only_the_whole_population_row():
    (row,) = d4.estimate(_counts(), [AURA_STROKE], ST).rows
    assert (row["exposure"], row["stratum"], row[HYPOTHESES_KEY]) == (
        "migraine_with_aura", "whole population", ("h_as",)
    )  # fmt: skip
    assert row["estimate"] == pytest.approx((3 / 50) / (4 / 200), rel=1e-6)


def test_incident_not_estimable_keeps_the_reason():
    c = _counts()
    s = c.frames["cohort_all_strata"]
    c.frames["cohort_all_strata"] = s.assign(events=[0, 4, 3, 4])
    row = d4.estimate(c, [VASC], ST).rows[0]
    assert row[REASON_KEY] == "not estimable: no events in one exposure group"


def test_groups_not_counted_give_not_estimable_rows():
    c = _counts()
    for f in list(c.frames):
        if f.startswith("cohort_aura_"):
            del c.frames[f]
    rows = d4.estimate(c, [VASC], ST).rows
    assert rows[2]["stratum"] == "migraine with aura at index"
    assert rows[2][REASON_KEY].startswith("not estimable") and math.isnan(rows[2]["estimate"])
    assert math.isnan(rows[5]["estimate"]) and rows[5][REASON_KEY]  # its ratio


def test_not_analysed_paths_and_row_order():
    rows = d4.estimate(_counts(resolved=False), [VASC, AURA, ODD], ST).rows
    # aura and unknown rows in task order, the cohort's after them (as the run always had)
    assert [r["analysis"] for r in rows] == ["h_aura", "h_odd"] + ["h_vasc"] * 6
    aura, odd = rows[0], rows[1]
    assert (aura["method"], aura["measure"], aura["not_analysed_reason"]) == (
        "not_analysed", "ROR", "migraine subtype codes not resolved"
    )  # fmt: skip
    assert aura[HYPOTHESES_KEY] == ("h_aura",) and aura["role"] == "primary"
    assert odd["not_analysed_reason"] == "unknown D4 hypothesis shape (None, other)"
    assert (odd["measure"], odd["role"], odd[HYPOTHESES_KEY]) == ("OR", "descriptive", ("h_odd",))


def test_tasks_on_the_bundled_study():
    study, _ = load_study(None)
    tasks = d4.tasks(study)
    ids = [h.id for _c, h in study.hypotheses() if h.design == "D4"]
    assert [t.analysis for t in tasks] == ids
    assert all(t.hypotheses == (t.analysis,) and t.role == "primary" for t in tasks)
    kinds = [t.options["kind"] for t in tasks]
    assert kinds == ["aura"] * 3 + ["incident"] * 5
    assert tasks[-1].exposure == "migraine_with_aura" and tasks[-1].outcome == "ischaemic_stroke"
