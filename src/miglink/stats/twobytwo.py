"""Odds ratios from 2×2 counts: crude, Mantel–Haenszel, grouped logistic, ratios, trend.

Cell names follow epidemiology: ``a`` exposed cases, ``b`` exposed non-cases, ``c`` unexposed
cases, ``d`` unexposed non-cases. Everything here fits on counts per stratum, never on persons
(ARCHITECTURE.md §2); grouped and individual-level logistic fits agree to 1e-12 (STACK.md).

Tail probabilities come from survival functions (``chi2.sf``, ``norm.sf``), never ``1 - cdf``:
statsmodels 0.15 computes the CMH and Breslow–Day p-values as ``1 - chi2.cdf``, which is 0 for any
p below about 1e-16 (a strong effect over a large population gives R's 3e-51, not 0). Their
statistics are taken from statsmodels and their p-values recomputed here
(tests/reference/r/mh_pvalues.R).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable, Table, Table2x2

from miglink.errors import MiglinkError
from miglink.stats.absorbed import fit_absorbed
from miglink.stats.estimate import Estimate
from miglink.stats.soft import attempt

CELLS = ("a", "b", "c", "d")


def odds_ratio_woolf(a: float, b: float, c: float, d: float, correction: float = 0.5) -> Estimate:
    """Crude odds ratio ad/bc with Woolf's (log-scale Wald) CI.

    ``correction`` (Haldane) is added to every cell only when one cell is 0, so a sparse
    table still yields a finite estimate; a table with an empty margin (no exposed, no
    unexposed, no cases or no non-cases) carries no information and returns NaN.
    """
    cells = np.array([a, b, c, d], dtype=float)
    method = "woolf"
    if np.any(cells < 0) or not np.all(np.isfinite(cells)):
        return Estimate.missing(method, "not estimable: negative or missing cell count")
    if a + b == 0 or c + d == 0 or a + c == 0 or b + d == 0:
        return Estimate.missing(method, "not estimable: a 2x2 margin is zero")
    extra: dict = {}
    if np.any(cells == 0):
        if correction <= 0:
            return Estimate.missing(method, "not estimable: zero cell and no correction")
        cells = cells + correction
        extra["corrected"] = correction
    table = Table2x2(cells.reshape(2, 2))
    return Estimate.from_log(
        float(table.log_oddsratio), float(table.log_oddsratio_se), method, extra
    )


def _check_columns(df: pd.DataFrame, cols: list[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MiglinkError(
            f"{table}: missing column(s) {', '.join(missing)} ({len(df)} rows)",
            table=table,
            column=missing[0],
            n_rows=len(df),
        )


def mantel_haenszel(table: pd.DataFrame) -> Estimate:
    """Mantel–Haenszel common OR over strata (columns a, b, c, d; one row per stratum).

    Variance is Robins–Breslow–Greenland (statsmodels ``StratifiedTable``); ``extra`` holds
    the Breslow–Day homogeneity test with Tarone's adjustment (``breslow_day_p``), the
    Cochran–Mantel–Haenszel test without continuity correction (``cmh_p``) and the number
    of informative strata. ``p_value`` is the Wald p from the RBG SE, consistent with the CI.
    """
    method = "mantel_haenszel"
    _check_columns(table, list(CELLS), "mantel_haenszel input")
    cells = table.loc[:, list(CELLS)].to_numpy(dtype=float)
    if len(cells) == 0:
        return Estimate.missing(method, "not estimable: no strata")
    if np.any(cells < 0) or not np.all(np.isfinite(cells)):
        raise MiglinkError(
            f"mantel_haenszel input: negative or missing counts in {len(cells)} rows",
            table="mantel_haenszel input",
            n_rows=len(cells),
        )
    n = cells.sum(axis=1)
    # A stratum with fewer than two people adds zero to every MH sum; dropping it avoids 0/0.
    cells = cells[n >= 2]
    n = n[n >= 2]
    a, b, c, d = cells.T
    r, s = (a * d / n).sum() if len(n) else 0.0, (b * c / n).sum() if len(n) else 0.0
    if r == 0 or s == 0:
        return Estimate.missing(method, "not estimable: MH numerator or denominator is zero")
    st = StratifiedTable(cells.reshape(-1, 2, 2).transpose(1, 2, 0))
    extra: dict = {"n_strata": int(len(n))}
    # statsmodels' own p is 1 - chi2.cdf (0 below ~1e-16): the survival function keeps its digits
    extra["cmh_p"] = _chi2_p(st.test_null_odds(correction=False).statistic, 1)
    informative = (np.minimum(a + b, c + d) > 0) & (np.minimum(a + c, b + d) > 0)
    if informative.sum() >= 2:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            sub = StratifiedTable(cells[informative].reshape(-1, 2, 2).transpose(1, 2, 0))
            bd = sub.test_equal_odds(adjust=True)
        stat = float(bd.statistic)
        if not math.isfinite(stat) and st.oddsratio_pooled == 1:
            stat = _breslow_day_at_one(cells[informative])
        extra["breslow_day_p"] = _chi2_p(stat, int(informative.sum()) - 1)
        extra["breslow_day_stat"] = stat
    else:
        extra["breslow_day_p"] = float("nan")
    return Estimate.from_log(
        math.log(st.oddsratio_pooled), float(st.logodds_pooled_se), method, extra
    )


def _breslow_day_at_one(cells: np.ndarray) -> float:
    """Breslow–Day statistic with Tarone's adjustment when the MH OR is exactly 1.

    statsmodels solves a quadratic for the expected exposed cases whose leading coefficient is
    1 − OR, so at OR = 1 it returns 0/0 (NaN); the equation is then linear and the expected cell
    is the null one, n1·m1/n (tests/reference/r/mh_pvalues.R, ``hetero_null``).
    """
    a, b, c, d = cells.T
    n1, m1, n = a + b, a + c, a + b + c + d
    e = n1 * m1 / n
    v = 1 / (1 / e + 1 / (n1 - e) + 1 / (m1 - e) + 1 / (n - n1 - m1 + e))
    return float(np.sum((a - e) ** 2 / v) - (a.sum() - e.sum()) ** 2 / v.sum())


def _chi2_p(statistic: float, df: int) -> float:
    """Upper tail of chi-square, P(X >= statistic), from the survival function."""
    return float(stats.chi2.sf(float(statistic), df))


def _drop_uninformative(
    df: pd.DataFrame, events: str, total: str, covariates: list[str]
) -> pd.DataFrame:
    """Drop covariate levels whose rows have no events or only events.

    Their fixed effect diverges to ±inf at the MLE, after which those rows contribute a
    likelihood of 1 whatever the exposure; removing them gives the same exposure estimate
    without the non-convergence.
    """
    changed = True
    while changed and len(df):
        changed = False
        for cov in covariates:
            g = df.groupby(cov, observed=True)[[events, total]].sum()
            bad = g.index[(g[events] == 0) | (g[events] == g[total])]
            if len(bad):
                df = df[~df[cov].isin(bad)]
                changed = True
    return df


def _design(
    df: pd.DataFrame, terms: list[tuple[str, bool]], reference: dict[str, object] | None = None
) -> pd.DataFrame:
    """Numeric terms + treatment-coded dummies for categorical terms (no intercept)."""
    parts: list[pd.Series] = []
    reference = reference or {}
    for col, categorical in terms:
        if not categorical:
            parts.append(df[col].astype(float).rename(col))
            continue
        levels = sorted(df[col].astype(str).unique())
        ref = str(reference[col]) if col in reference else levels[0]
        for lev in levels:
            if lev != ref:
                parts.append((df[col].astype(str) == lev).astype(float).rename(f"{col}[{lev}]"))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)


def _fit_binomial(
    df: pd.DataFrame,
    events: str,
    total: str,
    terms: list[tuple[str, bool]],
    covariates: list[str],
    reference: dict[str, object] | None = None,
) -> tuple[pd.Series, pd.Series, bool]:
    """Binomial GLM on grouped counts: (coefficients, SEs, converged).

    The covariate with most levels is absorbed as a stratum intercept (fast with ~1,000
    strata); the others enter as dummies. Equal to the dense-dummy GLM.
    """
    absorb = max(covariates, key=lambda c: df[c].nunique()) if covariates else None
    rest = [c for c in covariates if c != absorb]
    x = _design(df, terms + [(c, True) for c in rest], reference)
    groups = df[absorb].astype(str).to_numpy() if absorb else np.zeros(len(df))
    fit = fit_absorbed(
        df[events].to_numpy(float),
        x.to_numpy(),
        groups,
        "binomial",
        n=df[total].to_numpy(float),
    )
    params = pd.Series(fit.params, index=x.columns)
    bse = pd.Series(np.sqrt(np.diag(fit.cov)), index=x.columns)
    return params, bse, fit.converged


def _validate_grouped(
    df: pd.DataFrame, cols: list[str], events: str, total: str, name: str
) -> None:
    _check_columns(df, cols, name)
    bad = (df[events] < 0) | (df[total] < df[events])
    if bad.any():
        raise MiglinkError(
            f"{name}: {int(bad.sum())} rows have {events} < 0 or {events} > {total}",
            table=name,
            column=events,
            n_rows=int(bad.sum()),
        )


def logistic_grouped_levels(
    df: pd.DataFrame,
    events_col: str,
    total_col: str,
    exposure_col: str,
    covariates: list[str],
    reference: object | None = None,
) -> dict[str, Estimate]:
    """Binomial GLM on grouped counts; one OR per non-reference exposure level.

    Covariates enter as categorical fixed effects (stratum dummies). ``reference`` is the
    exposure's baseline level (default: the first level in sorted order, e.g. 0 or
    "none" sorted first). A level without events or without non-events gives NaN.
    """
    method = "logistic_grouped"
    name = "logistic_grouped input"
    _validate_grouped(
        df, [events_col, total_col, exposure_col, *covariates], events_col, total_col, name
    )
    data = df[df[total_col] > 0].copy()
    data[exposure_col] = data[exposure_col].astype(str)
    levels = sorted(data[exposure_col].unique())
    ref = str(reference) if reference is not None else (levels[0] if levels else None)
    if ref not in levels:
        if not levels:
            return {}
        raise MiglinkError(
            f"{name}: reference level {ref!r} not found in column {exposure_col} ({len(data)} rows)",
            table=name,
            column=exposure_col,
            n_rows=len(data),
        )
    others = [lev for lev in levels if lev != ref]
    by_level = data.groupby(exposure_col)[[events_col, total_col]].sum()
    out: dict[str, Estimate] = {}
    ref_ev, ref_tot = by_level.loc[ref]
    if ref_ev == 0 or ref_ev == ref_tot:
        note = "not estimable: reference level has no events or only events"
        return {lev: Estimate.missing(method, note) for lev in others}
    usable = []
    for lev in others:
        ev, tot = by_level.loc[lev]
        if ev == 0 or ev == tot:
            out[lev] = Estimate.missing(
                method, f"not estimable: level {lev} has no events or only events"
            )
        else:
            usable.append(lev)
    data = data[data[exposure_col].isin([ref, *usable])]
    data = _drop_uninformative(data, events_col, total_col, covariates)
    left = set(data[exposure_col])
    for lev in [lev for lev in usable if lev not in left]:
        out[lev] = Estimate.missing(
            method, f"not estimable: level {lev} is only in strata with no events or only events"
        )
    usable = [lev for lev in usable if lev in left]
    if not usable:
        return {lev: out[lev] for lev in others}
    if ref not in set(data[exposure_col]):
        note = "not estimable: reference level has no informative strata"
        return {lev: out.get(lev, Estimate.missing(method, note)) for lev in others}
    return _fitted_levels(
        data, events_col, total_col, exposure_col, covariates, ref, usable, others, out
    )


def _fitted_levels(
    data: pd.DataFrame,
    events_col: str,
    total_col: str,
    exposure_col: str,
    covariates: list[str],
    ref: str,
    usable: list[str],
    others: list[str],
    out: dict[str, Estimate],
) -> dict[str, Estimate]:
    """Fit the GLM and add an OR per usable level to ``out`` (the levels screened out are
    already there); returned in the order of ``others``."""
    method = "logistic_grouped"
    fit = attempt(
        lambda: _fit_binomial(
            data, events_col, total_col, [(exposure_col, True)], covariates, {exposure_col: ref}
        ),
        singular="exposure is collinear with the strata",
        converged=lambda r: r[2],
    )
    if not fit.ok:
        return {lev: out.get(lev, Estimate.missing(method, fit.reason)) for lev in others}
    params, bse, converged = fit.value
    for lev in usable:
        term = f"{exposure_col}[{lev}]"
        if term not in params.index:
            out[lev] = Estimate.missing(
                method, f"not estimable: level {lev} dropped with empty strata"
            )
            continue
        extra = {"n_groups": int(len(data)), "converged": converged, "reference": ref}
        out[lev] = Estimate.from_log(float(params[term]), float(bse[term]), method, extra)
    return {lev: out[lev] for lev in others}


def logistic_grouped(
    df: pd.DataFrame,
    events_col: str,
    total_col: str,
    exposure_col: str,
    covariates: list[str],
) -> Estimate:
    """Adjusted OR for a binary (0/1) exposure from a binomial GLM on grouped counts."""
    levels = sorted(df[exposure_col].astype(str).unique()) if exposure_col in df else []
    if exposure_col in df and len(levels) > 2:
        raise MiglinkError(
            f"logistic_grouped input: column {exposure_col} has {len(levels)} levels; "
            "use logistic_grouped_levels for a categorical exposure",
            table="logistic_grouped input",
            column=exposure_col,
            n_rows=len(df),
        )
    res = logistic_grouped_levels(df, events_col, total_col, exposure_col, covariates)
    if not res:
        return Estimate.missing("logistic_grouped", "not estimable: exposure has a single level")
    return next(iter(res.values()))


def ratio_of_estimates(e1: Estimate, e2: Estimate, method: str = "ratio_of_estimates") -> Estimate:
    """Ratio e1/e2 of two independent ratio estimates with the z test for interaction.

    SE of the log ratio is sqrt(se1² + se2²) (Altman & Bland, BMJ 2003;326:219); the p-value
    is the interaction test.
    """
    if not (e1.estimable and e2.estimable):
        return Estimate.missing(method, "not estimable: one of the two estimates is missing")
    return Estimate.from_log(
        e1.log_estimate - e2.log_estimate, math.hypot(e1.se_log, e2.se_log), method
    )


def cochran_armitage(scores, events, totals) -> tuple[float, float]:
    """Cochran–Armitage trend test (no continuity correction): (z, two-sided p).

    statsmodels' ``Table.test_ordinal_association`` is the linear-by-linear test of Agresti
    (2002, §3.4.6), whose null variance divides by N − 1; Cochran–Armitage divides by N, so
    z_CA = z_LbL·sqrt(N/(N − 1)). The p is 2·norm.sf(|z|) (statsmodels' p is for z_LbL).
    """
    x = np.asarray(scores, float)
    r = np.asarray(events, float)
    n = np.asarray(totals, float)
    big_n, big_r = n.sum(), r.sum()
    spread = np.sum(n * x**2) - np.sum(n * x) ** 2 / big_n if big_n > 0 else 0.0
    if not (0 < big_r < big_n and spread > 0):
        return float("nan"), float("nan")
    table = Table(np.column_stack([r, n - r]), shift_zeros=False)
    lbl = table.test_ordinal_association(row_scores=x, col_scores=np.array([1.0, 0.0]))
    z = float(lbl.zscore) * math.sqrt(big_n / (big_n - 1))
    return z, float(2 * stats.norm.sf(abs(z)))


def trend_test_grouped(
    df: pd.DataFrame,
    score_col: str,
    events_col: str,
    total_col: str,
    covariates: list[str],
) -> Estimate:
    """Dose-response: per-step OR for an ordinal score, logistic on grouped counts.

    The score (e.g. 0/1/2/3 autoimmune diseases) enters linearly; covariates as stratum
    dummies. ``extra["cochran_armitage_p"]`` is the crude (covariate-collapsed) trend test.
    """
    method = "logistic_trend"
    name = "trend_test_grouped input"
    _validate_grouped(
        df, [score_col, events_col, total_col, *covariates], events_col, total_col, name
    )
    data = df[df[total_col] > 0]
    crude = data.groupby(score_col)[[events_col, total_col]].sum().reset_index()
    _, ca_p = cochran_armitage(crude[score_col], crude[events_col], crude[total_col])
    extra = {"cochran_armitage_p": ca_p, "n_levels": int(len(crude))}
    if len(crude) < 2:
        return Estimate.missing(method, "not estimable: fewer than two score levels", extra)
    tot_ev, tot_n = crude[events_col].sum(), crude[total_col].sum()
    if tot_ev == 0 or tot_ev == tot_n:
        return Estimate.missing(method, "not estimable: no events or only events", extra)
    data = _drop_uninformative(data, events_col, total_col, covariates)
    if data[score_col].nunique() < 2:
        return Estimate.missing(
            method, "not estimable: informative strata have one score level", extra
        )
    fit = attempt(
        lambda: _fit_binomial(data, events_col, total_col, [(score_col, False)], covariates),
        singular="score is collinear with the strata",
        converged=lambda r: r[2],
    )
    if not fit.ok:
        return Estimate.missing(method, fit.reason, extra)
    params, bse, converged = fit.value
    extra["converged"] = converged
    return Estimate.from_log(float(params[score_col]), float(bse[score_col]), method, extra)
