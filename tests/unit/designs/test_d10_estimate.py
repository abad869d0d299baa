"""D10 tasks and estimate on hand-made counts: rows, gates, reasons and the control group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from miglink.claims.attach import apply_diagnostics
from miglink.claims.model import Settings, load_study
from miglink.designs import d10_comparative as d10
from miglink.designs.base import HYPOTHESES_KEY, Counts
from miglink.designs.d10_estimate import DESIGN_FAILS_KEY
from miglink.stats.ps_outcome import risk_table


@pytest.fixture(scope="module")
def study():
    return load_study()[0]


def test_tasks_one_per_comparison_and_outcome(study):
    tasks = d10.tasks(study)
    keys = [t for t in tasks if t.hypotheses]
    assert [t.hypotheses for t in keys] == [("h7_ifn_vs_ga_migraine",), ("h7_tnf_vs_mtx_migraine",)]
    assert {t.options["comparison"] for t in keys} == {"ms_ifn_vs_ga", "ra_tnf_vs_mtx"}
    nc = [t for t in tasks if t.role == "negative_control"]
    # every study negative control is a negative-control outcome of each comparison
    assert len(nc) == 2 * len(study.negative_controls)
    assert {t.outcome for t in nc} == set(study.negative_controls)
    assert len({t.analysis for t in tasks}) == len(tasks)


def _persons(n: int, hr: float, seed: int) -> pd.DataFrame:
    """Two arms, exponential event times (rate 0.01 / day x hr in the target), censored at 100."""
    rng = np.random.default_rng(seed)
    t = np.repeat([1, 0], n)
    time = rng.exponential(1 / (0.01 * np.where(t == 1, hr, 1.0)))
    event = time <= 100
    return pd.DataFrame(
        {"treatment": t, "time": np.minimum(np.ceil(time), 100), "event": event.astype(int)}
    )


def _counts(p: pd.DataFrame, *, smd_after=0.05, equipoise=0.5) -> Counts:
    """Counts of the MS comparison: migraine from ``p``, nc_haemorrhoids from a null draw."""
    cid = "ms_ifn_vs_ga"
    parts = [
        _outcome(p, cid, "migraine", smd_after),
        _outcome(_persons(300, 1.0, 9), cid, "nc_haemorrhoids", smd_after),
    ]
    risk = pd.concat([r for r, _ in parts])
    summ = pd.DataFrame([s for _, s in parts])
    ps = {"comparison": cid, "reason": "", "auc": 0.7, "equipoise": equipoise, "n_covariates": 9}
    return Counts("D10", frames={"risk": risk, "summary": summ, "ps": pd.DataFrame([ps])})


def _outcome(p: pd.DataFrame, cid: str, oid: str, smd_after: float):
    strata = np.arange(len(p)) % 3  # three arbitrary strata
    risk = pd.concat(
        [
            risk_table(p.time, p.event, p.treatment).assign(model="crude"),
            risk_table(p.time, p.event, p.treatment, strata).assign(model="adjusted"),
        ]
    ).assign(comparison=cid, outcome=oid)
    t = p.treatment == 1
    summ = {"comparison": cid, "outcome": oid, "reason": "", "reason_kind": "inconclusive"}
    for model in ("crude", "adjusted"):
        for arm, m in (("target", t), ("comparator", ~t)):
            summ[f"{model}_n_{arm}"] = int(m.sum())
            summ[f"{model}_events_{arm}"] = int(p.event[m].sum())
            summ[f"{model}_days_{arm}"] = int(p.time[m].sum())
    summ |= {"max_abs_smd_before": 0.4, "max_abs_smd_after": smd_after}
    return risk, summ


def _ms_tasks(study):
    return [t for t in d10.tasks(study) if t.options["comparison"] == "ms_ifn_vs_ga"]


def test_key_row_is_the_stratified_cox_hr(study):
    p = _persons(400, 1.5, 1)
    res = d10.estimate(_counts(p), _ms_tasks(study), Settings())
    key = next(r for r in res.rows if r.get(HYPOTHESES_KEY) == ("h7_ifn_vs_ga_migraine",))
    strata = np.arange(len(p)) % 3
    cph = CoxPHFitter().fit(p.assign(s=strata), "time", "event", strata=["s"])  # Efron, lifelines
    assert key["log_estimate"] == pytest.approx(cph.params_["treatment"], abs=1e-6)
    assert key["se_log"] == pytest.approx(cph.standard_errors_["treatment"], rel=1e-4)
    assert key["method"] == "cox_ps_matched" and key["n_exposed"] == 400
    assert key["events_exposed"] == int(p.event[p.treatment == 1].sum())
    crude = next(r for r in res.rows if r["analysis"] == "h7_ifn_vs_ga_migraine__unadjusted")
    cph0 = CoxPHFitter().fit(p, "time", "event")
    assert crude["log_estimate"] == pytest.approx(cph0.params_["treatment"], abs=1e-6)
    assert crude["role"] == "secondary" and HYPOTHESES_KEY not in crude
    assert key["mdrr"] > 1
    # the group calibrates only the adjusted row, with the estimated negative control
    (group,) = res.controls
    assert group.name == "D10 ms_ifn_vs_ga"
    assert [r["analysis"] for r in group.targets] == ["h7_ifn_vs_ga_migraine"]
    nc = [r for r in group.controls if r["log_estimate"] is not None]
    assert [r["outcome"] for r in nc] == ["nc_haemorrhoids"]
    assert all(r["role"] == "negative_control" for r in group.controls)


@pytest.mark.parametrize(
    ("smd", "eq", "fails"),
    [
        (0.05, 0.5, []),
        (0.15, 0.5, ["balance(max |SMD| 0.15 >= 0.1)"]),
        (0.05, 0.1, ["equipoise<0.2"]),
    ],
)
def test_balance_and_equipoise_gate_the_verdict(study, smd, eq, fails):
    res = d10.estimate(
        _counts(_persons(400, 1.5, 2), smd_after=smd, equipoise=eq), _ms_tasks(study), Settings()
    )
    key = pd.DataFrame([r for r in res.rows if r["analysis"] == "h7_ifn_vs_ga_migraine"])
    assert (DESIGN_FAILS_KEY in key.columns) == (eq < 0.2)
    out = apply_diagnostics(key, Settings()).iloc[0]
    assert DESIGN_FAILS_KEY not in out.index
    got = [f for f in str(out["diagnostics"]).split(";") if f]
    assert got == fails
    assert bool(out["diagnostics_pass"]) is (not fails)


def test_reasons_become_rows_not_exceptions(study):
    tasks = _ms_tasks(study)
    none = Counts(
        "D10",
        frames={
            "ps": pd.DataFrame(
                [
                    {
                        "comparison": "ms_ifn_vs_ga",
                        "reason": "no new users of glatiramer in the study population",
                        "reason_kind": "not_analysed",
                    }
                ]
            )
        },
    )
    res = d10.estimate(none, tasks, Settings())
    assert len(res.rows) == len(tasks) and not res.controls
    assert {r["not_analysed_reason"] for r in res.rows} == {
        "no new users of glatiramer in the study population"
    }
    few = Counts(
        "D10",
        frames={
            "ps": pd.DataFrame(
                [
                    {
                        "comparison": "ms_ifn_vs_ga",
                        "reason": "too few new users in an arm for a propensity model",
                        "reason_kind": "inconclusive",
                    }
                ]
            )
        },
    )
    rows = d10.estimate(few, tasks, Settings()).rows
    key = next(r for r in rows if r["analysis"] == "h7_ifn_vs_ga_migraine")
    assert key["not_analysed_reason"] is None and key["estimate"] is None
    assert "too few new users" in key["note"]
