"""Helpers of the PostgreSQL tests: the read-only role, and two runs' artefacts equal to a
relative 1e-9 (frames row by row, JSON value by value)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

#: the read-only role's password: '/' and '@' must be percent-encoded in a URL, so both the raw
#: and the encoded form are looked for in every artefact
RO_USER = "miglink_ro"
RO_PASSWORD = "Mgl-pw/42@qz"
RO_PASSWORD_URL = "Mgl-pw%2F42%40qz"

RTOL = 1e-9
#: artefacts compared, and the fields that name the source or time a run (not results)
FRAMES = ("results.parquet", "curves.parquet", "prevalence.parquet", "attrition.parquet")
JSONS = ("claims.json", "calibration.json")


def sorted_frame(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), na_position="last").reset_index(drop=True)


def assert_frames_equal(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    assert len(a) == len(b), (what, len(a), len(b))
    text = [c for c in a.columns if not pd.api.types.is_numeric_dtype(a[c])]
    # a stable order that does not depend on last-digit differences of the numbers
    a = a.sort_values(text, na_position="last", kind="stable").reset_index(drop=True)
    b = b.sort_values(text, na_position="last", kind="stable").reset_index(drop=True)
    for c in a.columns:
        if c in text:
            assert (a[c].astype(str) == b[c].astype(str)).all(), (what, c)
            continue
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), (what, c)
        m = ~np.isnan(x)
        assert np.allclose(x[m], y[m], rtol=RTOL, atol=1e-12, equal_nan=True), (what, c)


def assert_json_equal(a, b, where: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_json_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_json_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12) or (
            math.isnan(a) and math.isnan(b)
        ), (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_runs_equal(a: Path, b: Path) -> None:
    """results, curves, prevalence, attrition, claims and calibration of two --out folders."""
    for name in FRAMES:
        x, y = pd.read_parquet(a / name), pd.read_parquet(b / name)
        assert len(x) > 0 or name == "attrition.parquet", name
        assert_frames_equal(x, y, name)
    for name in JSONS:
        assert_json_equal(
            json.loads((a / name).read_text()), json.loads((b / name).read_text()), name
        )
