"""No secret of a database URL reaches any artefact, log, message or progress line.

The URL carries a password in its userinfo AND in its query string (and a key path); a real run
is made on it (ibis.connect is replaced by an opener of a synthetic DuckDB file, since no database
server runs here) and every file it writes is searched for each secret.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import ibis
import pytest

from miglink.errors import MiglinkError
from miglink.sources.cdm import open_cdm
from miglink.sources.describe import describe_source, scrub, url_secrets

SECRETS = ("Hunter2pw", "QueryPw77", "/keys/client.key", "tok3nValue")

SHAPES = [
    (
        "postgresql://alice:Hunter2pw@db.example.org:5432/cdm?password=QueryPw77&sslkey=/keys/client.key",
        "postgresql://db.example.org:5432/cdm",
    ),
    (
        "postgresql+psycopg://alice:Hunter2pw@db.example.org/cdm?sslmode=require&password=QueryPw77",
        "postgresql+psycopg://db.example.org/cdm",
    ),
    (
        "mysql://root:Hunter2pw@10.0.0.5:3306/omop?ssl_key=/keys/client.key",
        "mysql://10.0.0.5:3306/omop",
    ),
    (
        "mssql://sa:Hunter2pw@sqlhost:1433/cdm?driver=ODBC+Driver+18&password=QueryPw77",
        "mssql://sqlhost:1433/cdm",
    ),
    (
        "snowflake://alice:Hunter2pw@myorg-acct/OMOP/CDM?warehouse=WH&role=R&token=tok3nValue",
        "snowflake://myorg-acct/OMOP/CDM",
    ),
    (
        "trino://alice:Hunter2pw@trino.example.org:443/hive/omop?access_token=tok3nValue",
        "trino://trino.example.org:443/hive/omop",
    ),
    # a password holding '@', '/' and '?' unescaped: everything up to the last '@' goes
    ("postgresql://alice:Hun/ter?2@pw@db.example.org/cdm", "postgresql://db.example.org/cdm"),
    # percent-encoded password
    ("postgresql://alice:Hunter2pw%40x@db.example.org/cdm", "postgresql://db.example.org/cdm"),
    # JDBC / ODBC style ';key=value' parameters
    ("sqlserver://sqlhost:1433;user=sa;password=Hunter2pw", "sqlserver://sqlhost:1433"),
    # a query-only secret, no userinfo
    ("postgresql://db.example.org/cdm?password=QueryPw77", "postgresql://db.example.org/cdm"),
    ("duckdb:///data/cdm.duckdb?password=QueryPw77", "duckdb:///data/cdm.duckdb"),
]


@pytest.mark.parametrize("url,expected", SHAPES, ids=[s[1] for s in SHAPES])
def test_describe_source_drops_credentials_and_query(url, expected):
    d = describe_source(url)
    assert d == expected
    for s in (*SECRETS, "alice", "root", "sa:", "Hun/ter", "?", ";", "@"):
        assert s not in d, (s, d)


def test_paths_and_objects_are_described_plainly(tmp_path):
    assert describe_source(str(tmp_path)) == str(tmp_path)
    assert describe_source(tmp_path) == str(tmp_path)
    assert describe_source(object()) == "a object object"


def test_scrub_removes_every_secret_from_driver_text():
    url = SHAPES[0][0]
    text = (
        f'connection to "{url}" failed: FATAL: password authentication failed for user "alice" '
        "(password Hunter2pw, sslkey /keys/client.key, QueryPw77)"
    )
    out = scrub(text, url)
    for s in (*SECRETS[:3], "alice"):
        assert s not in out, (s, out)
    assert "postgresql://db.example.org:5432/cdm" in out
    assert set(url_secrets(url)) >= {"Hunter2pw", "QueryPw77", "/keys/client.key", "alice"}
    # a one-letter user name is removed as a word only, not from every word of the message
    assert scrub("user a refused at db", "postgresql://a:b@db/x") == "user *** refused at db"


def test_failed_connection_message_has_no_secret(monkeypatch):
    url = SHAPES[0][0]

    def refuse(u, **kw):
        raise RuntimeError(f"could not connect to {u} (password=Hunter2pw)\nsecond line")

    monkeypatch.setattr(ibis, "connect", refuse)
    with pytest.raises(MiglinkError) as e:
        open_cdm(url)
    msg = str(e.value)
    assert msg.startswith("cannot connect to postgresql://db.example.org:5432/cdm")
    for s in (*SECRETS, "alice"):
        assert s not in msg, (s, msg)


def test_cli_connection_error_is_one_line_without_secret(tmp_path):
    """A real connection attempt (nothing listens on port 9 of localhost) through the CLI."""
    url = "postgresql://alice:Hunter2pw@127.0.0.1:9/cdm?password=QueryPw77&sslkey=/keys/client.key"
    for cmd in ("check", "concepts"):
        p = subprocess.run(
            [sys.executable, "-m", "miglink.cli.main", cmd, "--data", url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert p.returncode == 2, (p.stdout, p.stderr)
        err = p.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "127.0.0.1:9/cdm" in err
        for s in (*SECRETS, "alice"):
            assert s not in p.stdout + p.stderr, (s, err)


def test_mistyped_url_is_not_echoed_with_its_password(tmp_path):
    """'postgresql:/' (one slash) is no URL and no path: 'data source not found' must not print
    the password it carries."""
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "miglink.cli.main",
            "check",
            "--data",
            "postgresql:/alice:Hunter2pw@h/db",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert p.returncode == 2, p.stderr
    assert "data source not found" in p.stderr and "Hunter2pw" not in p.stdout + p.stderr


@pytest.fixture(scope="module")
def duckdb_cdm(tmp_path_factory) -> Path:
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("cred") / "cdm"
    generate(persons=2000, seed=3, out=out, format="duckdb")
    return out / "cdm.duckdb"


def test_real_run_on_a_url_writes_no_secret(duckdb_cdm, tmp_path, monkeypatch, caplog):
    from miglink.study import run_study

    url = (
        "postgresql://alice:Hunter2pw@db.example.org:5432/cdm"
        "?password=QueryPw77&sslkey=/keys/client.key&options=tok3nValue"
    )
    seen: list[str] = []
    monkeypatch.setattr(
        ibis,
        "connect",
        lambda u, **kw: (seen.append(u), ibis.duckdb.connect(str(duckdb_cdm), read_only=True))[1],
    )
    out = tmp_path / "run"
    lines: list[str] = []
    with caplog.at_level(logging.DEBUG):
        run_study(url, out, min_cell=5, progress=lines.append)
    assert seen == [url]  # the URL really went through the connection route
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"run.json", "run.log", "report.html", "site_results.json"} <= names
    assert "postgresql://db.example.org:5432/cdm" in (out / "run.json").read_text()
    texts = {str(p): p.read_bytes() for p in files}
    texts["<log records>"] = caplog.text.encode()
    texts["<progress>"] = "\n".join(lines).encode()
    for where, blob in texts.items():
        for s in (*SECRETS, "alice", "sslkey", "password="):
            assert s.encode() not in blob, (s, where)
