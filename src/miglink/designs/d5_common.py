"""Small helpers shared by the D4-D7 designs (claims 1, 2, 4 and 7)."""

from __future__ import annotations

from miglink.designs.rows import make_row


def not_analysed(h, design: str, measure: str, reason: str, note: str = "") -> dict:
    """The key row of a hypothesis whose design could not run (the verdict code reads the reason)."""
    return make_row(
        design=design,
        exposure=h.exposure,
        outcome=h.outcome,
        measure=measure,
        method="not_analysed",
        role="descriptive" if h.expected == "descriptive" else "primary",
        analysis=h.id,
        not_analysed_reason=reason,
        note=note or reason,
    )
