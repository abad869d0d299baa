"""D3 tasks and estimate on hand-made counts (no engine): female excess, the sex and
reproductive-age modifications (ratio of MH ORs), the person count and the key rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from miglink.claims.model import Study
from miglink.designs import d3_modification as d3
from miglink.designs.base import HYPOTHESES_KEY, Counts


def _h(id_: str, exposure: str, outcome: str, **kw) -> dict:
    return {"id": id_, "text": id_, "design": "D3", "exposure": exposure, "outcome": outcome, **kw}


def _study(*hyps: dict) -> Study:
    claim = {"id": 6, "title": "t", "statement": "s", "hypotheses": list(hyps)}
    return Study.model_validate(
        {"name": "d3 unit", "negative_controls": ["nc"], "autoimmune": ["sle"], "claims": [claim]}
    )


STUDY = _study(
    _h("h_fem", "female", "migraine", contrast="female_excess"),
    _h("h_sex", "migraine", "any_autoimmune", subgroup="sex"),
    _h("h_repro", "migraine", "any_autoimmune", subgroup="women_reproductive_age"),
    _h(
        "h_count",
        "menstrual_migraine",
        "menstrual_migraine",
        expected="descriptive",
        contrast="count",
    ),
)


def _tab(analysis: str, group: str, outcome: str, cells: list[tuple[int, int, int, int]]):
    a, b, c, d = zip(*cells, strict=True)
    return pd.DataFrame(
        {
            "analysis": analysis,
            "group": group,
            "outcome": outcome,
            "age_band": list(range(len(cells))),
            "util_q": 1,
            "obs_band": 1,
            "a": a,
            "b": b,
            "c": c,
            "d": d,
        }
    )


def _counts(n: int = 40, big_n: int = 1000) -> Counts:
    tables = pd.concat(
        [
            _tab("h_fem", "all", "migraine", [(30, 70, 10, 90)]),
            _tab("h_sex", "women", "any_autoimmune", [(20, 80, 10, 90)]),
            _tab("h_sex", "men", "any_autoimmune", [(15, 85, 10, 90)]),
            _tab("h_repro", "women 15-49", "any_autoimmune", [(12, 38, 5, 45), (8, 42, 5, 45)]),
            _tab("h_repro", "women 50+", "any_autoimmune", [(10, 90, 10, 90)]),
        ],
        ignore_index=True,
    )
    persons = pd.DataFrame({"analysis": ["h_count"], "n": [n], "N": [big_n]})
    return Counts(design="D3", frames={"tables": tables, "persons": persons})


def _by(rows: list[dict], analysis: str) -> list[dict]:
    return [r for r in rows if r["analysis"] == analysis]


def test_tasks():
    tasks = d3.tasks(STUDY)
    got = [(t.analysis, t.exposure, t.outcome, t.role, t.contrast, t.subgroup) for t in tasks]
    assert got == [
        ("h_fem", "female", "migraine", "primary", "female_excess", None),
        ("h_sex", "migraine", "any_autoimmune", "primary", None, "sex"),
        ("h_repro", "migraine", "any_autoimmune", "primary", None, "women_reproductive_age"),
        ("h_count", "menstrual_migraine", "menstrual_migraine", "descriptive", "count", None),
    ]
    labels = [[g["label"] for g in t.options["groups"]] for t in tasks[1:3]]
    assert labels == [["women", "men"], ["women 15-49", "women 50+"]]
    assert tasks[2].options["groups"][1]["age"] == {"gt": 49}


def test_unknown_subgroup_is_refused():
    # the study model refuses it when the file is loaded (claims.model.D3Hypothesis)
    with pytest.raises(ValueError, match="Input should be 'sex' or 'women_reproductive_age'"):
        d3.tasks(_study(_h("h_x", "migraine", "sle", subgroup="left_handed")))


def test_female_excess_mh_by_hand():
    res = d3.estimate(_counts(), d3.tasks(STUDY), STUDY.settings)
    (row,) = _by(res.rows, "h_fem")
    # one stratum: MH OR = a d / (b c), RGB variance = Woolf's 1/a + 1/b + 1/c + 1/d
    assert row["estimate"] == pytest.approx(30 * 90 / (70 * 10), rel=1e-12)
    assert row["se_log"] == pytest.approx(math.sqrt(1 / 30 + 1 / 70 + 1 / 10 + 1 / 90), rel=1e-9)
    assert (row["method"], row["role"], row["stratum"], row["exposure"]) == (
        "mantel_haenszel",
        "primary",
        "all",
        "female",
    )
    assert row[HYPOTHESES_KEY] == ("h_fem",)
    assert res.controls == []


def test_sex_modification_ratio_by_hand_and_key_row():
    res = d3.estimate(_counts(), d3.tasks(STUDY), STUDY.settings)
    women, men, ratio = _by(res.rows, "h_sex")
    assert [(r["stratum"], r["role"]) for r in (women, men, ratio)] == [
        ("women", "secondary"),
        ("men", "secondary"),
        ("women vs men", "primary"),
    ]
    or_w, or_m = 20 * 90 / (80 * 10), 15 * 90 / (85 * 10)
    v = (1 / 20 + 1 / 80 + 1 / 10 + 1 / 90) + (1 / 15 + 1 / 85 + 1 / 10 + 1 / 90)
    # Altman & Bland, BMJ 2003;326:219: ratio of ORs, SE of the log ratio sqrt(se1^2 + se2^2)
    assert ratio["estimate"] == pytest.approx(or_w / or_m, rel=1e-12)
    assert ratio["se_log"] == pytest.approx(math.sqrt(v), rel=1e-9)
    assert ratio["p_value"] == pytest.approx(
        math.erfc(abs(math.log(or_w / or_m)) / math.sqrt(v) / math.sqrt(2)), rel=1e-6
    )
    assert (ratio["n_exposed"], ratio["events_exposed"], ratio["events_unexposed"]) == (
        200,
        35,
        20,
    )
    assert HYPOTHESES_KEY not in women and HYPOTHESES_KEY not in men
    assert ratio[HYPOTHESES_KEY] == ("h_sex",)


def test_reproductive_age_mh_over_two_strata_by_hand():
    res = d3.estimate(_counts(), d3.tasks(STUDY), STUDY.settings)
    young, old, ratio = _by(res.rows, "h_repro")
    # MH OR = sum(a d / n) / sum(b c / n), n = 100 per stratum
    mh = (12 * 45 + 8 * 45) / (38 * 5 + 42 * 5)
    assert young["estimate"] == pytest.approx(mh, rel=1e-12)
    assert old["estimate"] == pytest.approx(1.0, rel=1e-12)
    assert ratio["stratum"] == "women 15-49 vs women 50+"
    assert ratio["estimate"] == pytest.approx(mh, rel=1e-12)


def test_person_count_and_its_not_estimable_share():
    res = d3.estimate(_counts(), d3.tasks(STUDY), STUDY.settings)
    (row,) = _by(res.rows, "h_count")
    assert (row["n_exposed"], row["n_unexposed"], row["estimate"]) == (40, 960, 0.04)
    assert (row["measure"], row["method"], row["role"]) == (
        "count",
        "persons_with_record",
        "descriptive",
    )
    assert row[HYPOTHESES_KEY] == ("h_count",)
    empty = d3.estimate(_counts(0, 0), d3.tasks(STUDY), STUDY.settings)
    assert _by(empty.rows, "h_count")[0]["estimate"] is None


def test_subgroup_without_counts_gives_a_not_estimable_ratio():
    counts = _counts()
    t = counts.frames["tables"]
    counts.frames["tables"] = t[t.group != "men"]
    res = d3.estimate(counts, d3.tasks(STUDY), STUDY.settings)
    women, men, ratio = _by(res.rows, "h_sex")
    assert math.isnan(men["estimate"]) and math.isfinite(women["estimate"])
    assert "not estimable" in ratio["note"]
    assert ratio[HYPOTHESES_KEY] == ("h_sex",)


def test_per_disease_tasks_add_the_composite_as_secondary():
    """Per-disease modification hypotheses are the keys; the composite's modification is kept
    beside them as a secondary task (no hypothesis), once per exposure and subgroup."""
    study = _study(
        _h("h_sex_sle", "migraine", "sle", subgroup="sex", family="f"),
        _h("h_sex_ms", "migraine", "multiple_sclerosis", subgroup="sex", family="f"),
        _h("h_repro_sle", "migraine", "sle", subgroup="women_reproductive_age"),
    )
    got = [(t.analysis, t.outcome, t.role, t.subgroup, t.hypotheses) for t in d3.tasks(study)]
    assert got == [
        ("h_sex_sle", "sle", "primary", "sex", ("h_sex_sle",)),
        ("h_sex_ms", "multiple_sclerosis", "primary", "sex", ("h_sex_ms",)),
        ("h_repro_sle", "sle", "primary", "women_reproductive_age", ("h_repro_sle",)),
        ("d3__sex__migraine__any_autoimmune", "any_autoimmune", "secondary", "sex", ()),
        (
            "d3__women_reproductive_age__migraine__any_autoimmune",
            "any_autoimmune",
            "secondary",
            "women_reproductive_age",
            (),
        ),
    ]
    composite = d3.tasks(study)[3]
    assert [g["label"] for g in composite.options["groups"]] == ["women", "men"]


def test_composite_ratio_row_is_secondary_without_hypotheses():
    study = _study(_h("h_sex_sle", "migraine", "sle", subgroup="sex"))
    tasks = d3.tasks(study)
    tables = pd.concat(
        [
            _tab("h_sex_sle", "women", "sle", [(20, 80, 10, 90)]),
            _tab("h_sex_sle", "men", "sle", [(15, 85, 10, 90)]),
            _tab(tasks[1].analysis, "women", "any_autoimmune", [(20, 80, 10, 90)]),
            _tab(tasks[1].analysis, "men", "any_autoimmune", [(15, 85, 10, 90)]),
        ],
        ignore_index=True,
    )
    counts = Counts(design="D3", frames={"tables": tables, "persons": pd.DataFrame()})
    rows = d3.estimate(counts, tasks, study.settings).rows
    key = [r for r in rows if HYPOTHESES_KEY in r]
    assert [(r["analysis"], r["measure"]) for r in key] == [("h_sex_sle", "ROR")]
    comp = _by(rows, tasks[1].analysis)[-1]
    assert (comp["measure"], comp["role"], comp["stratum"]) == ("ROR", "secondary", "women vs men")
    assert comp["estimate"] == pytest.approx(key[0]["estimate"])  # same tables, same ratio
