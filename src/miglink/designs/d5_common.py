"""Small helpers shared by the D4-D7 designs (claims 1, 2, 4 and 7)."""

from __future__ import annotations

from miglink.designs.base import Task, hypothesis_role, key_row
from miglink.designs.rows import make_row


def _not_analysed_row(
    design: str,
    exposure: str,
    outcome: str,
    role: str,
    analysis: str,
    measure: str,
    reason: str,
    note: str,
) -> dict:
    return make_row(
        design=design,
        exposure=exposure,
        outcome=outcome,
        measure=measure,
        method="not_analysed",
        role=role,
        analysis=analysis,
        not_analysed_reason=reason,
        note=note or reason,
    )


def not_analysed(h, design: str, measure: str, reason: str, note: str = "") -> dict:
    """The key row of a hypothesis whose design could not run (the verdict code reads the reason)."""
    return _not_analysed_row(
        design, h.exposure, h.outcome, hypothesis_role(h.expected), h.id, measure, reason, note
    )


def not_analysed_task(task: Task, measure: str, reason: str, note: str = "") -> dict:
    """:func:`not_analysed` for a task: the same row, marked as the task's key row."""
    row = _not_analysed_row(
        task.design,
        task.exposure,
        task.outcome,
        task.role,
        task.analysis,
        measure,
        reason,
        note,
    )
    return key_row(row, task)
