"""D10 study population: CohortMethod's published Eunomia numbers, and hand counts on tiny CDMs.

Reference values are in tests/reference/cohortmethod_eunomia.csv, each with its source (The
Book of OHDSI, SuggestedAnswers.Rmd, section "Population-Level Estimation"). The tiny CDMs below
are literal rows, and their expected counts were worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.duration.hazard_regression import PHReg

from miglink.designs.d10_cohorts import build_study_population, exposure_eras
from miglink.designs.d10_settings import Comparison, PopulationSettings, load_comparisons
from miglink.errors import MiglinkError
from miglink.sources import open_cdm

REPO = Path(__file__).resolve().parents[2]
GIBLEED = REPO.parent / "shared" / "data" / "eunomia-gibleed"
EXAMPLE = REPO / "examples" / "eunomia-gibleed" / "study.yaml"
REFERENCE = REPO / "tests" / "reference" / "cohortmethod_eunomia.csv"


def ref(quantity: str) -> float:
    """A published CohortMethod number (its source is beside it in the CSV)."""
    table = pd.read_csv(REFERENCE).set_index("quantity")
    return float(table.loc[quantity, "value"])


# -- Eunomia GiBleed: the Book of OHDSI's exercise --------------------------------------------


@pytest.fixture(scope="module")
def eunomia():
    if not GIBLEED.exists():
        pytest.skip(f"shared dataset not found at {GIBLEED}")
    cdm = open_cdm(GIBLEED)
    comparison = load_comparisons(EXAMPLE)[0]
    return cdm, comparison, build_study_population(cdm, comparison)


def test_eunomia_attrition_equals_cohortmethod(eunomia):
    _cdm, _c, sp = eunomia
    att = sp.attrition.set_index("description")
    # attrition.png (SuggestedAnswers.Rmd line 597): the steps in CohortMethod's order
    assert list(att.index) == [
        "Original cohorts",
        "Removed subjects in both cohorts",
        "At least 180 days of observation prior",
        "No prior outcome",
        "Have at least 1 days at risk",
    ]
    steps = {
        "Original cohorts": "original",
        "Removed subjects in both cohorts": "both_cohorts",
        "At least 180 days of observation prior": "washout_180",
        "No prior outcome": "no_prior_outcome",
        "Have at least 1 days at risk": "min_1_day_at_risk",
    }
    for step, key in steps.items():
        assert att.loc[step, "target_persons"] == ref(f"attrition_{key}_target"), step
        assert att.loc[step, "comparator_persons"] == ref(f"attrition_{key}_comparator"), step
    # summary(cmData), lines 566-567: 1800 treated, 830 comparator persons
    assert att.loc["Original cohorts", "target_persons"] == ref("cmdata_target_persons")
    assert att.loc["Original cohorts", "comparator_persons"] == ref("cmdata_comparator_persons")
    # one entry per person (every Eunomia person has one era of each drug)
    assert (att.target_persons == att.target_exposures).all()


def test_eunomia_population_and_outcomes_equal_cohortmethod(eunomia):
    _cdm, _c, sp = eunomia
    pop = sp.persons
    # attrition.png "Study population": Target n = 1800, Comparator n = 830
    assert (pop.treatment == 1).sum() == ref("study_population_target")
    assert (pop.treatment == 0).sum() == ref("study_population_comparator")
    assert list(pop.row_id) == list(range(len(pop)))
    # summary(cmData) line 571: 479 events in 479 persons; under intention to treat with no
    # prior outcome, every one of them falls in a risk window
    assert pop.outcome_count.sum() == ref("cmdata_outcome_events")
    assert pop.outcome.sum() == ref("cmdata_outcome_persons")
    assert (pop.survival_time >= 1).all() and (pop.survival_time <= pop.time_at_risk).all()


def test_eunomia_unadjusted_hr_equals_cohortmethod(eunomia):
    """SuggestedAnswers.Rmd line 620: HR 1.34612, logRr 0.29723, seLogRr 0.1044 (Cyclops)."""
    _cdm, _c, sp = eunomia
    pop = sp.persons
    cph = CoxPHFitter().fit(
        pop[["survival_time", "outcome", "treatment"]], "survival_time", "outcome"
    )
    efron = float(np.exp(cph.params_["treatment"]))
    assert abs(efron / ref("unadjusted_hr") - 1) < 0.01  # the bar (lifelines: Efron)
    # Cyclops uses Breslow ties; with Breslow the estimate agrees to the printed digits
    fit = PHReg(
        pop.survival_time.to_numpy(float),
        pop[["treatment"]].to_numpy(float),
        status=pop.outcome.to_numpy(),
        ties="breslow",
    ).fit()
    assert fit.params[0] == pytest.approx(ref("unadjusted_log_hr"), abs=5e-6)
    assert fit.bse[0] == pytest.approx(ref("unadjusted_se_log_hr"), abs=5e-4)
    assert abs(efron / ref("unadjusted_hr") - 1) > abs(np.exp(fit.params[0]) / 1.34612 - 1)


def test_eunomia_eras_equal_drug_era_table(eunomia):
    """Eras built from DRUG_EXPOSURE (30-day gap) are Eunomia's DRUG_ERA rows of each drug."""
    cdm, comparison, _sp = eunomia
    era = cdm.table("drug_era").to_pandas()
    for spec in (comparison.target, comparison.comparator):
        ours = exposure_eras(cdm, spec).to_pandas()
        theirs = era[era.drug_concept_id.astype("int64") == spec.concept_ids[0]]
        start = pd.to_datetime(theirs.drug_era_start_date)
        end = pd.to_datetime(theirs.drug_era_end_date)
        epoch = pd.Timestamp("1970-01-01")
        theirs = pd.DataFrame(
            {
                "person_id": theirs.person_id.astype("int64"),
                "start_day": (start - epoch).dt.days.astype("int64"),
                "end_day": (end - epoch).dt.days.astype("int64"),
            }
        )
        cols = ["person_id", "start_day", "end_day"]
        a = ours[cols].sort_values(cols, ignore_index=True).astype("int64")
        b = theirs[cols].sort_values(cols, ignore_index=True)
        pd.testing.assert_frame_equal(a, b)


