"""Resumable runs (issues 7 and 13): a run killed part-way restarts from its finished stages; the
stage cache is private, holds JSON and Parquet only (a planted file is ignored, never run), is keyed
on the data's content, and is gone after a finished, failed or interrupted run."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def small_cdm(tmp_path_factory, substudy) -> tuple[Path, Path]:
    """(3,000 synthetic persons, a study of claim 3's SLE hypotheses: one D1, one D2): stages
    D1 and D2 are cached before the kill, D3-D10 have nothing to do, so a run takes seconds."""
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("resume") / "cdm3k"
    generate(persons=3_000, seed=7, out=out)
    return out, substudy("h3_sle", "h3_sle_incident")


def _run_args(data: tuple[Path, Path], out, *extra: str) -> list[str]:
    """The `miglink run` command line of these tests."""
    cdm, study = data
    cmd = [sys.executable, "-m", "miglink.cli.main", "run", "--data", str(cdm), "--out", str(out)]
    return [*cmd, "--study", str(study), *extra, "--no-report"]


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C acts. A shell's background job (no job control) starts
    with SIGINT ignored, and an ignored signal stays ignored across exec, so a suite launched
    as `make test &` would otherwise never interrupt the run it tests."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(data, out):
    return subprocess.Popen(
        _run_args(data, out),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def _stop_after(p: subprocess.Popen, line_has: str, sig: int) -> str:
    """Read the run's progress until ``line_has`` appears, then send ``sig`` to it."""
    deadline = time.time() + 600
    seen = ""
    try:
        while time.time() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            seen += line
            if line_has in line:
                os.killpg(p.pid, sig)
                break
        seen += p.stderr.read() if sig != signal.SIGKILL else ""
    finally:
        p.wait(timeout=60)
    return seen


def _killed_run(data, out) -> Path:
    """A run killed (SIGKILL) once D1 and D2 are cached; returns the cache's key folder."""
    p = _start(data, out)
    seen = _stop_after(p, "D2 estimated", signal.SIGKILL)
    assert "D2 estimated" in seen, seen[-2000:]
    keys = list((out.parent / f".{out.name}.miglink-cache").iterdir())
    assert len(keys) == 1, keys
    return keys[0]


def test_killed_run_resumes_from_finished_stages(tmp_path, small_cdm):
    out = tmp_path / "run"
    cache_root = tmp_path / ".run.miglink-cache"
    key = _killed_run(small_cdm, out)
    assert not out.exists(), "a killed run must not leave a partial output directory"
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".run.*.tmp"))
    cached = {f.name for f in cache_root.rglob("*")}
    assert {"check.json", "counts_d1.json", "counts_d2.json"} <= cached, cached
    assert not [n for n in cached if n.endswith((".pkl", ".tmp"))], cached
    # private: the stages hold counts below the minimum cell
    for d in (cache_root, key):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, oct(d.stat().st_mode)

    again = subprocess.run(
        _run_args(small_cdm, out, "--json"), capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    reused = [n for n in run["notes"] if n.startswith("reused finished stages")]
    assert reused and "counts_d1" in reused[0] and "counts_d2" in reused[0], run["notes"]
    assert not cache_root.exists(), "the stage cache is removed once the run has finished"

    fresh = tmp_path / "fresh"
    subprocess.run(
        _run_args(small_cdm, fresh, "--json"),
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    assert (
        json.loads((fresh / "run.json").read_text())["data_fingerprint"] == run["data_fingerprint"]
    )
    for name in ("results.csv",):
        a = pd.read_csv(out / name)
        b = pd.read_csv(fresh / name)
        # same rows and values; floats to 1e-9 (DuckDB's parallel float sums may differ)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
    for name in ("curves.parquet", "prevalence.parquet", "attrition.parquet"):
        # row order is not kept by DuckDB (preserve_insertion_order = false): compare sorted
        a, b = (
            pd.read_parquet(d / name).pipe(
                lambda x: x.sort_values(list(x.columns)).reset_index(drop=True)
            )
            for d in (out, fresh)
        )
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)


class _Payload:
    """A pickle that, when loaded, creates a file: what a planted cache entry could do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_planted_cache_files_are_never_executed(tmp_path, small_cdm):
    out = tmp_path / "run"
    key = _killed_run(small_cdm, out)
    pwned = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(pwned))
    for name in ("check", "counts_d1", "counts_d2", "counts_d3", "features"):
        (key / f"{name}.pkl").write_bytes(payload)  # the old cache format
    # a JSON entry naming a class outside the allow-list, and one naming os.system
    doc = {"format": "miglink-stage-cache/1", "key": key.name}
    evil = {"__t": "dc", "module": "os", "cls": "system", "v": {"command": f"touch {pwned}"}}
    (key / "counts_d1.json").write_text(json.dumps({**doc, "value": evil}))
    (key / "counts_d2.json").write_text("{not json")
    p = subprocess.run(_run_args(small_cdm, out), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert not pwned.exists(), "a planted cache file was executed"
    notes = json.loads((out / "run.json").read_text())["notes"]
    reused = next((n for n in notes if n.startswith("reused")), "")
    assert "counts_d1" not in reused and "counts_d2" not in reused, (
        reused
    )  # recomputed, not trusted


def test_stale_cache_of_a_killed_run_is_removed(tmp_path, small_cdm):
    out = tmp_path / "run"
    base = tmp_path / ".run.miglink-cache"
    base.mkdir(mode=0o700)
    stale = base / "0123456789abcdef0123"  # another key: other data, study or version
    stale.mkdir(mode=0o700)
    (stale / "d1.json").write_text("{}")
    p = subprocess.run(_run_args(small_cdm, out), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert not base.exists(), sorted(str(x) for x in base.rglob("*"))


def test_interrupted_run_leaves_no_cache(tmp_path, small_cdm):
    out = tmp_path / "run"
    p = _start(small_cdm, out)
    seen = _stop_after(p, "D2 estimated", signal.SIGINT)
    assert p.returncode == 130 and "miglink: interrupted" in seen, (p.returncode, seen[-2000:])
    assert "Traceback" not in seen and "internal error" not in seen, seen[-2000:]
    assert sorted(x.name for x in tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_fingerprint_follows_content_not_size_or_mtime(tmp_path):
    from miglink.sources import open_cdm

    d = tmp_path / "cdm"
    d.mkdir()
    f = d / "person.csv"
    f.write_text("person_id,gender_concept_id,year_of_birth\n1,8507,1970\n")
    st = f.stat()
    before = open_cdm(d).fingerprint()
    f.write_text("person_id,gender_concept_id,year_of_birth\n1,8507,1971\n")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    assert open_cdm(d).fingerprint() != before


def test_database_fingerprint_is_a_checksum_query():
    import ibis

    from miglink.sources import open_cdm

    con = ibis.duckdb.connect()
    con.raw_sql("create table person (person_id bigint, year_of_birth int)")
    con.raw_sql("insert into person values (1, 1970), (2, 1980)")
    a = open_cdm(con).fingerprint()
    con.raw_sql("update person set year_of_birth = 1981 where person_id = 2")  # same row count
    assert open_cdm(con).fingerprint() != a


def test_cache_format_round_trips_every_stage_value(tmp_path):
    from miglink.cachefmt import dump, load
    from miglink.sources.checks import CheckReport, Finding

    frame = pd.DataFrame(
        {
            "i": np.array([1, 2, 3], dtype="int64"),
            "f": [0.1, np.nan, np.inf],
            "mixed": [1, "<5", None],
            "when": pd.to_datetime(["2020-01-01", "2021-06-30", None]),
        }
    )
    value = {
        "rows": [
            {"est": 1.0 / 3.0, "nan": float("nan"), "inf": -np.inf, "none": None},
            {
                "n": np.int64(7),
                "x": np.float64(2.5),
                "b": np.bool_(True),
                "day": dt.date(2020, 1, 2),
            },
        ],
        ("pair", "key"): (frame, None),
        "report": CheckReport(
            source="s",
            engine="duckdb",
            fatal=[Finding("c", "person", "person_id", 3, "bad", "fatal", 0.5)],
        ),
        "empty": pd.DataFrame(),
    }
    dump(value, tmp_path, "stage", "k")
    back = load(tmp_path, "stage", "k")
    assert back["rows"][0]["est"] == 1.0 / 3.0 and np.isnan(back["rows"][0]["nan"])
    assert back["rows"][0]["inf"] == -np.inf and back["rows"][0]["none"] is None
    assert type(back["rows"][1]["n"]) is np.int64 and back["rows"][1]["n"] == 7
    assert type(back["rows"][1]["b"]) is np.bool_ and back["rows"][1]["day"] == dt.date(2020, 1, 2)
    f2, none = back[("pair", "key")]
    assert none is None
    pd.testing.assert_frame_equal(f2, frame, check_exact=True)
    assert back["report"] == value["report"]
    assert back["empty"].empty
    assert not list(tmp_path.glob("*.pkl"))
