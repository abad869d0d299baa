"""Persons and cases per concept set, sex and age band: the report's prevalence table."""

from __future__ import annotations

import pandas as pd

from miglink.features.build import FeatureTables


def prevalence_table(ft: FeatureTables, sets: list[str]) -> pd.DataFrame:
    P = ft.persons
    tot = P.group_by(["sex", "age_band"]).aggregate(n_persons=P.person_id.count()).execute()
    C = ft.conditions.filter(ft.conditions.set_id.isin(sets))
    ps = P.select(ppid=P.person_id, sex=P.sex, age_band=P.age_band)
    j = C.join(ps, C.person_id == ps.ppid)
    cases = (
        j.group_by(["set_id", "sex", "age_band"]).aggregate(n_cases=j.person_id.count()).execute()
    )
    frames = []
    for s in sets:
        m = tot.merge(cases[cases.set_id == s], on=["sex", "age_band"], how="left")
        m["set_id"] = s
        m["n_cases"] = m["n_cases"].fillna(0).astype(int)
        frames.append(m)
    df = pd.concat(frames, ignore_index=True)
    w, top = ft.settings.age_band_years, ft.settings.age_band_top
    df["age_band"] = [
        f"{top}+" if a >= top else f"{a}-{a + w - 1}" for a in df["age_band"].astype(int)
    ]
    df["prevalence"] = df["n_cases"] / df["n_persons"]
    return df[["set_id", "sex", "age_band", "n_persons", "n_cases", "prevalence"]]
