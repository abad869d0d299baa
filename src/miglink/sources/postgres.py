"""An OMOP CDM in PostgreSQL: ``postgresql://[user@]host[:port]/database?cdm_schema=cdm``.

miglink's own query options (the rest of the query string goes to libpq unchanged, e.g.
``sslmode=require``):

- ``cdm_schema``: the schema holding the clinical tables (default: the first schema of the
  role's ``search_path``, usually ``public``);
- ``vocab_schema``: the schema holding ``concept`` and the other vocabulary tables (default: the
  CDM schema);
- ``scratch_schema``: where miglink keeps its intermediate tables (created if absent, dropped
  table by table when the run ends). Without it they are session temporary tables, which need
  only the database's TEMP privilege: a read-only role on the CDM works either way.

miglink never writes into the CDM or vocabulary schema (a scratch schema naming either is
refused). The password comes from where libpq looks for it - ``PGPASSWORD``, ``PGPASSFILE``,
``~/.pgpass`` - or from the URL; it never appears in an artefact, a log line or an error.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from miglink.errors import MiglinkError
from miglink.sources.describe import describe_source, scrub

SCHEMES = ("postgresql", "postgres")
#: miglink's own query options; every other one is a libpq connection parameter
OPTIONS = ("cdm_schema", "vocab_schema", "scratch_schema")
#: tables read from the vocabulary schema when it differs from the CDM schema
VOCABULARY = (
    "concept",
    "concept_ancestor",
    "concept_relationship",
    "concept_synonym",
    "concept_class",
    "vocabulary",
    "domain",
    "relationship",
    "drug_strength",
    "source_to_concept_map",
)
#: content checksums are summed modulo this prime so the sum stays exact
_CHECKSUM_MOD = 2**61 - 1


@dataclass(frozen=True)
class PgTarget:
    """Where to connect and which schemas to use (the password is never kept here)."""

    params: dict[str, Any]
    cdm_schema: str | None = None
    vocab_schema: str | None = None
    scratch_schema: str | None = None
    libpq: dict[str, str] = field(default_factory=dict)


def is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.split("://", 1)[0].lower() in SCHEMES


def parse_url(url: str) -> tuple[PgTarget, str | None]:
    """The connection target and the URL's password (None: libpq finds it)."""
    where = describe_source(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MiglinkError(f"malformed PostgreSQL URL {where}") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    opts = {k: query.pop(k) or None for k in OPTIONS if k in query}
    path = [unquote(p) for p in parts.path.lstrip("/").split("/") if p]
    if len(path) > 2:
        raise MiglinkError(f"PostgreSQL URL {where}: expected /database[/schema] as its path")
    if len(path) == 2:  # Ibis' /database/schema form
        opts.setdefault("cdm_schema", path[1])
    params = {
        "host": unquote(parts.hostname) if parts.hostname else None,
        "port": port,
        "user": unquote(parts.username) if parts.username else None,
        "database": path[0] if path else None,
    }
    target = PgTarget(
        params,
        opts.get("cdm_schema"),
        opts.get("vocab_schema"),
        opts.get("scratch_schema"),
        query,
    )
    password = unquote(parts.password) if parts.password else None
    return target, password


def connect(url: str) -> tuple[Any, PgTarget]:
    """An Ibis backend for ``url`` through ``ibis.connect`` (miglink's options removed; errors
    scrubbed of every secret). Unset host, port, user and database are left to libpq (PGHOST,
    PGPORT, ... as psql does), and so is the password: PGPASSWORD, PGPASSFILE, ~/.pgpass."""
    import ibis

    target, password = parse_url(url)
    parts = urlsplit(url)
    # miglink's options out of the query, every other piece as written
    kept = [q for q in parts.query.split("&") if q and unquote(q.split("=", 1)[0]) not in OPTIONS]
    clean = urlunsplit(parts._replace(query="&".join(kept))) if parts.query else url
    overrides: dict[str, Any] = {}
    if target.params["port"] is None:
        overrides["port"] = None  # ibis would say 5432 where libpq reads PGPORT
    if target.params["user"] is not None:
        overrides["user"] = target.params["user"]  # percent-decoded
    if password is not None:
        overrides["password"] = password  # percent-decoded ('+' is no space here)
    try:
        backend = ibis.connect(clean, **overrides)
    except Exception as e:  # noqa: BLE001 - any driver error is a user error here
        raise MiglinkError(
            f"cannot connect to {describe_source(url)}: {scrub(_first_line(e), url)}"
        ) from None
    return backend, target


def open_postgres(
    backend: Any, target: PgTarget, where: str
) -> tuple[str, dict[str, Callable[[], Any]], Callable[[], str]]:
    """What a :class:`~miglink.sources.cdm.Cdm` over ``target``'s schemas is made of: its
    description, its tables (opened on first use) and its content fingerprint."""
    cdm_schema = target.cdm_schema or _current_schema(backend, where)
    vocab_schema = target.vocab_schema or cdm_schema
    existing = set(_schemas(backend))
    for opt, name in (("cdm_schema", cdm_schema), ("vocab_schema", vocab_schema)):
        if name not in existing:
            raise MiglinkError(f"{where} has no schema '{name}' (named by {opt})")
    if target.scratch_schema in (cdm_schema, vocab_schema):
        raise MiglinkError(
            f"scratch_schema '{target.scratch_schema}' is the CDM or vocabulary schema: "
            "miglink never writes there; name another schema or leave it out"
        )
    _use_scratch(backend, target.scratch_schema, where)
    located = _tables(backend, cdm_schema, vocab_schema)
    if not located:
        raise MiglinkError(f"{where} has no tables in schema '{cdm_schema}'")
    raw = {
        canon: (lambda s=s, n=n: backend.table(n, database=s)) for canon, (s, n) in located.items()
    }

    def fingerprint() -> str:
        return "postgres\n" + "\n".join(_checksum(backend, *located[n]) for n in sorted(raw))

    return f"database {where} (schema {cdm_schema})", raw, fingerprint


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _current_schema(backend: Any, where: str) -> str:
    with backend.begin() as cur:
        row = cur.execute("SELECT current_schema()").fetchone()
    if not row or not row[0]:
        raise MiglinkError(f"{where}: the role's search_path names no schema; add ?cdm_schema=")
    return row[0]


def _schemas(backend: Any) -> list[str]:
    with backend.begin() as cur:
        return [r[0] for r in cur.execute("SELECT nspname FROM pg_namespace").fetchall()]


def _tables(backend: Any, cdm_schema: str, vocab_schema: str) -> dict[str, tuple[str, str]]:
    """Canonical name -> (schema, table): vocabulary tables from the vocabulary schema, the rest
    from the CDM schema (a ``2b_`` load-order prefix dropped, as for files)."""
    found: dict[str, tuple[str, str]] = {}
    split = vocab_schema != cdm_schema
    for name in sorted(backend.list_tables(database=cdm_schema)):
        canon = name.lower().removeprefix("2b_")
        if not (split and canon in VOCABULARY):
            found.setdefault(canon, (cdm_schema, name))
    if split:
        for name in sorted(backend.list_tables(database=vocab_schema)):
            canon = name.lower().removeprefix("2b_")
            if canon in VOCABULARY:
                found.setdefault(canon, (vocab_schema, name))
    return found


def _checksum(backend: Any, schema: str, name: str) -> str:
    """Row count and the sum of the rows' text hashes: one order-free query per table."""
    q = quote_ident(schema) + "." + quote_ident(name)
    sql = (
        f"SELECT count(*), coalesce(sum(hashtextextended(t::text, 0) % {_CHECKSUM_MOD}), 0) "
        f"FROM {q} AS t"
    )
    with backend.begin() as cur:
        n, h = cur.execute(sql).fetchone()
    return f"{name}|n={n}|h={h}"


def quote_ident(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _use_scratch(backend: Any, schema: str | None, where: str) -> None:
    """Intermediate tables go to ``schema`` (or are temporary tables when None), are analysed
    (autovacuum never analyses a temporary table, and the planner's guesses on unanalysed
    tables can turn a join into a nested loop) and are dropped when released."""
    if schema is not None:
        try:
            exists = schema in _schemas(backend)
            with backend.begin() as cur:
                if not exists:  # CREATE SCHEMA needs CREATE on the database
                    cur.execute(f"CREATE SCHEMA {quote_ident(schema)}")
                ok = cur.execute("SELECT has_schema_privilege(%s, 'CREATE')", (schema,))
                if not ok.fetchone()[0]:
                    raise MiglinkError("this role may not create tables there")
        except Exception as e:  # noqa: BLE001 - a missing privilege is a user error
            raise MiglinkError(
                f"{where}: cannot use scratch_schema '{schema}': {_first_line(e)}"
            ) from None
    backend._miglink_scratch = schema
    backend._create_cached_table = types.MethodType(_scratch_table, backend)
    backend._drop_cached_table = types.MethodType(_drop_scratch_table, backend)


def _scratch_table(backend: Any, name: str, expr: Any) -> Any:
    schema = backend._miglink_scratch
    if schema is None:
        t = backend.create_table(name, expr, schema=expr.schema(), temp=True)
        with backend.begin() as cur:
            cur.execute(f"ANALYZE {quote_ident(name)}")
        return t
    backend.create_table(name, expr, schema=expr.schema(), database=schema)
    with backend.begin() as cur:
        cur.execute(f"ANALYZE {quote_ident(schema)}.{quote_ident(name)}")
    return backend.table(name, database=schema)


def _drop_scratch_table(backend: Any, name: str) -> None:
    if backend._miglink_scratch is None:
        backend.drop_table(name, force=True)
    else:
        backend.drop_table(name, database=backend._miglink_scratch, force=True)


# -- two gaps of ibis 12's PostgreSQL compiler --------------------------------------------------
def _patch_compiler() -> None:
    """PostgreSQL casts a boolean only to ``integer`` (int4), not to bigint or double, and has ``substring(text, int,
    int)`` only: ibis 12 emits ``CAST(flag AS BIGINT)`` for ``flag.cast("int64")`` (the study's
    1 / 0 sums, about 15 places) and passes an int64 length to ``substr``. Both are fixed here,
    once, where the SQL is written, so the study's expressions stay the same on every engine
    (NULL stays NULL, as in DuckDB and Spark)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    if getattr(PostgresCompiler, "_miglink_patched", False):
        return
    cast, substring = PostgresCompiler.visit_Cast, PostgresCompiler.visit_Substring

    def visit_cast(self, op, *, arg, to):
        if op.arg.dtype.is_boolean() and to.is_numeric() and not to.is_int32():
            arg = sge.Cast(this=arg, to=sge.DataType.build("INT"))
        return cast(self, op, arg=arg, to=to)

    def visit_substring(self, op, *, arg, start, length):
        if length is not None and not op.length.dtype.is_int32():
            length = sge.Cast(this=length, to=sge.DataType.build("INT"))
        if not op.start.dtype.is_int32():
            start = sge.Cast(this=start, to=sge.DataType.build("INT"))
        return substring(self, op, arg=arg, start=start, length=length)

    PostgresCompiler.visit_Cast = visit_cast
    PostgresCompiler.visit_TryCast = visit_cast
    PostgresCompiler.visit_Substring = visit_substring
    PostgresCompiler._miglink_patched = True


_patch_compiler()
