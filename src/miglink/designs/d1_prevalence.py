"""D1 prevalence association: the stratified 2x2 table of exposure x outcome.

Estimators on the counts: crude OR (Woolf CI), Mantel-Haenszel OR (Robins-Breslow-Greenland
variance, the primary estimate) with Breslow-Day homogeneity, and logistic regression on the
grouped counts with the stratum variables as covariates (sensitivity).
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.strata import stratified_counts, with_flag
from miglink.designs.twobytwo import estimate_2x2
from miglink.features.build import FeatureTables


def d1_counts(ft: FeatureTables, exposure: str, outcomes: list[str], persons=None) -> pd.DataFrame:
    """Stratified 2x2 counts of ``exposure`` against each outcome (optionally in a subset)."""
    p = with_flag(ft.persons if persons is None else persons, ft.conditions, exposure, "exposed")
    return stratified_counts(p, ft.conditions, "exposed", outcomes)


def run_d1(
    ft: FeatureTables, exposure: str, outcomes: list[str], roles: dict[str, str]
) -> tuple[list[dict], pd.DataFrame]:
    """All D1 rows for ``exposure`` against ``outcomes`` (roles: outcome -> row role)."""
    counts = d1_counts(ft, exposure, outcomes)
    rows: list[dict] = []
    by_outcome = dict(list(counts.groupby("outcome", sort=False)))
    for o in outcomes:
        tab = by_outcome.get(o, counts.iloc[:0])
        role = roles.get(o, "secondary")
        rows += estimate_2x2(
            tab,
            design="D1",
            exposure=exposure,
            outcome=o,
            role=role,
            with_sensitivity=role != "negative_control",
        )
    return rows, counts
