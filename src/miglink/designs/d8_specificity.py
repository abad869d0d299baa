"""D8 composite and specificity: dose-response over the number of autoimmune diseases, and each
autoimmune OR placed against the phenome background (the ORs of all other condition concepts,
:mod:`miglink.designs.d8_phenome`).

The phenome background is used like negative controls: an empirical null fitted to the background
log ORs calibrates the autoimmune ORs, so an immune-specific link is told apart from a general
excess of recorded diagnoses in people with migraine (detection / over-diagnosis).

The dose-response utilisation leaves out the visit days recording any autoimmune disease or the
outcome (:mod:`miglink.designs.strata`).
"""

from __future__ import annotations

import ibis
import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs import d8_phenome
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.rows import make_row
from miglink.designs.strata import STRATA, own_utilisation, with_flag, without_own_days
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import trend_test_grouped

NAME = "D8"
DOSE_RESPONSE = "dose_response"
PHENOME = d8_phenome.PHENOME


def tasks(study: Study) -> list[Task]:
    """The dose-response tasks (one per distinct hypothesis), then one phenome task per
    phenome-percentile hypothesis."""
    keyed: dict[tuple, list] = {}
    for _, h in study.hypotheses():
        if h.design == NAME and h.contrast == DOSE_RESPONSE:
            keyed.setdefault((h.exposure, h.outcome, h.subgroup), []).append(h)
    dose = [
        Task(
            design=NAME,
            analysis=hs[-1].id,  # the last hypothesis with the key names it, as always
            exposure="n_autoimmune_0_1_2_3plus",
            outcome=outc,
            role="primary",
            hypotheses=tuple(h.id for h in hs),
            contrast=DOSE_RESPONSE,
            subgroup=sub,
            options={"autoimmune": list(study.autoimmune)},
        )
        for (_exp, outc, sub), hs in keyed.items()
    ]
    return dose + d8_phenome.tasks(study)


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Frame "dose" (analysis, score, strata, total, events) for the dose-response tasks, and the
    phenome frames and values (:func:`miglink.designs.d8_phenome.count`)."""
    dose = [_dose_counts(ft, t) for t in tasks if t.contrast == DOSE_RESPONSE]
    counts = d8_phenome.count(ft, [t for t in tasks if t.contrast == PHENOME])
    counts.frames["dose"] = pd.concat(dose, ignore_index=True) if dose else pd.DataFrame()
    return counts


def _dose_counts(ft: FeatureTables, t: Task) -> pd.DataFrame:
    """Persons and outcome cases per stratum and score (distinct autoimmune sets, capped at 3)."""
    C = ft.conditions
    n_ai = (
        C.filter(C.set_id.isin(list(t.options["autoimmune"])))
        .group_by("person_id")
        .aggregate(k=C.set_id.nunique())
        .rename(apid="person_id")
    )
    P = ft.persons.left_join(n_ai, ft.persons.person_id == n_ai.apid)
    P = P.mutate(score=ibis.least(P.k.fill_null(0), 3).cast("int64")).drop("apid", "k")
    P = with_flag(P, C, t.outcome, "y")
    # utilisation without the days recording any autoimmune disease (the score) or the outcome
    sets = [*t.options["autoimmune"], t.outcome]
    P = without_own_days(P, own_utilisation(ft, sets), sets)
    g = (
        P.group_by(["score", *STRATA])
        .aggregate(total=P.person_id.count(), events=P.y.sum())
        .execute()
    )
    for s in STRATA:
        g[s] = g[s].astype(str)
    g.insert(0, "analysis", t.analysis)
    return g


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """The dose-response rows, then the phenome rows with the "D8 phenome" group."""
    dose = counts.frame("dose")
    rows: list[dict] = []
    for t in tasks:
        if t.contrast == DOSE_RESPONSE:
            g = dose[dose["analysis"] == t.analysis].drop(columns="analysis")
            rows += dose_response_rows(g.reset_index(drop=True), t)
    phenome = d8_phenome.estimate(counts, [t for t in tasks if t.contrast == PHENOME], settings)
    return DesignResult(rows=rows + phenome.rows, controls=phenome.controls)


def dose_response_rows(g: pd.DataFrame, t: Task) -> list[dict]:
    """The trend OR per additional disease (the key row) and the prevalence at each score."""
    covs = [s for s in STRATA if g[s].nunique() > 1]
    est = trend_test_grouped(g, "score", "events", "total", covs)
    by = g.groupby("score")[["events", "total"]].sum()
    n_exp = int(by.loc[by.index > 0, "total"].sum())
    n_un = int(by.loc[by.index == 0, "total"].sum()) if 0 in by.index else 0
    e_exp = int(by.loc[by.index > 0, "events"].sum())
    e_un = int(by.loc[by.index == 0, "events"].sum()) if 0 in by.index else 0
    trend = make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="OR",
        method="logistic_trend_grouped",
        est=est,
        role=t.role,
        stratum="per additional disease",
        analysis=t.analysis,
        n_exposed=n_exp,
        n_unexposed=n_un,
        events_exposed=e_exp,
        events_unexposed=e_un,
    )
    rows = [key_row(trend, t)]
    for score, r in by.iterrows():
        level = f"{score}{'+' if score == 3 else ''}"
        rows.append(
            make_row(
                design=NAME,
                exposure=f"n_autoimmune={level}",
                outcome=t.outcome,
                measure="prevalence",
                method="descriptive",
                role="descriptive",
                stratum=f"{level} autoimmune diseases",
                analysis=t.analysis,
                n_exposed=int(r["total"]),
                events_exposed=int(r["events"]),
                estimate=float(r["events"] / r["total"]) if r["total"] else None,
            )
        )
    return rows
