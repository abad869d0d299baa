"""D6 biomarkers (claim 1): CRP / ESR in people with vs without migraine.

Per person the engine holds the mean of log values of a marker; for people with migraine the mean
over values on or after their first migraine record (``mean_log_post``), so that values measured
before the condition existed do not dilute the contrast. The engine returns, per stratum (sex x
age band x utilisation quintile x observation band) and group, n, sum y and sum y^2 of those
person means; the ratio of geometric means is exp(beta) of OLS of y on group + stratum, fitted
exactly on the sums (stats.means). Overall and among people with no recorded autoimmune disease;
chronic migraine and migraine with aura vs no migraine as secondary contrasts.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.claims.model import Settings, Study
from miglink.designs.base import (
    Counts,
    DesignResult,
    Task,
    hypothesis_task,
    key_row,
)
from miglink.designs.not_analysed import absent_reason, not_analysed_row
from miglink.designs.rows import make_row
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables
from miglink.features.engine import cache
from miglink.stats.means import ratio_of_geometric_means

NAME = "D6"
SECONDARY_GROUPS = ("chronic_migraine", "migraine_with_aura")


def person_flags(ft: FeatureTables, group_sets: list[str]) -> ir.Table:
    """Persons with 0/1 columns: ``ai`` (any autoimmune), ``has_index`` and ``has_<set>`` per set.

    Cached, so the D6 queries join one narrow table instead of filtering the conditions each time.
    """
    P, C = ft.persons, ft.conditions
    want = {"ai": ANY_AUTOIMMUNE, "has_index": ft.settings.index_set}
    want.update({f"has_{g}": g for g in group_sets})
    sets = sorted(set(want.values()))
    c = C.filter(C.set_id.isin(sets))
    wide = c.group_by(fpid=c.person_id).aggregate(
        **{col: (c.set_id == sid).cast("int64").max() for col, sid in want.items()}
    )
    p = P.select("person_id", "sex", "birth_year", "util_q", "obs_band")
    p = p.left_join(wide, p.person_id == wide.fpid).drop("fpid")
    return cache(p.mutate(**{col: p[col].fill_null(0) for col in want}))


def marker_sums(
    ft: FeatureTables,
    marker: str,
    group_set: str,
    subgroup: str | None,
    flags: ir.Table | None = None,
) -> pd.DataFrame:
    """Per stratum x group (1: ``group_set``, 0: no migraine at all): n, sum and sum of squares.

    Strata: sex x age band at the person's mean measurement day x utilisation quintile x
    observation band, and recorded autoimmune disease (0/1) unless the subgroup excludes it.
    Age is taken at the measurements used (after diagnosis for group 1), so that later values
    of people with migraine are not compared with earlier values of everyone else.
    """
    P = ft.persons
    M = ft.measurements.filter(ft.measurements.set_id == marker)
    use_post = "mean_log_post" in M.columns
    mm = M.select(
        mpid2=M.person_id,
        y_all=M.mean_log,
        y_post=M.mean_log_post if use_post else M.mean_log,
        n_post=M.n_post if use_post else M.n,
        d_all=M.mean_day if use_post else ibis.null().cast("float64"),
        d_post=M.mean_day_post if use_post else ibis.null().cast("float64"),
    )
    if flags is None:
        flags = person_flags(ft, [group_set])
    g1 = f"has_{group_set}"
    p = flags.select("person_id", "sex", "birth_year", "util_q", "obs_band", "ai", "has_index", g1)
    p = mm.join(p, mm.mpid2 == p.person_id)
    if subgroup == "no_autoimmune":
        p = p.filter(p.ai == 0)
    elif subgroup is not None:
        raise ValueError(f"unknown D6 subgroup {subgroup!r}")
    # group 1: has the set; group 0: no migraine record at all; other people with migraine drop out
    p = p.mutate(grp=ibis.cases((p[g1] == 1, 1), (p.has_index == 0, 0), else_=-1))
    j = p.filter(p.grp >= 0)
    j = j.mutate(
        y=ibis.cases((j.grp == 1, j.y_post), else_=j.y_all),
        mday=ibis.cases((j.grp == 1, j.d_post), else_=j.d_all),
    )
    j = j.filter(j.y.notnull() & ((j.grp == 0) | (j.n_post > 0)))
    st = ft.settings
    if use_post:
        age = (j.mday / 365.25 + 1970 - j.birth_year).floor().clip(lower=0, upper=st.age_band_top)
        j = j.mutate(age_band=((age // st.age_band_years) * st.age_band_years).cast("int64"))
    else:  # older feature tables: age at the end of observation
        j = j.join(P.select(apid2=P.person_id, age_band=P.age_band), j.person_id == ibis._.apid2)
    strata = ["sex", "age_band", "util_q", "obs_band"] + (
        [] if subgroup == "no_autoimmune" else ["ai"]
    )
    out = (
        j.group_by([*strata, "grp"])
        .aggregate(n=j.person_id.count(), sum=j.y.sum(), sumsq=(j.y * j.y).sum())
        .execute()
        .rename(columns={"grp": "group"})
    )
    # one label per stratum (sex:age band:utilisation quintile:observation band[:autoimmune]),
    # built on the small grouped result
    label = out[strata[0]].astype(str)
    for c in strata[1:]:
        label = label + ":" + out[c].astype(str)
    label[out[strata].isna().any(axis=1)] = None
    out.insert(0, "stratum", label)
    return out.drop(columns=strata)


def tasks(study: Study) -> list[Task]:
    """Per D6 hypothesis its key ratio of geometric means; without a subgroup, also chronic
    migraine and migraine with aura vs no migraine (secondary, when their sets resolve)."""
    out: list[Task] = []
    for _claim, h in study.hypotheses():
        if h.design != NAME:
            continue
        label = "no autoimmune disease" if h.subgroup == "no_autoimmune" else "all"
        out.append(hypothesis_task(h, options={"stratum": label}))
        if h.subgroup is None:
            out += [
                Task(NAME, h.id, g, h.outcome, options={"stratum": f"{g} vs no migraine"})
                for g in SECONDARY_GROUPS
            ]
    return out


def _frame_name(t: Task) -> str:
    return f"sums {t.analysis} {t.exposure}"


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Stratum sums per task (:func:`marker_sums`).

    values: "absent" (why no task could run), "no_values" (analyses whose marker has no value:
    their secondary tasks are skipped too), "unresolved" (secondary groups whose set did not
    resolve: no row).
    """
    counts = Counts(NAME)
    why = absent_reason(ft, "measurement", "marker concept set") if tasks else None
    unresolved = [g for g in SECONDARY_GROUPS if g not in ft.resolved_ids]
    counts.values.update(absent=why, no_values=[], unresolved=unresolved)
    if why is not None:
        return counts
    groups = {t.exposure for t in tasks if t.hypotheses or t.exposure not in unresolved}
    flags = person_flags(ft, sorted(groups))
    M = ft.measurements
    for t in tasks:
        if t.hypotheses:
            if not M.filter(M.set_id == t.outcome).count().execute():
                counts.values["no_values"].append(t.analysis)
        if t.analysis in counts.values["no_values"] or t.exposure in unresolved:
            continue
        counts.frames[_frame_name(t)] = marker_sums(ft, t.outcome, t.exposure, t.subgroup, flags)
    return counts


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """One row per task: the ratio of geometric means (group vs no migraine), or why not."""
    res = DesignResult()
    why = counts.values.get("absent")
    no_values = counts.values.get("no_values", [])
    for t in tasks:
        if not t.hypotheses:  # secondary: only beside an analysed key row, when resolved
            if not why and t.analysis not in no_values:
                if t.exposure not in counts.values.get("unresolved", []):
                    res.rows.append(_row(counts.frame(_frame_name(t)), t))
            continue
        if why:
            note = f"{why}: claim-1 biomarker design (D6) cannot run"
            res.rows.append(not_analysed_row(t, "RGM", why, note))
        elif t.analysis in no_values:
            reason = f"no {t.outcome} values"
            res.rows.append(
                not_analysed_row(t, "RGM", reason, f"{reason} in the measurement table")
            )
        else:
            res.rows.append(key_row(_row(counts.frame(_frame_name(t)), t), t))
    return res


def _row(sums: pd.DataFrame, t: Task) -> dict:
    est = ratio_of_geometric_means(sums) if len(sums) else None
    n1 = int(sums.loc[sums["group"] == 1, "n"].sum()) if len(sums) else 0
    n0 = int(sums.loc[sums["group"] == 0, "n"].sum()) if len(sums) else 0
    row = make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="RGM",
        method="rgm_ols_stratum_sums",
        est=est,
        role=t.role,
        stratum=t.options["stratum"],
        analysis=t.analysis,
        n_exposed=n1,
        n_unexposed=n0,
    )
    if est is None or not est.estimable:
        row["note"] = (
            row["note"] or ""
        ) + f"; persons with a {t.outcome} value: n_exposed with, n_unexposed without"
    return row
