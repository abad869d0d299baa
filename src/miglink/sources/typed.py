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
            whole = col.notnull() & (col == col.round(0)) & (col.abs() < 1e18)
            s = ibis.cases((whole, col.cast("int64").cast("string")), else_=col.cast("string"))
        else:
            s = col if src.is_string() else col.cast("string")
        # MIMIC-IV's OMOP copy pads source values with trailing spaces.
        return s.strip().nullif("")
    if src.is_string():
        return col.strip().nullif("").try_cast(_IBIS_TYPE[target])
    if str(src).rstrip("!") == target:
        return col
    return col.try_cast(_IBIS_TYPE[target])


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
