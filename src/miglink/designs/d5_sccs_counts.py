"""D5 SCCS counting: the engine pull of possible cases and their interval profiles per drug set.

The person-level rows (observation window, drug records, encounter days) stay inside
:func:`sccs_counts`; what leaves it is, per drug set, the exposed cases' interval profiles
(window x age band x length, events summed over the cases sharing a profile: the count-only
input of the conditional Poisson fit, ``stats.sccs.sccs_patterns``), numbered without person ids.

The outcome is the index condition (migraine encounters: every distinct record day of the index
set after its first) or, for the negative controls, a negative-control condition (every distinct
visit day recording it after its first record, from ``record_days``): the same design with an
outcome no drug affects, so that its IRRs measure the design's systematic error.
"""

from __future__ import annotations

import pandas as pd

from miglink.designs.d5_sccs import PRE_DAYS, RISK_DAYS, drug_eras, sccs_intervals
from miglink.features.build import FeatureTables
from miglink.stats.sccs import sccs_patterns

#: why a drug set has no SCCS estimate (values of the per-task status)
NO_ERAS = "no_eras"  # no case has an era of the drug (or no case at all)
NO_EVENTS = "no_events"  # no exposed case has an encounter in observation
OK = "ok"


def _outcome_days(ft: FeatureTables, outcome: str):
    """person_id, day (epoch day) of every distinct record day of ``outcome`` (None: no source)."""
    if outcome == ft.settings.index_set:
        return ft.index_events
    if ft.record_days is None:
        return None
    R = ft.record_days
    r = R.filter(R.set_id == outcome)
    return r.select(person_id=r.person_id, day=r.day.epoch_days().cast("int64")).distinct()


