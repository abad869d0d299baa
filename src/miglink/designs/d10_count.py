"""D10 engine side: per comparison the population, covariates and PS once, then per outcome the
adjustment and the aggregates the estimator needs (no person id leaves this module).

Frames written into ``Counts`` (each with a ``comparison`` column, most with ``outcome``):
``attrition`` (per step, persons and entries per arm, the adjusted population last), ``risk``
(per outcome and ``model`` crude / adjusted: stratum or matched set, treatment, time, events,
censored), ``summary`` (per outcome: arm sizes, events, days at risk, max |SMD|, an IPTW fit),
``balance`` (per key outcome and covariate: arm means before / after, SMDs, persons with the
covariate per arm), ``preference`` (binned preference score per arm), ``km`` (monthly events and
censorings per arm of the adjusted population) and ``ps`` (per comparison: AUC, equipoise,
prior, covariates, near predictors, or the reason nothing was fitted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from miglink.designs.d10_cohorts import cohort_concepts
from miglink.designs.d10_population import (
    SharedPopulation,
    arm_counts,
    at_risk_mask,
    outcome_population,
    shared_population,
)
from miglink.designs.d10_settings import Comparison
from miglink.errors import MiglinkError
from miglink.features.covariates import CovariateSettings, build_covariates, covariate_records
from miglink.stats.propensity import equipoise, fit_propensity, preference_score
from miglink.stats.ps_adjust import (
    adjustment_weights,
    iptw_weights,
    match_on_ps,
    stratify_by_ps,
)
from miglink.stats.ps_balance import covariate_balance
from miglink.stats.ps_outcome import cox_outcome, risk_table

#: threads fitting the PS's cross-validation folds (liblinear releases the GIL; same fit)
CV_THREADS = 2
#: fewest entries per arm for a propensity model (below it the rows say why, no estimate)
MIN_ARM = 10
#: passes of variable-ratio matching (each takes one more comparator per treated person)
MAX_PASSES = 100
PREFERENCE_BINS = 20
MONTH = 30.4375
SEED = 16


def comparison_counts(ft, comp: Comparison, key_outcomes: set[str]) -> dict[str, pd.DataFrame]:
    """Every frame of one comparison (module docstring); a ``ps`` row with ``reason`` when the
    comparison cannot be estimated (no new users, too few, nothing to fit on)."""
    try:
        shared = shared_population(ft.cdm, comp, ft.resolved_ids)
    except MiglinkError as e:
        return {"ps": _reason(comp, f"cohorts not built: {e}", "not_analysed")}
    att = _attrition_frame(shared.attrition, comp.id, None)
    n_t = int((shared.entries["treatment"] == 1).sum())
    n_c = int((shared.entries["treatment"] == 0).sum())
    if n_t == 0 or n_c == 0:
        arm = comp.target.id if n_t == 0 else comp.comparator.id
        why = f"no new users of {arm} in the study population"
        return {"ps": _reason(comp, why, "not_analysed"), "attrition": att}
    ok = at_risk_mask(shared.entries, comp)
    ps_pop = shared.entries[ok].reset_index(drop=True)
    t = ps_pop["treatment"].to_numpy()
    if min(t.sum(), (1 - t).sum()) < MIN_ARM:
        why = "too few new users in an arm for a propensity model"  # no number: free text
        return {"ps": _reason(comp, why, "inconclusive"), "attrition": att}
    try:
        x, ref = _covariates(ft, comp, ps_pop)
        if x.shape[1] == 0:
            raise MiglinkError("no baseline covariates")
        a = comp.adjustment
        n_fit = a.max_persons_per_arm_in_fit
        fit = fit_propensity(
            x, t, on_near="ignore", max_per_arm=n_fit, seed=SEED, n_jobs=CV_THREADS
        )
    except (MiglinkError, ValueError) as e:  # a row saying why, never a failed run
        return {"ps": _reason(comp, f"no propensity model: {e}", "inconclusive"), "attrition": att}
    ps_pop["ps"] = fit.ps
    ps_pop["ps_row"] = np.arange(len(ps_pop))
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in ("risk", "summary", "balance", "km")}
    atts = []
    for o in (*comp.outcomes, *comp.negative_control_outcomes):
        if o.id in shared.unresolved:
            why = f"outcome not resolved: {shared.unresolved[o.id]}"
            frames["summary"].append(_summary(comp.id, o.id, why, "not_analysed"))
            continue
        out = _outcome_frames(shared, comp, o, ps_pop, x, ref, o.id in key_outcomes)
        atts.append(out.pop("attrition"))
        for k, v in out.items():
            frames[k].append(v)
    result = {k: pd.concat(v, ignore_index=True) for k, v in frames.items() if v}
    result["attrition"] = pd.concat([att, *atts], ignore_index=True) if atts else att
    result["ps"] = _ps_row(comp, fit, t, x)
    result["preference"] = _preference(comp.id, fit.ps, t)
    return result


def _reason(comp: Comparison, reason: str, kind: str) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": comp.id, "reason": reason, "reason_kind": kind}])


def _attrition_frame(att: pd.DataFrame, cid: str, outcome: str | None) -> pd.DataFrame:
    a = att.copy()
    a.insert(0, "step", np.arange(len(a)))
    a.insert(0, "outcome", outcome or "")
    a.insert(0, "comparison", cid)
    return a


def exposure_concepts(ft, comp: Comparison) -> set[int]:
    """Concepts left out of the covariates: both exposures and the excluded concepts."""
    ids = set(comp.adjustment.excluded_concept_ids)
    for spec in (comp.target, comp.comparator):
        ids |= set(spec.concept_ids)
        if spec.concept_set is not None:
            ids |= set(ft.resolved_ids.get(spec.concept_set, ()))
    if comp.adjustment.exclude_descendants:
        for spec in (comp.target, comp.comparator):
            ids |= set(cohort_concepts(ft.cdm, spec, ft.resolved_ids).to_pandas()["concept_id"])
    return {int(i) for i in ids}


def _covariates(ft, comp: Comparison, pop: pd.DataFrame) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Baseline covariates of the PS population (rows in ``pop`` order), exposures excluded."""
    cohort = pd.DataFrame(
        {
            "row_id": np.arange(len(pop)),
            "person_id": pop["person_id"],
            "index_day": pop["index_day"],
        }
    )
    st = CovariateSettings(windows=comp.adjustment.windows()).excluding(exposure_concepts(ft, comp))
    cov = build_covariates(covariate_records(ft.cdm), cohort, ft.cdm, st)
    x, ref = cov.to_csr(), cov.ref.reset_index(drop=True)
    drop = set(comp.adjustment.excluded_covariate_ids)
    if drop:
        keep = ~ref["covariate_id"].isin(drop).to_numpy()
        x, ref = x[:, np.flatnonzero(keep)], ref[keep].reset_index(drop=True)
    return sp.csr_matrix(x, dtype=np.float64), ref


