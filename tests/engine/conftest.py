"""Engine tests: every design's ``count`` on DuckDB, PostgreSQL and Spark must give the same
counts.

Helpers (as fixtures, since tests import no conftest under ``--import-mode=importlib``):

- ``engine``: parametrised over DuckDB, PostgreSQL and Spark (as ehrQL's engine tests are);
  ``engine.counts(cdm_path, designs=None)`` puts a tiny CDM where the engine reads it (DuckDB:
  the folder; PostgreSQL: a schema of the session's private cluster, loaded with ``miglink
  load``'s loader; Spark: a Parquet copy) and returns every design's counts. The Spark case
  carries the ``spark`` mark; the PostgreSQL case skips when no server binaries exist;

- ``vocab_cdm``: a 200-person synthetic CDM (session-scoped) whose vocabulary tables (concept,
  concept_ancestor, concept_relationship) every tiny CDM reuses, so the bundled concept sets
  resolve exactly as they do on synthetic data;
- ``write_cdm(folder, rows)``: a tiny literal CDM from rows built with :class:`Rows`;
- ``counts_on(engine, cdm_path)``: every design's counts on that engine (features built once);
- ``assert_counts_equal(a, b)``: two engines' counts agree (row order aside).

The row builders take the synthetic vocabulary's codes by name (``"sle"``, ``"ibuprofen"``,
``"crp"``), so a test says which disease a record is, not which concept id it carries.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from miglink.designs.base import Counts
from miglink.synth import catalogue as cat
from miglink.synth import vocab as vocab_mod
from miglink.synth.writer import SCHEMAS, VOCAB_TABLES

#: Spark plan strings beyond this many characters are truncated (they only feed logs).
PLAN_STRING_MAX = 100_000


def day(d: str | dt.date) -> dt.date:
    """A date from ISO text (rows are written with real dates, as a site's CDM has them)."""
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(d)


def _condition_code(key: str) -> vocab_mod.Code:
    v = vocab_mod.build()
    if key in v.migraine_codes:  # migraine subtypes, menstrual, chronic, medication overuse
        return v.migraine_codes[key]
    return v.disease_codes[key][0]


@dataclass
class Rows:
    """Literal OMOP rows, added by person and record; absent optional columns stay NULL."""

    tables: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in SCHEMAS})

    def _add(self, table: str, **row) -> Rows:
        rows = self.tables[table]
        id_col = f"{table}_id"
        if id_col in SCHEMAS[table].names:
            row[id_col] = len(rows) + 1
        rows.append(row)
        return self

    def person(self, pid: int, sex: str, birth_year: int) -> Rows:
        gender = {"F": cat.FEMALE, "M": cat.MALE}.get(sex, 0)
        return self._add(
            "person",
            person_id=pid,
            gender_concept_id=gender,
            year_of_birth=birth_year,
            month_of_birth=1,
            day_of_birth=1,
            race_concept_id=0,
            ethnicity_concept_id=0,
            gender_source_value=sex,
        )

    def period(self, pid: int, start: str, end: str | None) -> Rows:
        return self._add(
            "observation_period",
            person_id=pid,
            observation_period_start_date=day(start),
            observation_period_end_date=day(end) if end is not None else None,
            period_type_concept_id=cat.TYPE_EHR,
        )

    def observed(self, pid: int, sex: str, birth_year: int, start: str, end: str) -> Rows:
        """A person with one observation period (the usual case)."""
        return self.person(pid, sex, birth_year).period(pid, start, end)

    def visit(self, pid: int, date: str) -> Rows:
        return self._add(
            "visit_occurrence",
            person_id=pid,
            visit_concept_id=cat.VISIT_OUTPATIENT,
            visit_start_date=day(date),
            visit_end_date=day(date),
            visit_type_concept_id=cat.TYPE_EHR,
        )

    def condition(self, pid: int, key: str, date: str) -> Rows:
        """A diagnosis of ``key`` (a synthetic disease or migraine subtype) on ``date``."""
        c = _condition_code(key)
        return self._add(
            "condition_occurrence",
            person_id=pid,
            condition_concept_id=c.concept_id,
            condition_start_date=day(date),
            condition_type_concept_id=cat.TYPE_EHR,
            condition_source_value=c.source_value,
            condition_source_concept_id=c.source_concept_id,
        )

    def drug(self, pid: int, ingredient: str, start: str, end: str | None) -> Rows:
        c = vocab_mod.build().ingredient[ingredient]
        end_d = day(end) if end is not None else None
        return self._add(
            "drug_exposure",
            person_id=pid,
            drug_concept_id=c.concept_id,
            drug_exposure_start_date=day(start),
            drug_exposure_end_date=end_d,
            drug_type_concept_id=cat.TYPE_EHR,
            days_supply=(end_d - day(start)).days + 1 if end_d else None,
            drug_source_value=c.source_value,
            drug_source_concept_id=c.source_concept_id,
        )

    def lab(self, pid: int, marker: str, date: str, value: float) -> Rows:
        c, unit, _share = vocab_mod.build().labs[marker][0]
        return self._add(
            "measurement",
            person_id=pid,
            measurement_concept_id=c.concept_id,
            measurement_date=day(date),
            measurement_type_concept_id=cat.TYPE_EHR,
            value_as_number=float(value),
            unit_concept_id=unit,
            measurement_source_value=c.source_value,
            measurement_source_concept_id=c.source_concept_id,
        )

    def family_history(self, pid: int, kind: str, date: str) -> Rows:
        c, _share = vocab_mod.build().family_history[kind][0]
        return self._add(
            "observation",
            person_id=pid,
            observation_concept_id=c.concept_id,
            observation_date=day(date),
            observation_type_concept_id=cat.TYPE_EHR,
            observation_source_value=c.source_value,
            observation_source_concept_id=c.source_concept_id,
        )

    def death(self, pid: int, date: str) -> Rows:
        return self._add(
            "death", person_id=pid, death_date=day(date), death_type_concept_id=cat.TYPE_EHR
        )


