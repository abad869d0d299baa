"""The designs a study can name, in the order a run executes them.

A new design is one module implementing :mod:`miglink.designs.base` and one line here.
"""

from __future__ import annotations

from types import ModuleType

from miglink.calibrate import ControlGroup
from miglink.designs import (
    d1_prevalence,
    d2_cohort,
    d3_modification,
    d4_vascular,
    d5_drugs,
    d6_biomarkers,
    d7_family,
    d8_specificity,
    d9_order,
    d10_comparative,
)

DESIGNS: dict[str, ModuleType] = {
    "D1": d1_prevalence,  # prevalence association (claims 3, 5, 8)
    "D2": d2_cohort,  # bidirectional incident matched cohort (claims 3, 5, 8, 9)
    "D3": d3_modification,  # sex and reproductive-age effect modification (claim 6)
    "D4": d4_vascular,  # aura subtypes and vascular outcomes (claim 4)
    "D5": d5_drugs,  # self-controlled case series and new-user cohort (claim 7)
    "D6": d6_biomarkers,  # CRP / ESR ratio of geometric means (claim 1)
    "D7": d7_family,  # family history (claim 2)
    "D8": d8_specificity,  # dose-response and phenome background (claim 8)
    "D9": d9_order,  # temporal order (claim 9)
    "D10": d10_comparative,  # comparative new-user cohort, large-scale PS (claim 7)
}


def control_groups(rows: list[dict]) -> list[ControlGroup]:
    """The calibration groups rebuilt from result rows, for designs whose controls are rows.

    A pooled run has rows (pooled across sites) but no design results: each design that can say
    from rows alone which are its controls and targets (``control_groups(rows)``) declares them.
    """
    return [
        g
        for mod in DESIGNS.values()
        if hasattr(mod, "control_groups")
        for g in mod.control_groups(rows)
    ]
