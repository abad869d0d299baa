"""Readable names and analysis metadata of the covariate reference table."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from miglink.features.covariate_settings import (
    AGE,
    AGE_GROUP,
    CHARLSON,
    DOMAIN_BASE,
    GROUP_BASE,
    INDEX_MONTH,
    INDEX_YEAR,
    SEX,
    VISIT_COUNT,
    WINDOW_OFFSET,
    CovariateSettings,
    domain_analysis_id,
    window_label,
)

_LABEL = {
    "condition": "condition",
    "drug": "drug ingredient",
    "procedure": "procedure",
    "measurement": "measurement",
    "observation": "observation",
    "condition_group": "condition group",
    "drug_class": "drug class",
}
_SEX_NAMES = {8507: "male", 8532: "female"}


def analysis_table(st: CovariateSettings) -> pd.DataFrame:
    """analysis_id, analysis_name, window_days (NA: any time prior or not windowed), is_binary,
    named (whether the covariate name carries its concept's name)."""
    rows = []
    for kind in (*DOMAIN_BASE, *GROUP_BASE):
        for w in WINDOW_OFFSET:
            name = f"{_LABEL[kind]} ({window_label(w)})"
            rows.append((domain_analysis_id(kind, w), name, w, True, True))
    rows += [
        (SEX, "sex", None, True, False),
        (AGE, "age in years", None, False, False),
        (AGE_GROUP, "age group", None, True, False),
        (INDEX_YEAR, "index year", None, True, False),
        (INDEX_MONTH, "index month", None, True, False),
        (CHARLSON, "Charlson index (Quan / Deyo weights)", None, False, False),
        (
            VISIT_COUNT,
            f"visit days ({window_label(st.visit_window)})",
            st.visit_window,
            False,
            True,
        ),
    ]
    t = pd.DataFrame(
        rows, columns=["analysis_id", "analysis_name", "window_days", "is_binary", "named"]
    )
    t["window_days"] = t["window_days"].astype("Int64")
    return t


def concept_names(cdm, ids: np.ndarray) -> dict[int, str]:
    """concept_id -> concept_name for ``ids`` (empty when the CDM has no concept table)."""
    if len(ids) == 0 or not cdm.has("concept"):
        return {}
    c = cdm.table("concept")
    want = ibis.memtable(pd.DataFrame({"want": np.unique(np.asarray(ids, "int64"))}))
    j = c.join(want, c.concept_id == want.want).select("concept_id", "concept_name")
    d = j.execute()
    return dict(zip(d["concept_id"].astype("int64"), d["concept_name"].astype(str), strict=True))


def name_reference(ref: pd.DataFrame, cdm, st: CovariateSettings) -> pd.DataFrame:
    """Add analysis_name, window_days, is_binary and covariate_name to ``ref``."""
    a = analysis_table(st)
    out = ref.merge(a, on="analysis_id", how="left", validate="many_to_one")
    named = out["named"].fillna(False).astype(bool)
    names = concept_names(cdm, out.loc[named | (out.analysis_id == SEX), "concept_id"].to_numpy())
    out["covariate_name"] = [
        _name(r.analysis_id, r.analysis_name, int(r.concept_id), names)
        for r in out.itertuples(index=False)
    ]
    return out.drop(columns="named")


def _name(aid: int, analysis: str, concept: int, names: dict[int, str]) -> str:
    if aid == SEX:
        return f"sex: {_SEX_NAMES.get(concept, names.get(concept, f'concept {concept}'))}"
    if aid == AGE_GROUP:
        return f"age group: {concept * 5}-{concept * 5 + 4}"
    if aid in (INDEX_YEAR, INDEX_MONTH):
        return f"{analysis}: {concept}"
    if aid in (AGE, CHARLSON):
        return analysis
    return f"{analysis}: {names.get(concept, f'concept {concept}')}"
