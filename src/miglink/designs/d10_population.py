"""The D10 study population shared by a comparison's outcomes, and each outcome's restriction.

CohortMethod fits one propensity model per comparison, on the study population before the
outcome-specific removal of subjects with a prior outcome (runCmAnalyses' shared PS), and
restricts per outcome afterwards. So the engine builds the entries once per comparison (every
step of ``d10_cohorts.population_steps`` that does not read the outcome), returns them with one
query for the outcome days of every outcome, and the outcome steps (prior outcome, minimum days at
risk, the outcome in the risk window) run here in pandas with the rules of
``d10_cohorts._without_prior_outcome`` / ``_final_frame``. These frames are person level and stay
on the engine side of ``count``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from miglink.designs.d10_cohorts import (
    ATTRITION_COLUMNS,
    exposure_entries,
    indication_events,
    outcome_events,
    population_steps,
)
from miglink.designs.d10_settings import Comparison, OutcomeCohort
from miglink.errors import MiglinkError
from miglink.features.engine import cache

KEYS = ["person_id", "treatment", "index_day"]


@dataclass
class SharedPopulation:
    """Entries before the outcome steps (``entries``: KEYS, risk_start, risk_end, ...), their
    attrition, each outcome's in-observation days (``days``: KEYS, outcome, days_to_event) and
    the outcomes the CDM could not resolve (id -> reason)."""

    entries: pd.DataFrame
    attrition: pd.DataFrame
    days: pd.DataFrame
    unresolved: dict[str, str]


def shared_population(cdm, comp: Comparison, resolved=None) -> SharedPopulation:
    """The comparison's entries after every outcome-free step, and the outcomes' days."""
    target = exposure_entries(cdm, comp.target, 1, resolved)
    comparator = exposure_entries(cdm, comp.comparator, 0, resolved)
    entries = cache(target.union(comparator))
    st = comp.population.model_copy(
        update={"remove_subjects_with_prior_outcome": False, "min_days_at_risk": 0}
    )
    empty = ibis.memtable(
        pd.DataFrame({"person_id": [], "event_day": []}).astype("int64"),
    )
    indication = indication_events(cdm, comp, resolved)
    pop, attrition = population_steps(entries, empty, st, indication)
    pop = cache(pop)
    frame = pop.to_pandas().sort_values(KEYS, ignore_index=True)
    days, unresolved = _outcome_days(cdm, comp, pop, resolved)
    return SharedPopulation(frame, attrition, days, unresolved)


def _outcome_days(cdm, comp: Comparison, pop, resolved) -> tuple[pd.DataFrame, dict[str, str]]:
    """One query: every outcome's record days inside each entry's observation period."""
    parts, unresolved = [], {}
    for o in (*comp.outcomes, *comp.negative_control_outcomes):
        try:
            ev = outcome_events(cdm, o, resolved)
        except MiglinkError as e:
            unresolved[o.id] = str(e)
            continue
        parts.append(ev.mutate(outcome=ibis.literal(o.id)))
    cols = [*KEYS, "outcome", "days_to_event"]
    if not parts:
        return pd.DataFrame(columns=cols), unresolved
    events = parts[0]
    for p in parts[1:]:
        events = events.union(p)
    j = pop.join(events, "person_id")
    d = j.event_day - j.index_day
    j = j.filter((d >= -j.days_from_obs_start) & (d <= j.days_to_obs_end))
    days = j.select(*KEYS, "outcome", days_to_event=d).to_pandas()
    return days, unresolved


def at_risk_mask(entries: pd.DataFrame, comp: Comparison) -> np.ndarray:
    """Entries with at least the minimum days at risk (an outcome-free step)."""
    m = comp.population.min_days_at_risk
    span = (entries["risk_end"] - entries["risk_start"]).to_numpy()
    return span >= m if m else np.ones(len(entries), bool)


def outcome_population(
    shared: SharedPopulation, comp: Comparison, outcome: OutcomeCohort
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One outcome's study population (entries with outcome, survival_time) and its attrition.

    Prior outcome: a record with -lookback < days < risk_start (CohortMethod's rule); events
    count in [risk_start, risk_end]; survival_time is days to the first event (or to the end of
    the risk window) from the risk start, plus one.
    """
    st = comp.population
    e = shared.entries
    d = shared.days[shared.days["outcome"] == outcome.id]
    d = d.merge(e[[*KEYS, "risk_start", "risk_end"]], on=KEYS)
    rows = [tuple(r) for r in shared.attrition.itertuples(index=False)]
    keep = np.ones(len(e), bool)
    if st.remove_subjects_with_prior_outcome:
        dd = d["days_to_event"]
        prior = d[(dd > -st.prior_outcome_lookback) & (dd < d["risk_start"])]
        flagged = e[KEYS].merge(prior[KEYS].drop_duplicates(), on=KEYS, how="left", indicator=True)
        keep &= (flagged["_merge"] == "left_only").to_numpy()
        rows.append(arm_counts(e[keep], "No prior outcome"))
    if st.min_days_at_risk:
        keep &= at_risk_mask(e, comp)
        rows.append(arm_counts(e[keep], f"Have at least {st.min_days_at_risk} days at risk"))
    pop = e[keep].copy()
    inside = d[(d["days_to_event"] >= d["risk_start"]) & (d["days_to_event"] <= d["risk_end"])]
    first = inside.groupby(KEYS, as_index=False)["days_to_event"].min()
    pop = pop.merge(first, on=KEYS, how="left")
    pop["outcome"] = pop["days_to_event"].notna().astype("int64")
    pop["time_at_risk"] = pop["risk_end"] - pop["risk_start"] + 1
    surv = pop["days_to_event"] - pop["risk_start"] + 1
    pop["survival_time"] = surv.where(pop["outcome"] == 1, pop["time_at_risk"]).astype("int64")
    return pop, pd.DataFrame(rows, columns=list(ATTRITION_COLUMNS))


def arm_counts(frame: pd.DataFrame, description: str) -> tuple:
    """(description, target persons, comparator persons, target entries, comparator entries)."""
    t = frame["treatment"] == 1
    return (
        description,
        int(frame.loc[t, "person_id"].nunique()),
        int(frame.loc[~t, "person_id"].nunique()),
        int(t.sum()),
        int((~t).sum()),
    )
