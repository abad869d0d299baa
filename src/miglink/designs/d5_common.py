"""Small helpers shared by the D4-D7 designs (claims 1, 2, 4 and 7)."""

from __future__ import annotations

import ibis.expr.types as ir

from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA


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


def stratum_label(t: ir.Table, strata: list[str] = STRATA) -> ir.StringValue:
    """One string per stratum (sex:age band:utilisation quintile:observation band)."""
    parts = [t[s].cast("string") for s in strata]
    out = parts[0]
    for p in parts[1:]:
        out = out + ":" + p
    return out
