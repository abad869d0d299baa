"""``count`` of D1, D3, D8 and D9 on tiny literal feature tables on DuckDB (13 persons; every
expected cell counted by hand below)."""

from __future__ import annotations

import math

import ibis
import pandas as pd
import pytest

from miglink.claims.model import Settings
from miglink.designs import d1_prevalence as d1
from miglink.designs import d3_modification as d3
from miglink.designs import d8_phenome
from miglink.designs import d8_specificity as d8
from miglink.designs import d9_order as d9
from miglink.designs.base import Task
from miglink.features.build import FeatureTables

# persons 1-6 women (1-3 aged 30, 4-6 aged 60), 7-12 men aged 30, 13 sex unknown; one age,
# utilisation and observation band; observation starts on day 0
SEX = ["F"] * 6 + ["M"] * 6 + ["U"]
AGE = [30, 30, 30, 60, 60, 60] + [30] * 7
# (person, set, first day): migraine 1 2 4 7 13; sle 1 2 4 5 8; ra 1 8; menstrual_migraine 1 2
CONDITIONS = [
    (1, "migraine", 400), (2, "migraine", 500), (4, "migraine", 400), (7, "migraine", 400),
    (13, "migraine", 400), (1, "sle", 600), (2, "sle", 100), (4, "sle", 400), (5, "sle", 800),
    (8, "sle", 700), (1, "ra", 900), (8, "ra", 900), (1, "menstrual_migraine", 400),
    (2, "menstrual_migraine", 500),
]  # fmt: skip
# (person, concept): 201 in 1 2 3 7; 202 in women; 203 in 9 only; 301 / 302 / 303 / 304 are
# concepts of migraine, migraine_with_aura, sle and nc (excluded from the background)
PHENOME = [(p, 201) for p in (1, 2, 3, 7)] + [(p, 202) for p in range(1, 7)] + [(9, 203)]
PHENOME += [(1, 301), (2, 302), (3, 303), (4, 304), (5, 301), (6, 302)]
RESOLVED = {"migraine": {301}, "migraine_with_aura": {302}, "sle": {303}, "nc": {304}}
RESOLVED["other"] = {201}


@pytest.fixture(scope="module")
def ft() -> FeatureTables:
    n = len(SEX)
    persons = pd.DataFrame(
        {
            "person_id": range(1, n + 1),
            "sex": SEX,
            "age_end": AGE,
            "age_band": [40] * n,
            "util_q": [1] * n,
            "obs_band": [1] * n,
            "obs_start_day": [0] * n,
        }
    )
    cond = pd.DataFrame(CONDITIONS, columns=["person_id", "set_id", "first_day"])
    phenome = pd.DataFrame(PHENOME, columns=["person_id", "concept_id"])
    return FeatureTables(
        persons=ibis.memtable(persons),
        conditions=ibis.memtable(cond),
        index_events=None,
        visits_by_year=None,
        phenome=ibis.memtable(phenome),
        drugs=None,
        measurements=None,
        observations=None,
        util_cutpoints=[],
        resolution={},
        resolved_ids={k: frozenset(v) for k, v in RESOLVED.items()},
        settings=Settings(),
    )


def _cells(df: pd.DataFrame, by: list[str]) -> dict:
    return {
        tuple(r[k] for k in by): (r["a"], r["b"], r["c"], r["d"]) for r in df.to_dict("records")
    }


def _task(design: str, analysis: str, exposure: str, outcome: str, **kw) -> Task:
    return Task(design=design, analysis=analysis, exposure=exposure, outcome=outcome, **kw)


def test_d1_count(ft):
    tasks = [_task("D1", "x", "migraine", o) for o in ("sle", "vte")]
    tables = d1.count(ft, tasks).frame("tables")
    cells = _cells(tables, ["outcome", "sex"])
    assert cells == {
        # women: migraine 1 2 4 (sle: all three) vs 3 5 6 (sle: 5)
        ("sle", "F"): (3, 0, 1, 2),
        # men: migraine 7 (no sle) vs 8-12 (sle: 8); unknown sex: 13 (migraine, no sle)
        ("sle", "M"): (0, 1, 1, 4),
        ("sle", "U"): (0, 1, 0, 0),
        ("vte", "F"): (0, 3, 0, 3),
        ("vte", "M"): (0, 1, 0, 5),
        ("vte", "U"): (0, 1, 0, 0),
    }
    assert set(tables["exposure"]) == {"migraine"}