def _write_cdm(vocab_dir: Path, folder: Path, rows: Rows) -> Path:
    """Write ``rows`` as OMOP parquet tables (an empty table keeps its columns) beside the
    synthetic vocabulary."""
    folder.mkdir(parents=True)
    for name, schema in SCHEMAS.items():
        recs = rows.tables[name]
        cols = {f.name: [r.get(f.name) for r in recs] for f in schema}
        pq.write_table(pa.table(cols, schema=schema), folder / f"{name}.parquet")
    for name in VOCAB_TABLES:
        shutil.copy(vocab_dir / f"{name}.parquet", folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="session")
def vocab_cdm(tmp_path_factory) -> Path:
    """A small synthetic CDM: its vocabulary tables back every tiny CDM of these tests."""
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("engine_vocab") / "synth200"
    generate(persons=200, seed=1, out=out)
    return out


@pytest.fixture(scope="session")
def rows_factory():
    """``Rows``: the literal row builder (``rows_factory()`` is an empty CDM)."""
    return Rows


@pytest.fixture(scope="session")
def write_cdm(vocab_cdm):
    """``write_cdm(folder, rows) -> folder``: a tiny literal CDM on the synthetic vocabulary."""
    return lambda folder, rows: _write_cdm(vocab_cdm, Path(folder), rows)


def _counts_on(
    engine: str,
    cdm_path: Path,
    designs: tuple[str, ...] | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Counts]:
    from miglink.claims.model import load_study
    from miglink.designs.registry import DESIGNS
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.study import plan, study_concept_sets

    cdm_path = Path(cdm_path)
    source, engine = (engine, "duckdb") if "://" in engine else (cdm_path, engine)
    # the Spark copy of the CDM (person-level rows) stays beside it, not in the shared temp dir
    cache_dir = cache_dir or cdm_path.parent / f"{cdm_path.name}-engine-cache"
    study, _ = load_study()
    cdm = open_cdm(source, engine=engine, cache_dir=cache_dir)
    assert source == cdm_path or cdm.backend.name == "postgres", "not read on PostgreSQL"
    if engine == "spark":
        # the plans of D2's matching print to strings of gigabytes (adaptive execution prints
        # every plan update): truncated, they no longer exhaust the driver's heap
        cdm.backend._session.conf.set("spark.sql.maxPlanStringLength", str(PLAN_STRING_MAX))
    ft = build_features(cdm, study, study_concept_sets(study))
    try:
        return {
            name: DESIGNS[name].count(ft, tasks)
            for name, tasks in plan(study).items()
            if designs is None or name in designs
        }
    finally:
        if engine == "spark":  # cached feature tables would fill the shared session's heap
            cdm.backend._session.catalog.clearCache()


#: the PostgreSQL schema holding the synthetic vocabulary every tiny CDM shares
PG_VOCAB = "engine_vocab"
_PG_SCHEMAS = itertools.count(1)


def _linked(folder: Path, vocabulary: bool) -> Path:
    """A sibling folder linking the CDM's vocabulary tables, or its clinical ones (the
    vocabulary, the same for every tiny CDM, is loaded once)."""
    out = folder.parent / f"{folder.name}-{'vocab' if vocabulary else 'clinical'}"
    if not out.exists():
        out.mkdir()
        for f in folder.glob("*.parquet"):
            if (f.stem in VOCAB_TABLES) == vocabulary:
                (out / f.name).symlink_to(f.resolve())
    return out


