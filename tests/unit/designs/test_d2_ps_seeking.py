"""D2's healthcare-seeking PS covariates: each member's visit history at its own index day,
by hand on a tiny DuckDB table (one person serves two index days)."""

from __future__ import annotations

from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd

from miglink.designs.d2_ps_seeking import (
    NO_VISIT_DAYS,
    SEEKING_BASE,
    SEEKING_COLUMNS,
    SEEKING_WINDOWS,
    seeking_covariates,
)

EPOCH = pd.Timestamp("1970-01-01")


def _tables():
    # person 1: visits at days 1000 (index of row 0), 990, 950, 700, 100; person 2: none before
    # its index; observation from day 0 (person 1) and 800 (person 2)
    visits = pd.DataFrame(
        {"person_id": [1, 1, 1, 1, 1, 2], "day": [1000, 990, 950, 700, 100, 1200]}
    )
    visits["day"] = (EPOCH + pd.to_timedelta(visits["day"], unit="D")).dt.date
    persons = pd.DataFrame({"person_id": [1, 2], "obs_start_day": [0, 800]})
    members = pd.DataFrame(
        {"index_set": ["migraine"] * 3 + ["sle"], "member": [1, 2, 1, 1],
         "index_day": [1000, 1000, 960, 1000], "exposed": [1, 0, 0, 1]}
    )  # fmt: skip
    ft = SimpleNamespace(visit_days=ibis.memtable(visits), persons=ibis.memtable(persons))
    return ft, ibis.memtable(members), members


def test_visit_history_by_hand():
    ft, members, m = _tables()
    m = m[m.index_set == "migraine"].reset_index(drop=True)
    x, ids = seeking_covariates(ft, members, "migraine", m)
    got = pd.DataFrame(x.toarray(), columns=list(SEEKING_COLUMNS))
    assert len(SEEKING_COLUMNS) == len(SEEKING_WINDOWS) + 4
    np.testing.assert_array_equal(ids, -(SEEKING_BASE + np.arange(len(SEEKING_COLUMNS))))
    # row 0 (person 1, index 1000): gaps 10, 50, 300, 900 (the index day itself is not before)
    # row 1 (person 2, index 1000): no visit before index, 200 days observed
    # row 2 (person 1, index 960): gaps 10, 260, 860 (days 950, 700, 100; 990 is after)
    expect = pd.DataFrame(
        [
            [1, 2, 2, 3, 3, 4, 4, 10, 1000, 4 / 1000 * 365.25],
            [0, 0, 0, 0, 0, 0, 0, NO_VISIT_DAYS, 200, 0.0],
            [1, 1, 1, 2, 2, 3, 3, 10, 960, 3 / 960 * 365.25],
        ],
        columns=list(SEEKING_COLUMNS),
    )
    pd.testing.assert_frame_equal(got, expect.astype(np.float32))


def test_no_visit_table_gives_no_columns():
    ft, members, m = _tables()
    x, ids = seeking_covariates(SimpleNamespace(visit_days=None, persons=None), members, "sle", m)
    assert x.shape == (len(m), 0) and len(ids) == 0
