"""D2's propensity-score analysis, person-level part: follow-up, PS strata and the aggregates.

Everything here runs inside D2's count step on arrays held in memory and returns only
aggregates (:class:`PairAggregates`): the risk table per PS stratum, arm and event time, the SMD
of every covariate before and after stratification, and the equipoise. The members' follow-up is
the one :mod:`miglink.designs.d2_counts` counts in the engine (same exclusions, end and event
rules), so the PS row and the key row describe the same people.

Why strata, not matching: the members are already exact-matched 1:k on the matching cell, and
re-matching on the PS would discard most comparators (and the events they carry); CohortMethod's
stratification keeps every member and adjusts what the exact match left imbalanced (prior visits,
conditions). Why a Cox model: cases and comparators differ in follow-up pattern (cases are
indexed earlier in their observation), which a Poisson rate ratio's constant hazard ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from miglink.stats.propensity import equipoise
from miglink.stats.ps_adjust import adjustment_weights, stratify_by_ps
from miglink.stats.ps_balance import covariate_balance
from miglink.stats.ps_outcome import risk_table

#: PS strata: 10 at PS deciles of the pair's population (CohortMethod's default is 5; the
#: matched cohorts are large and the imbalance is strong, and 10 strata leave less of it
#: within strata while keeping both arms in every stratum).
PS_STRATA = 10
_BIG = 10**9


@dataclass
class PairAggregates:
    """One pair's PS aggregates: ``risk`` (stratum, treatment, time, events, censored; censoring
    times moved to the last event time at or before them, see :func:`compress_risk_table`),
    ``balance`` (covariate column, smd_before, smd_after) and ``summary`` (one dict)."""

    risk: pd.DataFrame
    balance: pd.DataFrame
    summary: dict


def followup(members: pd.DataFrame, outcome_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per member row: follow-up days to the outcome or censoring (0 when not at risk: no
    follow-up, or the outcome on or before index) and the event flag, as d2_counts counts them.

    ``members`` has index_day, m_obs_end, m_death, censor_day (NaN: none); ``outcome_day`` is the
    first record of the outcome per row (NaN: none).
    """
    idx = members["index_day"].to_numpy(float)
    censor = members["censor_day"].to_numpy(float)
    base_end = np.fmin(
        members["m_obs_end"].to_numpy(float),
        np.fmin(np.nan_to_num(members["m_death"].to_numpy(float), nan=_BIG), _nz(censor)),
    )
    o = np.asarray(outcome_day, float)
    has_o = ~np.isnan(o)
    end = np.where(has_o, np.fmin(base_end, o), base_end)
    time = end - idx
    prior = has_o & (o <= idx)
    event = has_o & (o > idx) & (o == end) & (np.isnan(censor) | (o <= censor))
    at_risk = (time > 0) & ~prior
    return np.where(at_risk, time, 0.0), event & at_risk


def _nz(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=_BIG)


def compress_risk_table(table: pd.DataFrame) -> pd.DataFrame:
    """The risk table with every censored count moved to the last event time (any arm) of its
    stratum at or before it, and dropped before the first: the Cox partial likelihood only sees
    at which event times a person is at risk, so the fit is unchanged, the table has about two
    rows per event time, and no censoring day is kept."""
    out = []
    for _s, g in table.groupby("stratum", sort=True):
        ev_times = np.sort(g.loc[g["events"] > 0, "time"].unique())
        if not len(ev_times):
            continue
        pos = np.searchsorted(ev_times, g["time"].to_numpy(), side="right") - 1
        g = g.assign(time=np.where(pos >= 0, ev_times[np.maximum(pos, 0)], np.nan))
        out.append(g[g["time"].notna()])
    if not out:
        return table.iloc[:0]
    tab = pd.concat(out, ignore_index=True)
    tab = tab.groupby(["stratum", "treatment", "time"], as_index=False)[["events", "censored"]]
    return tab.sum().astype({"events": "int64", "censored": "int64"})


def pair_aggregates(
    x: sp.csr_matrix,
    treatment: np.ndarray,
    ps: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    n_strata: int = PS_STRATA,
) -> PairAggregates:
    """Stratify the pair's population (``time > 0``) on the PS and aggregate: risk table, SMD
    of every column of ``x`` before and after (each stratum's comparators re-weighted to its
    cases, CohortMethod's balance after stratification) and equipoise."""
    keep = np.asarray(time) > 0
    t, p, tm, ev = (np.asarray(a)[keep] for a in (treatment, ps, time, event))
    xp = x[np.flatnonzero(keep)]
    summary = dict(
        n_t=int(t.sum()), n_c=int((1 - t).sum()), pd_t=float(tm[t == 1].sum()),
        pd_c=float(tm[t == 0].sum()), e_t=int(ev[t == 1].sum()), e_c=int(ev[t == 0].sum()),
    )  # fmt: skip
    if summary["n_t"] == 0 or summary["n_c"] == 0:
        empty = pd.DataFrame(columns=["stratum", "treatment", "time", "events", "censored"])
        bal = pd.DataFrame(columns=["covariate", "smd_before", "smd_after"])
        return PairAggregates(empty, bal, {**summary, "equipoise": float("nan")})
    strata = stratify_by_ps(p, t, n_strata, base="all")
    risk = compress_risk_table(risk_table(tm, ev, t, strata))
    bal = covariate_balance(xp, t, adjustment_weights(strata, t, base="target"))
    table = bal.table[["covariate", "smd_before", "smd_after"]]
    summary.update(
        equipoise=equipoise(p, t),
        max_abs_smd_before=bal.max_abs_smd_before,
        max_abs_smd_after=bal.max_abs_smd_after,
        n_strata=int(len(np.unique(strata))),
    )
    return PairAggregates(risk, table, summary)


#: Fewest members per arm for a PS fit (10-fold cross-validation needs 10 per arm; fewer
#: cannot choose a prior and a PS on them is not read).
PS_MIN_PER_ARM = 10
PS_SEED = 16
#: Cross-validation of the prior: CohortMethod's 10 folds, on a stratified sample of at most
#: PS_CV_MAX_ROWS members (the chosen prior is carried to the fit on every member), folds fitted
#: on PS_CV_THREADS threads (liblinear releases the GIL).
PS_CV_FOLDS = 10
PS_CV_MAX_ROWS = 20_000
PS_CV_THREADS = 2
#: liblinear's stopping tolerance for the PS of the matched members (the folds' too). At 1M
#: persons the composite's 227k members x 514 covariates took 27 s at 1e-4 and 2.4 s at 1e-3,
#: with the same support (409 / 417 covariates); on 14k members the linear predictor moved by
#: sd 0.023 (max 0.17) against a 1e-5 fit, well inside one of the 10 PS strata.
PS_TOL = 1e-3


def fit_ps(x: sp.csr_matrix, treatment: np.ndarray):
    """The L1 PS of case vs comparator (stats.propensity, prior by cross-validation; the same
    on every run and engine: the folds are seeded and liblinear's coordinate order fixed).
    Returns a PropensityFit."""
    from miglink.stats.propensity import fit_propensity

    return fit_propensity(
        x,
        treatment,
        cv_folds=PS_CV_FOLDS,
        cv_max_rows=PS_CV_MAX_ROWS,
        seed=PS_SEED,
        on_near="ignore",
        n_jobs=PS_CV_THREADS,
        tol=PS_TOL,
        cv_tol=PS_TOL,
    )
