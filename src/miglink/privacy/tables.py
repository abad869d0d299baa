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
        **gate_mr_tables(getattr(run, "tables", None) or {}),
    }


def gate_mr_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The MR instrument and leave-one-out tables: GWAS variant associations, no person counts;
    only their declared columns leave (miglink.genetics.hypotheses)."""
    from miglink.genetics.hypotheses import INSTRUMENT_COLUMNS, LOO_COLUMNS

    out = {}
    for name, cols in (("mr_instruments", INSTRUMENT_COLUMNS), ("mr_leave_one_out", LOO_COLUMNS)):
        t = tables.get(name)
        out[name] = t.reindex(columns=list(cols)) if t is not None else pd.DataFrame()
    return out
