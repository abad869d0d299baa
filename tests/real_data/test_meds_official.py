"""The official MEDS layout (data/<split>/*.parquet + metadata/) as shipped: 20 subjects."""

from __future__ import annotations

from pathlib import Path

import pytest

from miglink.sources import open_cdm

MEDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mimic-iv-demo-meds"

pytestmark = pytest.mark.skipif(not MEDS.exists(), reason="shared datasets not found")


@pytest.fixture(scope="module")
def cdm(tmp_path_factory):
    return open_cdm(MEDS, cache_dir=tmp_path_factory.mktemp("cache"))


def test_official_shards_only(cdm):
    # mimic-iv-demo-meds/SOURCE.md: tuning 10 + held_out 10 subjects; the quickstart file in the
    # same folder is not read when data/ exists.
    p = cdm.table("person").execute()
    assert len(p) == 20
    assert set(p.gender_concept_id) <= {8507, 8532}
    assert p.year_of_birth.notna().all()  # from MEDS_BIRTH


def test_content_matches_source_md(cdm):
    # SOURCE.md, "official shards present (20)": migraine 1, CRP 1 person with 3 rows, ESR 0
    c = cdm.table("condition_occurrence")
    mig = c.filter(c.condition_source_value.re_search("^(G43|346)")).person_id.nunique().execute()
    assert mig == 1
    m = cdm.table("measurement")
    crp = m.filter(m.measurement_source_value == "1988-5").execute()
    assert crp.person_id.nunique() == 1 and len(crp) == 3
    assert m.filter(m.measurement_source_value == "4537-7").count().execute() == 0
    # rows per shard: 42,554 + 69,620 (SOURCE.md); labs are the bulk of them
    assert 50_000 < m.count().execute() < 112_174


def test_deaths_and_periods(cdm):
    d = cdm.table("death").execute()
    op = cdm.table("observation_period").execute()
    assert len(op) == 20
    merged = d.merge(op, on="person_id")
    # a death date is never long after the last recorded event
    assert ((merged.death_date - merged.observation_period_end_date).dt.days <= 366).all()
