"""Shared fixtures: the path to ../shared/data and one Spark session per test run."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark():
    """A local[2] Spark session with the settings measured in STACK.md."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark tests need Java (OpenJDK 17); none found on PATH or JAVA_HOME")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from miglink.sources.spark import local_spark_session

    session = local_spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic_cdm(tmp_path_factory) -> Path:
    """A 30k-person synthetic OMOP CDM (default scenario), generated once per test run."""
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("synth") / "cdm30k"
    generate(persons=30_000, seed=11, out=out)
    return out


@pytest.fixture(scope="session")
def synthetic_run(synthetic_cdm, tmp_path_factory) -> Path:
    """The whole default study run once on the synthetic CDM; returns the run directory."""
    from miglink.study import run_study

    out = tmp_path_factory.mktemp("runs") / "run30k"
    run_study(synthetic_cdm, out, min_cell=5)
    return out


VERDICTS = {"supported", "contradicted", "no evidence", "inconclusive", "not analysed", ""}


def assert_study_complete(results: pd.DataFrame, out: Path) -> None:
    """Every hypothesis has a verdict and a row; a row with no estimate says why; no estimate,
    interval or p-value is inf (MDRR may be: it is inf by definition when nothing is detectable,
    docs/statistics.md)."""
    from miglink.privacy.schema import columns_of

    assert (out / "report.html").stat().st_size > 0
    claims = json.loads((out / "claims.json").read_text(encoding="utf-8"))["claims"]
    hyps = [h for c in claims for h in c["hypotheses"]]
    assert hyps
    for h in hyps:
        assert h["verdict"] in VERDICTS, h
        assert h["analysis"], f"{h['id']}: no results row"
        rows = results[results.analysis == h["analysis"]]
        assert len(rows), f"{h['id']}: analysis {h['analysis']} not in the results"
        if not rows["estimate"].map(lambda v: v is not None and math.isfinite(float(v))).any():
            notes = rows["note"].fillna("").astype(str)
            assert (notes.str.len() > 0).any(), f"{h['id']}: not estimable without a reason"
    for col in columns_of("estimate", "interval", "p_value"):
        if col == "mdrr" or col not in results:
            continue
        vals = pd.to_numeric(results[col], errors="coerce")
        assert not vals.map(math.isinf).any(), f"inf in column {col}"


@pytest.fixture(scope="session")
def study_complete():
    """The completeness check of a whole-study run (tests/real_data, tests/validity)."""
    return assert_study_complete
