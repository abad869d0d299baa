"""Compatibility shim between the pinned ibis 12.0 and duckdb 2.x.

ibis 12.0's DuckDB backend calls ``DuckDBPyConnection.fetch_arrow_table``, which duckdb 2.0
removed in favour of ``to_arrow_table``; without this, ``list_tables``, ``con.sql`` and
``table()`` on a DuckDB file fail with AttributeError. Remove once ibis is upgraded.
"""

from __future__ import annotations

import warnings

import duckdb


def _fetch_arrow_table(self, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return self.to_arrow_table(*args, **kwargs)


def install() -> None:
    for cls in (duckdb.DuckDBPyConnection, getattr(duckdb, "DuckDBPyRelation", None)):
        if cls is not None and not hasattr(cls, "fetch_arrow_table"):
            try:
                cls.fetch_arrow_table = _fetch_arrow_table
            except (AttributeError, TypeError):  # pragma: no cover - immutable type
                pass


install()
