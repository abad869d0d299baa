"""D4 estimate on hand-made counts (no engine): the aura contrast (single stratum, so every OR is
ad/bc with Woolf's SE, to which the Mantel-Haenszel OR and the Robins-Breslow-Greenland variance
reduce), the vascular cohort's rows, the not-analysed paths and the key rows; D4's tasks."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Settings, load_study
from miglink.designs import d4_vascular as d4
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task
from miglink.designs.rows import REASON_KEY

ST = Settings()
STRATUM = dict(sex="F", age_band=40, util_q=1, obs_band=2)
AURA = Task("D4", "h_aura", "migraine_with_aura", "sle", "primary", ("h_aura",),
            contrast="aura_vs_no_aura", options={"kind": "aura"})  # fmt: skip
VASC = Task("D4", "h_vasc", "sle", "ischaemic_stroke", "primary", ("h_vasc",),
            subgroup="migraine", options={"kind": "vascular"})  # fmt: skip
ODD = Task("D4", "h_odd", "sle", "vte", "descriptive", ("h_odd",), subgroup="other",
           options={"kind": "unknown"})  # fmt: skip
#: persons (n) and SLE cases (k) per migraine category: none, without, with aura, unspecified
N = {0: (1000, 10), 1: (100, 2), 2: (100, 6), 3: (50, 1)}


def _counts(resolved: bool = True) -> Counts:
    totals = pd.DataFrame([dict(**STRATUM, cat=c, n=n) for c, (n, _k) in N.items()])
    cases = pd.DataFrame([dict(outcome="sle", **STRATUM, cat=c, k=k) for c, (_n, k) in N.items()])
    days = 365.25
    strata = pd.DataFrame(
        [dict(index_set="sle", outcome_set="ischaemic_stroke", cell="a", exposed=x, n=n,
              events=e, person_days=py * days)
         for x, n, e, py in ((1, 10, 3, 50), (0, 40, 4, 200))]
    )  # fmt: skip
    km = pd.DataFrame(
        dict(index_set="sle", outcome_set="ischaemic_stroke", exposed=[1, 0], month=[3, 3],
             events=[3, 4], n=[10, 40], censored=[7, 36])
    )  # fmt: skip
    balance = pd.DataFrame(
        [dict(index_set="sle", exposed=x, n=10, age_sum=400.0, age_sumsq=16000.0,
              visits_sum=0.0, visits_sumsq=0.0, female_sum=5.0, prior_sum=0.0) for x in (0, 1)]
    )  # fmt: skip
    frames = dict(aura_totals=totals, aura_cases=cases, cohort_strata=strata, cohort_km=km,
                  cohort_balance=balance, cohort_attrition=pd.DataFrame())  # fmt: skip
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


def test_vascular_rows_and_curves():
    res = d4.estimate(_counts(), [VASC], ST)
    (r,) = res.rows
    assert r["estimate"] == pytest.approx((3 / 50) / (4 / 200), rel=1e-6)  # one cell: rate ratio
    assert r["se_log"] == pytest.approx(math.sqrt(1 / 3 + 1 / 4), rel=1e-6)
    assert (r["design"], r["method"], r["stratum"], r["analysis"], r["measure"]) == (
        "D4", "poisson_matched_strata_migraine", "among people with migraine", "h_vasc", "HR"
    )  # fmt: skip
    assert r["note"] == d4.VASCULAR_NOTE and r[HYPOTHESES_KEY] == ("h_vasc",)
    assert r["direction"] is None
    assert set(res.curves["analysis"]) == {"h_vasc"} and res.controls == []
    assert res.attrition.empty


def test_vascular_not_estimable_keeps_the_reason():
    c = _counts()
    c.frames["cohort_strata"] = c.frames["cohort_strata"].assign(events=[0, 4])
    (r,) = d4.estimate(c, [VASC], ST).rows
    assert r[REASON_KEY] == "not estimable: no events in one exposure group"
    assert r["note"] == d4.VASCULAR_NOTE


def test_not_analysed_paths_and_row_order():
    rows = d4.estimate(_counts(resolved=False), [VASC, AURA, ODD], ST).rows
    # aura and unknown rows in task order, the cohort's after them (as the run always had)
    assert [r["analysis"] for r in rows] == ["h_aura", "h_odd", "h_vasc"]
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
    assert kinds == ["aura"] * 3 + ["vascular"] * 4