def test_d3_count(ft):
    study_like = Settings()
    tasks = [
        _task("D3", "fem", "female", "migraine", contrast="female_excess"),
        _task("D3", "sex", "migraine", "sle", options={"groups": d3._groups("sex", study_like)}),
        _task(
            "D3",
            "repro",
            "migraine",
            "sle",
            options={"groups": d3._groups("women_reproductive_age", study_like)},
        ),
        _task("D3", "n", "menstrual_migraine", "menstrual_migraine", contrast="count"),
    ]
    counts = d3.count(ft, tasks)
    cells = _cells(counts.frame("tables"), ["analysis", "group"])
    assert cells == {
        # women (migraine 1 2 4) vs men (migraine 7); person 13 (sex unknown) left out
        ("fem", "all"): (3, 3, 1, 5),
        ("sex", "women"): (3, 0, 1, 2),
        ("sex", "men"): (0, 1, 1, 4),
        # women 15-49: 1 2 (migraine, sle) vs 3; women 50+: 4 (migraine, sle) vs 5 (sle) 6
        ("repro", "women 15-49"): (2, 0, 0, 1),
        ("repro", "women 50+"): (1, 0, 1, 1),
    }
    assert "sex" not in counts.frame("tables").columns
    assert counts.frame("persons").to_dict("records") == [{"analysis": "n", "n": 2, "N": 13}]


def test_d3_count_per_disease_in_one_query(ft):
    """Two diseases with the same exposure and subgroup are counted together (one stratified
    count over both outcomes) and come back under their own analyses, each as if counted alone."""
    groups = {"groups": d3._groups("sex", Settings())}
    both = [
        _task("D3", "sex_sle", "migraine", "sle", options=groups),
        _task("D3", "sex_ra", "migraine", "ra", options=groups),
    ]
    together = d3.count(ft, both).frame("tables")
    alone = d3.count(ft, both[:1]).frame("tables")
    cells = _cells(together, ["analysis", "group"])
    assert cells[("sex_sle", "women")] == (3, 0, 1, 2) and cells[("sex_sle", "men")] == (0, 1, 1, 4)
    # ra in 1 (woman with migraine) and 8 (man without)
    assert cells[("sex_ra", "women")] == (1, 2, 0, 3) and cells[("sex_ra", "men")] == (0, 1, 1, 4)
    sle = together[together["analysis"] == "sex_sle"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sle, alone)


def test_d8_count(ft):
    dose = _task("D8", "dose", "n_autoimmune_0_1_2_3plus", "migraine", contrast="dose_response")
    dose = Task(**{**dose.__dict__, "options": {"autoimmune": ["sle", "ra"]}})
    opts = {"index_set": "migraine", "autoimmune": ["sle", "ra"], "negative_controls": ["nc"]}
    spec = _task(
        "D8",
        "spec",
        "migraine",
        "sle",
        contrast="phenome_percentile",
        options={**opts, "min_persons": 2, "d1_pair": True},
    )
    counts = d8.count(ft, [dose, spec])
    by = counts.frame("dose").groupby("score")[["total", "events"]].sum()
    # score 0: 3 6 7 9-13 (migraine 7 13); 1: 2 4 5 (migraine 2 4); 2: 1 8 (migraine 1)
    assert by.to_dict("index") == {
        0: {"total": 8, "events": 2},
        1: {"total": 3, "events": 2},
        2: {"total": 2, "events": 1},
    }
    assert counts.values["phenome_available"] is True
    # 203 has one person (< 2); 301-304 belong to excluded sets; "other" excludes nothing
    assert sorted(counts.values["background_concepts"]) == [201, 202]
    assert _cells(counts.frame("pairs"), ["outcome", "sex"])[("sle", "F")] == (3, 0, 1, 2)
    bg = d8_phenome.background_ors(counts)
    # 201: women (2, 1, 1, 2), men (1, 0, 0, 5), unknown (0, 1, 0, 0): MH OR =
    # (2*2/6 + 1*5/6) / (1*1/6) = 9; 202 (everyone in the women's stratum) is not estimable
    assert bg["concept_id"].tolist() == [201]
    assert bg["log_or"].iloc[0] == pytest.approx(math.log(9.0), rel=1e-12)


def test_d8_count_without_phenome(ft):
    task = _task(
        "D8", "spec", "migraine", "sle", contrast="phenome_percentile", options={"d1_pair": True}
    )
    counts = d8.count(FeatureTables(**{**ft.__dict__, "phenome": None}), [task])
    assert counts.values == {"phenome_available": False}
    assert set(counts.frames) == {"dose"}


def test_d9_count(ft):
    tasks = [_task("D9", "order", "migraine", "sle"), _task("D9", "none", "migraine", "vte")]
    order = d9.count(ft, tasks).frame("order")
    # both recorded: 1 (migraine 400 < sle 600), 2 (sle on day 100, inside the 365-day washout:
    # left out), 4 (both on day 400: a tie); nobody has vte
    assert order.to_dict("records") == [
        {"analysis": "order", "n": 2, "first_n": 1, "ties": 1},
        {"analysis": "none", "n": 0, "first_n": 0, "ties": 0},
    ]
