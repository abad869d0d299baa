"""D2 estimate on hand-made counts (no engine): every role, the not-estimable path, key rows,
curves, attrition and the two calibration groups; and D2's tasks on the bundled study."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import norm

from miglink.claims.model import Settings, load_study
from miglink.designs import d2_cohort
from miglink.designs.base import HYPOTHESES_KEY, Counts, Task
from miglink.designs.d2_estimate import balance_smd, km_curve
from miglink.designs.rows import REASON_KEY

ST = Settings()
DAYS = 365.25
FWD = Task("D2", "d2__migraine__sle", "migraine", "sle", "primary", ("h_a", "h_b"),
           options={"direction": "forward"})  # fmt: skip
NC = Task("D2", "d2__migraine__nc_x", "migraine", "nc_x", "negative_control",
          options={"direction": "forward"})  # fmt: skip
REV = Task("D2", "d2__sle__migraine", "sle", "migraine", "secondary",
           options={"direction": "reverse"})  # fmt: skip
EMPTY = Task("D2", "d2__crohn__migraine", "crohn", "migraine", "secondary",
             options={"direction": "reverse"})  # fmt: skip


def _strata(idx, out, cells):
    """cells: (cell, exposed, n, events, person_years)."""
    return [
        dict(
            index_set=idx, outcome_set=out, cell=c, exposed=x, n=n, events=e, person_days=py * DAYS
        )  # fmt: skip
        for c, x, n, e, py in cells
    ]


def _counts() -> Counts:
    # Two cells with the same rate ratio (2): the stratified Poisson MLE is exactly 2 and its
    # information is the conditional-binomial sum_s E_s p_s (1 - p_s), p_s = RR PY1 / (RR PY1 +
    # PY0) (Breslow & Day 1987, Statistical Methods in Cancer Research II, ch. 3 / 7).
    strata = _strata("migraine", "sle", [("a", 1, 100, 10, 100), ("a", 0, 400, 20, 400),
                                         ("b", 1, 50, 4, 50), ("b", 0, 200, 8, 200)])  # fmt: skip
    strata += _strata("migraine", "nc_x", [("a", 1, 100, 3, 100), ("a", 0, 400, 12, 400)])
    strata += _strata("sle", "migraine", [("c", 1, 20, 0, 20), ("c", 0, 80, 5, 80)])
    km = [
        dict(index_set="migraine", outcome_set="sle", exposed=x, month=m, events=e, n=n)
        for x, m, e, n in ((1, 0, 2, 2), (1, 12, 0, 8), (0, 0, 1, 1), (0, 12, 0, 9))
    ]
    km = pd.DataFrame(km).assign(censored=lambda d: d["n"] - d["events"])
    balance = pd.DataFrame(
        [
            dict(index_set="migraine", exposed=1, n=4, age_sum=160.0, age_sumsq=6416.0,
                 visits_sum=8.0, visits_sumsq=20.0, female_sum=3.0, prior_sum=0.0),
            dict(index_set="migraine", exposed=0, n=4, age_sum=160.0, age_sumsq=6416.0,
                 visits_sum=8.0, visits_sumsq=20.0, female_sum=1.0, prior_sum=0.0),
        ]
    )  # fmt: skip
    attrition = pd.DataFrame(
        [dict(index_set="migraine", step=1, description="new diagnoses", n=7),
         dict(index_set="migraine", step=2, description="matched", n=6)]
    )  # fmt: skip
    frames = dict(strata=pd.DataFrame(strata), km=km, balance=balance, attrition=attrition)
    return Counts(design="D2", frames=frames)


@pytest.fixture(scope="module")
def result():
    return d2_cohort.estimate(_counts(), [FWD, NC, REV, EMPTY], ST)


def _row(result, analysis):
    return next(r for r in result.rows if r["analysis"] == analysis)


def test_hazard_ratio_stratified_on_cells(result):
    r = _row(result, FWD.analysis)
    info = 30 * (1 / 3) * (2 / 3) + 12 * (1 / 3) * (2 / 3)  # hand: p = 200/600 and 100/300
    assert r["estimate"] == pytest.approx(2.0, rel=1e-6)
    assert r["se_log"] == pytest.approx(1 / math.sqrt(info), rel=1e-6)
    z = norm.ppf(0.975)
    assert r["ci_low"] == pytest.approx(math.exp(math.log(2) - z * r["se_log"]), rel=1e-6)
    assert (r["design"], r["measure"], r["method"], r["stratum"], r["direction"]) == (
        "D2", "HR", "poisson_matched_strata", "all", "forward"
    )  # fmt: skip
    assert (r["n_exposed"], r["n_unexposed"], r["events_exposed"], r["events_unexposed"]) == (
        150, 600, 14, 28
    )  # fmt: skip
    assert r["person_years_exposed"] == pytest.approx(150)
    assert r["ir_exposed_per_1000py"] == pytest.approx(14 / 150 * 1000)
    assert r["ir_unexposed_per_1000py"] == pytest.approx(28 / 600 * 1000)
    # MDRR, CohortMethod's computeMdrr: exp(sqrt((z_.975 + z_.8)^2 / (p (1 - p) E)))
    p, e = 150 / 750, 42
    mdrr = math.exp(math.sqrt((norm.ppf(0.975) + norm.ppf(0.8)) ** 2 / (p * (1 - p) * e)))
    assert r["mdrr"] == pytest.approx(mdrr, rel=1e-9)


def test_balance_from_sums(result):
    r = _row(result, FWD.analysis)
    # age and visits identical in both arms: SMD 0; women 3/4 vs 1/4:
    # (0.75 - 0.25) / sqrt((0.1875 + 0.1875) / 2) = 1.1547
    smd = 0.5 / math.sqrt(0.1875)
    assert r["max_smd"] == pytest.approx(smd)
    assert r["balance_fail"] == "smd_female"
    assert balance_smd(_counts().frame("balance")) == pytest.approx(
        {"age": 0.0, "visits": 0.0, "female": smd, "prior": 0.0}
    )


def test_roles_key_rows_and_not_estimable(result):
    roles = [r["role"] for r in result.rows]
    assert roles == ["primary", "negative_control", "secondary", "secondary"]
    assert _row(result, FWD.analysis)[HYPOTHESES_KEY] == ("h_a", "h_b")
    assert sum(HYPOTHESES_KEY in r for r in result.rows) == 1
    nc = _row(result, NC.analysis)
    assert nc["estimate"] == pytest.approx((3 / 100) / (12 / 400), rel=1e-6)
    rev = _row(result, REV.analysis)  # no exposed event
    assert rev["estimate"] is None or math.isnan(rev["estimate"])
    assert rev["note"] == rev[REASON_KEY] == "not estimable: no events in one exposure group"
    empty = _row(result, EMPTY.analysis)  # no new diagnosis at all
    assert empty["n_exposed"] == 0 and math.isnan(empty["max_smd"])
    assert empty[REASON_KEY].startswith("not estimable: no new crohn diagnosis")
    assert rev["direction"] == empty["direction"] == "reverse"


def test_control_groups_per_direction(result):
    fwd, rev = result.controls
    assert (fwd.name, fwd.label, rev.name, rev.label) == (
        "D2 forward", "outcome", "D2 reverse", "exposure"
    )  # fmt: skip
    assert [r["analysis"] for r in fwd.controls] == [NC.analysis]
    assert [r["analysis"] for r in fwd.targets] == [FWD.analysis, NC.analysis]
    assert rev.controls == [] and [r["analysis"] for r in rev.targets] == [
        REV.analysis,
        EMPTY.analysis,
    ]
    # the pooled run's hook rebuilds the same groups from rows alone
    again = d2_cohort.control_groups(result.rows + [{"design": "D1", "role": "secondary"}])
    assert [len(g.targets) for g in again] == [2, 2]


def test_curves_for_non_controls_and_attrition(result):
    assert set(result.curves["analysis"]) == {FWD.analysis}
    exp = result.curves[result.curves["group"] == "exposed"].set_index("time")
    # product-limit by hand: 2 of 10 exposed end with the event in month 0, 8 are censored in
    # month 12: S = 0.8 from the first month on
    assert exp.loc[0.5, "survival"] == pytest.approx(0.8)
    assert exp.loc[0.0, "survival"] == pytest.approx(1.0)
    assert list(result.attrition["analysis"]) == ["d2__migraine", "d2__migraine"]
    assert list(result.attrition["n"]) == [7, 6]


def test_km_curve_matches_product_limit():
    km = pd.DataFrame(
        dict(exposed=[1, 1, 1], month=[0, 6, 13], events=[1, 2, 0], censored=[1, 0, 6])
    )
    cur = km_curve(km, 24).set_index("time")
    # at risk 10 -> 1 event (S 0.9), 1 censored; month 6: 2 of 8 (S 0.9 * 0.75)
    assert cur.loc[0.5, "survival"] == pytest.approx(0.9)
    assert cur.loc[1.0, "survival"] == pytest.approx(0.9 * 0.75)
    assert cur.loc[1.0, "events"] == 3 and cur.loc[1.0, "censored"] == 1


def test_no_tasks_no_rows():
    assert d2_cohort.estimate(Counts(design="D2"), [], ST).rows == []


def test_tasks_on_the_bundled_study():
    study, _ = load_study(None)
    tasks = d2_cohort.tasks(study)
    n_ai, n_nc = len(study.autoimmune), len(study.negative_controls)
    assert len(tasks) == (n_ai + 2 + n_nc) + (n_ai + 1 + n_nc)
    by = {(t.exposure, t.outcome): t for t in tasks}
    shared = by[("migraine", "any_autoimmune")]
    assert shared.hypotheses == ("h8_any_incident", "h9_migraine_to_ai")
    assert shared.role == "primary" and shared.analysis == "d2__migraine__any_autoimmune"
    assert by[("sle", "migraine")].hypotheses == ("h3_sle_incident",)
    assert by[("migraine", "sle")].role == "secondary"
    nc = study.negative_controls[0]
    assert by[("migraine", nc)].role == by[(nc, "migraine")].role == "negative_control"
    assert by[(nc, "migraine")].options["direction"] == "reverse"
    assert [t.options["direction"] for t in tasks].index("reverse") == n_ai + 2 + n_nc
    hyp = {h.id for _c, h in study.hypotheses() if h.design == "D2"}
    assert {h for t in tasks for h in t.hypotheses} == hyp


def test_hazard_row_labels_for_a_design_reusing_the_cohort():
    from miglink.designs.d2_counts import CohortCounts
    from miglink.designs.d2_estimate import hazard_row, split_counts

    c = _counts()
    pc = split_counts(CohortCounts(*(c.frame(f) for f in ("strata", "km", "balance", "attrition"))))
    r = hazard_row(pc, "migraine", "sle", role="primary", analysis="h_x", max_smd=0.1,
                   design="D5", method="m", stratum="s", exposure="new users", note="n")  # fmt: skip
    assert (r["design"], r["exposure"], r["method"], r["stratum"], r["analysis"], r["note"]) == (
        "D5", "new users", "m", "s", "h_x", "n"
    )  # fmt: skip
    assert r["estimate"] == pytest.approx(2.0, rel=1e-6)


def test_prevalent_pool_guard_keeps_long_observed_cells_only():
    """The guard row reads only the cells whose observation started >= 4 calendar years before
    the index year (hand-made strata: the short-observed cell's events would double the HR)."""
    from miglink.designs.d2_counts import CohortCounts
    from miglink.designs.d2_estimate import restrict_obs_band

    strata = pd.DataFrame(
        dict(index_set="a", outcome_set="b", cell=["c1", "c1", "c4", "c4"], oband=[1, 1, 4, 4],
             exposed=[0, 1, 0, 1], n=[40, 10, 40, 10], events=[4, 5, 8, 2],
             person_days=[4000, 1000, 4000, 1000])
    )  # fmt: skip
    empty = pd.DataFrame()
    kept = restrict_obs_band(CohortCounts(strata, empty, empty, empty), 4)
    assert list(kept.strata["cell"]) == ["c4", "c4"]
    assert kept.strata["events"].sum() == 10


def test_guard_note_reads_the_restricted_hr():
    g = dict(estimate=1.234, ci_low=0.9, ci_high=1.7, events_exposed=20, events_unexposed=25)
    assert d2_cohort.guard_note(g).endswith("observation): HR 1.23 (0.90-1.70)")
    assert "not shown" in d2_cohort.guard_note({**g, "events_exposed": 19})
