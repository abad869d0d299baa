"""Build rows of the results table (schema: src/miglink/data/results_schema.csv)."""

from __future__ import annotations

import math
from typing import Any

from miglink.schema import columns


def results_columns() -> list[str]:
    """Every results column, in schema order (a row starts with all of them empty)."""
    return columns()


#: Row key (not a results column) holding an estimator's "not estimable" reason until the
#: diagnostics step writes it into the note.
REASON_KEY = "_not_estimable_reason"


def analysis_id(design: str, exposure: str, outcome: str, extra: str = "") -> str:
    tail = f"__{extra}" if extra else ""
    return f"{design.lower()}__{exposure}__{outcome}{tail}"


def make_row(
    *,
    design: str,
    exposure: str,
    outcome: str,
    measure: str,
    method: str,
    est: Any = None,
    role: str = "secondary",
    stratum: str = "all",
    analysis: str | None = None,
    **fields: Any,
) -> dict:
    """One results row; ``est`` is a stats Estimate (or None when not estimable)."""
    row: dict[str, Any] = {c: None for c in results_columns()}
    row.update(
        design=design,
        exposure=exposure,
        outcome=outcome,
        measure=measure,
        method=method,
        role=role,
        stratum=stratum,
        analysis=analysis or analysis_id(design, exposure, outcome),
        diagnostics_pass=None,
        diagnostics="",
        note="",
    )
    if est is not None:
        row.update(
            estimate=est.estimate,
            log_estimate=est.log_estimate,
            se_log=est.se_log,
            ci_low=est.ci_low,
            ci_high=est.ci_high,
            p_value=est.p_value,
        )
        note = (est.extra or {}).get("note")
        if note:
            row["note"] = str(note)
            if not est.estimable:
                # designs often replace the note with their own text; the estimator's reason is
                # kept aside and put back in front of the note by study.apply_diagnostics
                row[REASON_KEY] = str(note)
    row.update(fields)
    return row


def finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
