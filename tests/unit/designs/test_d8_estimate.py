"""D8 tasks and estimate on hand-made counts (no engine): the dose-response trend and its
prevalence rows, the phenome percentile with its background group, and the not-analysed /
not-estimable paths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from miglink.claims.model import Study
from miglink.designs import d8_specificity as d8
from miglink.designs.base import HYPOTHESES_KEY, Counts


def _h(id_: str, exposure: str, outcome: str, contrast: str) -> dict:
    return {
        "id": id_,
        "text": id_,
        "design": "D8",
        "exposure": exposure,
        "outcome": outcome,
        "contrast": contrast,
    }


STUDY = Study.model_validate(
    {
        "name": "d8 unit",
        "negative_controls": ["nc"],
        "autoimmune": ["sle", "ra"],
        "claims": [
            {
                "id": 8,
                "title": "t",
                "statement": "s",
                "hypotheses": [
                    _h("h_dose", "any_autoimmune", "migraine", "dose_response"),
                    _h("h_spec", "migraine", "any_autoimmune", "phenome_percentile"),
                    _h("h_spec_sle", "sle", "any_autoimmune", "phenome_percentile"),
                ],
            }
        ],
    }
)
STRATA_CONST = {"sex": "F", "age_band": "40", "util_q": "1", "obs_band": "1"}


def _dose(cells: list[tuple[int, int, int]]) -> pd.DataFrame:
    score, events, total = zip(*cells, strict=True)
    return pd.DataFrame(
        {"analysis": "h_dose", "score": score, **STRATA_CONST, "total": total, "events": events}
    )


# background: concept -> (a, b, c, d) in one stratum (exposed = the index set)
BACKGROUND = {
    101: (10, 90, 10, 90),
    102: (20, 80, 10, 90),
    103: (5, 95, 10, 90),
    104: (30, 70, 10, 90),
}
BACKGROUND |= {105: (15, 85, 10, 90), 106: (0, 100, 0, 100)}  # 106: no cases, not estimable


def _counts(dose: pd.DataFrame | None = None, phenome: bool = True) -> Counts:
    totals = pd.DataFrame({"sex": ["F", "F"], "age_band": [40, 40], "util_q": [1, 1]})
    totals = totals.assign(obs_band=1, exposed=[0, 1], n=[100, 100])
    cases = pd.DataFrame(
        [
            {"outcome": str(cid), "sex": "F", "age_band": 40, "util_q": 1, "obs_band": 1}
            | {"exposed": e, "k": k}
            for cid, (a, _b, c, _d) in BACKGROUND.items()
            for e, k in ((1, a), (0, c))
            if k
        ]
    )
    pairs = pd.DataFrame(
        {"exposure": ["migraine"], "outcome": ["any_autoimmune"], "sex": ["F"], "age_band": [40]}
    ).assign(util_q=1, obs_band=1, a=25, b=75, c=10, d=90)
    values = {"phenome_available": phenome, "background_concepts": list(BACKGROUND)}
    frames = {"pairs": pairs, "background_totals": totals, "background_cases": cases}
    frames["dose"] = _dose([(0, 10, 100), (1, 30, 100)]) if dose is None else dose
    return Counts(design="D8", frames=frames, values=values)


def test_tasks():
    dose, spec, spec_sle = d8.tasks(STUDY)
    assert (dose.analysis, dose.exposure, dose.outcome, dose.role) == (
        "h_dose",
        "n_autoimmune_0_1_2_3plus",
        "migraine",
        "primary",
    )
    assert dose.options["autoimmune"] == ["sle", "ra"]
    assert (spec.analysis, spec.exposure, spec.hypotheses) == ("h_spec", "migraine", ("h_spec",))
    assert spec.options["d1_pair"] is True and spec_sle.options["d1_pair"] is False
    assert spec.options["index_set"] == "migraine"
    assert spec.options["negative_controls"] == ["nc"]


def test_trend_on_two_levels_is_the_2x2_log_or():
    res = d8.estimate(_counts(), d8.tasks(STUDY), STUDY.settings)
    trend, p0, p1 = [r for r in res.rows if r["analysis"] == "h_dose"]
    # two score levels: the logistic slope is the log OR, its SE Woolf's (hand computation)
    assert trend["log_estimate"] == pytest.approx(math.log(30 * 90 / (70 * 10)), abs=1e-8)
    assert trend["se_log"] == pytest.approx(math.sqrt(1 / 30 + 1 / 70 + 1 / 10 + 1 / 90), rel=1e-6)
    assert (trend["n_exposed"], trend["n_unexposed"], trend["events_exposed"]) == (100, 100, 30)
    assert trend[HYPOTHESES_KEY] == ("h_dose",)
    assert (p1["exposure"], p1["stratum"], p1["estimate"], p1["role"]) == (
        "n_autoimmune=1",
        "1 autoimmune diseases",
        0.3,
        "descriptive",
    )
    assert HYPOTHESES_KEY not in p0 and HYPOTHESES_KEY not in p1


def test_trend_over_four_levels_matches_a_glm():
    cells = [(0, 50, 1000), (1, 20, 200), (2, 9, 50), (3, 6, 20)]
    res = d8.estimate(_counts(_dose(cells)), d8.tasks(STUDY), STUDY.settings)
    rows = [r for r in res.rows if r["analysis"] == "h_dose"]
    # library reference: statsmodels binomial GLM of the grouped counts on the score
    x = np.repeat([0.0, 1.0, 2.0, 3.0], 2)
    y = np.tile([1.0, 0.0], 4)
    w = np.array([[e, n - e] for _, e, n in cells], dtype=float).ravel()
    fit = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial(), freq_weights=w).fit()
    assert rows[0]["log_estimate"] == pytest.approx(fit.params[1], abs=1e-8)
    assert rows[0]["se_log"] == pytest.approx(fit.bse[1], rel=1e-6)
    assert rows[0]["n_exposed"] == 270 and rows[0]["events_exposed"] == 35
    assert [r["stratum"] for r in rows[1:]][-1] == "3+ autoimmune diseases"
    assert rows[-1]["exposure"] == "n_autoimmune=3+"


def test_trend_not_estimable_with_one_level():
    res = d8.estimate(_counts(_dose([(0, 10, 100)])), d8.tasks(STUDY), STUDY.settings)
    trend = next(r for r in res.rows if r["analysis"] == "h_dose")
    assert math.isnan(trend["estimate"])
    assert "fewer than two score levels" in trend["note"]


def test_phenome_percentile_and_its_group():
    res = d8.estimate(_counts(), d8.tasks(STUDY), STUDY.settings)
    spec = next(r for r in res.rows if r["analysis"] == "h_spec")
    # background ORs (single stratum, a d / b c): 1, 2.25, 0.474, 3.857, 1.588 (106 dropped);
    # the pair's OR 25 * 90 / (75 * 10) = 3 is above 4 of the 5
    assert spec["estimate"] == pytest.approx(3.0, rel=1e-12)
    assert spec["phenome_percentile"] == pytest.approx(80.0)
    assert spec["stratum"] == "percentile 80.0 of 5 condition concepts"
    assert spec["note"] == "phenome percentile 80.0; calibrated against the phenome background"
    assert (spec["n_exposed"], spec["events_exposed"], spec["role"]) == (100, 25, "primary")
    assert spec[HYPOTHESES_KEY] == ("h_spec",)
    (group,) = res.controls
    assert (group.name, group.label) == ("D8 phenome", None)
    assert [id(r) for r in group.targets] == [id(r) for r in res.rows[3:]]
    logs = sorted(c["log_estimate"] for c in group.controls)
    want = sorted(math.log(a * d / (b * c)) for a, b, c, d in list(BACKGROUND.values())[:5])
    assert logs == pytest.approx(want, abs=1e-12)
    se101 = next(c["se_log"] for c in group.controls if c["log_estimate"] == pytest.approx(0))
    assert se101 == pytest.approx(math.sqrt(2 / 10 + 2 / 90), rel=1e-9)


def test_pair_d1_does_not_estimate_gets_a_not_estimable_row():
    res = d8.estimate(_counts(), d8.tasks(STUDY), STUDY.settings)
    row = next(r for r in res.rows if r["analysis"] == "h_spec_sle")
    assert row["estimate"] is None and row["phenome_percentile"] is None
    assert row["stratum"] == "phenome background"
    assert row["note"].startswith("not estimable: the D1 Mantel-Haenszel OR of sle and")
    assert row[HYPOTHESES_KEY] == ("h_spec_sle",)
    # a target without an estimate is left uncalibrated by calibrate_groups
    assert id(row) in {id(t) for t in res.controls[0].targets}


def test_no_phenome_table_means_no_phenome_rows_and_no_group():
    res = d8.estimate(_counts(phenome=False), d8.tasks(STUDY), STUDY.settings)
    assert {r["analysis"] for r in res.rows} == {"h_dose"}
    assert res.controls == []


def test_empty_background_keeps_the_row_without_a_percentile():
    counts = _counts()
    counts.values["background_concepts"] = []
    res = d8.estimate(counts, d8.tasks(STUDY), STUDY.settings)
    spec = next(r for r in res.rows if r["analysis"] == "h_spec")
    assert math.isnan(spec["phenome_percentile"])
    assert spec["stratum"] == "percentile nan of 0 condition concepts"
    assert res.controls[0].controls == []
