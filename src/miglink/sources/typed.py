"""The typed table layer: lower-case names, schema columns only, declared types.

Written once as Ibis expressions so DuckDB, Spark and any other Ibis backend apply the same
casts. A value that cannot be cast becomes NULL here and is counted by
:func:`cast_failure_counts`, so ``miglink check`` can say how many values were lost.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from miglink.errors import MiglinkError
from miglink.sources.schema import TableSpec

_IBIS_TYPE = {"int64": "int64", "float64": "float64", "string": "string", "date": "date"}


def column_map(raw: ir.Table, table: str) -> dict[str, str]:
    """lower-case name -> actual column name; two columns equal but for case are an error."""
    out: dict[str, str] = {}
    for c in raw.columns:
        key = c.strip().lower()
        if key in out:
            raise MiglinkError(
                f"table '{table}' has two columns named '{key}' (differing only in case or spaces)",
                table=table,
                column=key,
            )
        out[key] = c
    return out


def _cast(col: ir.Value, target: str) -> ir.Value:
    src = col.type()
    if target == "date":
        if src.is_date():
            return col
        if src.is_timestamp():
            return col.date()
        if src.is_string():
            # '2020-01-31', '2020-01-31 10:00:00' and '2020-01-31T10:00:00Z' all start with the date.
            return col.strip().substr(0, 10).try_cast("date")
        return col.try_cast("date")
    if target == "string":
        if src.is_floating():  # a code stored as a double (e.g. Synthea27Nj's Parquet): no '.0'
            whole = _whole(col) & (col.abs() < 1e18)
            s = ibis.cases((whole, col.cast("int64").cast("string")), else_=col.cast("string"))
        else:
            s = col if src.is_string() else col.cast("string")
        # MIMIC-IV's OMOP copy pads source values with trailing spaces.
        return s.strip().nullif("")
    if target == "int64":
        return _strict_int(col)
    if target == "float64":
        return _strict_float(col)
    raise ValueError(f"cdm_schema.csv declares an unknown type {target!r}")


#: A plain integer as text: optional minus sign, decimal digits (at most 19, the width of int64).
#: Engines' own casts are looser - DuckDB's TRY_CAST turns '1.6' into 2, '0x10' into 16, '1e3'
#: into 1000, '+12' into 12, '1_000' into 1000 (checked on the pinned duckdb) - and a rounded
#: identifier moves a record to another person, so anything else is a type failure (NULL, counted).
INT_PATTERN = r"^-?[0-9]{1,19}$"


#: A decimal number as text: sign, digits with an optional fraction, optional exponent. Not
#: '1_000.5' (DuckDB reads 1000.5), 'inf', 'nan' or '-Infinity', which a mean would not survive.
FLOAT_PATTERN = r"^[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?$"


def _strict_float(col: ir.Value) -> ir.Value:
    """float64 from text or numbers; NaN, infinities and overflow ('1e400') are type failures."""
    src = col.type()
    if src.is_string():
        s = col.strip().nullif("")
        x = s.re_search(FLOAT_PATTERN).ifelse(s, ibis.null("string")).try_cast("float64")
    elif src.is_numeric():
        x = col.cast("float64")
    else:
        x = col.try_cast("float64")
    return (x.notnull() & (x.abs() < float("inf"))).ifelse(x, ibis.null("float64"))


def _whole(col: ir.Value) -> ir.Value:
    """True for finite whole numbers. Not ``col == col.round(0)``: Ibis rounds to BIGINT, which
    fails on infinity and on values past int64 instead of giving false."""
    x = col.cast("float64")
    return col.notnull() & ((x % 1.0) == 0.0)


def _strict_int(col: ir.Value) -> ir.Value:
    """int64 from text, integers, floats or decimals without rounding: '12', 12 and 12.0 give 12;
    '1.6', '0x10', '1e3', '12abc', 1950.7, NaN and out-of-range values give NULL."""
    src = col.type()
    if src.is_integer():
        return col if str(src).rstrip("!") == "int64" else col.cast("int64")
    if src.is_string():
        s = col.strip().nullif("")  # surrounding blanks are padding, not part of the value
        return s.re_search(INT_PATTERN).ifelse(s, ibis.null("string")).try_cast("int64")
    if src.is_floating() or src.is_decimal():
        whole = _whole(col) & (col.abs() < 9.2e18)
        return whole.ifelse(col, ibis.null(src)).try_cast("int64")
    if src.is_boolean():
        return ibis.null("int64")  # a flag is not an identifier or a count
    return col.try_cast("int64")


def missing_columns(raw: ir.Table, spec: TableSpec) -> list[str]:
    """Required columns of ``spec`` absent from ``raw``."""
    cols = column_map(raw, spec.name)
    return [c.name for c in spec.columns if c.required and c.name not in cols]


def typed_table(raw: ir.Table, spec: TableSpec) -> ir.Table:
    """Select the schema's columns from ``raw``, cast; absent optional columns become typed NULLs."""
    cols = column_map(raw, spec.name)
    missing = missing_columns(raw, spec)
    if missing:
        raise MiglinkError(
            f"table '{spec.name}' has no column '{missing[0]}', which the study needs"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
            table=spec.name,
            column=missing[0],
        )
    exprs = {}
    for c in spec.columns:
        if c.name in cols:
            exprs[c.name] = _cast(raw[cols[c.name]], c.type)
        else:
            exprs[c.name] = ibis.null(_IBIS_TYPE[c.type])
    return raw.select(**exprs)


def cast_failure_counts(raw: ir.Table, spec: TableSpec) -> dict[str, int]:
    """Per schema column: values present in ``raw`` that became NULL when cast (one aggregate)."""
    cols = column_map(raw, spec.name)
    aggs = {}
    for c in spec.columns:
        if c.name not in cols or c.type == "string":
            continue
        r = raw[cols[c.name]]
        if r.type().is_string():
            present = r.notnull() & (r.strip() != "")
        else:
            present = r.notnull()
        aggs[c.name] = (present & _cast(r, c.type).isnull()).cast("int64").sum()
    if not aggs:
        return {}
    row = raw.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return {k: int(v or 0) for k, v in row.items()}
