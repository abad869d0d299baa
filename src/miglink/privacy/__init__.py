"""The single disclosure-control gate.

Every artefact that leaves the program (report, JSON, CSV, parquet, log, site file) passes
through this package: the results table through :func:`gate_results` (the policy driven by the
column kinds of ``data/results_schema.csv``, see docs/privacy.md), claims through
:func:`gate_claims`, other tables through :func:`gate_frame` with their count columns named. A count below the minimum cell count is replaced
by the string ``"<N"`` (N the minimum) and so cannot be recovered from the artefact. Zero is shown
as 0 (a structural zero reveals no person). Person identifiers never reach this point: estimators
see counts only.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from miglink.privacy.schema import column_kinds, columns_of

#: Default minimum cell count (PROTOCOL.md: 5, configurable with ``--min-cell``).
DEFAULT_MIN_CELL = 5


#: Columns that hold counts of persons or events: the results table's count columns (from the
#: schema's kinds) and the count columns other tables use. Results go through gate_results.
COUNT_COLUMNS: tuple[str, ...] = columns_of("count") + (
    "n_persons",
    "n_records",
    "n_both",
    "n_first",
    "n_cases",
    "n_rows",
    "count",
)


def suppressed_label(min_cell: int) -> str:
    return f"<{min_cell}"


def is_small(value: object, min_cell: int) -> bool:
    """True if ``value`` is a count that must not be shown (0 < value < min_cell)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return v == v and 0 < v < min_cell


def gate_count(value: object, min_cell: int = DEFAULT_MIN_CELL) -> object:
    """Return ``value`` or its suppressed label."""
    if value is None:
        return None
    if is_small(value, min_cell):
        return suppressed_label(min_cell)
    try:
        f = float(value)  # type: ignore[arg-type]
        if f == f and f == int(f):
            return int(f)
    except (TypeError, ValueError):
        pass
    return value


def gate_frame(
    df: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    count_columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` with small counts replaced by ``"<min_cell"``.

    Count columns become object dtype (integers or the label) so that CSV, JSON and parquet all
    carry the same text. Columns named ``person_id`` (or ending in ``_person_id``) are refused.
    """
    bad = [c for c in df.columns if c == "person_id" or str(c).endswith("_person_id")]
    if bad:
        raise ValueError(f"person identifier column(s) {bad} may not leave the program")
    cols = [c for c in (count_columns or COUNT_COLUMNS) if c in df.columns]
    out = df.copy()
    for c in cols:
        out[c] = pd.Series(
            [gate_count(v, min_cell) for v in out[c].tolist()], index=out.index, dtype=object
        )
    return out


from miglink.privacy.calibration import gate_calibration  # noqa: E402
from miglink.privacy.claims import claim_summary, gate_claims  # noqa: E402
from miglink.privacy.results import SECONDARY_LABEL, gate_results  # noqa: E402
from miglink.privacy.secrets import redact_secrets  # noqa: E402
from miglink.privacy.text import scan_text  # noqa: E402

__all__ = [
    "COUNT_COLUMNS",
    "DEFAULT_MIN_CELL",
    "SECONDARY_LABEL",
    "claim_summary",
    "column_kinds",
    "columns_of",
    "gate_calibration",
    "gate_claims",
    "gate_count",
    "gate_frame",
    "gate_results",
    "is_small",
    "redact_secrets",
    "scan_text",
    "suppressed_label",
]
