"""Utilisation without the analysis's own record days (designs/strata.py), on literal tables on
DuckDB; every expected cell is counted by hand below.

One cut point, 2.0 visit days per observed year (band 1: <= 2, band 2: > 2); one observed year
each. Exposure "migraine", outcomes "sle" and "nc".

person  visit days  exposed  sle case  own record days (set: day)         sle band  nc band
1       3           yes      yes       migraine 10; sle 10, 20            3-2=1: 1  3-1=2: 1
2       3           yes      no        migraine 11                        3-1=2: 1  2: 1
3       3           no       yes       sle 12                             3-1=2: 1  3: 2
4       3           no       no (nc)   -                                  3: 2      3: 2
5       1           no       no        -                                  1: 1      1: 1
6       3           no       no        sle 13 (a record, not a case)      3-1=2: 1  3: 2
7       4           yes      yes       migraine 5; sle 5 (the same day)   4-1=3: 2  4-1=3: 2

Person 6 moves although not a case (the stratifier is the same for everyone); person 7's shared
day is left out once, not twice (4 - 2 = 2 would be band 1).
"""

from __future__ import annotations

import ibis
import pandas as pd

from miglink.designs import d1_prevalence as d1
from miglink.designs.strata import Utilisation, stratified_counts, with_flag
from miglink.features.build import FeatureTables

VISITS = {1: 3, 2: 3, 3: 3, 4: 3, 5: 1, 6: 3, 7: 4}
CONDITIONS = [(1, "migraine"), (2, "migraine"), (7, "migraine"), (1, "sle"), (3, "sle")]
CONDITIONS += [(7, "sle"), (4, "nc")]
RECORD_DAYS = [(1, "migraine", 10), (1, "sle", 10), (1, "sle", 20), (2, "migraine", 11)]
RECORD_DAYS += [(3, "sle", 12), (6, "sle", 13), (7, "migraine", 5), (7, "sle", 5)]
# outcome, util_q: (a, b, c, d), from the table in the module docstring
EXPECTED = {
    ("sle", 1): (1, 1, 1, 2),
    ("sle", 2): (1, 0, 0, 1),
    ("nc", 1): (0, 2, 0, 1),
    ("nc", 2): (0, 1, 1, 2),
}


def _tables():
    persons = pd.DataFrame(
        {
            "person_id": list(VISITS),
            "visit_days": list(VISITS.values()),
            "obs_years": [1.0] * len(VISITS),
            "util_q": [9] * len(VISITS),  # the study-wide band: replaced, never read
            # one sex, age and observation band (D1's other strata)
            "sex": ["F"] * len(VISITS),
            "age_band": [40] * len(VISITS),
            "obs_band": [1] * len(VISITS),
        }
    )
    cond = pd.DataFrame(CONDITIONS, columns=["person_id", "set_id"])
    rd = pd.DataFrame(RECORD_DAYS, columns=["person_id", "set_id", "day"])
    return ibis.memtable(persons), ibis.memtable(cond), ibis.memtable(rd)


def _cells(df: pd.DataFrame) -> dict:
    return {
        (r["outcome"], r["util_q"]): (r["a"], r["b"], r["c"], r["d"]) for r in df.to_dict("records")
    }


def test_counts_leave_out_the_exposure_and_outcome_days():
    P, C, rd = _tables()
    util = Utilisation(rd, ("migraine",), (2.0,))
    p = with_flag(P, C, "migraine", "exposed")
    tab = stratified_counts(p, C, "exposed", ["sle", "nc"], ["util_q"], util)
    assert list(dict.fromkeys(tab["outcome"])) == ["sle", "nc"]  # outcome-major, in order
    assert _cells(tab) == EXPECTED


def test_without_util_the_study_wide_band_is_used():
    P, C, _ = _tables()
    p = with_flag(P, C, "migraine", "exposed")
    tab = stratified_counts(p, C, "exposed", ["sle"], ["util_q"])
    assert _cells(tab) == {("sle", 9): (2, 1, 1, 3)}


def test_d1_count_uses_its_own_utilisation():
    P, C, rd = _tables()
    ft = FeatureTables(
        persons=P,
        conditions=C,
        index_events=None,
        visits_by_year=None,
        phenome=None,
        drugs=None,
        measurements=None,
        observations=None,
        util_cutpoints=[2.0],
        resolution={},
        resolved_ids={},
        settings=None,
        record_days=rd,
    )
    p = with_flag(P, C, "migraine", "exposed")
    want = stratified_counts(
        p, C, "exposed", ["sle", "nc"], ["util_q"], Utilisation(rd, ("migraine",), (2.0,))
    )
    got = d1.d1_counts(ft, "migraine", ["sle", "nc"])
    assert set(got.columns) >= {"outcome", "a", "b", "c", "d"}
    assert _cells(
        got.groupby(["outcome", "util_q"], as_index=False)[["a", "b", "c", "d"]].sum()
    ) == _cells(want)
