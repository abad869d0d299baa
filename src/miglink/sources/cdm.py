"""Open an OMOP CDM from files, a DuckDB file, a URL, an Ibis backend or a Spark session.

Every source ends up as a :class:`Cdm`: an Ibis backend plus the typed table layer, so the
rest of the program never knows which engine or file format it reads.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import psutil

from miglink.errors import MiglinkError, MissingTableError
from miglink.sources import _compat  # noqa: F401  (ibis 12 / duckdb 2 shim)
from miglink.sources.describe import describe_source, is_url, scrub
from miglink.sources.files import TableFile, discover, unzip_to_cache
from miglink.sources.foreign import refuse_foreign_layout
from miglink.sources.postgres import connect as pg_connect
from miglink.sources.postgres import is_postgres_url, open_postgres
from miglink.sources.schema import cdm_schema
from miglink.sources.typed import cast_failure_counts, column_map, missing_columns, typed_table

ENGINES = ("duckdb", "spark")


class Cdm:
    """An OMOP CDM seen through the typed table layer (see :meth:`table`)."""

    def __init__(
        self,
        backend: Any,
        engine: str,
        description: str,
        raw: dict[str, ir.Table | Callable[[], ir.Table]],
        fingerprint_source: Callable[[], str],
        *,
        materialise: bool = False,
        loader: Cdm | None = None,
    ) -> None:
        self.backend = backend
        self.engine = engine
        self.description = description
        self._raw = raw
        self._fingerprint_source = fingerprint_source
        self._materialise = materialise
        self._loader = loader  # the DuckDB reader a Spark copy was made from
        self._typed: dict[str, ir.Table] = {}
        self._counts: dict[str, int] = {}
        self._cast_failures: dict[str, dict[str, int]] = {}
        self._fingerprint: str | None = None

    # -- tables -----------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Canonical names of the tables present (schema tables and any others found)."""
        return sorted(self._raw)

    def has(self, name: str) -> bool:
        return name.lower() in self._raw

    def raw_columns(self, name: str) -> list[str]:
        """Lower-case column names as found in the source (before the typed layer)."""
        if self._loader is not None:
            return self._loader.raw_columns(name)
        return list(column_map(self._raw_table(name), name))

    def missing_required_columns(self, name: str) -> list[str]:
        if self._loader is not None:
            return self._loader.missing_required_columns(name)
        spec = cdm_schema().get(name)
        return missing_columns(self._raw_table(name), spec) if spec else []

    def raw_table(self, name: str) -> ir.Table:
        """The table as found in the source (any column names and types)."""
        return self._raw_table(name)

    def _raw_table(self, name: str) -> ir.Table:
        name = name.lower()
        if name not in self._raw:
            raise MissingTableError(f"table '{name}' is absent from {self.description}", table=name)
        t = self._raw[name]
        if callable(t) and not isinstance(t, ir.Table):  # opened on first use
            t = self._raw[name] = t()
        return t

    def table(self, name: str) -> ir.Table:
        """The typed table: lower-case columns of cdm_schema.csv only, cast to declared types.

        Optional columns absent from the data are typed NULLs; a missing required column
        raises MiglinkError naming it.
        """
        name = name.lower()
        if name in self._typed:
            return self._typed[name]
        raw = self._raw_table(name)
        spec = cdm_schema().get(name)
        if spec is None:  # a table the study does not use: lower-case names, untyped
            cols = column_map(raw, name)
            t = raw.select(**{k: raw[v] for k, v in cols.items()})
        else:
            t = typed_table(raw, spec)
        if self._materialise:
            t = self._materialise_table(name, t)
        self._typed[name] = t
        return t

    def _materialise_table(self, name: str, expr: ir.Table) -> ir.Table:
        import duckdb

        target = f"cdm_{name}"
        try:
            self.backend.create_table(target, expr, overwrite=True)
        except duckdb.Error as e:
            raise MiglinkError(
                f"table '{name}' could not be read from {self.description}: {_first_line(e)}",
                table=name,
            ) from None
        return self.backend.table(target)

    def row_count(self, name: str) -> int:
        name = name.lower()
        if self._loader is not None and name in self._raw:  # a Parquet copy of the same rows
            return self._loader.row_count(name)
        if name not in self._counts:
            self._counts[name] = int(self.table(name).count().to_pyarrow().as_py())
        return self._counts[name]

    def cast_failures(self, name: str) -> dict[str, int]:
        """Per column, the number of values that could not be cast to the declared type."""
        name = name.lower()
        if self._loader is not None:
            return self._loader.cast_failures(name)
        if name not in self._cast_failures:
            spec = cdm_schema().get(name)
            if spec is None:
                return {}
            try:
                self._cast_failures[name] = cast_failure_counts(self._raw_table(name), spec)
            except Exception as e:  # noqa: BLE001 - the engine's parse error becomes a user error
                raise MiglinkError(
                    f"table '{name}' could not be read from {self.description}: {_first_line(e)}",
                    table=name,
                ) from None
        return self._cast_failures[name]

    def fingerprint(self) -> str:
        """A hash of the source's content: sha256 over every input file's bytes, or, for a
        database, a checksum query (row count and sums of column hashes per table).

        Names, sizes and mtimes are not enough: a file rewritten in place with the same size and
        a restored mtime would otherwise mix stale and fresh stages on resume."""
        if self._fingerprint is None:
            self._fingerprint = hashlib.sha256(self._fingerprint_source().encode()).hexdigest()[:16]
        return self._fingerprint

    def __repr__(self) -> str:
        return f"Cdm(engine={self.engine!r}, {self.description}, tables={len(self._raw)})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# -- opening ----------------------------------------------------------------------------------