def _ps_row(comp: Comparison, fit, t: np.ndarray, x: sp.csr_matrix) -> pd.DataFrame:
    near = fit.near_predictors
    return pd.DataFrame(
        [
            {
                "comparison": comp.id,
                "reason": "",
                "reason_kind": "",
                "auc": fit.auc,
                "equipoise": equipoise(fit.ps, t),
                "prior_variance": fit.prior_variance,
                "n_covariates": int(x.shape[1]),
                "n_nonzero_coefficients": len(fit.coefficients),
                "n_near_predictors": int(len(near)),
                "sampled": bool(fit.sampled),
                "n_target": int(t.sum()),
                "n_comparator": int((1 - t).sum()),
            }
        ]
    )


def _preference(cid: str, ps: np.ndarray, t: np.ndarray) -> pd.DataFrame:
    """Counts per arm in equal-width bins of the preference score (the gate merges small bins)."""
    f = preference_score(ps, t)
    edges = np.linspace(0.0, 1.0, PREFERENCE_BINS + 1)
    b = np.clip(np.digitize(f, edges[1:-1]), 0, PREFERENCE_BINS - 1)
    n1 = np.bincount(b[t == 1], minlength=PREFERENCE_BINS)
    n0 = np.bincount(b[t == 0], minlength=PREFERENCE_BINS)
    return pd.DataFrame(
        {
            "comparison": cid,
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "n_target": n1.astype("int64"),
            "n_comparator": n0.astype("int64"),
        }
    )


def _adjust(comp: Comparison, ps: np.ndarray, t: np.ndarray):
    """(strata or None, balance weights, IPTW weights or None) of the comparison's method."""
    a = comp.adjustment
    if a.method == "match":
        # max_ratio 0: as many comparators as the caliper allows (match_on_ps runs one pass per
        # ratio, so "unlimited" is the most comparators any treated person could take)
        ratio = a.max_ratio or max(1, int((1 - t).sum()))
        s = match_on_ps(ps, t, min(ratio, MAX_PASSES), a.caliper, a.caliper_scale, seed=SEED)
        return s, adjustment_weights(s, t, base="target"), None
    if a.method == "stratify":
        s = stratify_by_ps(ps, t, a.n_strata, a.stratification_base)
        return s, adjustment_weights(s, t, base="target"), None
    if a.method == "iptw":
        w = iptw_weights(ps, t)
        return None, w, w
    return np.zeros(len(t), np.int64), np.ones(len(t)), None


