"""Build the compact feature tables every design reads.

One scan per fact table joined to the resolved concept ids yields, per person and concept set, the
first date, the second distinct date and the number of distinct dates; plus person covariates (sex,
birth year, observation span, utilisation) and, for the phenome background, the first date of every
standard condition concept. Designs never touch the CDM again.

Utilisation (``util_q``) is the band of distinct visit days per observed year. Because a visit
that records a diagnosis is also a utilisation day, stratifying on all visit days stratifies on a
consequence of the outcome (and of the exposure): a person with migraine has migraine visits.
``record_days`` therefore keeps, per person and concept set, the visit days that carry a record
of the set, so that each 2x2 analysis can measure utilisation without the days of its own
exposure and outcome (:func:`miglink.designs.strata.own_utilisation`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.concepts.coverage import (
    empty_set_notes,
    empty_sets,
    grouped_warnings,
    vocabulary_warnings,
)
from miglink.concepts.derived import (  # noqa: F401  (re-exported: designs read them here)
    ANY_AUTOIMMUNE,
    CNS_AUTOIMMUNE,
    DERIVED,
    NON_CNS_AUTOIMMUNE,
)
from miglink.concepts.model import ConceptSet
from miglink.errors import MiglinkError
from miglink.features.engine import cache

FEMALE, MALE = 8532, 8507


@dataclass
class FeatureTables:
    """The study's only view of the data (ibis expressions, cached in the engine)."""

    persons: ir.Table
    conditions: ir.Table
    index_events: ir.Table
    visits_by_year: ir.Table
    phenome: ir.Table | None
    drugs: ir.Table | None
    measurements: ir.Table | None
    observations: ir.Table | None
    util_cutpoints: list[float]
    resolution: dict[str, tuple[str, ...]]
    resolved_ids: dict[str, frozenset[int]]
    settings: Settings
    available: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: set id -> why the set matched no record (concepts.coverage; shown beside its claims)
    resolution_notes: dict[str, str] = field(default_factory=dict)
    #: person_id, set_id, day: the visit days (inside observation) carrying a record of the set
    record_days: ir.Table | None = None
    #: person_id, day (date): the distinct visit days inside observation (a lazy view; D2 indexes
    #: matched comparators at one of their own visits)
    visit_days: ir.Table | None = None
    #: the CDM itself, for what is built only when asked: a comparative cohort's covariates
    #: (``covariates.covariate_records(cdm)``, read once per study on first use)
    cdm: object | None = None


def derived_groups(study: Study) -> dict[str, list[str]]:
    """Map each derived set id to its member concept sets."""
    cns = list(study.nervous_system_autoimmune)
    return {
        ANY_AUTOIMMUNE: list(study.autoimmune),
        CNS_AUTOIMMUNE: cns,
        NON_CNS_AUTOIMMUNE: [s for s in study.autoimmune if s not in cns],
    }


def _first_dates(records: ir.Table, min_dates: int) -> ir.Table:
    """Per person and set: first, second distinct date and number of distinct dates.

    With ``min_dates == 2`` the phenotype date is the second distinct date (sensitivity analysis:
    two records on distinct dates) and persons with one date drop out.
    """
    d = records.select("person_id", "set_id", "event_date").distinct()
    w = ibis.window(group_by=[d.person_id, d.set_id], order_by=d.event_date)
    d = d.mutate(rn=ibis.row_number().over(w))
    agg = d.group_by(["person_id", "set_id"]).aggregate(
        first_date=d.event_date.min(),
        second_date=d.event_date.min(where=d.rn == 1),  # row_number starts at 0 in ibis
        n_dates=d.event_date.count(),
    )
    if min_dates >= 2:
        agg = agg.filter(agg.n_dates >= 2).mutate(first_date=agg.second_date)
    return agg.mutate(first_day=agg.first_date.epoch_days().cast("int64"))