# -- settings ---------------------------------------------------------------------------------


def test_settings_defaults_are_cohortmethods():
    """createStudyPopulation defaults, CohortMethod v3.1.0 R/StudyPopulation.R lines 84-100."""
    st = PopulationSettings()
    assert (st.first_exposure_only, st.restrict_to_common_period, st.washout_days) == (
        False,
        False,
        0,
    )
    assert st.remove_duplicate_subjects == "keep all"
    assert st.remove_subjects_with_prior_outcome and st.prior_outcome_lookback == 99999
    assert (st.min_days_at_risk, st.risk_window_start, st.risk_window_end) == (1, 0, 0)
    assert (st.start_anchor, st.end_anchor) == ("cohort start", "cohort end")
    adj = _comparison().adjustment
    # matchOnPs: maxRatio 1, caliper 0.2 standardized logit; stratifyByPs: 5 strata, base 'all'
    assert (adj.max_ratio, adj.caliper, adj.caliper_scale) == (1, 0.2, "standardized logit")
    assert (adj.n_strata, adj.stratification_base) == (5, "all")
    assert adj.max_persons_per_arm_in_fit == 250_000  # createPs maxCohortSizeForFitting


def test_settings_refuse_misspelt_and_wrong_values(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "comparisons:\n"
        "  - id: x\n"
        "    target: {id: t, concept_ids: [1], washout: 3}\n"
        "    comparator: {id: c}\n"
        "    outcomes: [{id: o, concept_ids: [3]}]\n"
        "    population: {remove_duplicate_subjects: remove some}\n"
    )
    with pytest.raises(MiglinkError) as e:
        load_comparisons(bad)
    msg = str(e.value)
    assert "3 problem(s)" in msg and "washout: unknown key" in msg
    assert "concept_set" in msg and "remove_duplicate_subjects" in msg


# -- tiny literal CDMs ------------------------------------------------------------------------

