"""A stage cache is reused only by the code that wrote it: the key covers miglink's source."""

from __future__ import annotations

from miglink import stagecache


def test_the_key_changes_with_the_code(monkeypatch):
    a = stagecache.cache_key("data", "study", "duckdb")
    assert a == stagecache.cache_key("data", "study", "duckdb") and len(a) == 20
    monkeypatch.setattr(stagecache, "code_fingerprint", lambda: "other code")
    assert stagecache.cache_key("data", "study", "duckdb") != a


def test_the_code_fingerprint_is_of_this_source():
    fp = stagecache.code_fingerprint()
    assert len(fp) == 64 and fp == stagecache.code_fingerprint()
