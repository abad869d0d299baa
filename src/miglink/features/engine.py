"""The one engine-specific detail the study needs: materialising an intermediate table."""

from __future__ import annotations

import types

import ibis.expr.types as ir


def cache(expr: ir.Table) -> ir.Table:
    """Materialise ``expr`` in its engine (DuckDB temp table, Spark checkpointed DataFrame).

    ibis 12's PySpark backend does not register in-memory tables (``ibis.memtable``) before
    caching an expression that uses them (only before executing one), so register them first.
    On Spark the table is checkpointed rather than cached (:func:`_checkpointed_table`).
    """
    backend = expr._find_backend(use_default=True)
    if backend.name == "pyspark":
        backend._run_pre_execute_hooks(expr)
        if not getattr(backend, "_miglink_checkpoints", False):
            backend._create_cached_table = types.MethodType(_checkpointed_table, backend)
            backend._miglink_checkpoints = True
    return expr.cache()


def _checkpointed_table(backend, name: str, expr: ir.Table) -> ir.Table:
    """A Spark temp view over a local checkpoint of ``expr``: the lineage is cut.

    ibis caches with ``DataFrame.cache()``, which keeps the whole logical plan behind the view:
    every later query re-analyses the plans of all the tables it builds on (D2's matching
    printed plans of 190k characters) before the cache manager swaps the cached data in. A local
    checkpoint is materialised now (as DuckDB's temp table is) and later plans start from it.
    ``release()`` drops the view; Spark frees the blocks once the DataFrame is collected.
    """
    df = backend._session.sql(backend.compile(expr)).localCheckpoint(eager=True)
    df.createTempView(name)
    backend._cached_dataframes[name] = df
    return backend.table(name)


def lineage_cut(expr: ir.Table) -> ir.Table:
    """``expr`` materialised on Spark only; on the other engines ``expr`` itself.

    Spark analyses and optimises the whole logical plan of every query, and a plan that
    refers to one subquery twice (a self-join, a union of two of its joins) carries it twice,
    so deep pipelines such as D2's matching take Catalyst tens of seconds on a few thousand
    rows. DuckDB and PostgreSQL plan such trees in milliseconds and a temp table would cost a
    write, so there this is the identity. Release the result with :func:`release_cut`.
    """
    backend = expr._find_backend(use_default=True)
    return cache(expr) if backend.name == "pyspark" else expr


def release_cut(expr: ir.Table) -> None:
    """Drop a table :func:`lineage_cut` materialised: on Spark only, so that on the other
    engines, where the cut returned its input, a cached input is never dropped under its owner."""
    if expr._find_backend(use_default=True).name == "pyspark" and hasattr(expr, "release"):
        expr.release()
