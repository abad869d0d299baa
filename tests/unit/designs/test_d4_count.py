"""D4 count on a tiny literal feature world on DuckDB: persons and cases by migraine category,
and the vascular cohort among people with migraine, by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import pandas as pd

from miglink.claims.model import Settings
from miglink.designs import d4_vascular as d4
from miglink.designs.base import Task
from miglink.features.build import FeatureTables


def day(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days


OBS0, OBS1, INDEX, STROKE = day(2010, 1, 1), day(2020, 12, 31), day(2015, 6, 1), day(2016, 1, 1)
RECORDS = [
    (1, "migraine", day(2012, 1, 1)), (1, "migraine_with_aura", day(2012, 1, 1)),
    (1, "sle", INDEX), (1, "ischaemic_stroke", STROKE),
    (2, "migraine", day(2012, 1, 1)), (2, "migraine_without_aura", day(2012, 1, 1)),
    (3, "migraine", day(2013, 1, 1)),
    (4, "sle", INDEX),
    (5, "migraine_with_aura", day(2014, 1, 1)), (5, "migraine_without_aura", day(2014, 1, 1)),
]  # fmt: skip
TASKS = [
    Task("D4", "h_aura", "migraine_with_aura", "sle", "primary", ("h_aura",),
         contrast="aura_vs_no_aura", options={"kind": "aura"}),
    Task("D4", "h_vasc", "sle", "ischaemic_stroke", "primary", ("h_vasc",),
         subgroup="migraine", options={"kind": "vascular"}),
]  # fmt: skip


def tiny_features() -> FeatureTables:
    """Six women born 1980 in one stratum, observed 2010-2020, no visits. Categories: 1 and 5
    with aura, 2 without, 3 unspecified, 4 and 6 none; 1 (new SLE 2015) is the one vascular case
    among people with migraine (1, 2, 3), with a stroke half a year later."""
    n = 6
    persons = pd.DataFrame(
        dict(person_id=range(1, n + 1), sex=["F"] * n, birth_year=[1980] * n,
             obs_start_day=[OBS0] * n, obs_end_day=[OBS1] * n,
             death_day=pd.array([None] * n, dtype="Int64"),
             age_band=[40] * n, util_q=[1] * n, obs_band=[3] * n)
    )  # fmt: skip
    conditions = pd.DataFrame(
        dict(person_id=[r[0] for r in RECORDS], set_id=[r[1] for r in RECORDS],
             first_day=[r[2] for r in RECORDS],
             first_date=[dt.date(1970, 1, 1) + dt.timedelta(days=r[2]) for r in RECORDS])
    )  # fmt: skip
    return FeatureTables(
        persons=ibis.memtable(persons),
        conditions=ibis.memtable(conditions),
        index_events=ibis.memtable(conditions),
        visits_by_year=ibis.memtable(
            pd.DataFrame(dict(person_id=[1], year=[2000], visit_days=[1]))
        ),
        phenome=None,
        drugs=None,
        measurements=None,
        observations=None,
        util_cutpoints=[],
        resolution={},
        resolved_ids={
            "migraine_with_aura": frozenset({1}),
            "migraine_without_aura": frozenset({2}),
        },
        settings=Settings(),
    )


def test_count_on_a_tiny_population():
    counts = d4.count(tiny_features(), TASKS)
    assert counts.values == {"aura_resolved": True}
    totals = counts.frame("aura_totals").set_index("cat")["n"].sort_index()
    assert totals.to_dict() == {0: 2, 1: 1, 2: 2, 3: 1}
    cases = counts.frame("aura_cases")
    assert sorted(zip(cases["outcome"], cases["cat"], cases["k"], strict=True)) == [
        ("sle", 0, 1), ("sle", 2, 1)
    ]  # fmt: skip
    s = counts.frame("cohort_strata").sort_values("exposed").reset_index(drop=True)
    assert list(s["n"]) == [2, 1] and list(s["events"]) == [0, 1]
    assert list(s["person_days"]) == [2 * (OBS1 - INDEX), STROKE - INDEX]
    assert list(counts.frame("cohort_attrition")["n"]) == [1, 1]
    rows = d4.estimate(counts, TASKS, Settings()).rows
    assert [r["analysis"] for r in rows] == ["h_aura"] * 5 + ["h_vasc"]
    assert rows[-1]["n_exposed"] == 1 and rows[-1]["n_unexposed"] == 2


def test_subtype_codes_not_resolved():
    ft = dataclasses.replace(tiny_features(), resolved_ids={})
    counts = d4.count(ft, TASKS[:1])
    assert counts.values == {"aura_resolved": False} and counts.frames == {}
    (row,) = d4.estimate(counts, TASKS[:1], Settings()).rows
    assert row["not_analysed_reason"] == "migraine subtype codes not resolved"
