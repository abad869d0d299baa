"""User-facing errors.

Anything the user can fix (a missing file, a bad column, a malformed study file) raises
:class:`MiglinkError`. The command line prints its message as one line and exits with code 2;
only ``--debug`` shows a traceback. Messages name the table, column and number of rows involved.
"""

from __future__ import annotations


class MiglinkError(Exception):
    """A problem with the user's input that the user can fix.

    ``table``, ``column`` and ``n_rows`` are kept as attributes so that machine-readable
    output (``--json``) can carry them.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        n_rows: int | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
        self.n_rows = n_rows

    def to_dict(self) -> dict:
        return {
            "error": str(self),
            "table": self.table,
            "column": self.column,
            "n_rows": self.n_rows,
        }


class MissingTableError(MiglinkError):
    """An optional CDM table that an analysis needs is absent."""


class DataQualityError(MiglinkError):
    """A fatal data-quality problem (exit code 2 from ``miglink check``)."""
