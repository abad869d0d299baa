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

from miglink.designs.d5_common import not_analysed
from miglink.designs.rows import make_row
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables
from miglink.features.engine import cache
from miglink.stats.means import ratio_of_geometric_means

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


def _row(h, ft, marker, group_set, subgroup, role, stratum, flags=None) -> dict:
    sums = marker_sums(ft, marker, group_set, subgroup, flags)
    est = ratio_of_geometric_means(sums) if len(sums) else None
    n1 = int(sums.loc[sums["group"] == 1, "n"].sum()) if len(sums) else 0
    n0 = int(sums.loc[sums["group"] == 0, "n"].sum()) if len(sums) else 0
    row = make_row(
        design="D6",
        exposure=group_set,
        outcome=marker,
        measure="RGM",
        method="rgm_ols_stratum_sums",
        est=est,
        role=role,
        stratum=stratum,
        analysis=h.id,
        n_exposed=n1,
        n_unexposed=n0,
    )
    if est is None or not est.estimable:
        row["note"] = (
            row["note"] or ""
        ) + f"; persons with a {marker} value: n_exposed with, n_unexposed without"
    return row


def run(ft: FeatureTables, study, hyps) -> tuple[list[dict], pd.DataFrame | None]:
    """Rows for every D6 hypothesis; the key row is the ratio of geometric means (group vs none)."""
    rows: list[dict] = []
    flags = None
    if ft.measurements is not None and hyps:
        groups = {h.exposure for _c, h in hyps} | {
            g for g in SECONDARY_GROUPS if g in ft.resolved_ids
        }
        flags = person_flags(ft, sorted(groups))
    for _claim, h in hyps:
        if ft.measurements is None:
            why = (
                "measurement table absent"
                if not ft.available.get("measurement")
                else "no marker concept set resolved"
            )
            rows.append(
                not_analysed(
                    h, "D6", "RGM", why, f"{why}: claim-1 biomarker design (D6) cannot run"
                )
            )
            continue
        label = "no autoimmune disease" if h.subgroup == "no_autoimmune" else "all"
        role = "descriptive" if h.expected == "descriptive" else "primary"
        if not ft.measurements.filter(ft.measurements.set_id == h.outcome).count().execute():
            why = f"no {h.outcome} values"
            rows.append(not_analysed(h, "D6", "RGM", why, f"{why} in the measurement table"))
            continue
        rows.append(_row(h, ft, h.outcome, h.exposure, h.subgroup, role, label, flags))
        if h.subgroup is None:
            for g in SECONDARY_GROUPS:
                if g in ft.resolved_ids:
                    rows.append(
                        _row(h, ft, h.outcome, g, None, "secondary", f"{g} vs no migraine", flags)
                    )
    return rows, None