def build_features(cdm, study: Study, sets: dict[str, ConceptSet]) -> FeatureTables:
    """Resolve the study's concept sets and build the feature tables (cached in the engine)."""
    from miglink.concepts.resolve import resolve_concept_sets

    st = study.settings
    resolved = resolve_concept_sets(cdm, sets)
    by_domain: dict[str, dict] = {}
    for sid, rs in resolved.items():
        by_domain.setdefault(rs.domain, {})[sid] = rs

    notes: list[str] = []
    available = {
        t: cdm.has(t)
        for t in ("visit_occurrence", "drug_exposure", "measurement", "observation", "death")
    }
    conditions, index_events, cond_records = _conditions(cdm, study, by_domain.get("condition", {}))
    persons, visits_by_year, cut, visit_days = _persons(cdm, st, available, notes)
    phenome = _phenome(cdm)
    drugs = _drugs(cdm, by_domain, available, notes)
    measurements = _measurements(cdm, st, by_domain, conditions, available, notes)
    observations, obs_records = _observations(cdm, by_domain, available, notes)
    records = cond_records if obs_records is None else cond_records.union(obs_records)
    empty = _empty_sets(cdm, resolved, [conditions, drugs, measurements, observations])
    notes += vocabulary_warnings(cdm) + grouped_warnings(empty)

    return FeatureTables(
        persons=persons,
        conditions=conditions,
        index_events=index_events,
        visits_by_year=visits_by_year,
        phenome=phenome,
        drugs=drugs,
        measurements=measurements,
        observations=observations,
        util_cutpoints=cut,
        resolution={sid: rs.paths for sid, rs in resolved.items()},
        resolved_ids={sid: rs.concept_ids for sid, rs in resolved.items()},
        settings=st,
        available=available,
        notes=notes,
        resolution_notes=empty_set_notes(empty),
        record_days=_record_days(records, visit_days),
        visit_days=visit_days,
        cdm=cdm,
    )


def _empty_sets(cdm, resolved: dict, tables: list[ir.Table | None]) -> dict[str, str]:
    """The sets no feature table holds, with the reason (one small query per cached table)."""
    present: set[str] = set()
    for t in tables:
        if t is not None:
            present |= set(t.select("set_id").distinct().to_pyarrow().column(0).to_pylist())
    return empty_sets(cdm, resolved, present)


def _record_days(records: ir.Table, visit_days: ir.Table) -> ir.Table:
    """The visit days (inside observation) on which a record of each set is made.

    Small next to the visits (only records of the study's sets), so each analysis's utilisation
    without its own sets is a join of this table, not another scan of the visits."""
    r = records.select("person_id", "set_id", day=records.event_date).distinct()
    v = visit_days.select(vpid=visit_days.person_id, vday=visit_days.day)
    r = r.semi_join(v, (r.person_id == v.vpid) & (r.day == v.vday))
    return cache(r.select("person_id", "set_id", "day"))


