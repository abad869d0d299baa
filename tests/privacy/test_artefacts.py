"""Privacy: every artefact a run writes is scanned for small counts and for person ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from miglink.privacy import COUNT_COLUMNS
from miglink.privacy.spec import decode_table, validate_dir

MIN_CELL = 5


ID_OFFSET = 987_654_321_000  # person ids become 12-digit numbers no count could equal


@pytest.fixture(scope="module")
def big_id_cdm(synthetic_cdm, tmp_path_factory) -> Path:
    """The synthetic CDM with every person_id moved to a distinctive 12-digit range."""
    out = tmp_path_factory.mktemp("bigids")
    for f in synthetic_cdm.glob("*.parquet"):
        t = pq.read_table(f)
        if "person_id" in t.column_names:
            i = t.column_names.index("person_id")
            t = t.set_column(i, "person_id", pc.add(t.column(i), pa.scalar(ID_OFFSET, pa.int64())))
        pq.write_table(t, out / f.name)
    return out


@pytest.fixture(scope="module")
def big_id_run(big_id_cdm, tmp_path_factory) -> Path:
    from miglink.study import run_study

    out = tmp_path_factory.mktemp("bigid_run") / "run"
    run_study(big_id_cdm, out, min_cell=MIN_CELL)
    return out


def _person_ids(cdm: Path) -> set[str]:
    ids = pq.read_table(cdm / "person.parquet", columns=["person_id"]).column(0).to_pylist()
    return {str(i) for i in ids}


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
    for n in (
        "results.parquet",
        "results.csv",
        "results.json",
        "claims.json",
        "run.json",
        "run.log",
    ):
        assert n in names
    assert not [p for p in synthetic_run.iterdir() if p.name.endswith(".tmp")]


def test_no_small_counts_in_tables(synthetic_run):
    checked = 0
    for p in synthetic_run.glob("*.parquet"):
        df = pd.read_parquet(p)
        for c in [
            c
            for c in df.columns
            if c in COUNT_COLUMNS or c in ("at_risk", "events", "n", "n_persons", "n_cases")
        ]:
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
    # a suppressed count is written as -MIN_CELL (CohortMethod's convention; docs/results-files.md)
    assert (res["n_exposed"].astype(str) == f"-{MIN_CELL}").any() or (
        res["events_exposed"].astype(str) == f"-{MIN_CELL}"
    ).any(), "expected at least one suppressed cell in a 30k-person run"


def test_every_file_validates_against_the_results_specification(synthetic_run):
    """Issue 18: the OHDSI-shaped specification validates every written table (types, required
    columns, primary keys, the min-cell convention)."""
    assert validate_dir(synthetic_run, MIN_CELL) == []


def test_data_quality_counts_are_gated(synthetic_run):
    run = json.loads((synthetic_run / "run.json").read_text())
    for f in run["data_quality"]["fatal"] + run["data_quality"]["warnings"]:
        assert not _small(f.get("n_rows")), f


def test_no_person_ids_anywhere(big_id_run, big_id_cdm):
    ids = _person_ids(big_id_cdm)
    assert len(ids) > 1000
    token = re.compile(r"-?\d{6,}")
    for p in big_id_run.iterdir():
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).to_csv(index=False)
        else:
            text = p.read_text(encoding="utf-8", errors="replace")
        found = {t for t in token.findall(text)} & ids
        assert not found, f"{p.name} contains person ids {sorted(found)[:3]}"
        if p.suffix in (".parquet", ".csv"):
            assert "person_id" not in text.splitlines()[0], f"{p.name} has a person_id column"


DERIVED = (
    "estimate",
    "log_estimate",
    "se_log",
    "ci_low",
    "ci_high",
    "p_value",
    "cal_estimate",
    "cal_ci_low",
    "cal_ci_high",
    "cal_p_value",
    "mdrr",
)


def test_no_estimate_beside_a_suppressed_count(synthetic_run):
    """A row with a suppressed count (and every other row of its analysis, negative controls
    aside) publishes no estimate, SE, interval, p-value or MDRR: they would give the count back."""
    res = pd.read_csv(synthetic_run / "results.csv", dtype=str, keep_default_na=False)
    counts = ["n_exposed", "n_unexposed", "events_exposed", "events_unexposed"]
    labels = decode_table(res, "results")[counts]  # -5 -> "<5", count_labels -> "withheld"
    hidden = labels.apply(
        lambda r: any(isinstance(v, str) and (v.startswith("<") or v == "withheld") for v in r),
        axis=1,
    )
    assert hidden.sum() > 0
    nc = res["role"] == "negative_control"
    spread = set(res.loc[hidden & ~nc, "analysis"])
    must_hide = hidden | (res["analysis"].isin(spread) & ~nc)
    for c in DERIVED:
        shown = res.loc[must_hide, c].str.len() > 0
        assert not shown.any(), (
            c,
            res.loc[must_hide & (res[c].str.len() > 0), "analysis"].tolist()[:3],
        )
    assert "withheld" in " ".join(res.loc[must_hide, "note"])


def test_claim_summaries_show_only_published_numbers(synthetic_run):
    res = pd.read_csv(synthetic_run / "results.csv")
    published = set()
    for c in ("estimate", "ci_low", "ci_high", "cal_estimate", "cal_ci_low", "cal_ci_high"):
        published |= {f"{v:.2f}" for v in pd.to_numeric(res[c], errors="coerce").dropna()}
    claims = json.loads((synthetic_run / "claims.json").read_text())["claims"]
    assert claims
    for cl in claims:
        for tok in re.findall(r"\d+\.\d\d", cl["summary"]):
            assert tok in published, (cl["id"], cl["summary"])
