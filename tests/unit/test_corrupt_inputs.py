"""Damaged inputs, built from a valid copy of the MIMIC-IV demo OMOP tables.

Each case runs `miglink check` through the real entry point: a fatal problem exits with code 2
and a one-line message naming table, column and number of rows; a usable problem is a warning
with its count; never a traceback; and the data folder is left exactly as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from miglink.cli.main import main

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MIMIC = SHARED / "mimic-iv-demo-omop" / "1_omop_data_csv"
TABLES = ("person", "observation_period", "condition_occurrence", "death", "visit_occurrence")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    if not MIMIC.exists():
        pytest.skip(f"shared dataset missing: {MIMIC}")
    d = tmp_path_factory.mktemp("base")
    for t in TABLES:
        shutil.copy(MIMIC / f"{t}.csv", d / f"{t}.csv")
    return d


def _read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def _write(folder: Path, table: str, df: pd.DataFrame) -> None:
    df.to_csv(folder / f"{table}.csv", index=False)


def _damaged(base: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    d = tmp_path / "data"
    shutil.copytree(base, d)
    damage(d)
    return d


def _run(capsys, data: Path, *extra: str) -> tuple[int, str, str]:
    before = sorted(p.relative_to(data) for p in data.rglob("*")) if data.is_dir() else None
    rc = main(["check", "--data", str(data), "--cache-dir", str(data.parent / "cache"), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if before is not None:
        assert sorted(p.relative_to(data) for p in data.rglob("*")) == before, "data folder changed"
    return rc, out, err


def _edit(table: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        _write(d, table, fn(_read(d, table)))

    return damage


def _set_rows(col: str, value: str, n: int, start: int = 0):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df.index[start : start + n], col] = value
        return df

    return fn


def _person_ids(d: Path) -> list[str]:
    return _read(d, "person").person_id.tolist()


# (name, damage, expected exit code, fragments every one of which must be in stderr (rc 2)
# or in the JSON findings (rc 0))
FATAL: list[tuple[str, Callable[[Path], None], list[str]]] = [
    (
        "person table absent",
        lambda d: (d / "person.csv").unlink(),
        ["person: required table is absent"],
    ),
    (
        "observation_period table absent",
        lambda d: (d / "observation_period.csv").unlink(),
        ["observation_period: required table is absent"],
    ),
    (
        "required column absent",
        _edit("observation_period", lambda df: df.drop(columns=["observation_period_end_date"])),
        ["observation_period.observation_period_end_date: 100 rows: required column is absent"],
    ),
    (
        "person_id column absent from facts",
        _edit("condition_occurrence", lambda df: df.drop(columns=["person_id"])),
        ["condition_occurrence.person_id: 16441 rows: required column is absent"],
    ),
    (
        "dates that are not dates",
        _edit("condition_occurrence", _set_rows("condition_start_date", "31/12/2150", 7)),
        ["condition_occurrence.condition_start_date: 7 rows: values are not valid date"],
    ),
    (
        "birth years that are not numbers",
        _edit("person", _set_rows("year_of_birth", "unknown", 6)),
        ["person.year_of_birth: 6 rows: values are not valid int64"],
    ),
    (
        "duplicate person rows",
        _edit("person", lambda df: pd.concat([df, df.iloc[:6]])),
        ["person.person_id: 12 rows: rows share a person_id"],
    ),
    (
        "null person_id in facts",
        _edit("condition_occurrence", _set_rows("person_id", "", 8)),
        ["condition_occurrence.person_id: 8 rows: required value is missing"],
    ),
    (
        "empty person table",
        _edit("person", lambda df: df.iloc[:0]),
        ["person: 0 rows: table has no rows"],
    ),
    (
        "empty observation_period table",
        _edit("observation_period", lambda df: df.iloc[:0]),
        ["observation_period: 0 rows: table has no rows"],
    ),
    (
        "two columns differing only in case",
        _edit("person", lambda df: df.assign(PERSON_ID=df.person_id)),
        ["person", "two columns named 'person_id'"],
    ),
    (
        "ragged CSV row",
        lambda d: (d / "death.csv").write_text(
            (d / "death.csv").read_text() + "1,2,3,4,5,6,7,8,9,10,11\n"
        ),
        ["death", "could not be read"],
    ),
    (
        "the same table twice",
        lambda d: _read(d, "person").to_parquet(d / "PERSON.parquet"),
        ["table 'person' is present twice"],
    ),
    (
        "not a zip",
        lambda d: (shutil.rmtree(d), d.mkdir(), (d / "cdm.zip").write_text("x")),
        ["cdm.zip is not a readable zip file"],
    ),
]

WARN: list[tuple[str, Callable[[Path], None], dict]] = [
    (
        "records of persons missing from person",
        _edit("condition_occurrence", _set_rows("person_id", "123456789", 9)),
        {
            "check": "orphan_records",
            "table": "condition_occurrence",
            "column": "person_id",
            "n_rows": 9,
        },
    ),
    (
        "records before birth",
        _edit("condition_occurrence", _set_rows("condition_start_date", "1900-01-01", 6)),
        {
            "check": "before_birth",
            "table": "condition_occurrence",
            "column": "condition_start_date",
            "n_rows": 6,
        },
    ),
    (
        "concept id 0",
        _edit("condition_occurrence", _set_rows("condition_concept_id", "0", 10)),
        {
            "check": "concept_zero",
            "table": "condition_occurrence",
            "column": "condition_concept_id",
            "n_rows": 10,
        },
    ),
    (
        "inverted observation periods",
        _edit("observation_period", _set_rows("observation_period_end_date", "2000-01-01", 5)),
        {
            "check": "inverted_period",
            "table": "observation_period",
            "column": "observation_period_end_date",
            "n_rows": 5,
        },
    ),
    (
        "implausibly old persons",
        _edit("person", _set_rows("year_of_birth", "1700", 5)),
        {"check": "implausible_age", "table": "person", "column": "year_of_birth", "n_rows": 5},
    ),
    (
        "bad optional values",
        _edit("person", _set_rows("month_of_birth", "June", 5)),
        {"check": "type", "table": "person", "column": "month_of_birth", "n_rows": 5},
    ),
    (
        "missing optional table",
        lambda d: (d / "visit_occurrence.csv").unlink(),
        {"check": "absent_table", "table": "visit_occurrence"},
    ),
    (
        "persons without an observation period",
        _edit("observation_period", lambda df: df.iloc[7:]),
        {"check": "person_without_observation", "table": "person", "n_rows": 7},
    ),
]


@pytest.mark.parametrize("name,damage,fragments", FATAL, ids=[c[0] for c in FATAL])
def test_fatal_damage_exits_2_naming_table_column_count(
    base, tmp_path, capsys, name, damage, fragments
):
    d = _damaged(base, tmp_path, damage)
    rc, out, err = _run(capsys, d)
    assert rc == 2, (out, err)
    assert err.startswith("miglink: error:"), err
    for frag in fragments:
        assert frag in err, (frag, err)


@pytest.mark.parametrize("name,damage,expected", WARN, ids=[c[0] for c in WARN])
def test_usable_damage_is_a_counted_warning(base, tmp_path, capsys, name, damage, expected):
    import json

    d = _damaged(base, tmp_path, damage)
    rc, out, err = _run(capsys, d, "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["fatal"] == []
    hits = [w for w in report["warnings"] if all(w.get(k) == v for k, v in expected.items())]
    assert len(hits) == 1, (expected, report["warnings"])


def test_valid_copy_has_no_fatal_findings(base, tmp_path, capsys):
    d = _damaged(base, tmp_path, lambda d: None)
    rc, out, err = _run(capsys, d)
    assert rc == 0 and err == ""
    assert "0 fatal" in out


def test_event_after_death_is_a_warning(base, tmp_path, capsys):
    import json

    def damage(d: Path) -> None:
        death = _read(d, "death")
        co = _read(d, "condition_occurrence")
        dead = death.person_id.iloc[0]
        rows = co.index[co.person_id == dead][:5]
        assert len(rows) == 5
        co.loc[rows, "condition_start_date"] = "2199-12-31"
        _write(d, "condition_occurrence", co)

    d = _damaged(base, tmp_path, damage)
    rc, out, _ = _run(capsys, d, "--json")
    assert rc == 0
    hits = [w for w in json.loads(out)["warnings"] if w["check"] == "after_death"]
    assert [(h["table"], h["n_rows"]) for h in hits] == [("condition_occurrence", 5)]


def test_small_counts_are_suppressed_in_messages(base, tmp_path, capsys):
    d = _damaged(base, tmp_path, _edit("person", _set_rows("year_of_birth", "unknown", 2)))
    rc, _, err = _run(capsys, d)
    assert rc == 2
    assert "person.year_of_birth: <5 rows" in err and " 2 rows" not in err


def test_unknown_engine_and_missing_path(tmp_path, capsys):
    assert main(["check", "--data", str(tmp_path / "nowhere")]) == 2
    assert "data source not found" in capsys.readouterr().err
    assert main(["check", "--data", str(tmp_path), "--engine", "polars"]) == 2
    assert "unknown engine 'polars'" in capsys.readouterr().err


def _small_zip(tmp_path: Path) -> Path:
    import zipfile

    z = tmp_path / "cdm.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "person.csv", "person_id,gender_concept_id,year_of_birth\n" + "1,8507,1950\n" * 5000
        )
    return z


def test_zip_over_the_size_limit_is_refused_before_writing(tmp_path, monkeypatch):
    """The declared uncompressed size is checked before anything is extracted."""
    from miglink.errors import MiglinkError
    from miglink.sources.files import unzip_to_cache

    z = _small_zip(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MIGLINK_MAX_UNZIP_BYTES", "1000")
    with pytest.raises(
        MiglinkError, match=r"cdm.zip would inflate to 60,042 bytes in 1 files, more than the limit"
    ):
        unzip_to_cache(z, cache)
    assert not cache.exists() or list(cache.iterdir()) == []
    monkeypatch.setenv("MIGLINK_MAX_UNZIP_BYTES", "lots")
    with pytest.raises(MiglinkError, match="MIGLINK_MAX_UNZIP_BYTES='lots'"):
        unzip_to_cache(z, cache)
    monkeypatch.delenv("MIGLINK_MAX_UNZIP_BYTES")
    out = unzip_to_cache(z, cache)
    assert (out / "person.csv").stat().st_size == 60_042
    assert [p.name for p in cache.iterdir()] == [out.name]  # no temporary sibling left


def test_failed_extraction_leaves_nothing(tmp_path, monkeypatch):
    """A member that fails mid-extraction (here: its CRC) removes the partial folder."""
    from miglink.errors import MiglinkError
    from miglink.sources.files import unzip_to_cache

    z = _small_zip(tmp_path)
    data = bytearray(z.read_bytes())
    i = data.index(b"PK\x01\x02") + 16  # the central directory's CRC-32, which zipfile checks
    data[i : i + 4] = b"\0\0\0\0"
    z.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(MiglinkError, match="is not a readable zip file"):
        unzip_to_cache(z, cache)
    assert list(cache.iterdir()) == []


def test_unlistable_folder_is_a_user_error(tmp_path, monkeypatch):
    """An unreadable sub-folder (simulated: the tests may run as root, who reads everything)."""
    from miglink.errors import MiglinkError
    from miglink.sources.files import discover

    def denied(self, pattern):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    monkeypatch.setattr(Path, "rglob", denied)
    with pytest.raises(MiglinkError, match="cannot list .*locked: Permission denied"):
        discover(tmp_path)