def _conditions(cdm, study: Study, resolved: dict) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Condition first dates (with the derived composite sets at record level), every
    distinct record day of the index condition (encounters, for the SCCS in D5) and the
    distinct record days of every set (person_id, set_id, event_date; uncached).

    The matching records are read once: both tables come from them."""
    from miglink.concepts.match import records_in_sets

    st = study.settings
    cond = records_in_sets(cdm, "condition", resolved)
    cond = cache(cond.select("person_id", "set_id", "event_date").distinct())
    groups = derived_groups(study)
    gmap = pd.DataFrame(
        [(member, gid) for gid, members in groups.items() for member in members],
        columns=["member", "group_id"],
    )
    # typed: a comparisons-only study has no autoimmune groups (an empty, untyped frame)
    g = ibis.memtable(gmap, schema={"member": "string", "group_id": "string"})
    derived = cond.join(g, cond.set_id == g.member).select(
        person_id=cond.person_id, set_id=g.group_id, event_date=cond.event_date
    )
    base = cond.select("person_id", "set_id", "event_date")
    records = base.union(derived)
    conditions = cache(_first_dates(records, st.phenotype_min_dates))
    ie = cond.filter(cond.set_id == st.index_set)
    index_events = ie.select(
        person_id=ie.person_id, day=ie.event_date.epoch_days().cast("int64")
    ).distinct()
    return conditions, cache(index_events), records


def _phenome(cdm) -> ir.Table:
    """Phenome background: first date of every standard condition concept."""
    co = cdm.table("condition_occurrence")
    ph = co.filter(co.condition_concept_id.notnull() & (co.condition_concept_id != 0))
    return cache(
        ph.group_by(person_id=ph.person_id, concept_id=ph.condition_concept_id).aggregate(
            first_date=ph.condition_start_date.min()
        )
    )


def _drugs(cdm, by_domain: dict, available: dict[str, bool], notes: list[str]) -> ir.Table | None:
    from miglink.concepts.match import records_in_sets

    if available["drug_exposure"] and by_domain.get("drug"):
        dr = records_in_sets(cdm, "drug", by_domain["drug"])
        drugs = dr.select(
            "person_id",
            "set_id",
            start_day=dr.event_date.epoch_days().cast("int64"),
            end_day=dr.end_date.epoch_days().cast("int64"),
        )
        return cache(drugs)
    if not available["drug_exposure"]:
        notes.append("drug_exposure table absent: drug designs (D5) cannot run")
    return None


def _measurements(
    cdm,
    st: Settings,
    by_domain: dict,
    conditions: ir.Table,
    available: dict[str, bool],
    notes: list[str],
) -> ir.Table | None:
    """Per person and set: mean log value and mean day, overall and on or after the first
    index-condition record (D6 compares people with migraine after diagnosis against people
    without it)."""
    from miglink.concepts.match import records_in_sets

    if not (available["measurement"] and by_domain.get("measurement")):
        if not available["measurement"]:
            notes.append("measurement table absent: biomarker design (D6) cannot run")
        return None
    m = records_in_sets(cdm, "measurement", by_domain["measurement"])
    m = m.filter(m.value_as_number.notnull() & (m.value_as_number > 0))
    m = m.mutate(lv=m.value_as_number.ln())
    ix = conditions.filter(conditions.set_id == st.index_set).select(
        ipid=conditions.person_id, idx_date=conditions.first_date
    )
    m = m.left_join(ix, m.person_id == ix.ipid)
    post = m.idx_date.notnull() & (m.event_date >= m.idx_date)
    m = m.mutate(mday=m.event_date.epoch_days().cast("float64"))
    measurements = m.group_by(["person_id", "set_id"]).aggregate(
        n=m.lv.count(),
        mean_log=m.lv.mean(),
        mean_day=m.mday.mean(),
        n_post=m.lv.count(where=post),
        mean_log_post=m.lv.mean(where=post),
        mean_day_post=m.mday.mean(where=post),
    )
    return cache(measurements)


def _observations(
    cdm, by_domain: dict, available: dict[str, bool], notes: list[str]
) -> tuple[ir.Table | None, ir.Table | None]:
    """First dates of the observation sets and their record days (uncached), or None."""
    from miglink.concepts.match import records_in_sets

    if available["observation"] and by_domain.get("observation"):
        o = records_in_sets(cdm, "observation", by_domain["observation"])
        o = o.select("person_id", "set_id", "event_date")
        return cache(_first_dates(o, 1)), o
    if not available["observation"]:
        notes.append("observation table absent: family-history design (D7) cannot run")
    return None, None


def _persons(cdm, st: Settings, available: dict[str, bool], notes: list[str]):
    p = cdm.table("person")
    op = cdm.table("observation_period")
    obs = op.group_by("person_id").aggregate(
        obs_start=op.observation_period_start_date.min(),
        obs_end=op.observation_period_end_date.max(),
    )
    # utilisation: distinct visit days inside observation (fallback: distinct condition days)
    if available["visit_occurrence"]:
        v = cdm.table("visit_occurrence")
        vd = v.select(person_id=v.person_id, day=v.visit_start_date).distinct()
    else:
        co = cdm.table("condition_occurrence")
        vd = co.select(person_id=co.person_id, day=co.condition_start_date).distinct()
        notes.append("visit_occurrence absent: utilisation counted from distinct condition dates")
    vd = vd.filter(vd.day.notnull())
    vd = vd.join(obs, "person_id").filter(lambda t: (t.day >= t.obs_start) & (t.day <= t.obs_end))
    visits_by_year = cache(
        vd.group_by(person_id=vd.person_id, year=vd.day.year().cast("int64")).aggregate(
            visit_days=vd.day.count()
        )
    )
    # a visit day falls in one calendar year: the per-person total is the sum over years, which
    # reads the small cached table instead of scanning the visits a second time
    visits = visits_by_year.group_by("person_id").aggregate(
        visit_days=visits_by_year.visit_days.sum()
    )
    if available["death"]:
        de = cdm.table("death")
        death = de.group_by("person_id").aggregate(death_date=de.death_date.min())
    else:
        death = None

    q = p.select(
        "person_id",
        sex=ibis.cases(
            (p.gender_concept_id == FEMALE, "F"), (p.gender_concept_id == MALE, "M"), else_="U"
        ),
        birth_year=p.year_of_birth.cast("int64"),
    )
    q = q.join(obs, "person_id")
    q = q.left_join(visits, "person_id").drop("person_id_right")
    if death is not None:
        q = q.left_join(death, "person_id").drop("person_id_right")
    else:
        q = q.mutate(death_date=ibis.null().cast("date"))
    q = q.mutate(
        visit_days=q.visit_days.fill_null(0),
        obs_start_day=q.obs_start.epoch_days().cast("int64"),
        obs_end_day=q.obs_end.epoch_days().cast("int64"),
        death_day=q.death_date.epoch_days().cast("int64"),
    )
    q = q.mutate(obs_years=((q.obs_end_day - q.obs_start_day + 1) / 365.25))
    q = q.mutate(util_rate=q.visit_days / q.obs_years)
    q = q.mutate(age_end=(q.obs_end.year().cast("int64") - q.birth_year))
    q = cache(q.filter(q.obs_end_day >= q.obs_start_day))

    cut = _quantile_cutpoints(q, st.utilisation_quantiles)
    util_q = util_band(q.visit_days, q.obs_years, cut)
    bands = st.observation_bands_years
    obs_band = ibis.literal(0)
    for b in bands:
        obs_band = obs_band + (q.obs_years >= b).cast("int64")
    width, top = st.age_band_years, st.age_band_top
    age = q.age_end.clip(lower=0, upper=top)
    age_lo = (age // width) * width
    q = q.mutate(
        util_q=util_q,
        obs_band=obs_band.cast("int64"),
        age_band=age_lo.cast("int64"),
    )
    return cache(q), visits_by_year, cut, vd


def util_band(visit_days: ir.Value, obs_years: ir.Value, cut: list[float]) -> ir.Value:
    """Utilisation band 1..k of ``visit_days`` per observed year against fixed cut points."""
    rate = visit_days / obs_years
    band = ibis.literal(1)
    for c in cut:
        band = band + (rate > c).cast("int64")
    return band.cast("int64")


def _quantile_cutpoints(q: ir.Table, k: int) -> list[float]:
    """Exact quantile cut points of utilisation, computed from a small grouped distribution so that
    every engine gives the same numbers (rounded to 0.01 visit days per year)."""
    if k <= 1:
        return []
    r = q.mutate(u=(q.util_rate * 100).round().cast("int64"))
    dist = r.group_by("u").aggregate(n=r.person_id.count()).execute().sort_values("u")
    if dist.empty:
        raise MiglinkError("no persons with an observation period", table="observation_period")
    cum = np.cumsum(dist["n"].to_numpy()) / dist["n"].sum()
    vals = dist["u"].to_numpy() / 100.0
    cuts = []
    for i in range(1, k):
        idx = int(np.searchsorted(cum, i / k))
        cuts.append(float(vals[min(idx, len(vals) - 1)]))
    return sorted(set(cuts))


def age_band_label(lo: int, width: int, top: int) -> str:
    return f"{top}+" if lo >= top else f"{lo}-{lo + width - 1}"


def today_epoch_day() -> int:
    return (_dt.date.today() - _dt.date(1970, 1, 1)).days
