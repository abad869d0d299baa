"""Column kinds of the results table, read from ``data/results_schema.csv``.

The gate decides what to do with a column from its kind, never from a list of names, so a column
added to the schema is gated as soon as it is declared, and a column that is not declared does not
leave the program at all.
"""

from __future__ import annotations

from functools import cache

from miglink.schema import schema

#: Every kind the schema may use. Counts are suppressed; derived kinds are withheld with them.
KINDS = (
    "identifier",
    "label",
    "count",
    "person_time",
    "estimate",
    "interval",
    "p_value",
    "rate",
    "statistic",
    "flag",
    "text",
)

#: Kinds computed from a row's counts: shown only when every count that feeds the row is shown.
DERIVED_KINDS = ("person_time", "estimate", "interval", "p_value", "rate", "statistic")


@cache
def column_kinds() -> dict[str, str]:
    """``{column: kind}`` in schema order."""
    kinds = {r["column"]: r["kind"] for r in schema()}
    unknown = sorted({k for k in kinds.values() if k not in KINDS})
    if unknown:  # a packaging error, not a user error
        raise ValueError(f"results_schema.csv uses unknown column kind(s) {unknown}")
    return kinds


def columns_of(*kinds: str) -> tuple[str, ...]:
    """The schema's columns of the given kinds, in schema order."""
    return tuple(c for c, k in column_kinds().items() if k in kinds)
