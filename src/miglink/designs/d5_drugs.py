"""D5 medication overlap (claim 7).

1. Self-controlled case series of migraine encounters (every distinct migraine record day after the
   first) around eras of each drug set: risk window = era + 30 days, pre-exposure window -30..-1
   days (reverse-causation check), 5-year age bands, conditional Poisson (stats.sccs). Cases are
   people with migraine who have at least one encounter after their first record and an era of the
   drug touching their observation. Observation starts the day after the first migraine record:
   before it, encounters cannot exist by definition, and counting that time as baseline would make
   any drug started after diagnosis look harmful.
2. New-user cohort: first immunomodulator record (interferon beta, TNF inhibitors, methotrexate,
   hydroxychloroquine, rituximab) after >= 365 days of observation without one, among people with
   a recorded autoimmune disease, matched 1:k (D2 matching) to people with autoimmune disease who
   have not started one; outcome new migraine; hazard ratio by Poisson on matched-cell time.
3. Burden: among people with both migraine and autoimmune disease, the share with NSAID use and
   with medication-overuse headache, beside people with migraine only (descriptive).
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd

from miglink.calibrate import calibrate_group
from miglink.designs.d5_common import not_analysed
from miglink.designs.d5_sccs import ERA_GAP_DAYS, PRE_DAYS, RISK_DAYS, drug_eras, sccs_intervals
from miglink.designs.rows import finite, make_row
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables
from miglink.stats.estimate import Estimate
from miglink.stats.power import mdrr_sccs
from miglink.stats.proportion import binomial_share
from miglink.stats.sccs import sccs_fit

IMMUNOMODULATORS = (
    "interferon_beta",
    "tnf_inhibitors",
    "methotrexate",
    "hydroxychloroquine",
    "rituximab",
)
NEW_USER = "immunomodulators"


def sccs_data(
    ft: FeatureTables, drug_sets: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pull the narrow person-level rows of possible SCCS cases: persons, drug records, events."""
    idx = ft.settings.index_set
    C, P, E, D = ft.conditions, ft.persons, ft.index_events, ft.drugs
    first = C.filter(C.set_id == idx).select(fpid=C.person_id, first_day=C.first_day)
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
    if len(persons):
        end = persons["obs_end"].where(
            persons["death"].isna(), persons[["obs_end", "death"]].min(axis=1)
        )
        persons = persons.assign(
            start=persons[["obs_start"]].join(persons["first_day"] + 1).max(axis=1), end=end
        )
        persons = persons[persons["end"] >= persons["start"]]
        persons = persons[["person", "start", "end", "birth_year"]].astype("int64")
    return persons, drugs, events


def sccs_rows(
    h, persons: pd.DataFrame, drugs: pd.DataFrame, events: pd.DataFrame, age_width: int, role: str
) -> list[dict]:
    """Key row (risk window IRR) and the pre-exposure window row for one drug set."""
    rec = drugs[drugs["set_id"] == h.exposure].rename(columns={})
    eras = drug_eras(rec)
    if eras.empty or persons.empty:
        return [
            not_analysed(
                h,
                "D5",
                "IRR",
                "no exposed cases",
                f"no person with a migraine encounter and {h.exposure} exposure",
            )
        ]
    # exposed cases: an era's windows touch the observation window
    m = eras.merge(persons, on="person", suffixes=("", "_obs"))
    touch = (m["start"] - PRE_DAYS <= m["end_obs"]) & (m["end"] + RISK_DAYS >= m["start_obs"])
    exposed = m.loc[touch, "person"].unique()
    ps = persons[persons["person"].isin(exposed)]
    iv = sccs_intervals(ps, eras[eras["person"].isin(exposed)], events, age_width=age_width)
    iv = iv[iv.groupby("person")["events"].transform("sum") > 0]
    if iv.empty:
        return [
            not_analysed(
                h,
                "D5",
                "IRR",
                "no exposed cases",
                f"no exposed person with a migraine encounter in observation ({h.exposure})",
            )
        ]
    est, age_note = _fit_sccs(iv)
    by = iv.groupby("window")[["length", "events"]].sum()
    ev_w = {w: int(by["events"].get(w, 0)) for w in ("risk", "pre_exposure", "baseline")}
    py_w = {w: float(by["length"].get(w, 0)) / 365.25 for w in ("risk", "pre_exposure", "baseline")}
    n_cases = int(iv["person"].nunique())
    total_t = sum(py_w.values())
    mdrr = mdrr_sccs(sum(ev_w.values()), py_w["risk"] / total_t if total_t else 0.0)
    common = dict(
        design="D5",
        exposure=h.exposure,
        outcome=h.outcome,
        measure="IRR",
        method="sccs_conditional_poisson",
        analysis=h.id,
    )
    rows = [
        make_row(
            **common,
            est=est.get("risk"),
            role=role,
            stratum=f"risk window (era + {RISK_DAYS} d)",
            n_exposed=n_cases,
            n_unexposed=n_cases,
            events_exposed=ev_w["risk"],
            events_unexposed=ev_w["baseline"],
            person_years_exposed=py_w["risk"],
            person_years_unexposed=py_w["baseline"],
            mdrr=mdrr,
        )
    ]
    pre = est.get("pre_exposure")
    rows.append(
        make_row(
            **common,
            est=pre,
            role="secondary",
            stratum=f"pre-exposure window (-{PRE_DAYS}..-1 d)",
            n_exposed=n_cases,
            n_unexposed=n_cases,
            events_exposed=ev_w["pre_exposure"],
            events_unexposed=ev_w["baseline"],
            person_years_exposed=py_w["pre_exposure"],
            person_years_unexposed=py_w["baseline"],
        )
    )
    note = (
        f"exposed cases in n_exposed; eras from records with a {ERA_GAP_DAYS}-day gap; {age_note}"
    )
    if pre is not None and pre.estimable and pre.ci_low > 1:
        note += "; encounters already raised before exposure (pre-exposure IRR > 1): possible reverse causation"
    rows[0]["note"] = (rows[0]["note"] + "; " if rows[0]["note"] else "") + note
    return rows


