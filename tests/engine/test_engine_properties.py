"""Property-based engine tests (Hypothesis, derandomized so CI is deterministic).

- PostgreSQL and Spark (the ``engine`` fixture): on synthetic CDMs of 150-400 persons, every
  design's counts on DuckDB equal theirs.
  A Spark pass over the whole study costs minutes on 2 cores (D2's matching and D5's new-user
  cohort are most of it, and are compared on every design in test_engine_literal's "edge" CDM),
  so by default one example runs the designs that are a few queries each (D1, D3, D6-D9);
  ``MIGLINK_ENGINE_EXAMPLES=N`` runs N examples of every design (e.g. nightly).
- DuckDB: on random literal CDMs (same-day records, boundary dates, missing periods and end
  dates drawn on purpose), the counts do not depend on the row order of the input tables, which
  no engine defines (Spark reads partitions in any order), and keep the invariants every engine
  must: each D1 table holds every person once, D9's first and tied pairs are among its pairs.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

SPARK_EXAMPLES = int(os.environ.get("MIGLINK_ENGINE_EXAMPLES", "1"))
#: the designs the default example compares (None: all, when more examples are asked for)
SPARK_DESIGNS = (
    None if "MIGLINK_ENGINE_EXAMPLES" in os.environ else ("D1", "D3", "D6", "D7", "D8", "D9")
)

_CONDITIONS = (
    "migraine",
    "migraine_with_aura",
    "sle",
    "rheumatoid_arthritis",
    "multiple_sclerosis",
    "psoriasis",
    "ischaemic_stroke",
    "nc_lipoma",
)
_BASE = dt.date(2000, 1, 1)


def _date(days: int) -> str:
    return (_BASE + dt.timedelta(days=days)).isoformat()


# days after 2000-01-01, crowded round the 365-day boundary of a period starting on day 0
_days = st.one_of(st.sampled_from([0, 364, 365, 366, 1000]), st.integers(0, 6000))
_person = st.fixed_dictionaries(
    {
        "sex": st.sampled_from(["F", "M", "U"]),
        "birth_year": st.integers(1935, 1995),
        "period": st.one_of(st.tuples(st.integers(0, 400), st.integers(1500, 7000)), st.none()),
        "open_end": st.booleans(),
        "conditions": st.lists(st.tuples(st.sampled_from(_CONDITIONS), _days), max_size=5),
        "drugs": st.lists(
            st.tuples(st.sampled_from(["ibuprofen", "methotrexate"]), _days, st.booleans()),
            max_size=2,
        ),
        "crp": st.lists(st.tuples(_days, st.sampled_from([0.0, 0.5, 3.0, 12.5])), max_size=2),
    }
)
literal_cdms = st.lists(_person, min_size=8, max_size=24)


def _rows(people: list[dict], rows):
    for pid, p in enumerate(people, start=1):
        rows.person(pid, p["sex"], p["birth_year"])
        if p["period"] is not None:
            start, end = p["period"]
            rows.period(pid, _date(start), None if p["open_end"] and pid % 3 == 0 else _date(end))
        for key, d in p["conditions"]:
            rows.condition(pid, key, _date(d)).visit(pid, _date(d))
        for ing, d, open_end in p["drugs"]:
            rows.drug(pid, ing, _date(d), None if open_end else _date(d + 60))
        for d, value in p["crp"]:
            rows.lab(pid, "crp", _date(d), value)
    return rows


def _shuffled(rows, seed: int):
    rng = random.Random(seed)
    for recs in rows.tables.values():
        rng.shuffle(recs)
    return rows


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(people=literal_cdms)
def test_counts_do_not_depend_on_row_order(
    people, tmp_path_factory, write_cdm, rows_factory, counts_on, assert_counts_equal
):
    n_valid = sum(
        p["period"] is not None and not (p["open_end"] and i % 3 == 0)
        for i, p in enumerate(people, start=1)
    )
    assume(n_valid >= 2)  # a CDM without observed persons is refused, on every engine
    base = tmp_path_factory.mktemp("order")
    a = counts_on("duckdb", write_cdm(base / "a", _rows(people, rows_factory())))
    b = counts_on("duckdb", write_cdm(base / "b", _shuffled(_rows(people, rows_factory()), 7)))
    assert_counts_equal(a, b)
    tables = a["D1"].frame("tables")
    for _, t in tables.groupby(["exposure", "outcome"]):
        assert int(t[["a", "b", "c", "d"]].to_numpy().sum()) == n_valid
    for r in a["D9"].frame("order").to_dict("records"):
        assert r["first_n"] + r["ties"] <= r["n"]


@settings(
    max_examples=SPARK_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(persons=st.integers(150, 400), seed=st.integers(0, 2**20))
def test_engines_agree_on_synthetic_cdms(
    persons, seed, engine, tmp_path_factory, counts_on, assert_counts_equal
):
    """PostgreSQL's and Spark's counts on generated CDMs are DuckDB's."""
    from miglink.synth import generate

    if engine.name == "duckdb":
        pytest.skip("DuckDB is the reference the other engines are compared with")
    cdm = tmp_path_factory.mktemp("prop") / f"synth{persons}_{seed}"
    generate(persons=persons, seed=seed, out=cdm)
    assert_counts_equal(
        counts_on("duckdb", cdm, designs=SPARK_DESIGNS),
        engine.counts(cdm, designs=SPARK_DESIGNS),
    )
