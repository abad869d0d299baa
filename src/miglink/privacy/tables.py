"""The tables of a run as they may leave the program: the one gate that both the run directory
(miglink.outputs) and the site file (miglink.federate.site) are written from."""

from __future__ import annotations

import pandas as pd

from miglink.privacy import gate_results
from miglink.privacy.curves import gate_curves
from miglink.privacy.d10 import gate_d10_tables
from miglink.privacy.partitions import gate_attrition, gate_prevalence


def gated_results(results: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The results table as it may leave the program: the policy of miglink.privacy.gate_results
    (primary and secondary suppression, derived values withheld, text scanned)."""
    return gate_results(results, min_cell)


def gated_tables(run, min_cell: int) -> dict[str, pd.DataFrame]:
    """Every table of ``run`` as it may leave the program; the run directory and the site file
    are both written from these (one gate for every route)."""
    res = gated_results(run.results if run.results is not None else pd.DataFrame(), min_cell)
    return {
        "results": res,
        "curves": gate_curves(run.curves, min_cell, res),
        "prevalence": gate_prevalence(run.prevalence, min_cell),
        "attrition": gate_attrition(run.attrition, min_cell, res),
        **gate_d10_tables(getattr(run, "tables", None) or {}, min_cell),
    }
