"""The row of a task whose design could not run (a table absent, a set unresolved, no records).

``count`` records why in ``Counts.values``; ``estimate`` turns that into this row, so the
hypothesis still gets a row and the verdict code reads ``not_analysed_reason``.
"""

from __future__ import annotations

from miglink.designs.base import Task, key_row
from miglink.designs.rows import make_row


def not_analysed_row(task: Task, measure: str, reason: str, note: str = "") -> dict:
    """The (key) row of ``task`` saying it was not analysed and why."""
    row = make_row(
        design=task.design,
        exposure=task.exposure,
        outcome=task.outcome,
        measure=measure,
        method="not_analysed",
        role=task.role,
        analysis=task.analysis,
        not_analysed_reason=reason,
        note=note or reason,
    )
    return key_row(row, task)


def absent_reason(ft, table: str, what: str) -> str | None:
    """Why a design reading the feature table of OMOP ``table`` cannot run (None: it can).

    ``what`` names the concept sets that would fill it (e.g. "drug concept set").
    """
    present = {
        "drug_exposure": ft.drugs,
        "measurement": ft.measurements,
        "observation": ft.observations,
    }[table]
    if present is not None:
        return None
    if not ft.available.get(table):
        return f"{table} table absent"
    return f"no {what} resolved"
