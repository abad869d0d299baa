"""D2's healthcare-seeking covariates for the PS: each member's visit history at its own index.

Why (issue 15): a new diagnosis marks a slow detector. People who seek care less carry larger
unrecorded pools of every chronic condition, which are recorded after index and count as incident
outcomes, so null HRs sit above 1. The matching has the three-year utilisation band and the
default covariates count visits in the 365 days before index only; in the null worlds
(benchmarks/VALIDITY.md, "D2 in the null worlds, PS vs matched") the cases' visit history still
differed from their comparators' after PS stratification on those (SMD up to 0.2 on visits in the
90 days before index and on days since the last visit). These columns give the PS the whole
visit history the records show: visit days in windows of 30 days to 3 years, all visit days of
prior observation, the days since the last visit, the days of prior observation and the visit
rate over it. Windows end the day before index, as the other covariates.
"""

from __future__ import annotations

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import scipy.sparse as sp

from miglink.features.build import FeatureTables

#: Visit-day windows in days before index.
SEEKING_WINDOWS = (30, 90, 180, 365, 730, 1095)
#: Days since the last visit when there is none (or longer ago): about ten years.
NO_VISIT_DAYS = 3650
#: Covariate ids: -(SEEKING_BASE + k), k the column's position in :data:`SEEKING_COLUMNS`.
SEEKING_BASE = 3000
SEEKING_COLUMNS = (
    *(f"visit days in {w} days before index" for w in SEEKING_WINDOWS),
    "visit days in prior observation",
    "days since last visit",
    "days of prior observation",
    "visit days per year of prior observation",
)


def seeking_covariates(
    ft: FeatureTables, members: ir.Table, idx: str, m: pd.DataFrame
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The seeking columns of the rows of ``m`` (members of ``idx``, with member and index_day)
    and their ids. The engine aggregates per (member, index day); person ids stay in memory."""
    n = len(m)
    if ft.visit_days is None or n == 0:
        return sp.csr_matrix((n, 0), dtype=np.float32), np.zeros(0, np.int64)
    mi = members.filter(members.index_set == idx).select("member", "index_day").distinct()
    V, P = ft.visit_days, ft.persons
    v = V.select(vpid=V.person_id, vday=V.day.epoch_days().cast("int64"))
    j = mi.join(v, mi.member == v.vpid)
    j = j.mutate(gap=j.index_day - j.vday)
    j = j.filter(j.gap >= 1)
    counts = {f"v{w}": (j.gap <= w).cast("int64").sum() for w in SEEKING_WINDOWS}
    agg = j.group_by(["member", "index_day"]).aggregate(
        **counts, v_all=j.gap.count(), last=j.gap.min()
    )
    p = P.select(opid=P.person_id, obs_start_day=P.obs_start_day)
    obs = mi.join(p, mi.member == p.opid).select("member", "index_day", "obs_start_day")
    key = ["member", "index_day"]
    rows = m[key].astype("int64")
    a = rows.merge(agg.execute().astype("int64"), on=key, how="left")
    o = rows.merge(obs.execute().astype("int64"), on=key, how="left")
    cols = [a[f"v{w}"].fillna(0).to_numpy(float) for w in SEEKING_WINDOWS]
    v_all = a["v_all"].fillna(0).to_numpy(float)
    last = np.minimum(a["last"].fillna(NO_VISIT_DAYS).to_numpy(float), NO_VISIT_DAYS)
    prior = (rows["index_day"] - o["obs_start_day"]).to_numpy(float)
    rate = v_all / np.maximum(prior, 30.0) * 365.25
    mat = np.column_stack([*cols, v_all, last, prior, rate]).astype(np.float32)
    ids = -(SEEKING_BASE + np.arange(mat.shape[1], dtype=np.int64))
    return sp.csr_matrix(mat), ids