def open_cdm(data: Any, engine: str = "duckdb", *, cache_dir: str | Path | None = None) -> Cdm:
    """Open an OMOP CDM.

    ``data`` is a folder of CSV / TSV / Parquet files (any case, ``2b_`` prefix allowed), a
    ``.zip`` of such files, a ``.duckdb`` file, a connection URL, an Ibis backend or a
    SparkSession. With ``engine="spark"`` a folder is read by DuckDB into the typed form,
    written as Parquet under ``cache_dir`` and read by Spark, so both engines see identical
    values.
    """
    if engine not in ENGINES:
        raise MiglinkError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if _is_spark_session(data):
        return _from_backend(ibis.pyspark.connect(data), "spark", "a Spark session's catalog")
    if isinstance(data, ibis.BaseBackend):
        return _from_backend(data, data.name, f"an Ibis {data.name} connection")
    if is_url(data) and not Path(data).exists():
        where = describe_source(data)
        if is_postgres_url(data):  # miglink's schema options (docs/postgres.md)
            backend, target = pg_connect(data)
            if backend.name == "postgres":
                desc, raw, fingerprint = open_postgres(backend, target, where)
                return Cdm(backend, "postgres", desc, raw, fingerprint)
        else:
            try:
                backend = ibis.connect(data)
            except Exception as e:  # noqa: BLE001 - any driver error is a user error here
                raise MiglinkError(
                    f"cannot connect to {where}: {scrub(_first_line(e), data)}"
                ) from None
        return _from_backend(backend, backend.name, f"database {where}")
    path = Path(data)
    if not path.exists():
        raise MiglinkError(f"data source not found: {describe_source(str(path))}")
    if engine == "spark":
        return _spark_from_files(path, cache_dir)
    return _duckdb_from_path(path, cache_dir)


