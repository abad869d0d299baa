"""The stage cache holds each design's counts, not its rows: a run whose counts are cached
re-estimates without touching the engine, and gives the same results."""

from __future__ import annotations

import pandas as pd
import pytest

from miglink.claims.model import load_study
from miglink.sources import open_cdm
from miglink.stagecache import StageCache
from miglink.study import execute


class _NoEngine:
    """A CDM whose every use fails: proves a cached run never queries the data."""

    def __getattr__(self, name):
        raise AssertionError(f"the engine was touched ({name})")


@pytest.fixture(scope="module")
def small_cdm(tmp_path_factory):
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("cc") / "cdm"
    generate(persons=3_000, seed=17, out=out)
    return out


def test_cached_counts_re_estimate_without_the_engine(small_cdm, tmp_path):
    study, _ = load_study(None)
    first = execute(open_cdm(small_cdm), study, cache=StageCache(tmp_path / ("a" * 20)))
    cached = sorted(p.stem for p in (tmp_path / ("a" * 20)).glob("*.json"))
    assert {"check", "features", "counts_d1", "counts_d2", "counts_d9"} <= set(cached), cached
    cache = StageCache(tmp_path / ("a" * 20))
    again = execute(_NoEngine(), study, cache=cache)
    assert set(cache.reused) == set(cached)
    key = ["design", "analysis", "method", "stratum", "exposure", "outcome", "role", "hypothesis"]
    a = first.results.sort_values(key).reset_index(drop=True)
    b = again.results.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)
    assert first.calibration == again.calibration
    assert [c["verdict"] for c in first.claims] == [c["verdict"] for c in again.claims]
