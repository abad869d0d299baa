"""Put an OMOP folder (CSV / Parquet / zip / DuckDB file, as miglink reads it) into PostgreSQL.

Columns miglink's schema knows get its types (the same casts the typed layer applies, so the
database holds what a DuckDB run analyses); other columns keep the type they were read with.
Rows go through COPY in Arrow batches: nothing person-level is written to disk on the way.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from miglink.errors import MiglinkError
from miglink.sources.describe import describe_source, scrub
from miglink.sources.postgres import VOCABULARY, connect, quote_ident
from miglink.sources.schema import ColumnSpec, cdm_schema
from miglink.sources.typed import column_map, typed_table

_KIND = {"int64": "int64", "float64": "float64", "date": "date"}


def load_folder(
    data: str | Path,
    url: str,
    schema: str | None = None,
    *,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Load every table of ``data`` into ``schema`` (vocabulary tables into the URL's
    ``vocab_schema`` when it names one); returns rows per table. Refuses, before writing
    anything, a table that exists with rows unless ``replace``."""
    from miglink.sources import open_cdm

    cdm = open_cdm(str(data))
    backend, target = connect(url)
    where = describe_source(url)
    cdm_schema_name = schema or target.cdm_schema or "cdm"
    vocab = target.vocab_schema or cdm_schema_name
    plan = {n: (vocab if n in VOCABULARY else cdm_schema_name) for n in cdm.tables()}
    try:
        for s in sorted(set(plan.values())):
            with backend.begin() as cur:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s)}")
        _refuse_nonempty(backend, plan, replace, where)
        counts = {}
        for name, s in plan.items():
            counts[name] = _load_table(backend, s, name, _loadable(cdm, name))
            if progress:
                progress(name, counts[name])
    except MiglinkError:
        raise
    except Exception as e:  # noqa: BLE001 - a driver error (privilege, type) is a user error
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MiglinkError(f"cannot load into {where}: {scrub(first, url)}") from None
    return counts


def _loadable(cdm: Any, name: str) -> ir.Table:
    """The table as the typed layer types it, with the columns it does not know kept."""
    raw = cdm.raw_table(name)
    spec = cdm_schema().get(name)
    if spec is None or cdm.missing_required_columns(name):  # check reports these: load as read
        cols = column_map(raw, name)
        t = raw.select(**{k: raw[v] for k, v in cols.items()})
    else:
        extra = [
            ColumnSpec(k, _KIND.get(_kind(raw[v]), "string"), False, "")
            for k, v in column_map(raw, name).items()
            if k not in spec.column_names
        ]
        t = typed_table(raw, dataclasses.replace(spec, columns=spec.columns + tuple(extra)))
    nulls = [c for c, dt in t.schema().items() if dt.is_null()]
    return t.mutate(**{c: t[c].cast("string") for c in nulls}) if nulls else t


def _kind(col: ir.Value) -> str:
    dt = col.type()
    if dt.is_integer():
        return "int64"
    if dt.is_floating() or dt.is_decimal():
        return "float64"
    return "date" if dt.is_date() else "string"


def _refuse_nonempty(backend: Any, plan: dict[str, str], replace: bool, where: str) -> None:
    if replace:
        return
    for name, s in plan.items():
        if name not in backend.list_tables(database=s):
            continue
        with backend.begin() as cur:
            has_rows = cur.execute(
                f"SELECT EXISTS (SELECT 1 FROM {quote_ident(s)}.{quote_ident(name)})"
            )
            if has_rows.fetchone()[0]:
                raise MiglinkError(
                    f"table {s}.{name} in {where} already holds rows; "
                    "use --replace to overwrite it (nothing was loaded)"
                )


def _batches(t: ir.Table, rows: int = 100_000):
    """Arrow record batches of ``t`` from its DuckDB reader (ibis 12's own batch reader calls a
    method duckdb 2 removed)."""
    backend = t._find_backend()
    reader = backend.con.sql(backend.compile(t)).to_arrow_reader(rows)
    yield from reader


def _load_table(backend: Any, schema: str, name: str, t: ir.Table) -> int:
    """(Re)create ``schema.name`` with ``t``'s types and COPY its rows in."""
    import pyarrow.csv as pacsv

    backend.create_table(name, schema=t.schema(), database=schema, overwrite=True)
    cols = ", ".join(quote_ident(c) for c in t.columns)
    sql = f"COPY {quote_ident(schema)}.{quote_ident(name)} ({cols}) FROM STDIN (FORMAT csv)"
    # quoted values are text (an empty string stays ''), an unquoted empty field is NULL
    opts = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    n = 0
    with backend.begin() as cur, cur.copy(sql) as copy:
        for batch in _batches(t):
            if batch.num_rows:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, opts)
                copy.write(buf.getvalue())
                n += batch.num_rows
    with backend.begin() as cur:
        cur.execute(f"ANALYZE {quote_ident(schema)}.{quote_ident(name)}")
    return n
