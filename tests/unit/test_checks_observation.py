"""The outside-observation check: one pass for people with one period, exact for several periods."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from miglink.sources import open_cdm
from miglink.sources.checks import run_checks

PERSONS = pd.DataFrame(
    {"person_id": [1, 2, 3, 4], "gender_concept_id": [8532, 8507, 8532, 8507]}
).assign(year_of_birth=1970)
# person 1: one period; person 2: two periods with a gap; person 3: one period; person 4: none
PERIODS = pd.DataFrame(
    {
        "person_id": [1, 2, 2, 3],
        "observation_period_start_date": ["2010-01-01", "2010-01-01", "2012-01-01", "2015-01-01"],
        "observation_period_end_date": ["2011-12-31", "2010-12-31", "2013-12-31", "2016-12-31"],
    }
)
RECORDS = [
    (1, "2010-06-01", False),
    (1, "2012-01-01", True),  # after the only period
    (2, "2010-06-01", False),
    (2, "2011-06-01", True),  # in the gap between the two periods
    (2, "2013-06-01", False),
    (2, "2014-06-01", True),
    (3, "2014-12-31", True),  # before the period
    (3, "2016-12-31", False),  # last day is inside
    (4, "2015-01-01", True),  # no period at all
]


def _write(folder: Path, periods: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    PERSONS.to_csv(folder / "person.csv", index=False)
    periods.to_csv(folder / "observation_period.csv", index=False)
    pd.DataFrame(
        {
            "person_id": [r[0] for r in RECORDS],
            "condition_concept_id": 4_000_000,
            "condition_start_date": [r[1] for r in RECORDS],
        }
    ).to_csv(folder / "condition_occurrence.csv", index=False)
    return folder


def _outside(rep) -> int:
    hits = [
        f
        for f in rep.findings()
        if f.check == "outside_observation" and f.table == "condition_occurrence"
    ]
    return hits[0].n_rows if hits else 0


@pytest.mark.parametrize("several_periods", [True, False])
def test_outside_observation_counts_every_record_outside_all_periods(tmp_path, several_periods):
    periods = PERIODS
    records = RECORDS
    if not several_periods:  # person 2 keeps only the first period: the one-pass path alone
        periods = PERIODS.drop(index=2)
    expected = 0
    for pid, day, _ in records:
        spans = periods[periods.person_id == pid]
        inside = (
            (spans.observation_period_start_date <= day)
            & (day <= spans.observation_period_end_date)
        ).any()
        expected += not inside
    assert expected == (5 if several_periods else 6)
    assert sum(r[2] for r in RECORDS) == 5
    rep = run_checks(open_cdm(_write(tmp_path / "cdm", periods)))
    assert _outside(rep) == expected
