"""D1 tasks and estimate on hand-made counts (no engine): roles, key rows, the CNS vs non-CNS
ratio, the not-estimable paths and the "D1" control group."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Study
from miglink.designs import d1_prevalence as d1
from miglink.designs.base import HYPOTHESES_KEY, Counts

NCS = ["nc_a", "nc_b", "nc_c", "nc_d", "nc_e"]


def _h(id_: str, outcome: str, exposure: str = "migraine", **kw) -> dict:
    return {"id": id_, "text": id_, "design": "D1", "exposure": exposure, "outcome": outcome, **kw}


STUDY = Study.model_validate(
    {
        "name": "d1 unit",
        "negative_controls": NCS,
        "autoimmune": ["sle", "multiple_sclerosis"],
        "nervous_system_autoimmune": ["multiple_sclerosis"],
        "d1_outcomes": ["vte"],
        "claims": [
            {
                "id": 1,
                "title": "t",
                "statement": "s",
                "hypotheses": [
                    _h("h_sle", "sle"),
                    _h("h_any", "any_autoimmune"),
                    _h("h_any_again", "any_autoimmune"),
                    _h("h_cns_vs", "cns_autoimmune", contrast="cns_vs_non_cns"),
                    _h("h_sle_vs", "cns_autoimmune", exposure="sle", contrast="cns_vs_non_cns"),
                ],
            }
        ],
    }
)
OUTCOMES = ["sle", "multiple_sclerosis", "any_autoimmune", "cns_autoimmune"]
OUTCOMES += ["non_cns_autoimmune", "vte", *NCS]

# UC Berkeley admissions 1973 (R datasets::UCBAdmissions), one stratum per department (coded in
# age_band): a = male admitted, b = male rejected, c = female admitted, d = female rejected.
UCB = {
    "age_band": [0, 1, 2, 3, 4, 5],
    "a": [512, 353, 120, 138, 53, 22],
    "b": [313, 207, 205, 279, 138, 351],
    "c": [89, 17, 202, 131, 94, 24],
    "d": [19, 8, 391, 244, 299, 317],
}


def _one(outcome: str, a: int, b: int, c: int, d: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"outcome": [outcome], "age_band": [0], "a": [a], "b": [b], "c": [c], "d": [d]}
    )


def _counts() -> Counts:
    parts = [
        pd.DataFrame({"outcome": "sle", **UCB}),
        _one("cns_autoimmune", 20, 80, 10, 90),
        _one("non_cns_autoimmune", 30, 70, 20, 80),
        *[_one(nc, 10 + i, 90, 10, 90) for i, nc in enumerate(NCS)],
    ]
    t = pd.concat(parts, ignore_index=True)
    t.insert(0, "exposure", "migraine")
    for s, v in (("sex", "F"), ("util_q", 1), ("obs_band", 1)):
        t.insert(2, s, v)
    return Counts(design="D1", frames={"tables": t})


def _rows(counts: Counts | None = None):
    tasks = d1.tasks(STUDY)
    return tasks, d1.estimate(counts or _counts(), tasks, STUDY.settings)


def test_tasks_roles_analyses_and_hypotheses():
    tasks = d1.tasks(STUDY)
    mh = [t for t in tasks if t.contrast is None]
    assert [t.outcome for t in mh] == OUTCOMES
    roles = {t.outcome: t.role for t in mh}
    assert roles["sle"] == roles["any_autoimmune"] == roles["cns_autoimmune"] == "primary"
    assert roles["multiple_sclerosis"] == roles["vte"] == "secondary"
    assert {roles[n] for n in NCS} == {"negative_control"}
    by = {t.outcome: t for t in mh}
    assert by["sle"].analysis == "d1__migraine__sle"
    assert by["any_autoimmune"].hypotheses == ("h_any", "h_any_again")
    assert by["cns_autoimmune"].hypotheses == ()  # the contrast hypothesis has its own row
    ratios = [t for t in tasks if t.contrast == "cns_vs_non_cns"]
    assert [(t.analysis, t.exposure, t.role, t.hypotheses) for t in ratios] == [
        ("h_cns_vs", "migraine", "primary", ("h_cns_vs",)),
        ("h_sle_vs", "sle", "primary", ("h_sle_vs",)),
    ]


def test_mh_row_matches_r_and_sensitivity_rows_by_hand():
    _, res = _rows()
    sle = [r for r in res.rows if r["outcome"] == "sle"]
    assert [(r["method"], r["role"]) for r in sle] == [
        ("mantel_haenszel", "primary"),
        ("crude_woolf", "sensitivity"),
        ("logistic_grouped", "sensitivity"),
    ]
    mh, woolf, logit = sle
    # R 4.x mantelhaen.test(UCBAdmissions): common odds ratio 0.9046968, 95% CI 0.7719074-1.0603298
    assert mh["estimate"] == pytest.approx(0.9046968, abs=5e-8)
    assert (mh["ci_low"], mh["ci_high"]) == pytest.approx((0.7719074, 1.0603298), abs=5e-8)
    assert mh["breslow_day_p"] < 0.005  # Agresti (2002) 6.3.5: Breslow-Day 18.83 on 5 df
    a, b, c, d = 1198, 1493, 557, 1278  # the collapsed table
    assert (mh["n_exposed"], mh["n_unexposed"], mh["events_exposed"]) == (a + b, c + d, a)
    assert woolf["estimate"] == pytest.approx(a * d / (b * c), rel=1e-12)
    assert woolf["se_log"] == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-12)
    # R glm(cbind(Admitted, Rejected) ~ Dept + Gender, binomial): GenderFemale 0.09987 (SE 0.08085)
    assert logit["log_estimate"] == pytest.approx(-0.09987, abs=5e-6)
    assert logit["se_log"] == pytest.approx(0.08085, abs=5e-6)


def test_only_the_mh_row_of_a_hypothesis_is_marked():
    _, res = _rows()
    marked = [
        (r["outcome"], r["method"], r[HYPOTHESES_KEY]) for r in res.rows if HYPOTHESES_KEY in r
    ]
    assert marked == [
        ("sle", "mantel_haenszel", ("h_sle",)),
        ("any_autoimmune", "mantel_haenszel", ("h_any", "h_any_again")),
        ("cns_autoimmune", "ratio_of_mh_odds_ratios", ("h_cns_vs",)),
    ]


def test_negative_controls_have_the_mh_row_only_and_form_the_group():
    _, res = _rows()
    nc_rows = [r for r in res.rows if r["outcome"] in NCS]
    assert [r["method"] for r in nc_rows] == ["mantel_haenszel"] * len(NCS)
    assert {r["role"] for r in nc_rows} == {"negative_control"}
    (group,) = res.controls
    assert (group.name, group.label) == ("D1", "outcome")
    assert [id(r) for r in group.controls] == [id(r) for r in nc_rows]
    mh = [r for r in res.rows if r["method"] == "mantel_haenszel"]
    assert [id(r) for r in group.targets] == [id(r) for r in mh]
    assert len(mh) == len(OUTCOMES)
    # single stratum: MH equals the crude OR (a d / b c)
    assert nc_rows[2]["estimate"] == pytest.approx(12 * 90 / (90 * 10), rel=1e-12)


def test_cns_vs_non_cns_ratio_by_hand():
    _, res = _rows()
    (ratio,) = [r for r in res.rows if r["method"] == "ratio_of_mh_odds_ratios"]
    # Altman & Bland, BMJ 2003;326:219: log ratio = difference of logs, SE = sqrt(se1^2 + se2^2)
    v1 = 1 / 20 + 1 / 80 + 1 / 10 + 1 / 90
    v2 = 1 / 30 + 1 / 70 + 1 / 20 + 1 / 80
    assert ratio["estimate"] == pytest.approx((20 * 90 / (80 * 10)) / (30 * 80 / (70 * 20)))
    assert ratio["se_log"] == pytest.approx(math.sqrt(v1 + v2), rel=1e-9)
    assert (ratio["analysis"], ratio["stratum"], ratio["measure"], ratio["role"]) == (
        "h_cns_vs",
        "CNS vs non-CNS autoimmune",
        "ROR",
        "primary",
    )
    # the second contrast's exposure is not the index set: D1 has no MH rows for it, so no row
    assert not [r for r in res.rows if r["analysis"] == "h_sle_vs"]


def test_pairs_without_counts_are_not_estimable():
    _, res = _rows()
    vte = [r for r in res.rows if r["outcome"] == "vte"]
    assert len(vte) == 3
    assert all(math.isnan(r["estimate"]) for r in vte)
    assert vte[0]["note"] == "not estimable: no strata"


def test_ratio_not_estimable_when_a_composite_is_not():
    counts = _counts()
    t = counts.frames["tables"]
    t.loc[t.outcome == "non_cns_autoimmune", ["a", "c"]] = 0  # no events: MH OR not estimable
    _, res = _rows(counts)
    (ratio,) = [r for r in res.rows if r["method"] == "ratio_of_mh_odds_ratios"]
    assert ratio["estimate"] is None or math.isnan(ratio["estimate"])
    assert "not estimable" in ratio["note"]
    assert ratio[HYPOTHESES_KEY] == ("h_cns_vs",)
