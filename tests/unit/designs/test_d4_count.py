"""D4 count on a tiny literal feature world on DuckDB: persons and cases by migraine category,
and the whole-population incident cohort with its migraine / aura / no-migraine groups at index,
by hand."""

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
         contrast="incident", options={"kind": "incident"}),
]  # fmt: skip


def tiny_features(records: list[tuple] = RECORDS) -> FeatureTables:
    """Six women born 1980 in one stratum, observed 2010-2020, no visits. Categories: 1 and 5
    with aura, 2 without, 3 unspecified, 4 and 6 none (5 has subtype records but no "migraine"
    record). New SLE in 1 (migraine and aura since 2012, a stroke half a year later) and 4 (no
    migraine), both on 2015-06-01."""
    n = 6
    persons = pd.DataFrame(
        dict(person_id=range(1, n + 1), sex=["F"] * n, birth_year=[1980] * n,
             obs_start_day=[OBS0] * n, obs_end_day=[OBS1] * n,
             death_day=pd.array([None] * n, dtype="Int64"),
             age_band=[40] * n, util_q=[1] * n, obs_band=[3] * n)
    )  # fmt: skip
    conditions = pd.DataFrame(
        dict(person_id=[r[0] for r in records], set_id=[r[1] for r in records],
             first_day=[r[2] for r in records],
             first_date=[dt.date(1970, 1, 1) + dt.timedelta(days=r[2]) for r in records])
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
    rows = d4.estimate(counts, TASKS, Settings()).rows
    assert [r["analysis"] for r in rows] == ["h_aura"] * 5 + ["h_vasc"] * 6


def _arms(counts, group: str) -> list[tuple[int, int, int]]:
    """(n, events, person-days) per arm (unexposed first) of a cohort group."""
    s = counts.frame(f"cohort_{group}_strata").groupby("exposed")[["n", "events", "person_days"]]
    return [tuple(int(v) for v in r) for r in s.sum().sort_index().to_numpy()]


def test_incident_cohort_whole_population_and_groups_at_index():
    counts = d4.count(tiny_features(), TASKS)
    full = OBS1 - INDEX
    # whole population: cases 1 and 4; each is matched to 2 3 5 6 (the other case has SLE)
    assert _arms(counts, "all") == [(8, 0, 8 * full), (2, 1, (STROKE - INDEX) + full)]
    # migraine at index: case 1 with 2 and 3 (5 has no migraine record, 4 and 6 no migraine)
    assert _arms(counts, "migraine") == [(2, 0, 2 * full), (1, 1, STROKE - INDEX)]
    # aura at index: case 1 with 5
    assert _arms(counts, "aura") == [(1, 0, full), (1, 1, STROKE - INDEX)]
    # no migraine at index: case 4 with 5 and 6 (1 2 3 have migraine before 2015)
    assert _arms(counts, "no_migraine") == [(2, 0, 2 * full), (1, 0, full)]
    assert list(counts.frame("cohort_all_attrition")["n"]) == [2, 2]
    # KM counts for the key rows only
    assert not counts.frame("cohort_all_km").empty and counts.frame("cohort_aura_km").empty


def test_no_migraine_group_is_censored_at_a_first_migraine_record():
    """A comparator free of migraine at index leaves the no-migraine group at its first
    migraine record: person 6 gets migraine in 2017, so its follow-up ends the day before."""
    mig = day(2017, 3, 1)
    ft = tiny_features([*RECORDS, (6, "migraine", mig)])
    counts = d4.count(ft, TASKS[1:])
    full = OBS1 - INDEX
    assert _arms(counts, "no_migraine") == [(2, 0, full + (mig - 1 - INDEX)), (1, 0, full)]


def test_subtype_codes_not_resolved():
    ft = dataclasses.replace(tiny_features(), resolved_ids={})
    counts = d4.count(ft, TASKS[:1])
    assert counts.values == {"aura_resolved": False} and counts.frames == {}
    (row,) = d4.estimate(counts, TASKS[:1], Settings()).rows
    assert row["not_analysed_reason"] == "migraine subtype codes not resolved"
