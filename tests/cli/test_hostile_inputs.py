"""A corpus of damaged and hostile inputs, run through the real command line.

Every case goes through ``python -m miglink.cli.main`` (check, concepts or run) and must end with
exit code 2 and exactly one line on stderr, ``miglink: error: ...``, naming the table / column /
path (and the gated row count where one applies); never a traceback or an "internal error"; no
``--out`` folder written; no input file changed (hashes before and after). The datasets are built
in tmp_path from one 300-person synthetic CDM written as CSV once per module; every error must
come before any computation, so the whole corpus takes well under a minute and a half.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from miglink.claims.model import default_study_path

# --- the tiny base --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """300 synthetic persons, every table as CSV (text, so each cell can be damaged)."""
    from miglink.synth import generate

    root = tmp_path_factory.mktemp("hostile")
    generate(persons=300, seed=5, out=root / "pq")
    out = root / "csv"
    out.mkdir()
    for p in sorted((root / "pq").glob("*.parquet")):
        pd.read_parquet(p).to_csv(out / f"{p.stem}.csv", index=False)
    spare = out / ".spare"  # a dot-folder: never read as a table
    spare.mkdir()
    shutil.copy(root / "pq" / "person.parquet", spare / "person.parquet")
    return out


def _read(d: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(d / f"{table}.csv", dtype=str, keep_default_na=False)


def _write(d: Path, table: str, df: pd.DataFrame) -> None:
    df.to_csv(d / f"{table}.csv", index=False)


def _set(table: str, col: str, value: str, n: int = 6) -> Callable[[Path], None]:
    """Put ``value`` into the first ``n`` rows of ``table.col`` (6: above the minimum cell 5)."""

    def damage(d: Path) -> None:
        df = _read(d, table)
        df.loc[df.index[:n], col] = value
        _write(d, table, df)

    return damage


def _zip_of(d: Path, extra: Callable[[zipfile.ZipFile], None] | None = None, skip=()) -> Path:
    """Replace folder ``d`` by ``d/cdm.zip`` holding its tables, plus hostile ``extra`` entries."""
    z = d.parent / "cdm.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(d.glob("*.csv")):
            if p.name not in skip:
                zf.write(p, p.name)
        if extra:
            extra(zf)
    shutil.rmtree(d)
    d.mkdir()
    return Path(shutil.move(z, d / "cdm.zip"))


def _bomb(zf: zipfile.ZipFile) -> None:
    with zf.open("note.csv", "w") as w:  # 80 MiB of one byte: about 80 kB compressed
        block = b"0" * 2**20
        for _ in range(80):
            w.write(block)


def _symlink(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("death.csv")
    info.external_attr = 0o120777 << 16  # S_IFLNK
    zf.writestr(info, "/etc/passwd")


def _nested(d: Path) -> Path:
    inner = _zip_of(d)
    outer = d / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "inner.zip")
    inner.unlink()
    return outer


def _corrupt_zip(d: Path) -> Path:
    z = _zip_of(d)
    b = bytearray(z.read_bytes())
    for i in range(100, 400):
        b[i] ^= 0x55
    z.write_bytes(bytes(b))
    return z


def _replace_bytes(table: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        p = d / f"{table}.csv"
        p.write_bytes(fn(p.read_bytes()))

    return damage


def _truncated_parquet(d: Path) -> None:
    (d / "person.csv").unlink()
    data = (d / ".spare" / "person.parquet").read_bytes()
    (d / "person.parquet").write_bytes(data[: len(data) // 2])


# --- study files ------------------------------------------------------------------------------


def _study(d: Path, edit: Callable[[dict], object] | None = None, raw: bytes | None = None) -> Path:
    p = d.parent / "study.yaml"
    if raw is not None:
        p.write_bytes(raw)
        return p
    s = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    out = edit(s) if edit else s
    p.write_text(yaml.safe_dump(s if out is None else out), encoding="utf-8")
    return p


def _sets_file(d: Path, name: str, raw: bytes) -> Path:
    """A study naming one extra concept-set file with the given bytes."""
    (d.parent / name).write_bytes(raw)
    return _study(d, lambda s: s.update(concept_set_files=[name]))


def _bad_design(s: dict) -> None:
    s["claims"][0]["hypotheses"][0]["design"] = "D12"
    s["claims"][1]["hypotheses"][0]["expected"] = "sideways"


BILLION_LAUGHS = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    f"{y}: &{y} [{','.join(['*' + x] * 9)}]\n".encode()
    for x, y in zip("abcdefgh", "bcdefghi", strict=True)
)


# --- the corpus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    cmd: str  # check | concepts | run
    damage: Callable[[Path], Path | None] | None = None  # on the data folder; may return --data
    args: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    study: Callable[[Path], Path] | None = None  # builds a study file (run only)
    data: str | None = None  # --data override (relative to tmp_path), e.g. a missing path


def _rm(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).unlink()


CASES = [
    # missing and empty tables, missing columns
    Case(
        "person absent", "check", _rm("person.csv"), fragments=("person: required table is absent",)
    ),
    Case(
        "observation_period absent",
        "check",
        _rm("observation_period.csv"),
        fragments=("observation_period: required table is absent",),
    ),
    Case(
        "person empty",
        "check",
        lambda d: _write(d, "person", _read(d, "person").iloc[:0]),
        fragments=("person: 0 rows: table has no rows",),
    ),
    Case(
        "person zero bytes",
        "check",
        lambda d: (d / "person.csv").write_bytes(b""),
        fragments=("person", "empty or missing header", "person.csv"),
    ),
    Case(
        "required column absent",
        "check",
        lambda d: _write(
            d,
            "condition_occurrence",
            _read(d, "condition_occurrence").drop(columns=["condition_start_date"]),
        ),
        fragments=("condition_occurrence.condition_start_date:", "rows: required column is absent"),
    ),
    Case(
        "person_id absent from run",
        "run",
        lambda d: _write(
            d, "observation_period", _read(d, "observation_period").drop(columns=["person_id"])
        ),
        fragments=("observation_period", "person_id"),
    ),
    # wrong types and loose integers (6 rows each: the count is shown, not '<5')
    Case(
        "date not a date",
        "check",
        _set("condition_occurrence", "condition_start_date", "yesterday"),
        fragments=("condition_occurrence.condition_start_date: 6 rows: values are not valid date",),
    ),
    Case(
        "two bad dates in run: the count is gated",
        "run",
        _set("condition_occurrence", "condition_start_date", "yesterday", n=2),
        fragments=("data-quality check failed", "condition_start_date", "<5 rows"),
    ),
    Case(
        "person_id 1.6",
        "check",
        _set("person", "person_id", "1.6"),
        fragments=("person.person_id: 6 rows: values are not valid int64",),
    ),
    Case(
        "person_id 0x10",
        "check",
        _set("person", "person_id", "0x10"),
        fragments=("person.person_id: 6 rows: values are not valid int64",),
    ),
    Case(
        "person_id 1e3",
        "check",
        _set("person", "person_id", "1e3"),
        fragments=("person.person_id: 6 rows: values are not valid int64",),
    ),
    Case(
        "person_id 12abc",
        "check",
        _set("person", "person_id", "12abc"),
        fragments=("person.person_id: 6 rows: values are not valid int64",),
    ),
    Case(
        "person_id +12",
        "check",
        _set("person", "person_id", "+12"),
        fragments=("person.person_id: 6 rows: values are not valid int64",),
    ),
    Case(
        "year_of_birth 1950.7",
        "check",
        _set("person", "year_of_birth", "1950.7"),
        fragments=("person.year_of_birth: 6 rows: values are not valid int64",),
    ),
    Case(
        "concept id 1_000",
        "check",
        _set("condition_occurrence", "condition_concept_id", "1_000"),
        fragments=(
            "condition_occurrence.condition_concept_id: 6 rows: values are not valid int64",
        ),
    ),
    Case(
        "optional id 2.5 is fatal",
        "check",
        _set("condition_occurrence", "condition_source_concept_id", "2.5"),
        fragments=(
            "condition_occurrence.condition_source_concept_id: 6 rows: values are not valid int64",
        ),
    ),
    Case(
        "loose id through run",
        "run",
        _set("condition_occurrence", "person_id", "1.6"),
        fragments=("condition_occurrence", "person_id", "not valid int64"),
    ),
    Case(
        "small count gated",
        "check",
        _set("person", "person_id", "0x1f", n=2),
        fragments=("person.person_id: <5 rows",),
    ),
    # broken encodings and damaged files
    Case(
        "not UTF-8",
        "check",
        _replace_bytes("person", lambda b: b.replace(b"\n", b"\n\xff\xfe", 3)),
        fragments=("person.csv is not UTF-8 text", "line 2"),
    ),
    Case(
        "NUL byte",
        "check",
        _replace_bytes("person", lambda b: b[:150] + b"\x00" + b[150:]),
        fragments=("person", "NUL byte", "person.csv", "<5 rows"),
    ),
    Case(
        "ragged row",
        "check",
        _replace_bytes("death", lambda b: b + b"1,2,3,4,5,6,7,8,9,10,11,12\n"),
        fragments=("death", "could not be read from death.csv"),
    ),
    Case(
        "columns equal but for case",
        "check",
        lambda d: _write(d, "person", _read(d, "person").assign(PERSON_ID="1")),
        fragments=("person", "two columns named 'person_id'"),
    ),
    Case(
        "truncated parquet",
        "check",
        _truncated_parquet,
        fragments=("person", "could not be read from person.parquet"),
    ),
    Case(
        "table is a folder",
        "check",
        lambda d: ((d / "death.csv").unlink(), (d / "death.csv").mkdir()) and None,
        fragments=("table 'death' at", "death.csv is a folder"),
    ),
    Case(
        "table twice",
        "check",
        lambda d: _read(d, "person").to_parquet(d / "PERSON.parquet"),
        fragments=("table 'person' is present twice",),
    ),
    Case(
        "damaged file through concepts",
        "concepts",
        _replace_bytes("condition_occurrence", lambda b: b[:300] + b"\x00" + b[300:]),
        fragments=("condition_occurrence", "NUL byte"),
    ),
    # hostile archives and paths
    Case(
        "zip bomb",
        "check",
        lambda d: _zip_of(d, _bomb),
        fragments=("cdm.zip", "note.csv", "zip bomb"),
    ),
    Case(
        "zip slip ../",
        "check",
        lambda d: _zip_of(d, lambda zf: zf.writestr("../../evil.csv", "a\n")),
        fragments=("cdm.zip", "unsafe entry '../../evil.csv'"),
    ),
    Case(
        "zip absolute member",
        "check",
        lambda d: _zip_of(d, lambda zf: zf.writestr("/tmp/evil.csv", "a\n")),
        fragments=("cdm.zip", "unsafe entry '/tmp/evil.csv'"),
    ),
    Case(
        "zip backslash slip",
        "check",
        lambda d: _zip_of(d, lambda zf: zf.writestr("..\\evil.csv", "a\n")),
        fragments=("cdm.zip", "unsafe entry"),
    ),
    Case(
        "zip symlink",
        "check",
        lambda d: _zip_of(d, _symlink, skip=("death.csv",)),
        fragments=("cdm.zip", "symbolic link entry 'death.csv'"),
    ),
    Case("nested zip", "check", _nested, fragments=("outer.zip", "only nested zips (inner.zip)")),
    Case(
        "empty zip",
        "check",
        lambda d: (
            (shutil.rmtree(d), d.mkdir(), zipfile.ZipFile(d / "cdm.zip", "w").close())
            and d / "cdm.zip"
        ),
        fragments=("cdm.zip holds no CDM table files",),
    ),
    Case("corrupt zip", "check", _corrupt_zip, fragments=("cdm.zip is not a readable zip file",)),
    Case(
        "not a zip",
        "check",
        lambda d: (shutil.rmtree(d), d.mkdir(), (d / "cdm.zip").write_text("PK? no")) and d,
        fragments=("cdm.zip is not a readable zip file",),
    ),
    Case(
        "zip bomb through run",
        "run",
        lambda d: _zip_of(d, _bomb),
        fragments=("cdm.zip", "zip bomb"),
    ),
    Case(
        "several zips",
        "check",
        lambda d: (
            (
                shutil.rmtree(d),
                d.mkdir(),
                (d / "a.zip").write_bytes(b""),
                (d / "b.zip").write_bytes(b""),
            )
            and None
        ),
        fragments=("holds several zips (a.zip, b.zip)",),
    ),
    Case(
        "data not found",
        "check",
        data="no/such/folder",
        fragments=("data source not found", "no/such/folder"),
    ),
    Case(
        "data is a text file",
        "concepts",
        lambda d: d / "person.csv",
        fragments=("cannot read", "person.csv"),
    ),
    Case(
        "no table files",
        "check",
        lambda d: (shutil.rmtree(d), d.mkdir(), (d / "readme.md").write_text("x")) and None,
        fragments=("no CDM table files",),
    ),
    # bad study files (run: refused before the data are opened)
    Case(
        "study not UTF-8",
        "run",
        study=lambda d: _study(d, raw=b"name: \xff\xfe\n"),
        fragments=("study.yaml is not UTF-8 text",),
    ),
    Case(
        "study not YAML",
        "run",
        study=lambda d: _study(d, raw=b"name: [unclosed\n"),
        fragments=("study.yaml is not valid YAML",),
    ),
    Case(
        "study is a list",
        "run",
        study=lambda d: _study(d, raw=b"- a\n- b\n"),
        fragments=("study.yaml is a YAML list",),
    ),
    Case(
        "study empty", "run", study=lambda d: _study(d, raw=b""), fragments=("study.yaml is empty",)
    ),
    Case(
        "study huge",
        "run",
        study=lambda d: _study(d, raw=b"#" * 1_500_000),
        fragments=("study.yaml is 1,500,000 bytes",),
    ),
    Case(
        "study alias bomb",
        "run",
        study=lambda d: _study(d, raw=BILLION_LAUGHS),
        fragments=("study.yaml", "billion laughs"),
    ),
    Case(
        "study duplicate key",
        "run",
        study=lambda d: _study(d, raw=b"name: a\nname: b\n"),
        fragments=("study.yaml has the key 'name' twice", "line 2"),
    ),
    Case(
        "study unknown key",
        "run",
        study=lambda d: _study(d, lambda s: s.update(colour="red")),
        fragments=("study.yaml is invalid", "unknown key 'colour'"),
    ),
    Case(
        "study bad design and expectation",
        "run",
        study=lambda d: _study(d, _bad_design),
        fragments=(
            "2 problem(s)",
            ": claim 1 / hypothesis h1_crp (D12): Input tag",  # the design picks the hypothesis model
            ": claim 2 / hypothesis h2_fh_ai_to_migraine (D7): expected",
        ),
    ),
    Case(
        "study misspelt hypothesis role",
        "run",
        study=lambda d: _study(d, lambda s: s["claims"][6]["hypotheses"][0].update(role="pc")),
        fragments=(
            "study.yaml is invalid",
            ": claim 7 / hypothesis h7_ifn_sccs (D5): role",
            "positive_control",
        ),
    ),
    Case(
        "study family of one hypothesis",
        "run",
        study=lambda d: _study(
            d, lambda s: s["claims"][6]["hypotheses"][6].update(family="sccs_drug")
        ),
        fragments=("study.yaml is invalid", "family needs at least two", "'sccs_drug'"),
    ),
    Case(
        "study family name not an identifier",
        "run",
        study=lambda d: _study(
            d, lambda s: s["claims"][6]["hypotheses"][1].update(family="../../etc")
        ),
        fragments=("study.yaml is invalid", "claim 7 / hypothesis h7_steroid_sccs (D5): family"),
    ),
    Case(
        "study percentile criterion out of range",
        "run",
        study=lambda d: _study(
            d, lambda s: s["claims"][7]["hypotheses"][3].update(percentile_criterion=100)
        ),
        fragments=(
            "study.yaml is invalid",
            "claim 8 / hypothesis h8_specificity (D8): percentile_criterion",
        ),
    ),
    Case(
        "study percentile criterion on the dose response",
        "run",
        study=lambda d: _study(
            d, lambda s: s["claims"][7]["hypotheses"][2].update(percentile_criterion=90)
        ),
        fragments=("study.yaml is invalid", "applies only to contrast phenome_percentile"),
    ),
    Case(
        "study rule text not a string",
        "run",
        study=lambda d: _study(d, lambda s: s["claims"][0].update(rule_text=["a", "b"])),
        fragments=("study.yaml is invalid", ": claim 1: rule_text:"),
    ),
    Case(
        "claim without hypotheses",
        "run",
        study=lambda d: _study(d, lambda s: s["claims"][2].update(hypotheses=[])),
        fragments=("study.yaml is invalid", "claim 3: hypotheses: claim 3 has no hypotheses"),
    ),
    Case(
        "unknown concept set",
        "run",
        study=lambda d: _study(
            d, lambda s: s["claims"][0]["hypotheses"][0].update(outcome="no_such_set")
        ),
        fragments=(
            "study.yaml is invalid",
            "claim 1 / hypothesis h1_crp (D6): outcome: concept set 'no_such_set' is not defined",
        ),
    ),
    Case(
        "missing concept-set file",
        "run",
        study=lambda d: _study(d, lambda s: s.update(concept_set_files=["mine.yaml"])),
        fragments=("concept-set file not found", "mine.yaml"),
    ),
    Case(
        "concept-set file alias bomb",
        "run",
        study=lambda d: _sets_file(d, "mine.yaml", BILLION_LAUGHS),
        fragments=("concept-set file", "mine.yaml", "YAML nodes"),
    ),
    Case(
        "concept-set file not UTF-8",
        "run",
        study=lambda d: _sets_file(d, "mine.yaml", b"concept_sets:\n  - id: x\xff\n"),
        fragments=("concept-set file", "mine.yaml", "not UTF-8", "line 2"),
    ),
    Case(
        "ATLAS concept-set file not UTF-8",
        "run",
        study=lambda d: _sets_file(d, "mine.json", b'{"items": ["\xfe"]}'),
        fragments=("ATLAS concept-set file", "mine.json", "not UTF-8"),
    ),
    Case(
        "study not found",
        "run",
        study=lambda d: d.parent / "nope.yaml",
        fragments=("study file not found", "nope.yaml"),
    ),
    # bad flags
    Case(
        "min-cell 0 check",
        "check",
        args=("--min-cell", "0"),
        fragments=("--min-cell must be a whole number from 1 to 1000, got 0",),
    ),
    Case(
        "min-cell -1 concepts",
        "concepts",
        args=("--min-cell", "-1"),
        fragments=("--min-cell", "got -1"),
    ),
    Case(
        "min-cell abc run", "run", args=("--min-cell", "abc"), fragments=("--min-cell", "got 'abc'")
    ),
    Case(
        "min-cell 1e3 check",
        "check",
        args=("--min-cell", "1e3"),
        fragments=("--min-cell", "got '1e3'"),
    ),
    Case("min-cell 0 run", "run", args=("--min-cell", "0"), fragments=("--min-cell", "got 0")),
    Case(
        "min-cell too large concepts",
        "concepts",
        args=("--min-cell", "5000"),
        fragments=("--min-cell", "got 5000"),
    ),
    Case(
        "engine foo check", "check", args=("--engine", "foo"), fragments=("unknown engine 'foo'",)
    ),
    Case("engine foo run", "run", args=("--engine", "foo"), fragments=("unknown engine 'foo'",)),
    Case("unknown option run", "run", args=("--colour",), fragments=("No such option: --colour",)),
    Case(
        "unknown option check", "check", args=("--colour",), fragments=("No such option: --colour",)
    ),
    Case(
        "unknown option concepts",
        "concepts",
        args=("--frobnicate", "1"),
        fragments=("No such option: --frobnicate",),
    ),
    Case(
        "min-cell without value",
        "check",
        args=("--min-cell",),
        fragments=("--min-cell", "requires an argument"),
    ),
]


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_corpus_is_large_and_distinct():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    assert {c.cmd for c in CASES} == {"check", "concepts", "run"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_line_exit_2(case: Case, base: Path, tmp_path: Path):
    inputs = tmp_path / "in"
    d = inputs / "data"
    shutil.copytree(base, d)
    target = (case.damage(d) if case.damage else None) or d
    data = str(tmp_path / case.data) if case.data else str(target)
    study = case.study(d) if case.study else None
    before = _hashes(inputs)
    out = tmp_path / "out"
    tmp = tmp_path / "tmp"  # the child's TMPDIR: extraction and conversion caches stay here
    tmp.mkdir()
    argv = [case.cmd, "--data", data]
    if case.cmd == "run":
        argv += ["--out", str(out), "--quiet"]
        if study is not None:
            argv += ["--study", str(study)]
    else:
        argv += ["--cache-dir", str(tmp / "cache")]
    argv += list(case.args)
    env = {**os.environ, "TMPDIR": str(tmp)}
    p = subprocess.run(
        [sys.executable, "-m", "miglink.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    both = p.stdout + p.stderr
    assert "Traceback" not in both and "internal error" not in both, both
    assert p.returncode == 2, (p.returncode, both)
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("miglink: error: "), err
    for frag in case.fragments:
        assert frag in err, (frag, err)
    assert not out.exists(), sorted(out.rglob("*"))
    assert _hashes(inputs) == before, "an input file was changed"
    if case.cmd == "concepts":
        assert p.stdout == "", p.stdout  # nothing printed before the refusal
