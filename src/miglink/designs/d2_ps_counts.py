"""D2's propensity-score analysis, engine side: members, covariates and outcomes per index set.

For the pairs :data:`PS_DISEASES` names (both directions), the matched members of each index set
(:func:`~miglink.designs.d2_matching.matched_members`) get FeatureExtraction-like baseline
covariates at their own index day (:mod:`miglink.features.covariates`), built once per index set
for all its pairs, without the concepts (and descendants) of the index set and of every outcome
of the set's PS pairs: the index is defined by the one and the other must be absent at baseline.
The matching bands the covariates lack (observation band, utilisation band) are added as
indicators, and the visit history at each member's index as healthcare-seeking covariates
(:mod:`miglink.designs.d2_ps_seeking`). One L1 PS (case vs comparator) per index set, as
CohortMethod fits one PS per comparison and restricts it per outcome;
:mod:`miglink.designs.d2_ps_pairs` stratifies and aggregates per pair. Only aggregates leave
this module (the frames ``ps_risk``, ``ps_balance``, ``ps_summary``).
"""

from __future__ import annotations

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import scipy.sparse as sp

from miglink.designs.base import Task
from miglink.designs.d2_ps_pairs import PS_MIN_PER_ARM, fit_ps, followup, pair_aggregates
from miglink.designs.d2_ps_seeking import seeking_covariates
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables

#: The D2 pairs that get a PS-stratified row, each disease in both directions (issue 16: the
#: composite and the four claim-3 diseases).
PS_DISEASES = ("sle", "multiple_sclerosis", "rheumatoid_arthritis", "sjogren", ANY_AUTOIMMUNE)
#: Matching bands added to the covariates as indicators: id -(base + band value).
BAND_IDS = {"oband": 1000, "ub": 2000}
PS_FRAMES = ("ps_risk", "ps_balance", "ps_summary")
_MEMBER_COLS = ["set_pid", "member", "exposed", "index_day", "censor_day", "m_obs_end", "m_death"]


def ps_counts(ft: FeatureTables, members: ir.Table, tasks: list[Task]) -> dict[str, pd.DataFrame]:
    """The PS frames of the tasks with ``options["ps_exclude"]`` (empty frames without a CDM to
    build covariates from, e.g. literal feature tables)."""
    ps_tasks = [t for t in tasks if "ps_exclude" in t.options]
    frames: dict[str, list[pd.DataFrame]] = {f: [] for f in PS_FRAMES}
    summaries: list[dict] = []
    if ps_tasks and ft.cdm is not None:
        for idx in dict.fromkeys(t.exposure for t in ps_tasks):
            ts = [t for t in ps_tasks if t.exposure == idx]
            _index_set(ft, members, idx, ts, frames, summaries)
    out = {f: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for f, v in frames.items()}
    out["ps_summary"] = pd.DataFrame(summaries)
    return out


def _index_set(ft, members, idx, ts, frames, summaries) -> None:
    """Covariates, PS and per-pair aggregates of one index set (appended to the frames). The
    study's covariate records are read on the first index set with enough members (memoised)."""
    from miglink.features.covariates import (
        CovariateSettings,
        build_covariates,
        covariate_records,
    )

    m = members_frame(members, idx)
    t = m["exposed"].to_numpy(np.int8)
    n_t, n_c = int(t.sum()), int(len(t) - t.sum())
    if min(n_t, n_c) < PS_MIN_PER_ARM:
        note = f"no PS: fewer than {PS_MIN_PER_ARM} members in an arm"
        summaries.extend(dict(index_set=idx, outcome_set=x.outcome, note=note) for x in ts)
        return
    sets = {s for x in ts for s in x.options["ps_exclude"]}
    excl = set().union(*(ft.resolved_ids.get(s, frozenset()) for s in sets))
    cohort = pd.DataFrame(
        {"row_id": np.arange(len(m)), "person_id": m["member"], "index_day": m["index_day"]}
    )
    cov = build_covariates(
        covariate_records(ft.cdm), cohort, ft.cdm, CovariateSettings().excluding(excl)
    )
    bands, band_ids = band_indicators(m)
    seek, seek_ids = seeking_covariates(ft, members, idx, m)
    x = sp.hstack([cov.to_csr(), bands, seek], format="csr")
    ids = np.concatenate([cov.ref["covariate_id"].to_numpy(np.int64), band_ids, seek_ids])
    fit = fit_ps(x, t)
    days = outcome_days(ft, members, idx, [x.outcome for x in ts])
    for task in ts:
        o = m["member"].map(days.get(task.outcome, {})).to_numpy(float)
        time, event = followup(m, o)
        agg = pair_aggregates(x, t, fit.ps, time, event)
        key = dict(index_set=idx, outcome_set=task.outcome)
        frames["ps_risk"].append(agg.risk.assign(**key))
        bal = agg.balance.assign(covariate_id=ids[agg.balance["covariate"].to_numpy(int)])
        frames["ps_balance"].append(bal.drop(columns="covariate").assign(**key))
        summaries.append(
            dict(**key, **agg.summary, auc=fit.auc, prior_c=fit.c, n_covariates=x.shape[1],
                 near_predictors=len(fit.near_predictors), note="")
        )  # fmt: skip


def members_frame(members: ir.Table, idx: str) -> pd.DataFrame:
    """The matched members of one index set in memory, in a fixed order (same on every engine,
    so the PS fit is too). Person ids stay here: never in a frame that leaves."""
    mi = members.filter(members.index_set == idx)
    m = mi.select(*_MEMBER_COLS, "oband", "ub").execute()
    m = m.sort_values(["set_pid", "exposed", "member", "index_day"], ascending=[1, 0, 1, 1])
    return m.reset_index(drop=True)


def band_indicators(m: pd.DataFrame) -> tuple[sp.csr_matrix, np.ndarray]:
    """Indicator columns of the observation and utilisation bands, with their ids."""
    cols, ids = [], []
    for name, base in BAND_IDS.items():
        for v in sorted(m[name].unique()):
            cols.append((m[name].to_numpy() == v).astype(np.float32))
            ids.append(-(base + int(v)))
    mat = sp.csr_matrix(np.column_stack(cols)) if cols else sp.csr_matrix((len(m), 0))
    return mat, np.asarray(ids, np.int64)


def outcome_days(
    ft: FeatureTables, members: ir.Table, idx: str, outcomes: list[str]
) -> dict[str, dict[int, int]]:
    """Per outcome set: person id -> first record day, for the members of ``idx``."""
    C = ft.conditions
    mi = members.filter(members.index_set == idx).select("member").distinct()
    oc = C.filter(C.set_id.isin(outcomes))
    oc = oc.semi_join(mi, oc.person_id == mi.member).select("person_id", "set_id", "first_day")
    df = oc.execute()
    return {
        s: dict(zip(g["person_id"].astype("int64"), g["first_day"].astype("int64"), strict=True))
        for s, g in df.groupby("set_id")
    }
