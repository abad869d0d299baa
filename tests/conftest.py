"""Shared fixtures: the path to ../shared/data and one Spark session per test run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
