"""The covariate builder (features/covariates.py) on a tiny literal CDM with its own vocabulary,
and on the shipped real layouts (Eunomia GiBleed, the MIMIC-IV OMOP demo) and a synthetic CDM.

Every expected value below is counted by hand from the literal rows of the test that uses it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.features.covariate_settings import CovariateSettings
from miglink.features.covariates import build_covariates, covariate_records
from miglink.sources import open_cdm

INDEX = dt.date(2020, 7, 1)
EPOCH = dt.date(1970, 1, 1)

# the literal vocabulary: two SNOMED conditions under a group, an ingredient under an ATC class
GROUP, ASTHMA, RHINITIS, ORGANISING = 5000, 5001, 5002, 5003
ATC, IBU, IBU_TAB, NAPRO, ATC5 = 6000, 6001, 6002, 6100, 6003
OUTPATIENT, PROC, LAB, OBS = 9202, 7001, 7101, 7201
MI, MALIGNANCY, LUNG_CANCER, METASTASIS = 4329847, 443392, 8001, 432851
CONCEPTS = [
    (GROUP, "Respiratory disorder", "Condition", "SNOMED", "Clinical Finding"),
    (ORGANISING, "Disorder of body system", "Condition", "SNOMED", "Clinical Finding"),
    (ASTHMA, "Asthma", "Condition", "SNOMED", "Clinical Finding"),
    (RHINITIS, "Rhinitis", "Condition", "SNOMED", "Clinical Finding"),
    (ATC, "Anti-inflammatory products", "Drug", "ATC", "ATC 3rd"),
    (IBU, "ibuprofen", "Drug", "RxNorm", "Ingredient"),
    (ATC5, "ibuprofen; systemic", "Drug", "ATC", "ATC 5th"),
    (IBU_TAB, "ibuprofen 200 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug"),
    (NAPRO, "naproxen", "Drug", "RxNorm", "Ingredient"),
    (OUTPATIENT, "Outpatient Visit", "Visit", "Visit", "Visit"),
    (PROC, "Spirometry", "Procedure", "SNOMED", "Procedure"),
    (LAB, "C reactive protein", "Measurement", "LOINC", "Lab Test"),
    (OBS, "Tobacco smoking", "Observation", "SNOMED", "Observable Entity"),
    (MI, "Myocardial infarction", "Condition", "SNOMED", "Clinical Finding"),
    (MALIGNANCY, "Malignant neoplastic disease", "Condition", "SNOMED", "Clinical Finding"),
    (LUNG_CANCER, "Malignant tumor of lung", "Condition", "SNOMED", "Clinical Finding"),
    (
        METASTASIS,
        "Secondary malignant neoplastic disease",
        "Condition",
        "SNOMED",
        "Clinical Finding",
    ),
    (8507, "MALE", "Gender", "Gender", "Gender"),
    (8532, "FEMALE", "Gender", "Gender", "Gender"),
]
ANCESTORS = [  # (ancestor, descendant), self rows included as Athena ships them
    *[(c[0], c[0]) for c in CONCEPTS],
    (GROUP, ASTHMA),
    (GROUP, RHINITIS),
    (ORGANISING, ASTHMA),
    (ATC, IBU),
    (ATC, IBU_TAB),
    (IBU, IBU_TAB),
    (ATC, NAPRO),
    (ATC5, IBU),
    (ATC5, IBU_TAB),
    (MALIGNANCY, LUNG_CANCER),
    (MALIGNANCY, METASTASIS),
]


def _d(offset: int) -> str:
    return (INDEX + dt.timedelta(days=offset)).isoformat()


def _write(folder, tables: dict[str, list[dict]], extra_concepts=()) -> str:
    folder.mkdir(parents=True)
    cols = {
        "condition_occurrence": ["person_id", "condition_concept_id", "condition_start_date"],
        "drug_exposure": ["person_id", "drug_concept_id", "drug_exposure_start_date"],
        "procedure_occurrence": ["person_id", "procedure_concept_id", "procedure_date"],
        "measurement": ["person_id", "measurement_concept_id", "measurement_date"],
        "observation": ["person_id", "observation_concept_id", "observation_date"],
        "visit_occurrence": ["person_id", "visit_concept_id", "visit_start_date"],
    }
    for name, cs in cols.items():
        df = pd.DataFrame(tables.get(name, []), columns=cs)
        df.insert(0, f"{name}_id", np.arange(1, len(df) + 1))
        df.to_csv(folder / f"{name}.csv", index=False)
    pd.DataFrame(
        tables["person"], columns=["person_id", "gender_concept_id", "year_of_birth"]
    ).to_csv(folder / "person.csv", index=False)
    op = pd.DataFrame({"person_id": [p["person_id"] for p in tables["person"]]})
    op["observation_period_id"] = np.arange(1, len(op) + 1)
    op["observation_period_start_date"] = "2000-01-01"
    op["observation_period_end_date"] = "2022-12-31"
    op.to_csv(folder / "observation_period.csv", index=False)
    c = pd.DataFrame(
        [*CONCEPTS, *extra_concepts],
        columns=["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id"],
    )
    c["standard_concept"] = "S"
    c["concept_code"] = c["concept_id"].astype(str)
    c.loc[c.concept_id == ATC5, "concept_code"] = "M01AE01"  # ATC 5th level: 7 characters
    c.to_csv(folder / "concept.csv", index=False)
    pd.DataFrame(ANCESTORS, columns=["ancestor_concept_id", "descendant_concept_id"]).to_csv(
        folder / "concept_ancestor.csv", index=False
    )
    return str(folder)


def _cond(pid: int, concept: int, offset: int) -> dict:
    return {"person_id": pid, "condition_concept_id": concept, "condition_start_date": _d(offset)}


def _cohort(pids, index: dt.date = INDEX) -> pd.DataFrame:
    return pd.DataFrame(
        {"row_id": np.arange(len(pids)), "person_id": pids, "index_day": (index - EPOCH).days}
    )


def _build(tmp_path, tables, pids, extra_concepts=(), **settings):
    cdm = open_cdm(_write(tmp_path / "cdm", tables, extra_concepts))
    st = CovariateSettings(min_fraction=0.0, **settings)
    return build_covariates(covariate_records(cdm), _cohort(pids), cdm, st)


def _row(cov, row_id: int = 0) -> dict[int, float]:
    t = cov.triples[cov.triples.row_id == row_id]
    return dict(zip(t.covariate_id, t.value, strict=True))


PERSON_1 = [{"person_id": 1, "gender_concept_id": 8532, "year_of_birth": 1980}]


def test_window_boundaries(tmp_path):
    # one concept per offset: its covariates say which windows it fell in
    offsets = {-1: 101, -30: 102, -31: 103, -180: 104, -181: 105, -365: 106, -366: 107, 0: 108}
    concepts = [
        (cid, f"c{o}", "Condition", "ICD10CM", "Clinical Finding") for o, cid in offsets.items()
    ]
    rows = [_cond(1, cid, o) for o, cid in offsets.items()]
    cov = _build(tmp_path, {"person": PERSON_1, "condition_occurrence": rows}, [1], concepts)
    got = {cid: set() for cid in offsets.values()}
    for k in _row(cov):
        if 101 <= k // 1000 <= 108 and k % 1000 in (101, 102, 103, 104):
            got[k // 1000].add(k % 1000)
    # 101 any time prior, 102 365 days, 103 180 days, 104 30 days; the index day is not baseline
    assert got == {
        101: {101, 102, 103, 104},
        102: {101, 102, 103, 104},
        103: {101, 102, 103},
        104: {101, 102, 103},
        105: {101, 102},
        106: {101, 102},
        107: {101},
        108: set(),
    }
    names = cov.ref.set_index("covariate_id")["covariate_name"]
    assert names[103 * 1000 + 103] == "condition (180 days prior): c-31"


def test_index_day_included_when_end_day_is_zero(tmp_path):
    rows = [_cond(1, ASTHMA, 0)]
    cov = _build(tmp_path, {"person": PERSON_1, "condition_occurrence": rows}, [1], end_day=0)
    assert {ASTHMA * 1000 + a for a in (101, 102, 103, 104)} <= set(_row(cov))


def test_groups_ingredients_and_exclusion_of_descendants(tmp_path):
    tables = {
        "person": PERSON_1,
        "condition_occurrence": [_cond(1, ASTHMA, -10)],
        "drug_exposure": [
            {"person_id": 1, "drug_concept_id": IBU_TAB, "drug_exposure_start_date": _d(-5)},
            {"person_id": 1, "drug_concept_id": NAPRO, "drug_exposure_start_date": _d(-200)},
        ],
    }
    cov = _build(tmp_path, tables, [1])
    got = set(_row(cov))
    assert IBU * 1000 + 404 in got  # the tablet counts as its ingredient (30 days)
    assert IBU_TAB * 1000 + 401 not in got
    assert NAPRO * 1000 + 402 in got and NAPRO * 1000 + 403 not in got  # 200 days: not 180
    assert ATC * 1000 + 413 in got  # drug class, 30 days (from ibuprofen)
    assert not any(k // 1000 == ATC5 for k in got)  # ATC 5th level: the ingredient again
    assert GROUP * 1000 + 213 in got  # condition group, 30 days
    assert not any(k // 1000 == ORGANISING for k in got)  # an organising concept: not a group
    # excluding the ingredient drops the tablet (its descendant) but not naproxen or the class
    cov = _build(tmp_path / "x", tables, [1], exclude_concepts={IBU})
    got = set(_row(cov))
    assert not any(k // 1000 in (IBU, IBU_TAB) for k in got)
    assert NAPRO * 1000 + 401 in got
    assert ATC * 1000 + 410 in got and ATC * 1000 + 413 not in got  # only naproxen, 200 d
    # excluding the group concept drops its descendant condition and the group itself
    cov = _build(tmp_path / "y", tables, [1], exclude_concepts={GROUP})
    assert not any(k // 1000 in (GROUP, ASTHMA) for k in _row(cov))


def test_charlson_on_a_literal_example(tmp_path):
    # MI (weight 1); lung cancer and a second malignancy record (one category, weight 2);
    # metastasis (weight 6) also descends from malignancy here (still counted once there)
    rows = [
        _cond(1, MI, -400),
        _cond(1, LUNG_CANCER, -20),
        _cond(1, LUNG_CANCER, -10),
        _cond(1, METASTASIS, -3),
        _cond(2, MI, 1),  # after index: not baseline
        _cond(3, LUNG_CANCER, -1),
    ]
    persons = PERSON_1 + [
        {"person_id": 2, "gender_concept_id": 8507, "year_of_birth": 1950},
        {"person_id": 3, "gender_concept_id": 8507, "year_of_birth": 1950},
    ]
    cov = _build(tmp_path, {"person": persons, "condition_occurrence": rows}, [1, 2, 3])
    assert _row(cov, 0)[1901] == 1 + 2 + 6
    assert 1901 not in _row(cov, 1)  # no Charlson condition before index: zero, absent
    assert _row(cov, 2)[1901] == 2
    ref = cov.ref.set_index("covariate_id")
    assert not ref.loc[1901, "is_binary"]


def test_demographics_and_visit_counts(tmp_path):
    visits = [
        {"person_id": 1, "visit_concept_id": OUTPATIENT, "visit_start_date": _d(o)}
        for o in (-1, -1, -100, -365, -366, 0)
    ]
    cov = _build(tmp_path, {"person": PERSON_1, "visit_occurrence": visits}, [1])
    r = _row(cov)
    assert r[8532 * 1000 + 1] == 1  # female
    assert r[1002] == 40  # 2020 - 1980 (index year minus year of birth)
    assert r[8 * 1000 + 3] == 1  # age group 40-44
    assert r[2020 * 1000 + 6] == 1 and r[7 * 1000 + 7] == 1  # index year, month
    assert r[OUTPATIENT * 1000 + 923] == 3  # distinct days -1, -100, -365; not -366 or index
    names = cov.ref.set_index("covariate_id")["covariate_name"]
    assert names[8 * 1000 + 3] == "age group: 40-44"
    assert names[8532 * 1000 + 1] == "sex: female"
    assert names[OUTPATIENT * 1000 + 923] == "visit days (365 days prior): Outpatient Visit"


def test_other_domains_and_no_duplicates(tmp_path):
    tables = {
        "person": PERSON_1,
        "condition_occurrence": [_cond(1, ASTHMA, -10), _cond(1, ASTHMA, -10)],
        "procedure_occurrence": [
            {"person_id": 1, "procedure_concept_id": PROC, "procedure_date": _d(-2)}
        ],
        "measurement": [
            {"person_id": 1, "measurement_concept_id": LAB, "measurement_date": _d(-2)}
        ],
        "observation": [
            {"person_id": 1, "observation_concept_id": OBS, "observation_date": _d(-90)}
        ],
    }
    cov = _build(tmp_path, tables, [1, 1])  # the same person twice (two index events)
    r = _row(cov, 1)
    assert PROC * 1000 + 504 in r and LAB * 1000 + 704 in r
    assert OBS * 1000 + 803 in r and OBS * 1000 + 804 not in r
    assert not cov.triples.duplicated(["row_id", "covariate_id"]).any()
    assert list(cov.triples.dtypes.astype(str)) == ["int64", "int64", "float32"]
    x = cov.to_csr()
    assert x.shape == (2, len(cov.ref)) and x.nnz == len(cov.triples)
    j = list(cov.ref.covariate_id).index(ASTHMA * 1000 + 101)
    assert x[0, j] == 1 and x[1, j] == 1


def test_covariate_below_the_threshold_is_dropped(tmp_path):
    # 20 rows; asthma in 2 of them, rhinitis in 1; at 10% a covariate needs 2 rows
    persons = [
        {"person_id": p, "gender_concept_id": 8507, "year_of_birth": 1970} for p in range(20)
    ]
    rows = [_cond(0, ASTHMA, -5), _cond(1, ASTHMA, -5), _cond(2, RHINITIS, -5)]
    cdm = open_cdm(_write(tmp_path / "cdm", {"person": persons, "condition_occurrence": rows}))
    st = CovariateSettings(min_fraction=0.1)
    cov = build_covariates(covariate_records(cdm), _cohort(list(range(20))), cdm, st)
    ids = set(cov.ref.covariate_id)
    assert ASTHMA * 1000 + 101 in ids and RHINITIS * 1000 + 101 not in ids
    assert set(cov.triples.covariate_id) == ids


def test_records_are_built_once_and_cohort_may_be_an_ibis_table(tmp_path):
    import ibis

    cdm = open_cdm(_write(tmp_path / "cdm", {"person": PERSON_1}))
    assert covariate_records(cdm) is covariate_records(cdm)
    cohort = ibis.memtable(_cohort([1]))
    cov = build_covariates(covariate_records(cdm), cohort, cdm)
    assert cov.n_rows == 1 and 1002 in set(cov.triples.covariate_id)


def test_invalid_settings_and_row_ids():
    with pytest.raises(MiglinkError, match="window 90"):
        CovariateSettings(windows=(None, 90))
    with pytest.raises(MiglinkError, match="domain 'device'"):
        CovariateSettings(domains=("device",))
    with pytest.raises(MiglinkError, match="row_id"):
        build_covariates(None, _cohort([1, 2]).assign(row_id=[0, 2]), None)


@pytest.mark.parametrize("name", ["eunomia-gibleed", "mimic-iv-demo-omop"])
def test_real_layouts(shared_data, tmp_path, name):
    cdm = open_cdm(shared_data / name, cache_dir=tmp_path)
    rec = covariate_records(cdm)
    r = rec.filter(rec.domain == "condition")
    first = r.group_by("person_id").aggregate(index_day=r.day.max()).execute()
    first = first.sort_values("person_id").reset_index(drop=True)
    first["row_id"] = np.arange(len(first))
    cov = build_covariates(rec, first, cdm)
    assert cov.n_rows == len(first) > 0
    assert not cov.triples.duplicated(["row_id", "covariate_id"]).any()
    assert cov.ref.covariate_id.is_unique
    assert cov.to_csr().shape == (len(first), len(cov.ref))
    kinds = set(cov.ref.analysis_name.str.split(" ").str[0])
    assert {"condition", "sex", "age"} <= kinds
    if name == "eunomia-gibleed":  # full vocabulary tables: names and condition groups
        assert {"measurement", "observation", "procedure"} <= kinds
        assert cov.ref.analysis_name.str.startswith("condition group").any()
        assert not cov.ref.covariate_name.str.contains(": concept ").any()


def test_synthetic_cdm(tmp_path):
    from miglink.synth import generate

    out = tmp_path / "synth"
    generate(persons=300, seed=3, out=out)
    cdm = open_cdm(out)
    rec = covariate_records(cdm)
    r = rec.filter(rec.domain == "drug")
    first = r.group_by("person_id").aggregate(index_day=r.day.min()).execute()
    first["row_id"] = np.arange(len(first))
    cov = build_covariates(rec, first, cdm)
    assert cov.n_rows == len(first) > 0
    assert cov.ref.analysis_name.str.startswith("condition (").any()
    assert not cov.triples.duplicated(["row_id", "covariate_id"]).any()


def test_every_fact_table_the_covariates_read_reaches_spark():
    """The Spark copy of a file CDM holds cdm_schema.csv's tables and SCHEMALESS_TABLES: a table
    the covariates read outside both was missing on Spark (procedures: Eunomia GiBleed's D2-PS
    had 259 covariates on Spark, 290 on DuckDB; benchmarks/spark_parity.py)."""
    from miglink.features.covariate_records import FACT_COLUMNS
    from miglink.sources.cdm import SCHEMALESS_TABLES
    from miglink.sources.schema import cdm_schema

    copied = set(cdm_schema()) | set(SCHEMALESS_TABLES)
    assert {table for table, _, _ in FACT_COLUMNS.values()} <= copied