#: The SCCS windows compared with baseline; each gets a row, estimable or not.
SCCS_WINDOWS = ("pre_exposure", "risk")


def _fit_sccs(iv: pd.DataFrame) -> tuple[dict, str]:
    """Age-adjusted SCCS fit; age bands that no case crosses carry no information and are folded.

    A person observed inside one age band has a constant age term, which cancels in the
    conditional likelihood; such persons are relabelled to a band some other case crosses so that
    no band is held only by them (it would not be identifiable). Without any case crossing a band
    boundary the fit is unadjusted for age (said in the note).
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


def _epoch_date(days):
    return ibis.date(1970, 1, 1) + days.as_interval("D")


def new_user_rows(
    ft: FeatureTables, h, role: str, negative_controls: list[str] | None = None
) -> tuple[list[dict], pd.DataFrame | None]:
    """New-onset migraine after an immunomodulator start vs matched non-starters (D2 machinery)."""
    from miglink.designs.d2_cohort import cohort_counts
    from miglink.designs.d2_estimate import d2_rows

    D, C, P = ft.drugs, ft.conditions, ft.persons
    members = list(IMMUNOMODULATORS) if h.exposure == NEW_USER else [h.exposure]
    d = D.filter(D.set_id.isin(members))
    starts = d.group_by(person_id=d.person_id).aggregate(
        first_day=d.start_day.min(), n_dates=d.start_day.nunique()
    )
    starts = starts.select(
        "person_id",
        set_id=ibis.literal(NEW_USER),
        first_date=_epoch_date(starts.first_day),
        second_date=ibis.null().cast("date"),
        n_dates=starts.n_dates.cast("int64"),
        first_day=starts.first_day.cast("int64"),
    )
    cols = C.columns
    conds = C.select(*cols).union(starts.select(*cols))
    ai = C.filter(C.set_id == ANY_AUTOIMMUNE).select(apid=C.person_id)
    pa = P.join(ai, P.person_id == ai.apid).drop("apid")
    sub = dataclasses.replace(ft, persons=pa, conditions=conds)
    pair = (NEW_USER, h.outcome)
    # comparators (and cases) must have their autoimmune diagnosis on or before the index date
    since = C.filter(C.set_id == ANY_AUTOIMMUNE).select(person_id=C.person_id, day=C.first_day)
    ncs = list(negative_controls or [])
    nc_pairs = [(NEW_USER, n) for n in ncs]
    cc = cohort_counts(
        sub, [pair, *nc_pairs], balance_set=None, eligible_from=since, curve_pairs=[pair]
    )
    if cc.strata.empty:
        return [
            not_analysed(
                h,
                "D5",
                "HR",
                "no new users",
                "no immunomodulator new users with 365 days of prior observation and a matched non-user",
            )
        ], None
    roles = {pair: role, **{p: "negative_control" for p in nc_pairs}}
    all_rows, curves = d2_rows(
        cc, [pair, *nc_pairs], roles, ft.settings.max_smd, ft.settings.km_horizon_years
    )
    rows = [r for r in all_rows if r["outcome"] == h.outcome]
    nc_rows = [r for r in all_rows if r["outcome"] != h.outcome]
    _calibrate_new_user(rows, nc_rows, ft.settings.min_negative_controls)
    for r in nc_rows:
        r.update(
            design="D5", exposure=h.exposure, analysis=f"{h.id}__nc", stratum="negative control"
        )
        r["method"] = "new_user_poisson_matched_strata"
    for r in rows:
        r.update(
            design="D5",
            exposure=h.exposure,
            analysis=h.id,
            stratum="new users vs matched non-users",
        )
        r["method"] = "new_user_poisson_matched_strata"
        r["note"] = (
            "new users of an immunomodulator (first record after >= 365 days of observation) among people "
            "with a recorded autoimmune disease, matched to non-users whose autoimmune disease was recorded "
            "by the index date"
        )
    if curves is not None and not curves.empty:
        curves["analysis"] = h.id
    return rows + nc_rows, curves


def _calibrate_new_user(rows: list[dict], nc_rows: list[dict], min_controls: int) -> None:
    """Calibrate the new-user HR on the same cohort's negative-control outcomes.

    Starting an immunomodulator comes with follow-up care, so every condition is recorded more
    often afterwards (detection bias); the negative-control outcomes measure that bias.
    """
    null = calibrate_group(nc_rows, rows, min_controls=min_controls)
    for r in rows:
        if null["mean"] is None or not finite(r.get("log_estimate")):
            r["note"] = f"not calibrated: {null['n_controls']} estimable negative-control outcomes"


def burden_rows(ft: FeatureTables, h, role: str) -> list[dict]:
    """Shares with NSAID use and with medication-overuse headache, with and without autoimmune disease."""
    idx = ft.settings.index_set
    C, D = ft.conditions, ft.drugs
    mig = C.filter(C.set_id == idx).select(pid=C.person_id)
    ai = C.filter(C.set_id == ANY_AUTOIMMUNE).select(apid=C.person_id)
    moh = C.filter(C.set_id == h.outcome).select(mpid=C.person_id)
    t = mig.left_join(ai, mig.pid == ai.apid).left_join(moh, mig.pid == moh.mpid)
    t = t.mutate(both=t.apid.notnull().cast("int64"), has_moh=t.mpid.notnull().cast("int64"))
    if D is not None:
        ns = D.filter(D.set_id == h.exposure).select(npid=D.person_id).distinct()
        t = t.left_join(ns, t.pid == ns.npid).mutate(nsaid=ibis._.npid.notnull().cast("int64"))
    else:
        t = t.mutate(nsaid=ibis.literal(0, "int64"))
    g = t.group_by(["both", "nsaid"]).aggregate(n=t.pid.count(), moh=t.has_moh.sum()).execute()
    rows = []

    def share(k, n, label, key, note):
        e = binomial_share(int(k), int(n)) if n > 0 else None
        rows.append(
            make_row(
                design="D5",
                exposure=h.exposure,
                outcome=h.outcome,
                measure="share",
                method="binomial_share",
                est=e,
                role=role if key else "descriptive",
                stratum=label,
                analysis=h.id,
                n_exposed=int(n),
                events_exposed=int(k),
                note=note,
            )
        )

    for both, label in ((1, "migraine and autoimmune disease"), (0, "migraine only")):
        s = g[g["both"] == both]
        n = int(s["n"].sum())
        share(
            s["moh"].sum(),
            n,
            f"{label}: medication-overuse headache",
            both == 1,
            "share of persons with a medication-overuse headache record",
        )
        share(
            s.loc[s["nsaid"] == 1, "n"].sum(),
            n,
            f"{label}: NSAID use",
            False,
            "share of persons with an NSAID record" if D is not None else "drug_exposure absent",
        )
        nn = s[s["nsaid"] == 1]
        share(
            nn["moh"].sum(),
            int(nn["n"].sum()),
            f"{label}, NSAID users: medication-overuse headache",
            False,
            "",
        )
    return rows


def run(ft: FeatureTables, study, hyps) -> tuple[list[dict], pd.DataFrame | None]:
    """Rows for every D5 hypothesis (SCCS, new-user cohort, burden)."""
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    sccs_h = [h for _, h in hyps if h.contrast is None]
    width = ft.settings.age_band_years
    data = None
    if ft.drugs is not None and sccs_h:
        data = sccs_data(ft, sorted({h.exposure for h in sccs_h}))
    for _claim, h in hyps:
        role = "descriptive" if h.expected == "descriptive" else "primary"
        if h.contrast == "burden":
            rows += burden_rows(ft, h, role)
            continue
        if ft.drugs is None:
            why = (
                "drug_exposure table absent"
                if not ft.available.get("drug_exposure")
                else "no drug concept set resolved"
            )
            rows.append(
                not_analysed(
                    h,
                    "D5",
                    "HR" if h.contrast else "IRR",
                    why,
                    f"{why}: drug design (D5) cannot run",
                )
            )
            continue
        if h.contrast == "new_user":
            r, cur = new_user_rows(ft, h, role, list(study.negative_controls))
            rows += r
            if cur is not None:
                curves.append(cur)
            continue
        persons, drugs, events = data
        rows += sccs_rows(h, persons, drugs, events, width, role)
    return rows, (pd.concat(curves, ignore_index=True) if curves else None)
