"""D2 count on a tiny literal feature world on DuckDB: who is matched, and the person-time,
events, KM, balance and attrition counts, all by hand."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from miglink.claims.model import Settings
from miglink.designs import d2_cohort
from miglink.designs.base import Task
from miglink.features.build import FeatureTables


def day(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days


OBS0, OBS1 = day(2010, 1, 1), day(2020, 12, 31)
INDEX = day(2015, 6, 1)


def tiny_features() -> FeatureTables:
    """Three women born 1980, observed 2010-2020, no visits (one matching cell in 2015).
    1: new migraine 2015-06-01, SLE 2017-06-01; 2: SLE 2016-06-01; 3: neither."""
    persons = pd.DataFrame(
        dict(person_id=[1, 2, 3], sex=["F"] * 3, birth_year=[1980] * 3,
             obs_start_day=[OBS0] * 3, obs_end_day=[OBS1] * 3,
             death_day=pd.array([None] * 3, dtype="Int64"))
    )  # fmt: skip
    recs = [(1, "migraine", INDEX), (1, "sle", day(2017, 6, 1)), (2, "sle", day(2016, 6, 1))]
    conditions = pd.DataFrame(
        dict(person_id=[r[0] for r in recs], set_id=[r[1] for r in recs],
             first_day=[r[2] for r in recs],
             first_date=[dt.date(1970, 1, 1) + dt.timedelta(days=r[2]) for r in recs])
    )  # fmt: skip
    visits = pd.DataFrame(dict(person_id=[1], year=[2000], visit_days=[1]))
    return FeatureTables(
        persons=ibis.memtable(persons),
        conditions=ibis.memtable(conditions),
        index_events=ibis.memtable(conditions),
        visits_by_year=ibis.memtable(visits),
        phenome=None,
        drugs=None,
        measurements=None,
        observations=None,
        util_cutpoints=[],
        resolution={},
        resolved_ids={},
        settings=Settings(),
    )


def test_count_on_a_tiny_cohort():
    tasks = [
        Task("D2", "d2__migraine__sle", "migraine", "sle", options={"direction": "forward"}),
        Task(
            "D2",
            "d2__migraine__nc_x",
            "migraine",
            "nc_x",
            "negative_control",
            options={"direction": "forward"},
        ),  # fmt: skip
    ]
    counts = d2_cohort.count(tiny_features(), tasks)
    s = counts.frame("strata").sort_values(["outcome_set", "exposed"]).reset_index(drop=True)
    # sex : birth-year band (1980 // 5) : index year : utilisation band : observation band (2015 -
    # 2010) : duration band (0 without eligible_from); no visit table: comparators indexed on 1's day
    cell = "F:396:2015:0:5:0"
    # case 1 and its two comparators (2 and 3: the only others in the cell)
    # sle: 1 has it after 731 days; 2 after 366; 3 is followed to the end of observation
    expect = pd.DataFrame(
        dict(index_set="migraine", outcome_set=["nc_x", "nc_x", "sle", "sle"], cell=cell,
             oband=5, exposed=[0, 1, 0, 1], n=[2, 1, 2, 1], events=[0, 0, 1, 1],
             person_days=[2 * (OBS1 - INDEX), OBS1 - INDEX, 366 + OBS1 - INDEX, 731])
    )  # fmt: skip
    pd.testing.assert_frame_equal(s, expect, check_dtype=False)
    km = counts.frame("km")
    assert set(km["outcome_set"]) == {"sle"}, "no KM counts for a negative control"
    ev = km[km.events > 0].sort_values("exposed")
    assert list(ev["month"]) == [366 // 30.4375, 731 // 30.4375]
    bal = counts.frame("balance").sort_values("exposed").reset_index(drop=True)
    assert list(bal["n"]) == [2, 1] and list(bal["age_sum"]) == [70.0, 35.0]
    assert list(bal["female_sum"]) == [2.0, 1.0]
    att = counts.frame("attrition")
    assert list(att["n"]) == [1, 1] and set(att["index_set"]) == {"migraine"}
    result = d2_cohort.estimate(counts, tasks, Settings())
    assert [r["n_exposed"] for r in result.rows] == [1, 1]
    assert list(result.attrition["analysis"]) == ["d2__migraine"] * 2


def test_count_without_tasks_touches_nothing():
    assert d2_cohort.count(None, []).frames == {}
