"""D10 descriptive outputs: attrition per arm, KM curves, Table 1, balance, preference score.

Built from the counts only. They hold counts (persons per arm, persons with a covariate per
arm), so every one leaves the program through the one gate (privacy/d10.py for the ``d10_*``
tables, the run's attrition and curve gates for the others).
"""

from __future__ import annotations

import pandas as pd

from miglink.claims.model import Settings
from miglink.designs.base import Counts, Task
from miglink.designs.d2_estimate import km_curve

#: Table 1's demographics (FeatureExtraction analysis ids: sex, age group)
DEMOGRAPHICS = (1, 3)
TABLE1_MOST_IMBALANCED = 20
ARMS = (("target", "target_persons"), ("comparator", "comparator_persons"))


def _key_tasks(tasks: list[Task]) -> list[Task]:
    return [t for t in tasks if t.role != "negative_control"]


def _of(frame: pd.DataFrame, t: Task) -> pd.DataFrame:
    if frame.empty:
        return frame
    m = (frame["comparison"] == t.options["comparison"]) & (
        frame["outcome"] == t.options["outcome"]
    )
    return frame[m]


def attrition_rows(counts: Counts, tasks: list[Task]) -> pd.DataFrame:
    """Attrition of each key outcome's population: analyses ``<analysis>__target`` and
    ``<analysis>__comparator`` (persons per step; the adjusted population is the last step)."""
    att = counts.frame("attrition")
    if att.empty:
        return pd.DataFrame()
    out = []
    for t in _key_tasks(tasks):
        a = _of(att, t)
        if a.empty:  # the comparison stopped before any outcome: its shared steps
            a = att[(att["comparison"] == t.options["comparison"]) & (att["outcome"] == "")]
        for arm, col in ARMS:
            out.append(
                pd.DataFrame(
                    {
                        "analysis": f"{t.analysis}__{arm}",
                        "step": range(len(a)),
                        "description": a["description"].to_numpy(),
                        "n": a[col].to_numpy(),
                    }
                )
            )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def curves(counts: Counts, tasks: list[Task], settings: Settings) -> pd.DataFrame:
    """KM curves per arm of each key outcome's adjusted population (unweighted)."""
    km = counts.frame("km")
    out = []
    for t in _key_tasks(tasks):
        k = _of(km, t)
        if k.empty:
            continue
        c = km_curve(k, int(settings.km_horizon_years * 12))
        c.insert(0, "analysis", t.analysis)
        out.append(c)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def result_tables(counts: Counts, tasks: list[Task]) -> dict[str, pd.DataFrame]:
    """The ungated ``d10_*`` tables: table1, balance, preference, diagnostics."""
    bal, summ = counts.frame("balance"), counts.frame("summary")
    t1, balance, diag = [], [], []
    for t in _key_tasks(tasks):
        b, s = _of(bal, t), _of(summ, t)
        if b.empty or s.empty:
            continue
        arms = _arm_sizes(s.iloc[0])
        b = b.assign(analysis=t.analysis, **arms)
        balance.append(b)
        t1.append(_table1(b))
        diag.append(_diagnostics(counts, t, s.iloc[0]))
    pref = counts.frame("preference")
    out = {
        "d10_table1": pd.concat(t1, ignore_index=True) if t1 else pd.DataFrame(),
        "d10_balance": pd.concat(balance, ignore_index=True) if balance else pd.DataFrame(),
        "d10_preference": pref.copy(),
        "d10_diagnostics": pd.concat(diag, ignore_index=True) if diag else pd.DataFrame(),
    }
    return out


def _arm_sizes(s: pd.Series) -> dict[str, int]:
    return {
        "n_target_total_before": int(s["crude_n_target"]),
        "n_comparator_total_before": int(s["crude_n_comparator"]),
        "n_target_total_after": int(s["adjusted_n_target"]),
        "n_comparator_total_after": int(s["adjusted_n_comparator"]),
    }


def _table1(b: pd.DataFrame) -> pd.DataFrame:
    """Demographics and the most imbalanced binary covariates before adjustment."""
    binary = b[b["is_binary"].astype(bool)]
    demo = binary[binary["analysis_id"].isin(DEMOGRAPHICS)]
    rest = binary[~binary["analysis_id"].isin(DEMOGRAPHICS)]
    top = rest.reindex(rest["smd_before"].abs().sort_values(ascending=False).index)
    sel = pd.concat([demo.sort_values("covariate_id"), top.head(TABLE1_MOST_IMBALANCED)])
    return sel.assign(
        section=["demographics"] * len(demo)
        + ["most imbalanced before adjustment"] * min(len(top), TABLE1_MOST_IMBALANCED)
    )


def _diagnostics(counts: Counts, t: Task, s: pd.Series) -> pd.DataFrame:
    ps = counts.frame("ps")
    p = ps[ps["comparison"] == t.options["comparison"]].iloc[0]
    return pd.DataFrame(
        [
            {
                "comparison": t.options["comparison"],
                "analysis": t.analysis,
                "auc": float(p["auc"]),
                "equipoise": float(p["equipoise"]),
                "n_covariates": int(p["n_covariates"]),
                "n_nonzero_coefficients": int(p["n_nonzero_coefficients"]),
                "n_near_predictors": int(p["n_near_predictors"]),
                "max_abs_smd_before": float(s["max_abs_smd_before"]),
                "max_abs_smd_after": float(s["max_abs_smd_after"]),
            }
        ]
    )
