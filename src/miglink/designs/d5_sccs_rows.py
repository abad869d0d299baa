"""D5 SCCS estimation from case profiles: the age-adjusted conditional Poisson fits and their rows.

Input is :func:`miglink.designs.d5_sccs_counts.case_profiles` (cases sharing an interval
profile merged, events summed): the conditional likelihood is the same as on the persons
(``stats.sccs.sccs_from_counts``), so the fit needs no person-level row.

Two fits per drug. The key IRR (risk window against all other time) keeps the pre-exposure days
in the baseline: when an encounter leads to a prescription (event-dependent exposure), the
encounters just before a start are the reason for it, and taking those days out of the baseline
takes out exactly the encounters that triggered starts, leaving a baseline poorer in encounters
than the risk window (bias 1/(1 - share of encounters that start a course); docs/protocol.md).
The second fit gives the pre-exposure window (-30..0 days) its own IRR: the diagnostic of
event-dependent exposure (as SelfControlledCaseSeries' checkEventExposureIndependenceAssumption).
Above 1, encounters lead to starts (the key IRR is still unbiased); below 1, encounters defer
starts, which biases the key IRR upward and which the design does not correct (the note says so).
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.base import Task, key_row
from miglink.designs.d5_sccs import ERA_GAP_DAYS, PRE_DAYS, RISK_DAYS, RISK_START_DAYS
from miglink.designs.d5_sccs_counts import NO_ERAS, OK
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import make_row
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_sccs
from miglink.stats.sccs import sccs_fit

#: The SCCS windows compared with baseline; each gets a row, estimable or not.
SCCS_WINDOWS = ("pre_exposure", "risk")
SCCS_METHOD = "sccs_conditional_poisson"
#: The stratum label of the pre-exposure window row: the claims layer finds a key row's
#: event-exposure independence check by it (claims.attach).
PRE_EXPOSURE_STRATUM = f"pre-exposure window (-{PRE_DAYS}..{RISK_START_DAYS - 1} d)"
_WINDOWS = ("risk", "pre_exposure", "baseline")


def sccs_rows(task: Task, status: str, prof: pd.DataFrame, diagnostic: bool = True) -> list[dict]:
    """Key row (risk window IRR) and the pre-exposure window row for one drug set (without
    ``diagnostic``: the key row only, its pre-exposure fit skipped)."""
    if status != OK:
        note = (
            f"no person with a migraine encounter and {task.exposure} exposure"
            if status == NO_ERAS
            else f"no exposed person with a migraine encounter in observation ({task.exposure})"
        )
        return [not_analysed_row(task, "IRR", "no exposed cases", note)]
    iv = prof.rename(columns={"pattern": "person"})
    est, age_note = _fit_sccs(_pre_as_baseline(iv))
    if diagnostic:
        est["pre_exposure"] = _fit_sccs(iv)[0]["pre_exposure"]
    n_persons = prof["n_persons"]
    ev = prof.groupby("window")["events"].sum()
    days = (prof["length"] * n_persons).groupby(prof["window"]).sum()
    ev_w = {w: int(ev.get(w, 0)) for w in _WINDOWS}
    py_w = {w: float(days.get(w, 0)) / 365.25 for w in _WINDOWS}
    n_cases = int(prof.drop_duplicates("pattern")["n_persons"].sum())
    total_t = sum(py_w.values())
    common = dict(
        design=task.design,
        exposure=task.exposure,
        outcome=task.outcome,
        measure="IRR",
        method=SCCS_METHOD,
        analysis=task.analysis,
        n_exposed=n_cases,
        n_unexposed=n_cases,
    )
    key = make_row(
        **common,
        events_unexposed=ev_w["baseline"] + ev_w["pre_exposure"],
        person_years_unexposed=py_w["baseline"] + py_w["pre_exposure"],
        est=est.get("risk"),
        role=task.role,
        stratum=f"risk window (day {RISK_START_DAYS} to era end + {RISK_DAYS} d)",
        events_exposed=ev_w["risk"],
        person_years_exposed=py_w["risk"],
        mdrr=mdrr_sccs(sum(ev_w.values()), py_w["risk"] / total_t if total_t else 0.0),
    )
    pre = est.get("pre_exposure") if diagnostic else None
    pre_row = make_row(
        **common,
        est=pre,
        role="secondary",
        stratum=PRE_EXPOSURE_STRATUM,
        events_unexposed=ev_w["baseline"],
        person_years_unexposed=py_w["baseline"],
        events_exposed=ev_w["pre_exposure"],
        person_years_exposed=py_w["pre_exposure"],
    )
    note = (
        f"exposed cases in n_exposed; eras from records with a {ERA_GAP_DAYS}-day gap; {age_note}"
    )
    if pre is not None and pre.estimable and pre.ci_low > 1:
        note += (
            "; encounters raised before exposure (pre-exposure IRR > 1): encounters lead to "
            "starts (event-dependent exposure; pre-exposure days are baseline in the key IRR)"
        )
    elif pre is not None and pre.estimable and pre.ci_high < 1:
        note += (
            "; encounters lowered before exposure (pre-exposure IRR < 1): encounters may defer "
            "starts, which biases the key IRR upward"
        )
    key["note"] = (key["note"] + "; " if key["note"] else "") + note
    return [key_row(key, task), pre_row] if diagnostic else [key_row(key, task)]


def _pre_as_baseline(iv: pd.DataFrame) -> pd.DataFrame:
    """The intervals with the pre-exposure window counted as baseline (summed per profile)."""
    iv = iv.assign(window=iv["window"].replace({"pre_exposure": "baseline"}))
    keys = [c for c in ("person", "window", "age_band", "n_persons") if c in iv.columns]
    return iv.groupby(keys, as_index=False, sort=False)[["length", "events"]].sum()


def _fit_sccs(iv: pd.DataFrame) -> tuple[dict, str]:
    """Age-adjusted SCCS fit; age bands that no case crosses carry no information and are folded.

    A person observed inside one age band has a constant age term, which cancels in the
    conditional likelihood; such persons are relabelled to a band some other case crosses so that
    no band is held only by them (it would not be identifiable). Without any case crossing a band
    boundary the fit is unadjusted for age (said in the note). ``iv``'s ``person`` column may
    number persons or profiles of persons (the likelihood is the same).
    """
    if not ((iv["window"] == "baseline") & (iv["length"] > 0)).any():
        # every exposed case is exposed for its whole observation: nothing to compare with
        reason = "not estimable: no exposed case has baseline (unexposed) time"
        return {w: Estimate.missing("sccs", reason) for w in SCCS_WINDOWS}, "no baseline time"
    est, how = _fit_sccs_age(iv)
    for w in SCCS_WINDOWS:
        if w not in est:
            est[w] = Estimate.missing("sccs", f"not estimable: no {w} time among exposed cases")
    return est, how


def _fit_sccs_age(iv: pd.DataFrame) -> tuple[dict, str]:
    """The age-adjusted fit, falling back to no age adjustment when that fit fails."""
    iv = iv.copy()
    nb = iv.groupby("person")["age_band"].transform("nunique")
    crossing = iv.loc[nb > 1, "age_band"]
    if crossing.empty:
        return sccs_fit(
            iv, person_col="person", age_col=None
        ), "no case crosses an age band: not age adjusted"
    iv.loc[nb == 1, "age_band"] = sorted(crossing.unique())[0]
    adjusted = sccs_fit(iv, person_col="person", age_col="age_band")
    if any(e.extra.get("fit_failed") for e in adjusted.values()):
        return sccs_fit(
            iv, person_col="person", age_col=None
        ), "age adjustment not estimable: not age adjusted"
    return adjusted, "age adjusted in 5-year bands"


def sccs_control_row(task: Task, prof: pd.DataFrame) -> dict:
    """The risk-window IRR of a negative-control outcome (the key fit of :func:`sccs_rows`)."""
    (row,) = sccs_rows(task, OK, prof, diagnostic=False)
    row["role"] = "negative_control"
    return row
