"""D8 composite and specificity: dose-response over the number of autoimmune diseases, and each
autoimmune OR placed against the phenome background (the ORs of all other condition concepts).

The phenome background is used like negative controls: an empirical null fitted to the background
log ORs calibrates the autoimmune ORs, so an immune-specific link is told apart from a general
excess of recorded diagnoses in people with migraine (detection / over-diagnosis).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA, assemble_2x2, with_flag
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import mantel_haenszel, trend_test_grouped


def dose_response(
    ft: FeatureTables, autoimmune: list[str], outcome: str, role: str, analysis: str
) -> list[dict]:
    C = ft.conditions
    n_ai = (
        C.filter(C.set_id.isin(autoimmune))
        .group_by("person_id")
        .aggregate(k=C.set_id.nunique())
        .rename(apid="person_id")
    )
    P = ft.persons.left_join(n_ai, ft.persons.person_id == n_ai.apid)
    P = P.mutate(score=ibis.least(P.k.fill_null(0), 3).cast("int64")).drop("apid", "k")
    P = with_flag(P, C, outcome, "y")
    g = (
        P.group_by(["score", *STRATA])
        .aggregate(total=P.person_id.count(), events=P.y.sum())
        .execute()
    )
    for s in STRATA:
        g[s] = g[s].astype(str)
    covs = [s for s in STRATA if g[s].nunique() > 1]
    est = trend_test_grouped(g, "score", "events", "total", covs)
    by = g.groupby("score")[["events", "total"]].sum()
    n_exp = int(by.loc[by.index > 0, "total"].sum())
    n_un = int(by.loc[by.index == 0, "total"].sum()) if 0 in by.index else 0
    e_exp = int(by.loc[by.index > 0, "events"].sum())
    e_un = int(by.loc[by.index == 0, "events"].sum()) if 0 in by.index else 0
    rows = [
        make_row(
            design="D8",
            exposure="n_autoimmune_0_1_2_3plus",
            outcome=outcome,
            measure="OR",
            method="logistic_trend_grouped",
            est=est,
            role=role,
            stratum="per additional disease",
            analysis=analysis,
            n_exposed=n_exp,
            n_unexposed=n_un,
            events_exposed=e_exp,
            events_unexposed=e_un,
        )
    ]
    for score, r in by.iterrows():
        rows.append(
            make_row(
                design="D8",
                exposure=f"n_autoimmune={score}{'+' if score == 3 else ''}",
                outcome=outcome,
                measure="prevalence",
                method="descriptive",
                role="descriptive",
                stratum=f"{score}{'+' if score == 3 else ''} autoimmune diseases",
                analysis=analysis,
                n_exposed=int(r["total"]),
                events_exposed=int(r["events"]),
                estimate=float(r["events"] / r["total"]) if r["total"] else None,
            )
        )
    return rows


def phenome_ors(
    ft: FeatureTables, exposure: str, exclude_ids: set[int], min_persons: int
) -> pd.DataFrame:
    """Mantel-Haenszel OR of ``exposure`` against every standard condition concept with enough persons."""
    ph = ft.phenome
    sizes = ph.group_by("concept_id").aggregate(n=ph.person_id.count())
    keep = sizes.filter(sizes.n >= min_persons)
    if exclude_ids:
        keep = keep.filter(~keep.concept_id.isin(list(exclude_ids)))
    keep_ids = keep.concept_id.execute().tolist()
    if not keep_ids:
        return pd.DataFrame(columns=["concept_id", "log_or", "se", "n"])
    P = with_flag(ft.persons, ft.conditions, exposure, "exposed")
    totals = P.group_by([*STRATA, "exposed"]).aggregate(n=P.person_id.count()).execute()
    sel = ph.filter(ph.concept_id.isin(keep_ids)).select(
        pid=ph.person_id, outcome=ph.concept_id.cast("string")
    )
    j = P.join(sel, P.person_id == sel.pid)
    cases = j.group_by(["outcome", *STRATA, "exposed"]).aggregate(k=j.person_id.count()).execute()
    tab = assemble_2x2(totals, cases, "exposed", [str(i) for i in keep_ids], STRATA)
    out = []
    for cid, t in tab.groupby("outcome"):
        e = mantel_haenszel(t[["a", "b", "c", "d"]])
        if np.isfinite(e.log_estimate) and np.isfinite(e.se_log) and e.se_log > 0:
            out.append(
                {
                    "concept_id": int(cid),
                    "log_or": e.log_estimate,
                    "se": e.se_log,
                    "n": int(t["a"].sum() + t["c"].sum()),
                }
            )
    return pd.DataFrame(out)


def percentile_of(value: float, background: np.ndarray) -> float:
    """Share (in percent) of background values strictly below ``value``."""
    if background.size == 0 or not np.isfinite(value):
        return float("nan")
    return float(100.0 * np.mean(background < value))
