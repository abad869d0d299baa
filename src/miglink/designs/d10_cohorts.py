"""The study population of a comparative new-user cohort comparison (design D10), on the engine.

Target and comparator cohorts are drug eras built from DRUG_EXPOSURE (the ingredients and their
descendants through CONCEPT_ANCESTOR, merged with a persistence gap), each entry inside an
observation period; the outcome cohort is every condition record of its concepts. The entries
then pass CohortMethod's ``createStudyPopulation`` steps in its order (v3.1.0,
R/StudyPopulation.R, lines 143-282): first exposure, common period, duplicate subjects, washout,
prior outcome, risk window, minimum days at risk. Each step adds a row to the attrition table.

Everything is plain ibis (DuckDB, Spark and PostgreSQL alike) until the final population, one row
per cohort entry, comes back as pandas for the propensity and outcome models. That frame holds
person ids and stays on the engine side: it is never written as an artefact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.designs.d10_settings import (
    Comparison,
    ExposureCohort,
    OutcomeCohort,
    PopulationSettings,
)
from miglink.errors import MiglinkError
from miglink.features.engine import cache

#: columns of the attrition table (CohortMethod's getAttritionTable, less the description)
ATTRITION_COLUMNS = (
    "description",
    "target_persons",
    "comparator_persons",
    "target_exposures",
    "comparator_exposures",
)


@dataclass
class StudyPopulation:
    """One comparison and outcome: entries (person level, engine side) and the attrition."""

    persons: pd.DataFrame
    attrition: pd.DataFrame


def cohort_concepts(
    cdm, spec: ExposureCohort | OutcomeCohort, resolved: Mapping[str, frozenset[int]] | None = None
) -> ir.Table:
    """The concept ids of a cohort (column ``concept_id``), with descendants when asked.

    ``resolved`` maps concept-set ids to resolved concept ids (``FeatureTables.resolved_ids``).
    """
    ids = set(spec.concept_ids)
    if spec.concept_set is not None:
        if resolved is None or spec.concept_set not in resolved:
            raise MiglinkError(f"cohort {spec.id}: concept set {spec.concept_set!r} not resolved")
        ids |= set(resolved[spec.concept_set])
    if not ids:
        raise MiglinkError(f"cohort {spec.id} has no concepts in this CDM")
    ca = cdm.table("concept_ancestor")
    own = ca.filter(ca.descendant_concept_id.isin(sorted(ids)))
    own = own.select(concept_id=own.descendant_concept_id)
    if spec.include_descendants:
        down = ca.filter(ca.ancestor_concept_id.isin(sorted(ids)))
        own = own.union(down.select(concept_id=down.descendant_concept_id))
    # a concept without its own ancestor row (min_levels 0) still counts
    lit = ibis.memtable({"concept_id": sorted(ids)}, schema={"concept_id": "int64"})
    return own.union(lit).distinct()


def exposure_eras(cdm, spec: ExposureCohort, resolved=None) -> ir.Table:
    """Eras (person_id, start_day, end_day in epoch days) of the cohort's drug concepts.

    An exposure ends on its end date, else ``days_supply`` after its start, else on its start.
    It joins the era before it when it starts at most ``persistence_gap_days`` after the latest
    end so far (the OHDSI drug-era rule; Eunomia's DRUG_ERA uses a 30-day gap).
    """
    de = cdm.table("drug_exposure")
    ids = cohort_concepts(cdm, spec, resolved)
    x = de.join(ids, de.drug_concept_id == ids.concept_id)
    start = x.drug_exposure_start_date.epoch_days().cast("int64")
    supplied = start + x.days_supply.cast("int64")
    end = ibis.coalesce(x.drug_exposure_end_date.epoch_days().cast("int64"), supplied, start)
    x = x.select(x.person_id, start_day=start, end_day=ibis.greatest(end, start)).distinct()
    order = ["start_day", "end_day"]
    x = x.mutate(run_end=x.end_day.max().over(ibis.cumulative_window("person_id", order)))
    w = ibis.window(group_by="person_id", order_by=order)
    x = x.mutate(prev_end=x.run_end.lag().over(w))
    new = x.prev_end.isnull() | (x.start_day > x.prev_end + spec.persistence_gap_days)
    x = x.mutate(new_era=new.cast("int64"))
    x = x.mutate(era=x.new_era.sum().over(ibis.cumulative_window("person_id", order)))
    return x.group_by(["person_id", "era"]).aggregate(
        start_day=x.start_day.min(), end_day=x.end_day.max()
    )


def exposure_entries(cdm, spec: ExposureCohort, treatment: int, resolved=None) -> ir.Table:
    """Cohort entries that start inside an observation period, with the days CohortMethod uses.

    Columns: person_id, treatment, index_day, days_from_obs_start, days_to_cohort_end,
    days_to_obs_end (CohortMethod's CreateCohorts.sql computes the same three differences).
    """
    eras = exposure_eras(cdm, spec, resolved)
    if spec.first_era_only:
        w = ibis.window(group_by=eras.person_id, order_by=eras.start_day)
        eras = eras.mutate(rn=ibis.row_number().over(w))
        eras = eras.filter(eras.rn == 0).drop("rn")
    op = _observation_days(cdm)
    j = eras.join(
        op,
        (eras.person_id == op.person_id)
        & (eras.start_day >= op.obs_start_day)
        & (eras.start_day <= op.obs_end_day),
    )
    j = j.filter(j.start_day - j.obs_start_day >= spec.prior_observation_days)
    return j.select(
        person_id=j.person_id,
        treatment=ibis.literal(treatment, "int64"),
        index_day=j.start_day,
        days_from_obs_start=j.start_day - j.obs_start_day,
        days_to_cohort_end=j.end_day - j.start_day,
        days_to_obs_end=j.obs_end_day - j.start_day,
    )


def _observation_days(cdm) -> ir.Table:
    op = cdm.table("observation_period")
    return op.select(
        op.person_id,
        obs_start_day=op.observation_period_start_date.epoch_days().cast("int64"),
        obs_end_day=op.observation_period_end_date.epoch_days().cast("int64"),
    )


def outcome_events(cdm, spec: OutcomeCohort, resolved=None) -> ir.Table:
    """Distinct (person_id, event_day) of the outcome's condition records (Eunomia's GiBleed)."""
    co = cdm.table("condition_occurrence")
    ids = cohort_concepts(cdm, spec, resolved)
    x = co.join(ids, co.condition_concept_id == ids.concept_id)
    return x.select(
        x.person_id, event_day=x.condition_start_date.epoch_days().cast("int64")
    ).distinct()


def build_study_population(
    cdm, comparison: Comparison, outcome_id: str | None = None, resolved=None
) -> StudyPopulation:
    """The study population of one comparison and outcome (the first outcome by default)."""
    outcome = _outcome(comparison, outcome_id)
    target = exposure_entries(cdm, comparison.target, 1, resolved)
    comparator = exposure_entries(cdm, comparison.comparator, 0, resolved)
    entries = cache(target.union(comparator))
    events = cache(outcome_events(cdm, outcome, resolved))
    indication = indication_events(cdm, comparison, resolved)
    pop, attrition = population_steps(entries, events, comparison.population, indication)
    return StudyPopulation(persons=_final_frame(pop, events), attrition=attrition)


def indication_events(cdm, comparison: Comparison, resolved=None) -> ir.Table | None:
    """(person_id, event_day) of the comparison's indication (None when it names none)."""
    if comparison.indication is None:
        return None
    spec = OutcomeCohort(id="indication", concept_set=comparison.indication)
    return outcome_events(cdm, spec, resolved)


def _with_indication(pop: ir.Table, indication: ir.Table) -> ir.Table:
    """Entries whose person has an indication record on or before the index day."""
    ind = indication.select(ipid=indication.person_id, iday=indication.event_day)
    return pop.semi_join(ind, [pop.person_id == ind.ipid, ind.iday <= pop.index_day])


def _outcome(comparison: Comparison, outcome_id: str | None) -> OutcomeCohort:
    every = (*comparison.outcomes, *comparison.negative_control_outcomes)
    if outcome_id is None:
        return comparison.outcomes[0]
    for o in every:
        if o.id == outcome_id:
            return o
    raise MiglinkError(f"comparison {comparison.id} has no outcome {outcome_id!r}")


def population_steps(
    entries: ir.Table,
    events: ir.Table,
    st: PopulationSettings,
    indication: ir.Table | None = None,
) -> tuple[ir.Table, pd.DataFrame]:
    """CohortMethod's restriction steps in its order; the entries left and the attrition.

    ``indication`` (person_id, event_day): entries need a record on or before index, a step
    right after the original cohorts (part of the cohort definition in OHDSI practice).
    """
    rows = [_counts(entries, "Original cohorts")]
    pop = entries
    if indication is not None:
        pop = _with_indication(pop, indication)
        rows.append(_counts(pop, "Indication recorded on or before index"))
    if st.first_exposure_only:
        w = ibis.window(group_by=[pop.person_id, pop.treatment], order_by=pop.index_day)
        pop = pop.mutate(rn=ibis.row_number().over(w))
        pop = pop.filter(pop.rn == 0).drop("rn")
        rows.append(_counts(pop, "First exposure only"))
    if st.restrict_to_common_period:
        pop = _common_period(pop)
        rows.append(_counts(pop, "Restrict to common period"))
    if st.remove_duplicate_subjects == "remove all":
        arms = pop.group_by("person_id").aggregate(n_arms=pop.treatment.nunique())
        both = arms.filter(arms.n_arms > 1).select("person_id")
        pop = pop.anti_join(both, "person_id")
        rows.append(_counts(pop, "Removed subjects in both cohorts"))
    elif st.remove_duplicate_subjects == "keep first":
        pop = _keep_first(pop)
        rows.append(_counts(pop, "Restricting duplicate subjects to first cohort"))
    if st.washout_days:
        pop = pop.filter(pop.days_from_obs_start >= st.washout_days)
        rows.append(_counts(pop, f"At least {st.washout_days} days of observation prior"))
    pop = _risk_window(pop, st)
    if st.remove_subjects_with_prior_outcome:
        pop = _without_prior_outcome(pop, events, st)
        rows.append(_counts(pop, "No prior outcome"))
    if st.min_days_at_risk:
        pop = pop.filter(pop.risk_end - pop.risk_start >= st.min_days_at_risk)
        rows.append(_counts(pop, f"Have at least {st.min_days_at_risk} days at risk"))
    attrition = pd.DataFrame(rows, columns=list(ATTRITION_COLUMNS))
    return pop, attrition


def _counts(pop: ir.Table, description: str) -> tuple:
    """Persons and entries per arm after a step (one small aggregate on the engine)."""
    agg = pop.aggregate(
        tp=pop.person_id.nunique(where=pop.treatment == 1),
        cp=pop.person_id.nunique(where=pop.treatment == 0),
        te=(pop.treatment == 1).cast("int64").sum(),
        ce=(pop.treatment == 0).cast("int64").sum(),
    ).to_pandas()
    r = agg.iloc[0]
    return (description, *(int(0 if pd.isna(r[c]) else r[c]) for c in ("tp", "cp", "te", "ce")))


def _common_period(pop: ir.Table) -> ir.Table:
    """Entries whose index day lies in the period in which both arms have entries."""
    by_arm = pop.group_by("treatment").aggregate(lo=pop.index_day.min(), hi=pop.index_day.max())
    period = by_arm.aggregate(lo=by_arm.lo.max(), hi=by_arm.hi.min(), n_arms=by_arm.count())
    j = pop.cross_join(period)
    j = j.filter((j.n_arms == 2) & (j.index_day >= j.lo) & (j.index_day <= j.hi))
    return j.drop("lo", "hi", "n_arms")


def _keep_first(pop: ir.Table) -> ir.Table:
    """Per person the earliest entry of either arm; entries tied on the same day drop out.

    As CohortMethod: every entry that shares its person and index day with another entry is
    removed first (it cannot say which arm came first), then the earliest remaining one is kept.
    """
    ties = pop.group_by(["person_id", "index_day"]).aggregate(n_same_day=pop.count())
    ties = ties.filter(ties.n_same_day > 1).drop("n_same_day")
    pop = pop.anti_join(ties, ["person_id", "index_day"])
    w = ibis.window(group_by=pop.person_id, order_by=pop.index_day)
    pop = pop.mutate(rn=ibis.row_number().over(w))
    return pop.filter(pop.rn == 0).drop("rn")


def _risk_window(pop: ir.Table, st: PopulationSettings) -> ir.Table:
    """risk_start / risk_end in days from index; the end is cut at the end of observation."""
    start = ibis.literal(st.risk_window_start, "int64")
    if st.start_anchor == "cohort end":
        start = start + pop.days_to_cohort_end
    end = ibis.literal(st.risk_window_end, "int64")
    if st.end_anchor == "cohort end":
        end = end + pop.days_to_cohort_end
    end = ibis.least(end, pop.days_to_obs_end)
    return pop.mutate(risk_start=start, risk_end=end)


def _in_observation(pop: ir.Table, events: ir.Table) -> ir.Table:
    """Each entry's outcome events inside its observation period, as days from index."""
    j = pop.join(events, "person_id")
    d = j.event_day - j.index_day
    j = j.filter((d >= -j.days_from_obs_start) & (d <= j.days_to_obs_end))
    return j.select(
        j.person_id, j.treatment, j.index_day, j.risk_start, j.risk_end, days_to_event=d
    )


def _without_prior_outcome(pop: ir.Table, events: ir.Table, st: PopulationSettings) -> ir.Table:
    """Drop entries with an outcome in the lookback before the risk window starts."""
    ev = _in_observation(pop, events)
    prior = ev.filter(
        (ev.days_to_event > -st.prior_outcome_lookback) & (ev.days_to_event < ev.risk_start)
    )
    keys = ["person_id", "treatment", "index_day"]
    return pop.anti_join(prior.select(*keys).distinct(), keys)


def _final_frame(pop: ir.Table, events: ir.Table) -> pd.DataFrame:
    """One row per entry: time at risk, outcome count, first event and survival time."""
    ev = _in_observation(pop, events)
    ev = ev.filter((ev.days_to_event >= ev.risk_start) & (ev.days_to_event <= ev.risk_end))
    keys = ["person_id", "treatment", "index_day"]
    per = ev.group_by(keys).aggregate(
        outcome_count=ev.count(), days_to_event=ev.days_to_event.min()
    )
    j = pop.left_join(per, keys)
    j = j.select(
        *[pop[c] for c in pop.columns],
        outcome_count=j.outcome_count.fill_null(0),
        days_to_event=j.days_to_event,
    )
    df = j.to_pandas().sort_values(["person_id", "index_day", "treatment"], ignore_index=True)
    df.insert(0, "row_id", range(len(df)))
    df["time_at_risk"] = df["risk_end"] - df["risk_start"] + 1
    df["outcome"] = (df["outcome_count"] > 0).astype("int64")
    survival = df["days_to_event"] - df["risk_start"] + 1
    df["survival_time"] = survival.where(df["outcome"] == 1, df["time_at_risk"]).astype("int64")
    df["days_to_event"] = df["days_to_event"].astype("Int64")
    return df
