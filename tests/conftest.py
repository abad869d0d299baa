"""Shared fixtures: the path to ../shared/data, one Spark session and one private PostgreSQL
cluster per test run (per xdist worker): tests/postgres and tests/engine share the cluster."""

from __future__ import annotations

import json
import math
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
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


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` run once per test run, its folder shared by the xdist workers (their
    base folders share a parent; a second worker waits on the lock for the first's build)."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(shared / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            build(folder)
            (folder / ".built").write_text("")
    return folder


@pytest.fixture(scope="session")
def build_once(tmp_path_factory):
    """``build_once(name, build)``: :func:`built_once` for test modules (the federated network)."""
    return lambda name, build: built_once(tmp_path_factory, name, build)


@pytest.fixture(scope="session")
def synthetic_cdm(tmp_path_factory) -> Path:
    """A 30k-person synthetic OMOP CDM (default scenario), generated once per test run."""
    from miglink.synth import generate

    def build(folder: Path) -> None:
        generate(persons=30_000, seed=11, out=folder / "cdm30k")

    return built_once(tmp_path_factory, "synth30k", build) / "cdm30k"


@pytest.fixture(scope="session")
def synthetic_run(synthetic_cdm, tmp_path_factory) -> Path:
    """The whole default study run once on the synthetic CDM by ``miglink run --json`` (its
    stdout kept beside the run as run_stdout.json); returns the run directory."""

    def build(folder: Path) -> None:
        cmd = [sys.executable, "-m", "miglink.cli.main", "run", "--data", str(synthetic_cdm)]
        cmd += ["--out", str(folder / "run30k"), "--json", "--min-cell", "5"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stderr[-2000:]
        (folder / "run_stdout.json").write_text(p.stdout, encoding="utf-8")

    return built_once(tmp_path_factory, "run30k", build) / "run30k"


@pytest.fixture(scope="session")
def substudy(tmp_path_factory):
    """``make(*hypothesis_ids)``: the default study cut to the claims and hypotheses named, no
    comparisons (D10) -- for tests of what a run does around the study (--out safety, locks,
    resume), which need complete runs but not every design."""
    from importlib import resources

    import yaml

    text = (resources.files("miglink") / "data" / "study.yaml").read_text(encoding="utf-8")

    def make(*hypothesis_ids: str) -> Path:
        study = yaml.safe_load(text)
        study.pop("comparisons", None)
        claims = []
        for c in study["claims"]:
            c["hypotheses"] = [h for h in c["hypotheses"] if h["id"] in hypothesis_ids]
            claims += [c] if c["hypotheses"] else []
        study["claims"] = claims
        path = tmp_path_factory.mktemp("substudy") / "study.yaml"
        path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
        return path

    return make


@pytest.fixture(scope="session")
def mini_study(substudy) -> Path:
    """One claim, one D1 hypothesis (h3_sle): a run on 2k persons in 9 s instead of 20 s."""
    return substudy("h3_sle")


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


def pg_bin() -> Path | None:
    """The folder of ``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl") if p.is_file()]
    versions.sort(key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    port: int
    folder: Path

    def admin_url(self, query: str = "") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres{query}"

    def role_url(self, user: str, password_url: str | None = None, query: str = "") -> str:
        """A role's URL (``password_url`` percent-encoded, or none: libpq finds it)."""
        auth = f"{user}:{password_url}" if password_url else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/postgres{query}"

    def sql(self, *statements: str, user: str = "postgres", password: str | None = None):
        """Run statements; the rows of the last one."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=user, password=password, dbname="postgres"
        ) as con:
            con.autocommit = True
            rows = None
            for s in statements:
                cur = con.execute(s)
                rows = cur.fetchall() if cur.description else None
            return rows


@pytest.fixture(scope="session")
def pg_server():
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (pg_ctl, initdb): `make test` installs them")
    # the server refuses to run as root: then it runs as an unprivileged account
    run_as = None
    if os.geteuid() == 0:
        name = "postgres" if _has_user("postgres") else "nobody"
        run_as = pwd.getpwnam(name)
    folder = Path(tempfile.mkdtemp(prefix="miglink-pg-"))
    if run_as is not None:
        os.chown(folder, run_as.pw_uid, run_as.pw_gid)
    kw = {"user": run_as.pw_uid, "group": run_as.pw_gid} if run_as else {}
    data, port = folder / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=folder, **kw)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    opts = f"-h 127.0.0.1 -p {port} -k {folder} -F -c full_page_writes=off -c work_mem=64MB"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "-o",
        opts,
        "start",
    )
    try:
        yield Server(port, folder)
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=folder,
            **kw,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
