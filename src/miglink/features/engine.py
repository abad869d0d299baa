"""The one engine-specific detail the study needs: materialising an intermediate table."""

from __future__ import annotations

import ibis.expr.types as ir


def cache(expr: ir.Table) -> ir.Table:
    """Materialise ``expr`` in its engine (DuckDB temp table, Spark cached DataFrame).

    ibis 12's PySpark backend does not register in-memory tables (``ibis.memtable``) before
    caching an expression that uses them (only before executing one), so register them first.
    """
    backend = expr._find_backend(use_default=True)
    if backend.name == "pyspark":
        backend._run_pre_execute_hooks(expr)
    return expr.cache()