T, T_PRODUCT, C, BLEED, BLEED_CHILD = 1, 11, 2, 3, 31  # ingredients, a product and outcome concepts
OBS = ("2000-01-01", "2010-12-31")


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def tiny_cdm(drugs=(), conditions=(), obs: dict | None = None, persons=(1, 2, 3, 4, 5)):
    """A DuckDB CDM: drugs (person, concept, start, end), conditions (person, concept, day)."""
    con = ibis.duckdb.connect()
    obs = obs or {}
    periods = [(p, *obs.get(p, OBS)) for p in persons]
    tables = {
        "person": pd.DataFrame(
            {"person_id": list(persons), "gender_concept_id": 8532, "year_of_birth": 1960}
        ),
        "observation_period": pd.DataFrame(
            {
                "observation_period_id": range(1, len(periods) + 1),
                "person_id": [p for p, _s, _e in periods],
                "observation_period_start_date": [_d(s) for _p, s, _e in periods],
                "observation_period_end_date": [_d(e) for _p, _s, e in periods],
            }
        ),
        "drug_exposure": pd.DataFrame(
            {
                "drug_exposure_id": range(1, len(drugs) + 1),
                "person_id": pd.Series([r[0] for r in drugs], dtype="int64"),
                "drug_concept_id": pd.Series([r[1] for r in drugs], dtype="int64"),
                "drug_exposure_start_date": pd.Series([_d(r[2]) for r in drugs], dtype=object),
                "drug_exposure_end_date": pd.Series([_d(r[3]) for r in drugs], dtype=object),
                "days_supply": pd.Series([None] * len(drugs), dtype="Int64"),
            }
        ),
        "condition_occurrence": pd.DataFrame(
            {
                "condition_occurrence_id": range(1, len(conditions) + 1),
                "person_id": pd.Series([r[0] for r in conditions], dtype="int64"),
                "condition_concept_id": pd.Series([r[1] for r in conditions], dtype="int64"),
                "condition_start_date": pd.Series([_d(r[2]) for r in conditions], dtype=object),
            }
        ),
        "concept_ancestor": pd.DataFrame(
            {
                "ancestor_concept_id": [T, T, C, BLEED, BLEED],
                "descendant_concept_id": [T, T_PRODUCT, C, BLEED, BLEED_CHILD],
            }
        ),
    }
    for name, df in tables.items():
        schema = {c: "date" if c.endswith("_date") else "int64" for c in df.columns}
        con.create_table(name, ibis.memtable(df, schema=schema))
    return open_cdm(con)


def _comparison(**population) -> Comparison:
    return Comparison(
        id="t_vs_c",
        target={"id": "t", "concept_ids": [T]},
        comparator={"id": "c", "concept_ids": [C]},
        outcomes=[{"id": "o", "concept_ids": [BLEED]}],
        population=population,
    )


def _steps(sp) -> list[tuple[str, int, int]]:
    a = sp.attrition
    return list(zip(a.description, a.target_persons, a.comparator_persons, strict=True))


def test_tiny_washout_and_observation_period():
    # p1 T 2005 (5 years observed) in; p2 T 59 days after its observation start: out by the
    # 180-day washout; p3 C after its observation ended: never an entry; p4 C 2003 in
    cdm = tiny_cdm(
        drugs=[
            (1, T_PRODUCT, "2005-01-01", "2005-01-10"),  # a descendant of ingredient T
            (2, T, "2005-03-01", "2005-03-01"),
            (3, C, "2006-01-01", "2006-01-01"),
            (4, C, "2003-01-01", "2003-01-01"),
        ],
        obs={2: ("2005-01-01", "2010-12-31"), 3: ("2000-01-01", "2004-12-31")},
    )
    sp = build_study_population(cdm, _comparison(washout_days=180))
    assert _steps(sp) == [
        ("Original cohorts", 2, 1),
        ("At least 180 days of observation prior", 1, 1),
        ("No prior outcome", 1, 1),
        # on treatment (the default window), p4's one-day era gives risk days 0..0, and
        # CohortMethod needs risk_end - risk_start >= 1
        ("Have at least 1 days at risk", 1, 0),
    ]
    # on treatment by default: risk ends at the era end (10-day era: days 0..9, 10 days)
    p1 = sp.persons[sp.persons.treatment == 1].iloc[0]
    assert (p1.risk_start, p1.risk_end, p1.time_at_risk) == (0, 9, 10)


def test_tiny_eras_and_first_exposure():
    # p1: exposures 26 days apart merge (gap 30) into one era; one 111 days later is a second
    # era; so 2 entries, 1 after first exposure only. p2: C, a single era.
    cdm = tiny_cdm(
        drugs=[
            (1, T, "2005-01-01", "2005-01-10"),
            (1, T, "2005-02-05", "2005-02-10"),
            (1, T, "2005-06-01", "2005-06-05"),
            (2, C, "2005-01-01", "2005-01-01"),
        ]
    )
    eras = exposure_eras(cdm, _comparison().target).to_pandas().sort_values("start_day")
    epoch = dt.date(1970, 1, 1)
    assert [(r.start_day, r.end_day) for r in eras.itertuples()] == [
        ((_d("2005-01-01") - epoch).days, (_d("2005-02-10") - epoch).days),
        ((_d("2005-06-01") - epoch).days, (_d("2005-06-05") - epoch).days),
    ]
    sp = build_study_population(cdm, _comparison(first_exposure_only=True))
    a = sp.attrition.set_index("description")
    assert a.loc["Original cohorts"].tolist() == [1, 1, 2, 1]
    assert a.loc["First exposure only"].tolist() == [1, 1, 1, 1]
    # a 35-day gap to the second exposure splits the first era with a 30-day gap
    cdm = tiny_cdm(drugs=[(1, T, "2005-01-01", "2005-01-10"), (1, T, "2005-02-14", "2005-02-20")])
    assert exposure_eras(cdm, _comparison().target).count().to_pyarrow().as_py() == 2