def sccs_data(
    ft: FeatureTables, drug_sets: list[str], outcome: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pull the narrow person-level rows of possible SCCS cases: persons, drug records, events.

    ``outcome`` defaults to the index set (migraine encounters)."""
    outcome = outcome or ft.settings.index_set
    C, P, E, D = ft.conditions, ft.persons, _outcome_days(ft, outcome), ft.drugs
    empty = pd.DataFrame(columns=["person"])
    if E is None:
        return empty, empty, empty
    first = C.filter(C.set_id == outcome).select(fpid=C.person_id, first_day=C.first_day)
    ev = E.join(first, E.person_id == first.fpid)
    ev = ev.filter(ev.day > ev.first_day).select(epid=ev.person_id, day=ev.day)
    cases = ev.select(cpid=ev.epid).distinct()
    users = D.filter(D.set_id.isin(drug_sets)).select(upid=D.person_id).distinct()
    who = cases.join(users, cases.cpid == users.upid).select(wpid=cases.cpid)
    pp = P.join(who, P.person_id == who.wpid).join(first, P.person_id == first.fpid)
    persons = pp.select(
        person=pp.person_id,
        obs_start=pp.obs_start_day,
        obs_end=pp.obs_end_day,
        death=pp.death_day,
        birth_year=pp.birth_year,
        first_day=pp.first_day,
    ).execute()
    dj = D.filter(D.set_id.isin(drug_sets)).join(who, D.person_id == who.wpid)
    drugs = dj.select(
        person=dj.person_id, set_id=dj.set_id, start_day=dj.start_day, end_day=dj.end_day
    ).execute()
    ej = ev.join(who, ev.epid == who.wpid)
    events = ej.select(person=ej.epid, day=ej.day).execute()
    return _windows(persons), drugs, events


def _windows(persons: pd.DataFrame) -> pd.DataFrame:
    """Each possible case's SCCS observation window: from the day after its first record (or
    observation start) to observation end or death; empty windows dropped."""
    if not len(persons):
        return persons
    end = persons["obs_end"].where(
        persons["death"].isna(), persons[["obs_end", "death"]].min(axis=1)
    )
    persons = persons.assign(
        start=persons[["obs_start"]].join(persons["first_day"] + 1).max(axis=1), end=end
    )
    persons = persons[persons["end"] >= persons["start"]]
    return persons[["person", "start", "end", "birth_year"]].astype("int64")


def control_data(
    ft: FeatureTables, drug_sets: list[str], outcomes: list[str]
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """:func:`sccs_data` for many negative-control outcomes in three pulls (not three per
    outcome): outcome -> (persons, drugs, events), each as ``sccs_data`` returns it."""
    empty = pd.DataFrame(columns=["person"])
    if ft.record_days is None or not outcomes:
        return {o: (empty, empty, empty) for o in outcomes}
    C, P, D, R = ft.conditions, ft.persons, ft.drugs, ft.record_days
    r = R.filter(R.set_id.isin(outcomes))
    E = r.select(
        person_id=r.person_id, oset=r.set_id, day=r.day.epoch_days().cast("int64")
    ).distinct()
    first = C.filter(C.set_id.isin(outcomes)).select(
        fpid=C.person_id, fset=C.set_id, first_day=C.first_day
    )
    ev = E.join(first, (E.person_id == first.fpid) & (E.oset == first.fset))
    ev = ev.filter(ev.day > ev.first_day).select(epid=ev.person_id, oset=ev.oset, day=ev.day)
    cases = ev.select(cpid=ev.epid, cset=ev.oset).distinct()
    users = D.filter(D.set_id.isin(drug_sets)).select(upid=D.person_id).distinct()
    who = cases.join(users, cases.cpid == users.upid).select(wpid=cases.cpid, wset=cases.cset)
    pp = P.join(who, P.person_id == who.wpid)
    pp = pp.join(first, (pp.person_id == first.fpid) & (pp.wset == first.fset))
    persons = pp.select(
        person=pp.person_id, outcome=pp.wset, obs_start=pp.obs_start_day,
        obs_end=pp.obs_end_day, death=pp.death_day, birth_year=pp.birth_year,
        first_day=pp.first_day,
    ).execute()  # fmt: skip
    anyone = who.select(apid=who.wpid).distinct()
    dj = D.filter(D.set_id.isin(drug_sets)).join(anyone, D.person_id == anyone.apid)
    drugs = dj.select(
        person=dj.person_id, set_id=dj.set_id, start_day=dj.start_day, end_day=dj.end_day
    ).execute()
    ej = ev.join(who, (ev.epid == who.wpid) & (ev.oset == who.wset))
    events = ej.select(person=ej.epid, outcome=ej.oset, day=ej.day).execute()
    out = {}
    for o in outcomes:
        po = persons[persons["outcome"] == o].drop(columns="outcome")
        do = drugs[drugs["person"].isin(po["person"])]
        eo = events[events["outcome"] == o].drop(columns="outcome")
        out[o] = (_windows(po), do, eo) if len(po) else (empty, empty, empty)
    return out


def exposed_intervals(
    persons: pd.DataFrame,
    drugs: pd.DataFrame,
    events: pd.DataFrame,
    exposure: str,
    age_width: int,
) -> tuple[str, pd.DataFrame]:
    """(status, intervals) of the exposed cases of one drug set (person-level; stays here)."""
    eras = drug_eras(drugs[drugs["set_id"] == exposure])
    if eras.empty or persons.empty:
        return NO_ERAS, pd.DataFrame()
    # exposed cases: an era's windows touch the observation window
    m = eras.merge(persons, on="person", suffixes=("", "_obs"))
    touch = (m["start"] - PRE_DAYS <= m["end_obs"]) & (m["end"] + RISK_DAYS >= m["start_obs"])
    exposed = m.loc[touch, "person"].unique()
    ps = persons[persons["person"].isin(exposed)]
    iv = sccs_intervals(ps, eras[eras["person"].isin(exposed)], events, age_width=age_width)
    iv = iv[iv.groupby("person")["events"].transform("sum") > 0]
    if iv.empty:
        return NO_EVENTS, pd.DataFrame()
    return OK, iv


def case_profiles(iv: pd.DataFrame) -> pd.DataFrame:
    """Cases merged by identical interval profile: pattern (a number), window, age_band, length,
    events (summed over the pattern's cases), n_persons."""
    prof = sccs_patterns(iv)
    prof["pattern"] = pd.factorize(prof["pattern"], sort=True)[0].astype("int64")
    return prof.reset_index(drop=True)


def sccs_counts(
    ft: FeatureTables, exposures: list[str], outcome: str | None = None, data=None
) -> tuple[dict[str, str], dict[str, pd.DataFrame]]:
    """Per drug set: its status and, when OK, its case profiles (outcome: the index set).
    ``data``: the (persons, drugs, events) already pulled (:func:`control_data`)."""
    persons, drugs, events = data or sccs_data(ft, sorted(set(exposures)), outcome)
    status: dict[str, str] = {}
    frames: dict[str, pd.DataFrame] = {}
    for x in exposures:
        if persons.empty:
            status[x] = NO_ERAS
            continue
        status[x], iv = exposed_intervals(persons, drugs, events, x, ft.settings.age_band_years)
        if status[x] == OK:
            frames[x] = case_profiles(iv)
    return status, frames