@dataclass
class Engine:
    """One engine of the parity tests: ``counts`` puts a CDM folder where it reads it."""

    name: str
    request: Any  # the fixture request: the Spark session or the cluster only when used
    vocab_folder: Path
    _pg: dict = field(default_factory=dict)

    def counts(self, cdm_path: Path, designs: tuple[str, ...] | None = None) -> dict[str, Counts]:
        if self.name == "duckdb":
            return _counts_on("duckdb", cdm_path, designs)
        if self.name == "spark":
            self.request.getfixturevalue("spark")
            return _counts_on("spark", cdm_path, designs)
        return _counts_on(self.pg_url(cdm_path), cdm_path, designs)

    def pg_url(self, cdm_path: Path) -> str:
        """The URL of ``cdm_path`` loaded into its own schema (once per folder)."""
        from miglink.sources.pg_load import load_folder

        server = self.request.getfixturevalue("pg_server")
        if PG_VOCAB not in self._pg:
            load_folder(
                _linked(self.vocab_folder, True), server.admin_url(), PG_VOCAB, replace=True
            )
            self._pg[PG_VOCAB] = PG_VOCAB
        folder = Path(cdm_path)
        key = str(folder.resolve())
        if key not in self._pg:
            schema = f"engine_cdm{next(_PG_SCHEMAS)}"
            shared = _same_vocabulary(folder, self.vocab_folder)
            load_folder(_linked(folder, False) if shared else folder, server.admin_url(), schema)
            self._pg[key] = (schema, PG_VOCAB if shared else schema)
        schema, vocab = self._pg[key]
        return server.admin_url(f"?cdm_schema={schema}&vocab_schema={vocab}")


def _same_vocabulary(folder: Path, vocab_folder: Path) -> bool:
    """Whether a CDM folder holds the shared vocabulary (tiny CDMs copy it; a generated CDM
    has its own)."""
    return all(
        (folder / f"{n}.parquet").exists()
        and filecmp.cmp(folder / f"{n}.parquet", vocab_folder / f"{n}.parquet", shallow=False)
        for n in VOCAB_TABLES
        if (vocab_folder / f"{n}.parquet").exists()
    )


_PG_STATE: dict = {}  # loaded schemas, shared by every test of the session (one cluster)


@pytest.fixture(
    scope="module",
    params=["duckdb", "postgres", pytest.param("spark", marks=pytest.mark.spark)],
)
def engine(request, vocab_cdm) -> Engine:
    """Each engine in turn (ehrQL's manner): a test taking ``engine`` runs once per engine.

    Module-scoped: pytest groups a parametrised fixture's tests by its value, and a session
    scope would interleave the modules, rebuilding their module-scoped DuckDB counts per engine.
    The loaded schemas and the cluster (``pg_server``, session-scoped) are shared."""
    return Engine(request.param, request, vocab_cdm, _PG_STATE)


@pytest.fixture(scope="session")
def counts_on():
    """``counts_on(engine, cdm_path, designs=None) -> {design: Counts}``: open the CDM on
    ``engine``, build the features of the bundled study once and run every design's ``count``
    on its tasks (only ``designs``, when given)."""
    return _counts_on


def _float_cols(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]


def _frames_equal(where: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns), (
        f"{where}: columns {list(a.columns)} != {list(b.columns)}"
    )
    assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)} rows"
    floats = _float_cols(a)
    assert floats == _float_cols(b), f"{where}: float columns differ"
    keys = [c for c in a.columns if c not in floats]
    if keys:
        a = a.sort_values(keys, kind="stable", na_position="first")
        b = b.sort_values(keys, kind="stable", na_position="first")
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for c in keys:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            same = (x.isna() & y.isna()) | (x == y)
        else:
            same = (x.isna() & y.isna()) | (x.astype(object) == y.astype(object))
        assert bool(same.all()), (
            f"{where}: column {c} differs at rows {list(np.flatnonzero(~same))}"
        )
    for c in floats:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        ok = (np.isnan(x) & np.isnan(y)) | np.isclose(x, y, rtol=1e-9, atol=0.0)
        assert ok.all(), (
            f"{where}: float column {c} differs beyond rtol 1e-9 at rows {list(np.flatnonzero(~ok))}"
        )


def _values_equal(where: str, a, b) -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{where}: {a!r} != {b!r}"
        assert np.isclose(a, b, rtol=1e-9, atol=0.0) or (np.isnan(a) and np.isnan(b)), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _values_equal(f"{where}.{k}", a[k], b[k])
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _values_equal(f"{where}[{i}]", x, y)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _assert_counts_equal(a: dict[str, Counts], b: dict[str, Counts]) -> None:
    assert sorted(a) == sorted(b), f"designs {sorted(a)} != {sorted(b)}"
    for design in a:
        ca, cb = a[design], b[design]
        assert sorted(ca.frames) == sorted(cb.frames), f"{design}: frames differ"
        for name in ca.frames:
            _frames_equal(f"{design}.{name}", ca.frames[name], cb.frames[name])
        _values_equal(f"{design}.values", ca.values, cb.values)


@pytest.fixture(scope="session")
def assert_counts_equal():
    """``assert_counts_equal(a, b)``: same designs, frame names and columns; frames equal after
    sorting on their non-float columns (row order is not defined across engines); integer and
    text columns exact, float columns to rtol 1e-9; ``values`` equal (floats to rtol 1e-9)."""
    return _assert_counts_equal
