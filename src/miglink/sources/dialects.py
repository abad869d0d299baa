"""Which SQL the study sends to its engine, and whether each other Ibis dialect compiles it.

Users' CDMs live in SQL Server, Snowflake, BigQuery, Databricks and Trino as well as in the
engines the suite runs (DuckDB, PostgreSQL, Spark). Those servers are not available to a test,
but Ibis compiles an expression to any dialect without a driver: so a run on DuckDB records
every expression it executes or materialises (:func:`recording`), and each is compiled to every
dialect (:func:`compile_failures`). A failure names the line of miglink that issued the query.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

#: the dialects users have that the suite cannot run (docs/engines.md)
DIALECTS = ("mssql", "snowflake", "bigquery", "databricks", "trino")

_PACKAGE = Path(__file__).resolve().parents[1]
#: modules that only pass a query on (this one; the engine's cache helper): the site is their
#: caller
_PASS_ON = (Path(__file__).resolve(), _PACKAGE / "features" / "engine.py")


@dataclass(frozen=True)
class Query:
    """One expression the study had its engine run (``how``: execute, to_pyarrow or
    create_table) and the miglink line that asked for it (``site``: path:line in function)."""

    site: str
    how: str
    expr: ir.Expr


@dataclass(frozen=True)
class Failure:
    """A query that does not compile to ``dialect``: the first line of the error."""

    dialect: str
    site: str
    error: str


def _site() -> str:
    """The innermost frame of miglink's own code that asked for the query."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path not in _PASS_ON and path.is_relative_to(_PACKAGE):
            return f"{path.relative_to(_PACKAGE)}:{frame.lineno} in {frame.name}"
    return "outside miglink"


@contextlib.contextmanager
def recording(backend_class: type | None = None) -> Iterator[list[Query]]:
    """Record every expression executed, fetched as Arrow or materialised as a table (cached
    or created) by a backend of ``backend_class`` (DuckDB's by default) while the block runs."""
    if backend_class is None:
        from ibis.backends.duckdb import Backend as backend_class
    queries: list[Query] = []
    methods = ("execute", "to_pyarrow", "create_table")
    own = {m: backend_class.__dict__.get(m) for m in methods}  # None: inherited

    def wrap(how: str, original):
        def recorded(self, *args, **kwargs):
            if how == "create_table":
                expr = kwargs.get("obj", args[1] if len(args) > 1 else None)
            else:
                expr = args[0] if args else kwargs.get("expr")
            if isinstance(expr, ir.Expr):
                queries.append(Query(_site(), how, expr))
            return original(self, *args, **kwargs)

        return recorded

    for how in methods:
        setattr(backend_class, how, wrap(how, getattr(backend_class, how)))
    try:
        yield queries
    finally:
        for how, original in own.items():
            if original is None:
                delattr(backend_class, how)
            else:
                setattr(backend_class, how, original)


def compile_failures(queries: list[Query], dialects: tuple[str, ...] = DIALECTS) -> list[Failure]:
    """Each query compiled to each dialect: the failures, one per dialect, site and error."""
    failures: dict[tuple[str, str, str], Failure] = {}
    for q in queries:
        for d in dialects:
            try:
                ibis.to_sql(q.expr, dialect=d, pretty=False)
            except Exception as e:  # noqa: BLE001 - any compiler error is the finding
                first = (str(e).strip().splitlines() or [""])[0][:200]
                error = f"{type(e).__name__}: {first}"
                failures.setdefault((d, q.site, error), Failure(d, q.site, error))
    return list(failures.values())


def shape(expr: ir.Expr) -> frozenset:
    """The operations of ``expr`` with their types, literals and names aside: what decides
    whether a dialect's compiler can translate it."""
    return frozenset(
        (type(n).__name__, str(getattr(n, "dtype", ""))) for n in expr.op().find(ops.Node)
    )


def distinct(queries: list[Query]) -> list[Query]:
    """The queries that can fail where the others compiled: the first each function of miglink
    issues, and any other holding an operation (with its type) no query kept before holds.

    A loop over outcomes issues the same query with other literals many times, and compiling
    every copy to five dialects takes minutes; a compiler fails on an operation it has no rule
    for (or on its type), which the first query holding it shows."""
    functions: set[str] = set()
    covered: set = set()
    out = []
    for q in queries:
        ops_of = shape(q.expr)
        function = q.site.split(":")[0] + q.site.partition(" in ")[2]
        if function not in functions or not ops_of <= covered:
            functions.add(function)
            covered |= ops_of
            out.append(q)
    return out
