"""Self-controlled case series (D5): incidence rate ratios within person.

Each case contributes rows per interval of their observation: interval length (days), events
in it, the exposure window (baseline / pre-exposure / risk) and the age band. The conditional
Poisson likelihood given each person's total events (Farrington 1995; Whitaker et al. 2006)
removes every fixed person-level confounder; statsmodels' ``ConditionalPoisson`` fits it
with log length as offset.

Count-only form: a person's conditional likelihood depends on the data only through the
events per interval and the interval lengths, so people who share an identical interval
profile (same windows, age bands and lengths) can be merged by summing their events; the
fit on those profiles equals the person-level fit exactly (:func:`sccs_from_counts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from miglink.errors import MiglinkError
from miglink.stats.estimate import Estimate
from miglink.stats.soft import FitDiverged, attempt


def _fit(
    df: pd.DataFrame,
    group_col: str,
    length_col: str,
    events_col: str,
    window_col: str,
    age_col: str | None,
    baseline: str,
    method: str,
    covariates: list[str] | None = None,
) -> dict[str, Estimate]:
    adjust = ([age_col] if age_col else []) + list(covariates or [])
    data = _checked(df, group_col, length_col, events_col, window_col, adjust, baseline, method)
    windows = sorted(w for w in data[window_col].unique() if w != baseline)
    data = _informative(data, group_col, events_col, [window_col, *adjust])
    base_events = data.loc[data[window_col] == baseline, events_col].sum()
    out = _not_estimable(data, windows, window_col, base_events, method)
    usable = [w for w in windows if w not in out]
    if not usable:
        return out
    x = _design(data, usable, window_col, adjust)
    fit = attempt(
        lambda: conditional_poisson(
            data[events_col].to_numpy(float),
            x.to_numpy(),
            data[group_col].to_numpy(),
            np.log(data[length_col].to_numpy(float)),
        ),
        converged=lambda r: r[2],
    )
    if not fit.ok:
        for w in usable:
            out[w] = Estimate.missing(method, fit.reason, {"fit_failed": True})
        return {w: out[w] for w in windows}
    params_arr, cov, converged = fit.value
    params = pd.Series(params_arr, index=x.columns)
    var = np.diag(cov)
    # a non-positive variance means the information is not positive definite: NaN, said below
    bse = pd.Series(np.sqrt(np.where(var > 0, var, np.nan)), index=x.columns)
    n_cases = int(data[group_col].nunique())
    for w in usable:
        term = f"window[{w}]"
        extra = {
            "n_cases": n_cases,
            "events_window": float(data.loc[data[window_col] == w, events_col].sum()),
            "events_baseline": float(base_events),
            "converged": converged,
        }
        out[w] = Estimate.from_log(float(params[term]), float(bse[term]), method, extra)
        # a fitted window that still is not estimable (diverging coefficient, non-positive
        # variance) is a failure of this model, which a caller may refit more simply
        out[w].extra["fit_failed"] = not out[w].estimable
    return {w: out[w] for w in windows}


def _checked(
    df: pd.DataFrame,
    group_col: str,
    length_col: str,
    events_col: str,
    window_col: str,
    adjust: list[str],
    baseline: str,
    method: str,
) -> pd.DataFrame:
    """The rows with time in them, window as text; raises for input no SCCS can be fitted on."""
    table = f"{method} input"
    cols = [group_col, length_col, events_col, window_col, *adjust]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MiglinkError(
            f"{table}: missing column(s) {', '.join(missing)} ({len(df)} rows)",
            table=table,
            column=missing[0],
            n_rows=len(df),
        )
    bad = (df[events_col] < 0) | ((df[events_col] > 0) & (df[length_col] <= 0))
    if bad.any():
        raise MiglinkError(
            f"{table}: {int(bad.sum())} rows have negative events or events in an empty interval",
            table=table,
            column=length_col,
            n_rows=int(bad.sum()),
        )
    data = df[df[length_col] > 0].copy()
    data[window_col] = data[window_col].astype(str)
    if baseline not in set(data[window_col]):
        raise MiglinkError(
            f"{table}: baseline window {baseline!r} not found in column {window_col} ({len(data)} rows)",
            table=table,
            column=window_col,
            n_rows=len(data),
        )
    return data


def _informative(
    data: pd.DataFrame, group_col: str, events_col: str, factors: list[str]
) -> pd.DataFrame:
    """The rows that inform the conditional likelihood (removing the others is exact).

    Only cases inform it. A window or age band without events has coefficient -inf; its rows
    then drop out of every denominator. A case whose remaining rows all share one window and
    covariate level has a constant linear predictor: its conditional likelihood is 1 whatever
    the coefficients, so it is dropped too (otherwise it can leave a window "with events" that
    no contrast informs, and the fit runs off to infinity).
    """
    data = data[data.groupby(group_col, observed=True)[events_col].transform("sum") > 0]
    changed = True
    while changed and len(data):
        changed = False
        for f in factors:
            ev = data.groupby(f, observed=True)[events_col].sum()
            empty = ev.index[ev == 0]
            if len(empty):
                data = data[~data[f].isin(empty)]
                changed = True
        levels = data.groupby(group_col, observed=True)[factors].transform("nunique")
        constant = (levels == 1).all(axis=1)
        if constant.any():
            data = data[~constant]
            changed = True
    return data


def _not_estimable(
    data: pd.DataFrame, windows: list[str], window_col: str, base_events, method: str
) -> dict[str, Estimate]:
    """A missing estimate, with its reason, for each window no contrast can inform."""
    out: dict[str, Estimate] = {}
    present = set(data[window_col])
    for w in windows:
        if data.empty:
            out[w] = Estimate.missing(
                method, "not estimable: no case has events and time in more than one window"
            )
        elif base_events == 0:
            out[w] = Estimate.missing(method, "not estimable: no events in the baseline window")
        elif w not in present:
            out[w] = Estimate.missing(method, f"not estimable: no events in window {w}")
    return out


def _design(
    data: pd.DataFrame, usable: list[str], window_col: str, adjust: list[str]
) -> pd.DataFrame:
    """Indicators of each fitted window and of each non-reference covariate level."""
    x = pd.DataFrame(index=data.index)
    for w in usable:
        x[f"window[{w}]"] = (data[window_col] == w).astype(float)
    for cov in adjust:
        codes, levels = pd.factorize(data[cov].astype(str), sort=True)
        for k, lev in enumerate(levels[1:], start=1):
            x[f"{cov}[{lev}]"] = (codes == k).astype(float)
    return x


def conditional_poisson(
    y: np.ndarray,
    x: np.ndarray,
    groups: np.ndarray,
    offset: np.ndarray,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Conditional Poisson MLE by Newton–Raphson: (params, covariance, converged).

    Within a group the counts given their total are multinomial with probabilities
    ∝ exp(x β + offset). Written out because statsmodels' ``ConditionalPoisson`` (0.15)
    drops every group whose counts do not vary, which is right for conditional logit but
    discards informative persons here (e.g. one event in each window of unequal length).
    Vectorised over groups, so cost is linear in rows.
    """
    codes, _ = pd.factorize(groups)
    # rows sorted by group, so every per-group sum is one reduceat over contiguous blocks
    order = np.argsort(codes, kind="stable")
    codes, y, x, offset = codes[order], y[order], x[order], offset[order]
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else codes
    totals = np.add.reduceat(y, starts) if len(codes) else np.zeros(0)
    xty = x.T @ y
    from scipy import sparse

    # group indicator (groups x rows): per-group sums of a matrix are one sparse product
    member = sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes))
    )

    def moments(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = x @ beta + offset
        top = np.maximum.reduceat(eta, starts)
        ex = np.exp(eta - top[codes])  # softmax within group, shifted for stability
        den = np.add.reduceat(ex, starts)
        pi = ex / den[codes]
        log_pi = eta - top[codes] - np.log(den)[codes]
        loglik = float(np.sum(y[y > 0] * log_pi[y > 0]))
        m = member @ (pi[:, None] * x)
        score = xty - totals @ m
        info = (x * (totals[codes] * pi)[:, None]).T @ x - (m * totals[:, None]).T @ m
        return loglik, score, info

    beta = np.zeros(x.shape[1])
    converged = False
    loglik, score, info = moments(beta)
    for _ in range(max_iter):
        step = np.linalg.solve(info, score)
        if not np.all(np.isfinite(step)):
            raise FitDiverged("non-finite Newton step")
        # step halving: a full Newton step from a poor start can overshoot on sparse data
        # (exp overflow, a worse likelihood); halve until the likelihood does not fall
        t = 1.0
        while True:
            new = beta + t * step
            new_ll, new_score, new_info = moments(new)
            if (np.isfinite(new_ll) and new_ll >= loglik - 1e-12) or t < 1e-8:
                break
            t /= 2
        beta, loglik, score, info = new, new_ll, new_score, new_info
        if not (np.all(np.isfinite(beta)) and np.isfinite(loglik)):
            raise FitDiverged("non-finite coefficients")
        if np.max(np.abs(t * step)) < tol:
            converged = True
            break
    return beta, np.linalg.inv(info), converged


def sccs_fit(
    df: pd.DataFrame,
    person_col: str = "person",
    length_col: str = "length",
    events_col: str = "events",
    window_col: str = "window",
    age_col: str | None = "age_band",
    baseline: str = "baseline",
    covariates: list[str] | None = None,
) -> dict[str, Estimate]:
    """IRR per non-baseline window (e.g. ``risk``, ``pre_exposure``) vs baseline, age-adjusted.

    One row per person × interval; pass ``age_col=None`` for no age adjustment and
    ``covariates`` for further time-varying categorical terms (e.g. a season column).
    """
    return _fit(
        df, person_col, length_col, events_col, window_col, age_col, baseline, "sccs", covariates
    )


def sccs_patterns(
    df: pd.DataFrame,
    person_col: str = "person",
    length_col: str = "length",
    events_col: str = "events",
    window_col: str = "window",
    age_col: str | None = "age_band",
    covariates: list[str] | None = None,
) -> pd.DataFrame:
    """Merge persons with identical interval profiles, summing events (the count-only input).

    Returns columns pattern, window, [age_band,] length, events, n_persons. An engine can
    build the same table with a per-person profile key and a GROUP BY.
    """
    cells = [window_col] + ([age_col] if age_col else []) + list(covariates or [])
    # Within a person, intervals sharing window and age band have the same covariates and
    # merge exactly by summing length and events.
    per_person = df.groupby([person_col, *cells], as_index=False, observed=True)[
        [length_col, events_col]
    ].sum()
    keys = [*cells, length_col]
    ordered = per_person.sort_values([person_col, *keys], ignore_index=True)
    pattern = _profile_ids(
        ordered[person_col].to_numpy(),
        ordered.groupby(keys, sort=True, observed=True).ngroup().to_numpy(),
    )
    tagged = ordered.assign(pattern=pattern)
    # (person, window, age band, ...) is unique per person, so a cell's row count is its persons
    out = tagged.groupby(["pattern", *keys], as_index=False, observed=True).agg(
        events=(events_col, "sum"), n_persons=(person_col, "size")
    )
    return out


def _profile_ids(person: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Per row: the number of its person's profile, the sequence of the person's interval codes
    (rows sorted by person, then code). Exact and vectorised: persons with the same number of
    intervals are compared as rows of a code matrix (np.unique on rows)."""
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    sizes = np.diff(np.r_[starts, len(person)])
    pid = np.empty(len(starts), np.int64)
    next_id = 0
    for size in np.unique(sizes):
        who = np.flatnonzero(sizes == size)
        mat = code[starts[who, None] + np.arange(size)]
        _, inv = np.unique(mat, axis=0, return_inverse=True)
        pid[who] = next_id + inv.ravel()
        next_id += int(inv.max()) + 1
    return np.repeat(pid, sizes)


def sccs_from_counts(
    df: pd.DataFrame,
    pattern_col: str = "pattern",
    length_col: str = "length",
    events_col: str = "events",
    window_col: str = "window",
    age_col: str | None = "age_band",
    baseline: str = "baseline",
    covariates: list[str] | None = None,
) -> dict[str, Estimate]:
    """SCCS on profiles (see :func:`sccs_patterns`); equal to :func:`sccs_fit` on the persons."""
    return _fit(
        df, pattern_col, length_col, events_col, window_col, age_col, baseline, "sccs", covariates
    )
