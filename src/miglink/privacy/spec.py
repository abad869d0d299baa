"""Result files in the shape OHDSI tools load, and the specification that validates them.

The specification has the columns of OHDSI's ``resultsDataModelSpecification.csv`` (table_name,
column_name, data_type, is_required, primary_key, min_cell_count, description). It is generated
from the same files the privacy gate reads (``data/results_schema.csv`` for the results table,
``data/results_tables.csv`` for the other tables), and it drives the writing of counts: every
column with ``min_cell_count = Yes`` is written by :func:`encode_table`.

Counts in written files are numbers only (docs/results-files.md):

* ``n >= 0``: the count (0 is a structural zero and reveals no person);
* ``-k``: fewer than ``k`` persons (``-min_cell`` for a primary suppression, as CohortMethod's
  export writes it: -5 means "1 to 4");
* empty, with ``column=label`` in the row's ``count_labels``: a count withheld by secondary
  suppression (``withheld``: its value is not small, but it would give a suppressed one back) or a
  pooled range (``12-20``). An empty count without a label is a count that does not apply.

:func:`decode_table` turns a file back into the gate's labels, so the reader gates exactly what
the writer gated. Every table also carries ``database_id`` on every row.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from miglink.schema import schema

#: The file name OHDSI's ResultModelManager reads.
SPEC_FILE = "resultsDataModelSpecification.csv"
SPEC_COLUMNS = (
    "table_name",
    "column_name",
    "data_type",
    "is_required",
    "primary_key",
    "min_cell_count",
    "description",
)
DATA_TYPES = {"string": "varchar", "int": "bigint", "count": "bigint", "float": "float",
              "bool": "boolean"}  # fmt: skip
DATABASE_ID = "database_id"
COUNT_LABELS = "count_labels"
#: The tables a run directory holds (file stem = table name).
TABLES = ("results", "curves", "prevalence", "attrition", "d10_table1", "d10_balance",
          "d10_preference", "d10_diagnostics", "mr_instruments", "mr_leave_one_out")  # fmt: skip

_ID_ROW = {"type": "string", "kind": "identifier", "required": "yes", "primary_key": "yes",
           "description": "the database (site) the row was computed on (see results.database_id)"}  # fmt: skip
_LABELS_ROW = {"type": "string", "kind": "flag", "required": "no", "primary_key": "no",
               "description": "count cells that are not a number (see results.count_labels)"}  # fmt: skip


def _yes(v: object) -> str:
    return "Yes" if str(v).strip().lower() == "yes" else "No"


@cache
def _rows() -> tuple[dict[str, str], ...]:
    out = [dict(r, table="results") for r in schema()]
    path = resources.files("miglink") / "data" / "results_tables.csv"
    with path.open("r", encoding="utf-8", newline="") as f:
        other = list(csv.DictReader(f))
    for t in TABLES[1:]:
        cols = [r for r in other if r["table"] == t]
        out += [dict(_ID_ROW, table=t, column=DATABASE_ID), *cols]
        out.append(dict(_LABELS_ROW, table=t, column=COUNT_LABELS))
    return tuple(out)


def specification() -> pd.DataFrame:
    """Every written table's columns, in resultsDataModelSpecification shape."""
    return pd.DataFrame(
        [
            {
                "table_name": r["table"],
                "column_name": r["column"],
                "data_type": DATA_TYPES[r["type"]],
                "is_required": _yes(r.get("required")),
                "primary_key": _yes(r.get("primary_key")),
                "min_cell_count": "Yes" if r["kind"] == "count" else "No",
                "description": r["description"],
            }
            for r in _rows()
        ],
        columns=list(SPEC_COLUMNS),
    )


def table_spec(table: str, spec: pd.DataFrame | None = None) -> pd.DataFrame:
    spec = specification() if spec is None else spec
    return spec[spec["table_name"] == table]


def min_cell_columns(table: str) -> tuple[str, ...]:
    t = table_spec(table)
    return tuple(t.loc[t["min_cell_count"] == "Yes", "column_name"])


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _encode(v: object) -> tuple[int | None, str | None]:
    """A gated count cell as (number, label): ints stay, "<k" -> -k, other labels -> label."""
    if _is_missing(v):
        return None, None
    if isinstance(v, str):
        t = v.strip()
        if t.startswith("<") and t[1:].isdigit():
            return -int(t[1:]), None
        try:
            f = float(t)
        except ValueError:
            return None, t
        return (int(f), None) if f == int(f) else (None, t)
    f = float(v)  # type: ignore[arg-type]
    return (int(f), None) if f == int(f) else (None, str(v))