DUPLICATES = [
    (1, T, "2005-01-01", "2005-01-01"),  # p1 in both arms, T first
    (1, C, "2006-01-01", "2006-01-01"),
    (2, T, "2005-01-01", "2005-01-01"),  # p2 target only
    (3, C, "2005-05-05", "2005-05-05"),  # p3 in both arms on the same day
    (3, T, "2005-05-05", "2005-05-05"),
]


@pytest.mark.parametrize(
    "rule, step, expected",
    [
        ("keep all", None, (3, 2)),
        ("remove all", "Removed subjects in both cohorts", (1, 0)),  # p1 and p3 leave
        ("keep first", "Restricting duplicate subjects to first cohort", (2, 0)),  # p3's tie goes
    ],
)
def test_tiny_duplicate_subjects(rule, step, expected):
    cdm = tiny_cdm(drugs=DUPLICATES)
    sp = build_study_population(
        cdm, _comparison(remove_duplicate_subjects=rule, risk_window_end=99999)
    )
    assert _steps(sp)[0] == ("Original cohorts", 3, 2)
    if step is not None:
        assert _steps(sp)[1] == (step, *expected)
    pop = sp.persons
    assert ((pop.treatment == 1).sum(), (pop.treatment == 0).sum()) == expected


PRIOR = dict(
    drugs=[
        (1, T, "2005-01-01", "2005-01-01"),
        (2, T, "2005-01-01", "2005-01-01"),
        (3, C, "2005-01-01", "2005-01-01"),
        (4, C, "2005-01-01", "2005-01-01"),
        (5, T, "2005-01-01", "2005-01-01"),
    ],
    conditions=[
        (1, BLEED, "2004-06-01"),  # before index: prior
        (2, BLEED_CHILD, "2005-01-01"),  # on the index day (a descendant): not prior, an event
        (3, BLEED, "1998-01-01"),  # before observation starts: ignored
        (4, BLEED, "2001-01-01"),  # 1461 days before index: prior unless the lookback is shorter
        (5, BLEED, "2006-01-01"),  # 365 days after index: an event
    ],
)


def test_tiny_prior_outcome_and_events():
    cdm = tiny_cdm(**PRIOR)
    itt = dict(risk_window_end=99999)
    sp = build_study_population(cdm, _comparison(**itt))
    assert _steps(sp)[1] == ("No prior outcome", 2, 1)  # p1 and p4 removed
    pop = sp.persons.set_index("person_id")
    assert pop.loc[2, "outcome"] == 1 and pop.loc[2, "survival_time"] == 1
    assert pop.loc[5, "days_to_event"] == 365 and pop.loc[5, "survival_time"] == 366
    assert pop.loc[3, "outcome"] == 0
    assert pop.loc[3, "time_at_risk"] == (_d("2010-12-31") - _d("2005-01-01")).days + 1
    sp = build_study_population(cdm, _comparison(prior_outcome_lookback=365, **itt))
    assert _steps(sp)[1] == ("No prior outcome", 2, 2)  # p4's outcome is outside the lookback
    sp = build_study_population(cdm, _comparison(risk_window_start=1, **itt))
    assert _steps(sp)[1] == ("No prior outcome", 1, 1)  # now p2's index-day outcome is prior
    sp = build_study_population(cdm, _comparison(remove_subjects_with_prior_outcome=False, **itt))
    assert [s[0] for s in _steps(sp)] == ["Original cohorts", "Have at least 1 days at risk"]
    assert sp.persons.outcome.sum() == 2  # p2 and p5; earlier outcomes are not in the window


def test_tiny_common_period_and_days_at_risk():
    # T entries 2001 and 2005, C entries 2003 and 2008: the common period is 2003..2005.
    # p5's C entry starts on its last observed day: 0 days at risk.
    cdm = tiny_cdm(
        drugs=[
            (1, T, "2001-01-01", "2001-01-01"),
            (2, T, "2005-01-01", "2005-01-01"),
            (3, C, "2003-01-01", "2003-01-01"),
            (4, C, "2008-01-01", "2008-01-01"),
            (5, C, "2004-06-30", "2004-06-30"),
        ],
        obs={5: ("2000-01-01", "2004-06-30")},
    )
    sp = build_study_population(
        cdm, _comparison(restrict_to_common_period=True, risk_window_end=99999)
    )
    assert _steps(sp) == [
        ("Original cohorts", 2, 3),
        ("Restrict to common period", 1, 2),
        ("No prior outcome", 1, 2),
        ("Have at least 1 days at risk", 1, 1),
    ]
    assert sorted(sp.persons.person_id) == [2, 3]
