"""D5 SCCS estimation from case profiles: the age-adjusted conditional Poisson fit and its rows.

Input is :func:`miglink.designs.d5_sccs_counts.case_profiles` (cases sharing an interval
profile merged, events summed): the conditional likelihood is the same as on the persons
(``stats.sccs.sccs_from_counts``), so the fit needs no person-level row.
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.base import Task, key_row
from miglink.designs.d5_sccs import ERA_GAP_DAYS, PRE_DAYS, RISK_DAYS
from miglink.designs.d5_sccs_counts import NO_ERAS, OK
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import make_row
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_sccs
from miglink.stats.sccs import sccs_fit

#: The SCCS windows compared with baseline; each gets a row, estimable or not.
SCCS_WINDOWS = ("pre_exposure", "risk")
_WINDOWS = ("risk", "pre_exposure", "baseline")


def sccs_rows(task: Task, status: str, prof: pd.DataFrame) -> list[dict]:
    """Key row (risk window IRR) and the pre-exposure window row for one drug set."""
    if status != OK:
        note = (
            f"no person with a migraine encounter and {task.exposure} exposure"
            if status == NO_ERAS
            else f"no exposed person with a migraine encounter in observation ({task.exposure})"
        )
        return [not_analysed_row(task, "IRR", "no exposed cases", note)]
    est, age_note = _fit_sccs(prof.rename(columns={"pattern": "person"}))
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
        method="sccs_conditional_poisson",
        analysis=task.analysis,
        n_exposed=n_cases,
        n_unexposed=n_cases,
        events_unexposed=ev_w["baseline"],
        person_years_unexposed=py_w["baseline"],
    )
    key = make_row(
        **common,
        est=est.get("risk"),
        role=task.role,
        stratum=f"risk window (era + {RISK_DAYS} d)",
        events_exposed=ev_w["risk"],
        person_years_exposed=py_w["risk"],
        mdrr=mdrr_sccs(sum(ev_w.values()), py_w["risk"] / total_t if total_t else 0.0),
    )
    pre = est.get("pre_exposure")
    pre_row = make_row(
        **common,
        est=pre,
        role="secondary",
        stratum=f"pre-exposure window (-{PRE_DAYS}..-1 d)",
        events_exposed=ev_w["pre_exposure"],
        person_years_exposed=py_w["pre_exposure"],
    )
    note = (
        f"exposed cases in n_exposed; eras from records with a {ERA_GAP_DAYS}-day gap; {age_note}"
    )
    if pre is not None and pre.estimable and pre.ci_low > 1:
        note += "; encounters already raised before exposure (pre-exposure IRR > 1): possible reverse causation"
    key["note"] = (key["note"] + "; " if key["note"] else "") + note
    return [key_row(key, task), pre_row]


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
