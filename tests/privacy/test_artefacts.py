"""Privacy: every artefact a run writes is scanned for small counts and for person ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from miglink.privacy import COUNT_COLUMNS

MIN_CELL = 5


def _person_ids(cdm: Path) -> set[str]:
    ids = pq.read_table(cdm / "person.parquet", columns=["person_id"]).column(0).to_pylist()
    # short ids (1..999) collide with ordinary numbers in any text; the generator's ids are long
    return {str(i) for i in ids if abs(int(i)) >= 100_000}


def _small(v) -> bool:
    if v is None or isinstance(v, bool):
        return False
    if isinstance(v, str):
        if v.startswith("<"):
            return False
        try:
            v = float(v)
        except ValueError:
            return False
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and 0 < f < MIN_CELL


def test_every_artefact_is_listed(synthetic_run):
    names = {p.name for p in synthetic_run.iterdir()}
    for n in ("results.parquet", "results.csv", "results.json", "claims.json", "run.json", "run.log"):
        assert n in names
    assert not [p for p in synthetic_run.iterdir() if p.name.endswith(".tmp")]


def test_no_small_counts_in_tables(synthetic_run):
    checked = 0
    for p in synthetic_run.glob("*.parquet"):
        df = pd.read_parquet(p)
        for c in [c for c in df.columns if c in COUNT_COLUMNS or c in ("at_risk", "events", "n", "n_persons", "n_cases")]:
            bad = [v for v in df[c].tolist() if _small(v)]
            assert not bad, f"{p.name}:{c} holds counts below {MIN_CELL}: {bad[:5]}"
            checked += len(df)
    res = pd.read_csv(synthetic_run / "results.csv", dtype=str)
    for c in [c for c in res.columns if c in COUNT_COLUMNS]:
        assert not [v for v in res[c].dropna() if _small(v)], c
    rows = json.loads((synthetic_run / "results.json").read_text())
    for r in rows:
        for c in COUNT_COLUMNS:
            assert not _small(r.get(c)), (c, r.get(c))
    assert checked > 0
    assert (res["n_exposed"].astype(str) == f"<{MIN_CELL}").any() or (
        res["events_exposed"].astype(str) == f"<{MIN_CELL}"
    ).any(), "expected at least one suppressed cell in a 30k-person run"


def test_data_quality_counts_are_gated(synthetic_run):
    run = json.loads((synthetic_run / "run.json").read_text())
    for f in run["data_quality"]["fatal"] + run["data_quality"]["warnings"]:
        assert not _small(f.get("n_rows")), f


def test_no_person_ids_anywhere(synthetic_run, synthetic_cdm):
    ids = _person_ids(synthetic_cdm)
    assert ids
    token = re.compile(r"-?\d{6,}")
    for p in synthetic_run.iterdir():
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).to_csv(index=False)
        else:
            text = p.read_text(encoding="utf-8", errors="replace")
        found = {t for t in token.findall(text)} & ids
        assert not found, f"{p.name} contains person ids {sorted(found)[:3]}"
        assert "person_id" not in text or p.suffix in (".html",), f"{p.name} names a person_id column"
