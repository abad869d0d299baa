"""D9 temporal order: among people with both conditions, both first recorded at least the minimum
prior observation after observation start, the share whose migraine came first (binomial CI).
Same-day first records are excluded and counted."""

from __future__ import annotations

from miglink.designs.rows import make_row
from miglink.features.build import FeatureTables
from miglink.stats.proportion import binomial_share


def temporal_order(
    ft: FeatureTables, first: str, other: str, role: str, analysis: str
) -> list[dict]:
    C = ft.conditions
    P = ft.persons
    prior = ft.settings.min_prior_observation_days
    a = C.filter(C.set_id == first).select(apid=C.person_id, a_day=C.first_day)
    b = C.filter(C.set_id == other).select(bpid=C.person_id, b_day=C.first_day)
    ps = P.select(spid=P.person_id, obs_start_day=P.obs_start_day)
    ab = a.join(b, a.apid == b.bpid)
    j = ab.join(ps, ab.apid == ps.spid)
    j = j.filter((j.a_day >= j.obs_start_day + prior) & (j.b_day >= j.obs_start_day + prior))
    agg = j.aggregate(
        n=j.apid.count(),
        first_n=(j.a_day < j.b_day).cast("int64").sum(),
        ties=(j.a_day == j.b_day).cast("int64").sum(),
    ).execute()
    n = int(agg["n"].iloc[0] or 0)
    k = int(agg["first_n"].iloc[0] or 0)
    ties = int(agg["ties"].iloc[0] or 0)
    m = n - ties
    est = binomial_share(k, m) if m > 0 else None
    return [
        make_row(
            design="D9",
            exposure=first,
            outcome=other,
            measure="share",
            method="clopper_pearson",
            est=est,
            role=role,
            stratum="both recorded after washout, ties excluded",
            analysis=analysis,
            n_exposed=k,
            n_unexposed=m - k,
            events_exposed=ties,
            note=f"share with {first} recorded first; same-day pairs excluded (events_exposed = ties)",
        )
    ]
