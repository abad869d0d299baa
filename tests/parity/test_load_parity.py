"""DuckDB and Spark see the same CDM: identical checks, concept counts and matched records."""

from __future__ import annotations

from pathlib import Path

import pytest

from miglink.concepts import load_concept_sets
from miglink.concepts.match import records_in_sets, set_counts
from miglink.concepts.resolve import resolve_concept_sets
from miglink.sources import open_cdm
from miglink.sources.checks import run_checks

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MIMIC = DATA / "mimic-iv-demo-omop"


@pytest.mark.spark
def test_mimic_duckdb_spark_parity(spark, tmp_path):
    if not MIMIC.exists():
        pytest.skip("shared dataset missing")
    sets = {k: v for k, v in load_concept_sets().items() if v.domain == "condition"}
    out = {}
    for engine in ("duckdb", "spark"):
        cdm = open_cdm(MIMIC, engine=engine, cache_dir=tmp_path)
        assert cdm.engine == engine
        rep = run_checks(cdm).to_dict(min_cell=1)
        rep.pop("engine")
        resolved = resolve_concept_sets(cdm, sets)
        counts = set_counts(cdm, sets, resolved).sort_values("set_id").reset_index(drop=True)
        recs = records_in_sets(cdm, "condition", resolved)
        cols = ["person_id", "set_id", "event_date", "concept_id"]
        rows = recs.order_by(cols).execute()
        # drugs: a set on the most frequent drug concept exercises the end-date rule
        top = cdm.table("drug_exposure").drug_concept_id.value_counts().order_by("drug_concept_id")
        out[engine] = (rep, resolved, counts, rows, int(top.count().execute()))
    d, s = out["duckdb"], out["spark"]
    assert d[0] == s[0]
    assert d[1] == s[1]
    assert d[2].equals(s[2])
    assert d[3].equals(s[3]) and len(d[3]) > 0
    assert dict(zip(d[2].set_id, d[2].n_persons, strict=True))["migraine"] == 5


@pytest.mark.spark
def test_drug_end_dates_parity(spark, tmp_path):
    from miglink.concepts.resolve import ResolvedSet

    if not MIMIC.exists():
        pytest.skip("shared dataset missing")
    res = []
    for engine in ("duckdb", "spark"):
        cdm = open_cdm(MIMIC, engine=engine, cache_dir=tmp_path)
        de = cdm.table("drug_exposure")
        ids = sorted(
            int(x)
            for x in de.drug_concept_id.value_counts()
            .order_by([ibis_desc("drug_concept_id_count"), "drug_concept_id"])
            .limit(3)
            .drug_concept_id.execute()
        )
        rs = {"top": ResolvedSet("top", "drug", frozenset(ids), (), frozenset(), ("concept_id",))}
        r = records_in_sets(cdm, "drug", rs)
        cols = ["person_id", "event_date", "end_date", "concept_id"]
        res.append(r.order_by(cols).execute())
    assert res[0].equals(res[1]) and len(res[0]) > 100
    assert (res[0].end_date >= res[0].event_date).all()


def ibis_desc(col: str):
    import ibis

    return ibis.desc(col)
