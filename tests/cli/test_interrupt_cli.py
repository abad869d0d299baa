"""Ctrl-C inside a DuckDB query is an interrupt (exit 130, one line), not an internal error.

DuckDB handles the SIGINT itself and raises RuntimeError("Query interrupted"), so Python never
sees a KeyboardInterrupt; without this the user read "internal error" after pressing Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import threading

import duckdb
import pytest

import miglink.sources
from miglink.cli.main import main


def _interrupted_query(*_a, **_k):
    con = duckdb.connect()
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    con.sql("select sum(hash(range)) from range(20000000000)").fetchall()


@pytest.fixture(autouse=True)
def _sigint_acts():
    """Python's Ctrl-C handler for the test (a background job starts with SIGINT ignored)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_in_a_duckdb_query_exits_130(monkeypatch, capsys, tmp_path):
    with pytest.raises(RuntimeError, match="Query interrupted"):
        _interrupted_query()  # what DuckDB raises (the premise of the fix)
    monkeypatch.setattr(miglink.sources, "open_cdm", _interrupted_query)
    code = main(["check", "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "miglink: interrupted"
