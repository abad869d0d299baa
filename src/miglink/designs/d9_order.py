"""D9 temporal order: among people with both conditions, both first recorded at least the minimum
prior observation after observation start, the share whose migraine came first (binomial CI).
Same-day first records are excluded and counted."""

from __future__ import annotations

import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.rows import make_row
from miglink.features.build import FeatureTables
from miglink.stats.proportion import binomial_share

NAME = "D9"
_COLS = ["analysis", "n", "first_n", "ties"]


def tasks(study: Study) -> list[Task]:
    """One descriptive task per distinct D9 hypothesis (exposure = the set asked to come first)."""
    keyed: dict[tuple, list] = {}
    for _, h in study.hypotheses():
        if h.design == NAME:
            keyed.setdefault((h.exposure, h.outcome, h.subgroup, h.contrast), []).append(h)
    return [
        Task(
            design=NAME,
            analysis=hs[-1].id,  # the last hypothesis with the key names it, as always
            exposure=exp,
            outcome=outc,
            role="descriptive",
            hypotheses=tuple(h.id for h in hs),
            contrast=con,
            subgroup=sub,
        )
        for (exp, outc, sub, con), hs in keyed.items()
    ]


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Frame "order": per task, persons with both sets after the washout (n), with the exposure
    first (first_n) and with both on the same day (ties)."""
    return Counts(
        design=NAME,
        frames={"order": pd.DataFrame([_order(ft, t) for t in tasks], columns=_COLS)},
    )


def _order(ft: FeatureTables, t: Task) -> dict:
    C = ft.conditions
    P = ft.persons
    prior = ft.settings.min_prior_observation_days
    a = C.filter(C.set_id == t.exposure).select(apid=C.person_id, a_day=C.first_day)
    b = C.filter(C.set_id == t.outcome).select(bpid=C.person_id, b_day=C.first_day)
    ps = P.select(spid=P.person_id, obs_start_day=P.obs_start_day)
    ab = a.join(b, a.apid == b.bpid)
    j = ab.join(ps, ab.apid == ps.spid)
    j = j.filter((j.a_day >= j.obs_start_day + prior) & (j.b_day >= j.obs_start_day + prior))
    agg = j.aggregate(
        n=j.apid.count(),
        first_n=(j.a_day < j.b_day).cast("int64").sum(),
        ties=(j.a_day == j.b_day).cast("int64").sum(),
    ).execute()
    # a sum over no pairs is NULL: None on DuckDB, NaN on Spark (and NaN is truthy), so test it
    return {
        "analysis": t.analysis,
        **{k: int(v) if pd.notna(v := agg[k].iloc[0]) else 0 for k in ("n", "first_n", "ties")},
    }


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """One Clopper-Pearson share row per task (not estimable when every pair is a tie)."""
    order = counts.frame("order")
    rows = []
    for t in tasks:
        rec = order[order["analysis"] == t.analysis].iloc[0]
        rows.append(key_row(_share_row(t, int(rec["n"]), int(rec["first_n"]), int(rec["ties"])), t))
    return DesignResult(rows=rows)


def _share_row(t: Task, n: int, k: int, ties: int) -> dict:
    m = n - ties
    return make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="share",
        method="clopper_pearson",
        est=binomial_share(k, m) if m > 0 else None,
        role=t.role,
        stratum="both recorded after washout, ties excluded",
        analysis=t.analysis,
        n_exposed=k,
        n_unexposed=m - k,
        events_exposed=ties,
        note=f"share with {t.exposure} recorded first; same-day pairs excluded "
        "(events_exposed = ties)",
    )