def _duckdb_from_path(path: Path, cache_dir: str | Path | None) -> Cdm:
    if path.is_file() and path.suffix.lower() in (".duckdb", ".db", ".ddb"):
        return _from_duckdb_file(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        folder = unzip_to_cache(path, Path(cache_dir) if cache_dir else None)
        cdm = _from_folder(folder, f"OMOP CDM zip '{path.name}'", _file_fingerprint(path))
        if not cache_dir:  # the private extraction (person-level rows) goes with the CDM
            weakref.finalize(cdm, shutil.rmtree, folder.parent, True)
        return cdm
    if path.is_dir():
        converted = _convert_if_needed(path, cache_dir)
        if converted is not None:
            from miglink.sources.convert import fingerprint as source_fingerprint
            from miglink.sources.convert import release

            cdm = _from_duckdb_file(Path(converted))
            cdm.description = f"'{path.name}' (converted to OMOP)"
            fmt = "fhir" if Path(converted).name.startswith("fhir") else "meds"
            cdm._fingerprint_source = lambda: f"{fmt}|{source_fingerprint(path, fmt)}"
            weakref.finalize(cdm, release, Path(converted))  # the private copy goes with it
            return cdm
        zips = sorted(p for p in path.iterdir() if p.suffix.lower() == ".zip")
        found = discover(path)
        if not found and len(zips) == 1:
            return _duckdb_from_path(zips[0], cache_dir)
        if not found and len(zips) > 1:
            names = ", ".join(z.name for z in zips)
            raise MiglinkError(f"folder {path} holds several zips ({names}); name one with --data")
        refuse_foreign_layout(path, set(found))
        return _from_folder(path, f"OMOP CDM folder '{path.name}'", None)
    raise MiglinkError(
        f"cannot read {path}: expected a folder of CSV / Parquet files, a .zip or a .duckdb file"
    )


def _convert_if_needed(path: Path, cache_dir: str | Path | None) -> Path | None:
    try:
        from miglink.sources.convert import convert_if_needed  # type: ignore[attr-defined]
    except ImportError:
        return None
    # without a cache_dir the conversion goes to a private temporary folder (see convert)
    return convert_if_needed(path, Path(cache_dir) if cache_dir else None)


def _file_fingerprint(*paths: Path) -> str:
    """Each file's name and the sha256 of its bytes (streamed: no file is read whole)."""
    from miglink.io import sha256_file

    return "\n".join(f"{p.name}|{sha256_file(p)}" for p in paths)


#: Share of physical memory DuckDB may hold before it spills to disk (its own default is 80%);
#: ``MIGLINK_MEMORY_LIMIT`` (a DuckDB size such as "8GB") overrides it.
MEMORY_SHARE = 0.5


def duckdb_connect(path: str | None = None, read_only: bool = False):
    """An Ibis DuckDB connection with a memory limit and a private spill folder.

    Large studies spill joins, aggregates and cached tables to a temporary folder instead of
    growing past the limit; the folder is under the system temp directory, never the working
    directory.
    """
    con = ibis.duckdb.connect(path, read_only=read_only) if path else ibis.duckdb.connect()
    limit = os.environ.get("MIGLINK_MEMORY_LIMIT") or (
        f"{int(psutil.virtual_memory().total * MEMORY_SHARE / 2**20)}MB"
    )
    spill = tempfile.mkdtemp(prefix="miglink-duckdb-")
    try:
        con.raw_sql(f"SET memory_limit = '{limit}'")
    except Exception as e:  # noqa: BLE001 - a malformed size is a user error
        raise MiglinkError(
            f"MIGLINK_MEMORY_LIMIT={limit!r} is not a DuckDB memory size: {_first_line(e)}"
        ) from None
    con.raw_sql(f"SET temp_directory = '{spill}'")
    # no query here relies on the row order of an unordered result (Spark gives none either);
    # not keeping it lets DuckDB stream large results and spill less
    con.raw_sql("SET preserve_insertion_order = false")
    weakref.finalize(con, shutil.rmtree, spill, True)  # the spill folder goes with the connection
    return con


def _from_folder(folder: Path, description: str, fingerprint: str | None) -> Cdm:
    found = discover(folder)
    if not found:
        raise MiglinkError(f"no CDM table files (.csv, .csv.gz, .parquet) found in {folder}")
    con = duckdb_connect()
    raw: dict[str, Callable[[], ir.Table]] = {
        name: (lambda tf=tf: _read_file(con, tf)) for name, tf in found.items()
    }
    kinds = sorted({tf.format for tf in found.values()})
    desc = f"{description} ({'/'.join(k.upper() for k in kinds)}, {len(found)} tables)"
    paths = [found[k].path for k in sorted(found)]
    return Cdm(con, "duckdb", desc, raw, lambda: fingerprint or _file_fingerprint(*paths))


def _read_file(con: Any, tf: TableFile) -> ir.Table:
    """Parquet: a view. CSV: parsed once, as text, into an in-memory table (the typed layer casts
    it, and cast failures are counted on it without parsing the file again)."""
    import duckdb

    path = str(tf.path).replace("'", "''")
    name = f"raw_{tf.table}"
    try:
        if tf.format == "parquet":
            sql = f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')"
        else:
            delim, names = check_header(tf)
            # Columns from the header, all text: a ragged row is then an error, not a new header.
            cols = ", ".join("'" + n.replace("'", "''") + "': 'VARCHAR'" for n in names)
            sql = (
                f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM '
                f"read_csv('{path}', header = true, delim = '{delim}', quote = '\"', "
                f"strict_mode = true, columns = {{{cols}}})"
            )
        con.con.execute(sql).fetchall()  # this duckdb refuses new work while a result is open
        if tf.format != "parquet":
            _refuse_nul(con, name, tf, names)
    except duckdb.Error as e:
        raise MiglinkError(_read_error(tf, e), table=tf.table) from None
    return con.table(name)


def _read_error(tf: TableFile, e: BaseException) -> str:
    """One line for an engine's parse error; a wrong encoding is said so, with its line."""
    text = str(e)
    if "not utf-8" in text.lower() or "invalid unicode" in text.lower():
        line = re.search(r"Line: (\d+)", text)
        at = f" (first bad byte on line {line.group(1)})" if line else ""
        return f"table '{tf.table}' in {tf.path.name} is not UTF-8 text{at}; save it as UTF-8"
    return f"table '{tf.table}' could not be read from {tf.path.name}: {_first_line(e)}"


def _refuse_nul(con: Any, name: str, tf: TableFile, columns: list[str]) -> None:
    """A NUL byte in a text file is a damaged or binary file, never data: refuse it, counted.
    (DuckDB keeps NUL inside values, so the file would otherwise be read without a word.)"""
    q = ", ".join(
        f'count_if(contains("{c.replace(chr(34), chr(34) * 2)}", chr(0)))' for c in columns
    )
    counts = con.con.execute(f'SELECT {q} FROM "{name}"').fetchall()[0]
    bad = [(c, int(n)) for c, n in zip(columns, counts, strict=True) if n]
    if bad:
        col, n = bad[0]
        raise MiglinkError(
            # the count is carried in n_rows (gated where shown), never in the text
            f"table '{tf.table}' in {tf.path.name} has rows holding a NUL byte in column "
            f"'{col}' (a damaged or binary file)",
            table=tf.table,
            column=col.lower(),
            n_rows=n,
        )


def check_header(tf: TableFile) -> tuple[str, list[str]]:
    """The file's delimiter (tab or comma, from the header line); refuses two header names
    equal but for case (DuckDB would silently rename one)."""
    import csv
    import gzip

    opener = gzip.open if tf.path.name.lower().endswith(".gz") else open
    try:
        with opener(tf.path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            line = fh.readline()
    except OSError as e:
        raise MiglinkError(
            f"table '{tf.table}' could not be read from {tf.path.name}: {e}", table=tf.table
        ) from None
    delim = "\t" if line.count("\t") > line.count(",") else ","
    raw = [c.strip() for c in next(csv.reader([line.rstrip("\r\n")], delimiter=delim), [])]
    if raw and raw[0].startswith("\ufeff"):
        raw[0] = raw[0][1:]
    raw = [c or f"_unnamed_{i}" for i, c in enumerate(raw)]  # e.g. a trailing delimiter
    if not raw or all(c.startswith("_unnamed_") for c in raw):
        raise MiglinkError(
            f"table '{tf.table}' has an empty or missing header line in {tf.path.name}",
            table=tf.table,
        )
    names = [c.lower() for c in raw]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise MiglinkError(
                f"table '{tf.table}' has two columns named '{n}' (differing only in case or "
                f"spaces) in {tf.path.name}",
                table=tf.table,
                column=n,
            )
        seen.add(n)
    return ("\\t" if delim == "\t" else ","), raw


def _from_duckdb_file(path: Path) -> Cdm:
    import duckdb

    try:
        con = duckdb_connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise MiglinkError(f"cannot open DuckDB file {path}: {_first_line(e)}") from None
    raw = _duckdb_tables(con)
    return Cdm(con, "duckdb", f"DuckDB file '{path.name}'", raw, lambda: _file_fingerprint(path))


def _duckdb_tables(con: Any) -> dict[str, ir.Table]:
    """Tables of the schema holding ``person`` ('main' first), by canonical name."""
    rows = con.con.execute(
        "select table_catalog, table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() order by table_schema = 'main' desc, 2, 3"
    ).fetchall()
    by_schema: dict[str, list[str]] = {}
    catalog = rows[0][0] if rows else None
    for _cat, schema, name in rows:
        by_schema.setdefault(schema, []).append(name)
    # The CDM is the schema holding a person table ('main' first).
    chosen = next(
        (s for s, names in by_schema.items() if any(n.lower() == "person" for n in names)),
        next(iter(by_schema), None),
    )
    raw = {}
    for name in by_schema.get(chosen, []):
        canon = name.lower()
        if canon.startswith("2b_"):
            canon = canon[3:]
        raw.setdefault(canon, con.table(name, database=(catalog, chosen)))
    return raw


def _from_backend(backend: Any, engine: str, description: str) -> Cdm:
    if engine == "pyspark":
        engine = "spark"
    names = [] if backend.name == "duckdb" else _list_tables(backend)
    raw = _duckdb_tables(backend) if backend.name == "duckdb" else {}
    for name in names:
        canon = name.lower()
        if canon.startswith("2b_"):
            canon = canon[3:]
        raw.setdefault(canon, backend.table(name))
    if not raw:
        raise MiglinkError(f"{description} has no tables")

    def fp() -> str:
        return f"{engine}\n" + "\n".join(_table_checksum(n, raw[n]) for n in sorted(raw))

    return Cdm(backend, engine, description, raw, fp)


#: Column hashes are summed modulo this prime (2**61 - 1) so no engine's integer sum overflows.
_CHECKSUM_MOD = 2**61 - 1


def _table_checksum(name: str, t: ir.Table) -> str:
    """One query per table: its row count and, per column, the sum of the values' hashes (an
    order-free content checksum, computed where the data live)."""
    aggs = {"n": t.count()}
    for i, c in enumerate(t.columns):
        aggs[f"h{i}"] = (t[c].hash() % _CHECKSUM_MOD).sum()
    try:
        row = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    except Exception:  # noqa: BLE001 - an engine without hash(): row count and column names
        row = {"n": int(t.count().to_pyarrow().as_py()), "columns": ",".join(t.columns)}
    return f"{name}|" + "|".join(f"{k}={v}" for k, v in row.items())


def _list_tables(backend: Any) -> list[str]:
    if backend.name == "pyspark":
        return [t.name for t in backend._session.catalog.listTables()]
    return list(backend.list_tables())


def _is_spark_session(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "SparkSession" and cls.__module__.startswith("pyspark")


#: Tables a design reads that cdm_schema.csv does not type (features/covariate_records.py types
#: procedure_occurrence itself): the Spark copy must carry them too, or Spark's covariates lack
#: every procedure (found by benchmarks/spark_parity.py on Eunomia GiBleed: 259 vs 290 covariates).
SCHEMALESS_TABLES = ("procedure_occurrence",)


def _spark_from_files(path: Path, cache_dir: str | Path | None) -> Cdm:
    """Read with DuckDB into the typed form, write Parquet, read that with Spark."""
    from miglink.io import atomic_dir
    from miglink.sources.spark import local_spark_session

    loader = _duckdb_from_path(path, cache_dir)
    base = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "miglink"
    target = base / f"spark-parquet-v2-{loader.fingerprint()}"
    schema = cdm_schema()
    present = [n for n in loader.tables() if n in schema]
    usable = [n for n in present if not loader.missing_required_columns(n)]
    # tables read outside cdm_schema.csv (the covariates' procedures) are copied as they are
    usable += [n for n in SCHEMALESS_TABLES if n in loader.tables()]
    if not target.is_dir():
        with atomic_dir(target, kind="spark-copy", private=True) as tmp:  # person-level rows
            for name in usable:
                loader.backend.to_parquet(loader.table(name), str(tmp / f"{name}.parquet"))
    session = local_spark_session()
    con = ibis.pyspark.connect(session)
    raw = {}
    for name in usable:
        raw[name] = con.read_parquet(
            str(target / f"{name}.parquet"), table_name=f"miglink_{loader.fingerprint()}_{name}"
        )
    cdm = Cdm(
        con,
        "spark",
        loader.description,
        raw,
        loader._fingerprint_source,
        loader=loader,
    )
    # Tables whose required columns are missing stay visible so checks report them.
    for name in present:
        if name not in raw:
            cdm._raw[name] = loader._raw_table(name)
    return cdm