def encode_table(df: pd.DataFrame, table: str, database_id: str) -> pd.DataFrame:
    """A gated table in file form: the specification's columns in its order, ``database_id`` on
    every row, counts as numbers (see the module docstring)."""
    cols = list(table_spec(table)["column_name"])
    out = df.copy().reset_index(drop=True)
    for c in cols:
        if c not in out.columns:
            out[c] = None
    out[DATABASE_ID] = database_id
    labels: list[list[str]] = [[] for _ in range(len(out))]
    for c in min_cell_columns(table):
        nums = []
        for i, v in enumerate(out[c].tolist()):
            n, label = _encode(v)
            nums.append(n)
            if label is not None:
                labels[i].append(f"{c}={label}")
        out[c] = pd.array(nums, dtype="Int64")
    out[COUNT_LABELS] = [";".join(x) if x else None for x in labels]
    return out[cols]


def decode_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """A written table with the gate's labels back in its count cells ("<5", "withheld",
    "12-20"); files written before this convention (labels in the cells) pass unchanged."""
    out = df.copy()
    counts = [c for c in min_cell_columns(table) if c in out.columns]
    labels = out[COUNT_LABELS].tolist() if COUNT_LABELS in out.columns else [None] * len(out)
    for c in counts:
        vals = []
        for v, lab in zip(out[c].tolist(), labels, strict=True):
            named = dict(p.split("=", 1) for p in str(lab).split(";") if "=" in p) if lab else {}
            n, label = _encode(v)  # a CSV read as text gives "-5", "12"
            if n is None and label is None or label == "":
                vals.append(named.get(c))
            elif n is None:
                vals.append(label)  # a label in the cell: a file from before this convention
            else:
                vals.append(f"<{-n}" if n < 0 else n)
        out[c] = pd.Series(vals, index=out.index, dtype=object)
    if COUNT_LABELS in out.columns:
        out[COUNT_LABELS] = None
    return out


def write_specification(path: Path) -> Path:
    from miglink.io import write_csv

    return write_csv(Path(path), specification())


def _type_ok(v: object, data_type: str) -> bool:
    if _is_missing(v):
        return True
    if data_type == "varchar":
        return isinstance(v, str)
    if data_type == "boolean":
        return isinstance(v, bool) or str(v).lower() in ("true", "false")
    if isinstance(v, bool):
        return False
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return data_type != "bigint" or (math.isfinite(f) and f == int(f))


def validate_table(df: pd.DataFrame, table: str, min_cell: int) -> list[str]:
    """Problems of one written table against the specification: columns (none missing, none
    undeclared), types, required values, primary-key uniqueness and the min-cell convention
    (no count in 1..min_cell-1; a negative count is exactly -min_cell)."""
    spec = table_spec(table)
    if spec.empty:
        return [f"{table}: not a table of the specification"]
    declared = list(spec["column_name"])
    problems = [f"{table}: column {c} missing" for c in declared if c not in df.columns]
    problems += [f"{table}: column {c} not in the specification" for c in df.columns
                 if c not in declared]  # fmt: skip
    for r in spec.itertuples():
        if r.column_name not in df.columns:
            continue
        vals = df[r.column_name].tolist()
        bad = [v for v in vals if not _type_ok(v, r.data_type)]
        if bad:
            problems.append(f"{table}.{r.column_name}: {len(bad)} value(s) not {r.data_type}")
        if r.is_required == "Yes" and any(_is_missing(v) or v == "" for v in vals):
            problems.append(f"{table}.{r.column_name}: required but empty in some row")
        if r.min_cell_count == "Yes":
            nums = [float(v) for v in vals if not _is_missing(v) and _type_ok(v, "float")]
            small = [v for v in nums if 0 < v < min_cell]
            neg = [v for v in nums if v < 0 and v != -min_cell]
            if small or neg:
                problems.append(
                    f"{table}.{r.column_name}: {len(small) + len(neg)} count(s) break the "
                    f"min-cell convention (0, >= {min_cell}, or -{min_cell})"
                )
    keys = [c for c in spec.loc[spec["primary_key"] == "Yes", "column_name"] if c in df.columns]
    if keys and len(df) and df[keys].astype(str).duplicated().any():
        problems.append(f"{table}: primary key {keys} not unique")
    return problems


def read_written(path: Path) -> pd.DataFrame:
    """A written table as stored (parquet or CSV), without decoding."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # as text: a CSV has no types, each value is checked for the type it must parse as
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def validate_dir(run_dir: Path, min_cell: int) -> list[str]:
    """Problems of every table file in a run directory (parquet and CSV) against the
    specification the directory ships (``resultsDataModelSpecification.csv``)."""
    run_dir = Path(run_dir)
    problems = []
    shipped = run_dir / SPEC_FILE
    if not shipped.exists():
        problems.append(f"{SPEC_FILE} missing")
    elif not read_written(shipped).astype(str).equals(specification().astype(str)):
        problems.append(f"{SPEC_FILE} differs from this version's specification")
    for table in TABLES:
        for ext in ("parquet", "csv"):
            p = run_dir / f"{table}.{ext}"
            if p.exists():
                problems += [f"{p.name}: {x}" for x in validate_table(read_written(p), table,
                                                                      min_cell)]  # fmt: skip
    return problems
