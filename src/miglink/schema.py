"""The results table's schema, ``data/results_schema.csv``: one file says every column's type,
kind and place in the site file, and drives the row builder, the privacy gate
(:mod:`miglink.privacy.schema`), the site file (:mod:`miglink.federate.site`) and the report's
reader (:mod:`miglink.report.artefacts`).

``kind`` is what the value is (identifier, label, count, estimate, interval, p_value, text, ...);
``site`` is how a federated site shares it: ``key`` (identifies the row across sites),
``value`` (a number shared as it is), ``count`` (shared through the minimum-cell gate),
``person_time`` (withheld with a suppressed group size), ``text``, ``optional`` (only when
present) or ``no`` (not shared: verdicts, calibrated values, diagnostics the pool recomputes).
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

SITE_ROLES = ("key", "value", "count", "person_time", "text", "optional", "no")


@cache
def schema() -> tuple[dict[str, str], ...]:
    """The schema's rows (column, type, kind, site, description), in file order."""
    path = resources.files("miglink") / "data" / "results_schema.csv"
    with path.open("r", encoding="utf-8", newline="") as f:
        rows = tuple(csv.DictReader(f))
    bad = sorted({r["site"] for r in rows} - set(SITE_ROLES))
    if bad:  # a packaging error, not a user error
        raise ValueError(f"results_schema.csv uses unknown site role(s) {bad}")
    return rows


def columns() -> list[str]:
    """Every results column, in schema order."""
    return [r["column"] for r in schema()]


def columns_typed(*types: str) -> tuple[str, ...]:
    """The columns of the given storage types (int, float, count, string, bool)."""
    return tuple(r["column"] for r in schema() if r["type"] in types)


def site_columns(*roles: str) -> tuple[str, ...]:
    """The columns a site shares in the given roles, in schema order."""
    return tuple(r["column"] for r in schema() if r["site"] in roles)