def _outcome_frames(
    shared: SharedPopulation, comp: Comparison, o, ps_pop, x, ref, full_balance: bool
) -> dict[str, pd.DataFrame]:
    """One outcome: its population, adjustment, risk tables, balance, KM and summary."""
    pop, att = outcome_population(shared, comp, o)
    pop = pop.merge(ps_pop[["person_id", "treatment", "index_day", "ps", "ps_row"]], how="inner")
    t = pop["treatment"].to_numpy()
    time, event = pop["survival_time"].to_numpy(), pop["outcome"].to_numpy()
    attrition = _attrition_frame(att, comp.id, o.id)
    out: dict[str, pd.DataFrame] = {}
    if min(t.sum(), (1 - t).sum()) == 0:
        out["summary"] = _summary(comp.id, o.id, "an arm is empty after the outcome steps")
        out["attrition"] = attrition
        return out
    strata, w_bal, w_iptw = _adjust(comp, pop["ps"].to_numpy(), t)
    member = (strata >= 0) if strata is not None else np.ones(len(t), bool)
    adj_step = arm_counts(pop[member], _ADJUSTED[comp.adjustment.method])
    attrition = pd.concat(
        [attrition, _attrition_frame(pd.DataFrame([adj_step], columns=att.columns), comp.id, o.id)]
    )
    attrition["step"] = np.arange(len(attrition))
    out["attrition"] = attrition
    crude = risk_table(time, event, t).assign(model="crude")
    frames = [crude]
    if strata is not None:
        frames.append(risk_table(time, event, t, strata).assign(model="adjusted"))
    out["risk"] = pd.concat(frames, ignore_index=True).assign(comparison=comp.id, outcome=o.id)
    xs = x[pop["ps_row"].to_numpy()]
    bal = covariate_balance(xs, t, w_bal)
    summ = _summary(comp.id, o.id, pop=pop, member=member, bal=bal)
    if w_iptw is not None:
        fit = cox_outcome(time, event, t, weights=w_iptw)
        summ = summ.assign(iptw_log_hr=fit.log_hr, iptw_se=fit.se)
    out["summary"] = summ
    out["km"] = _km(pop[member], comp.id, o.id)
    if full_balance:
        out["balance"] = _balance_frame(bal.table, ref, xs, t, member, comp.id, o.id)
    return out


_ADJUSTED = {
    "match": "Matched on the propensity score",
    "stratify": "Stratified on the propensity score",
    "iptw": "Weighted by the inverse propensity score",
    "none": "No adjustment",
}


def _summary(
    cid: str,
    oid: str,
    reason: str = "",
    kind: str = "inconclusive",
    pop=None,
    member=None,
    bal=None,
) -> pd.DataFrame:
    row: dict = {"comparison": cid, "outcome": oid, "reason": reason, "reason_kind": kind}
    if pop is not None:
        t = pop["treatment"].to_numpy() == 1
        for name, m in (("crude", np.ones(len(t), bool)), ("adjusted", member)):
            for arm, sel in (("target", t), ("comparator", ~t)):
                s = m & sel
                row[f"{name}_n_{arm}"] = int(s.sum())
                row[f"{name}_events_{arm}"] = int(pop["outcome"].to_numpy()[s].sum())
                row[f"{name}_days_{arm}"] = int(pop["survival_time"].to_numpy()[s].sum())
        row["max_abs_smd_before"] = bal.max_abs_smd_before
        row["max_abs_smd_after"] = bal.max_abs_smd_after
    return pd.DataFrame([row])


def _balance_frame(table, ref, xs, t, member, cid: str, oid: str) -> pd.DataFrame:
    """Balance per covariate with the persons holding it per arm, before and after."""
    nz = xs != 0
    t = t == 1
    counts = {
        "n_target_before": nz[t].sum(axis=0),
        "n_comparator_before": nz[~t].sum(axis=0),
        "n_target_after": nz[t & member].sum(axis=0),
        "n_comparator_after": nz[~t & member].sum(axis=0),
    }
    out = table.drop(columns=["covariate"]).copy()
    for k, v in counts.items():
        out[k] = np.asarray(v).ravel().astype("int64")
    out.insert(0, "covariate_id", ref["covariate_id"].to_numpy())
    out.insert(1, "covariate_name", ref["covariate_name"].to_numpy())
    out.insert(2, "analysis_id", ref["analysis_id"].to_numpy())
    out.insert(3, "is_binary", ref["is_binary"].to_numpy())
    out.insert(0, "outcome", oid)
    out.insert(0, "comparison", cid)
    return out


def _km(pop: pd.DataFrame, cid: str, oid: str) -> pd.DataFrame:
    """Monthly events and censorings per arm (the form designs.d2_estimate.km_curve reads)."""
    month = ((pop["survival_time"] - 1) // MONTH).astype("int64")
    df = pd.DataFrame(
        {
            "exposed": pop["treatment"].to_numpy(),
            "month": month,
            "events": pop["outcome"].to_numpy(),
            "censored": 1 - pop["outcome"].to_numpy(),
        }
    )
    g = df.groupby(["exposed", "month"], as_index=False)[["events", "censored"]].sum()
    return g.assign(comparison=cid, outcome=oid)
