"""Confounding by indication in the synthetic generator (issue 16, item 5; synth/indication.py).

The cohorts are analysed here with plain pandas and lifelines on the written CDM tables, not with
miglink's designs: new users of the target or comparator drug (first exposure, >= 365 days of
prior observation, the disease recorded on or before index, no prior outcome), intention to
treat to the end of observation. Seeds fixed before looking: 7003 (null), 7004 (planted).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from miglink.errors import MiglinkError
from miglink.synth import generate, indication, load_scenario

PERSONS, SHARE = 30_000, 0.08
NULL_HR = {"ms_ifn_vs_ga": 1.0, "ra_tnf_vs_mtx": 1.0}
PLANTED_HR = {"ms_ifn_vs_ga": 1.5, "ra_tnf_vs_mtx": 2.0}


def _scenario(hrs: dict[str, float]) -> dict:
    cbi = {k: {"hr": v, "share": SHARE} for k, v in hrs.items()}
    return {"baseline": None, "confounding_by_indication": cbi}


@pytest.fixture(scope="module")
def null_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cbi") / "null"
    generate(PERSONS, 7003, out, scenario=_scenario(NULL_HR))
    return out


@pytest.fixture(scope="module")
def planted_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cbi") / "planted"
    generate(PERSONS, 7004, out, scenario=_scenario(PLANTED_HR))
    return out


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    df = pd.read_parquet(path, columns=columns)
    for c in df.columns:
        if c.endswith("_date"):
            df[c] = pd.to_datetime(df[c])
    return df


def _new_users(d: Path, cmp: dict, outcome_ids: set[int]) -> pd.DataFrame:
    """Person-level new-user cohort: arm, ITT time and event, recorded markers (365 days)."""
    obs = _read(d / "observation_period.parquet")
    drugs = _read(
        d / "drug_exposure.parquet", ["person_id", "drug_concept_id", "drug_exposure_start_date"]
    )
    cond = _read(
        d / "condition_occurrence.parquet",
        ["person_id", "condition_concept_id", "condition_start_date"],
    )
    tid, cid = set(cmp["target"]["concept_ids"]), set(cmp["comparator"]["concept_ids"])
    x = drugs[drugs.drug_concept_id.isin(tid | cid)].sort_values(
        ["person_id", "drug_exposure_start_date"]
    )
    df = x.groupby("person_id").first().reset_index().merge(obs, on="person_id")
    df = df.rename(columns={"drug_exposure_start_date": "index"})
    df["target"] = df.drug_concept_id.isin(tid).astype(int)
    df = df[(df["index"] - df.observation_period_start_date).dt.days >= 365]
    dis = cond[cond.condition_concept_id == cmp["disease_concept_id"]]
    df = df[df.person_id.map(dis.groupby("person_id").condition_start_date.min()) <= df["index"]]
    out = cond[cond.condition_concept_id.isin(outcome_ids)].merge(
        df[["person_id", "index"]], on="person_id"
    )
    df = df[~df.person_id.isin(out.person_id[out.condition_start_date <= out["index"]])].copy()
    first = (
        out[out.condition_start_date > out["index"]].groupby("person_id").condition_start_date.min()
    )
    event = df.person_id.map(first)
    df["E"] = event.notna().astype(int)
    df["T"] = (event.fillna(df.observation_period_end_date) - df["index"]).dt.days.clip(lower=0.5)
    ids = {m["concept_id"]: m["key"] for m in cmp["markers"]}
    m = cond[cond.condition_concept_id.isin(ids)].merge(df[["person_id", "index"]], on="person_id")
    lag = (m["index"] - m.condition_start_date).dt.days
    m = m[(lag >= 1) & (lag <= 365)]
    for concept, key in ids.items():
        df[key] = df.person_id.isin(m.person_id[m.condition_concept_id == concept]).astype(int)
    return df


def _log_hr(df: pd.DataFrame, adjust: list[str]) -> tuple[float, float, float]:
    fit = CoxPHFitter().fit(df[["T", "E", "target", *adjust]], "T", "E")
    b, se = float(fit.params_["target"]), float(fit.standard_errors_["target"])
    return b, b - 1.959964 * se, b + 1.959964 * se


def _analyses(d: Path):
    truth = json.loads((d / "truth.json").read_text())
    anc = pd.read_parquet(d / "concept_ancestor.parquet")
    for cmp in truth["confounding_by_indication"]:
        mig = set(anc.descendant_concept_id[anc.ancestor_concept_id == cmp["outcome_concept_id"]])
        yield cmp, _new_users(d, cmp, mig)


@pytest.mark.parametrize("which", ["null_world", "planted_world"])
def test_markers_confound_and_adjustment_recovers_the_planted_hr(which, request):
    d = request.getfixturevalue(which)
    for cmp, df in _analyses(d):
        keys = [m["key"] for m in cmp["markers"]]
        n_t, n_c = int(df.target.sum()), int((1 - df.target).sum())
        assert min(n_t, n_c) >= 300, (cmp["comparison"], n_t, n_c)
        fit = LogisticRegression().fit(df[keys], df.target)
        auc = roc_auc_score(df.target, fit.predict_proba(df[keys])[:, 1])
        assert auc > 0.65, (cmp["comparison"], auc)  # (a) the markers predict treatment
        true = np.log(cmp["hazard_ratio"])
        crude, _, _ = _log_hr(df, [])
        sign = 1 if cmp["expected_crude_bias"] == "up" else -1
        assert sign * (crude - true) >= 0.25, (cmp["comparison"], crude, true)  # (b)
        _, lo, hi = _log_hr(df, keys)
        assert lo <= true <= hi, (cmp["comparison"], lo, true, hi)  # (c)


def test_truth_declares_the_planted_values(planted_world):
    truth = json.loads((planted_world / "truth.json").read_text())
    got = {c["comparison"]: c for c in truth["confounding_by_indication"]}
    assert {k: v["hazard_ratio"] for k, v in got.items()} == PLANTED_HR
    for key, c in got.items():
        spec = indication.BY_KEY[key]
        assert [m["treatment_log_odds_ratio"] for m in c["markers"]] == list(spec.treatment)
        assert [m["outcome_log_hazard_ratio"] for m in c["markers"]] == list(spec.outcome)
        assert c["expected_equipoise"] >= 0.3
        r = c["realised"]
        assert min(r["stopped_target"], r["switched_comparator"]) > 0
        # stops make on-treatment time shorter than intention-to-treat time
        assert r["person_years_on_treatment_target"] < 0.8 * r["person_years_itt_target"]
    assert got["ms_ifn_vs_ga"]["expected_crude_bias"] == "down"
    assert got["ra_tnf_vs_mtx"]["expected_crude_bias"] == "up"
    concept = pd.read_parquet(planted_world / "concept.parquet")
    ids = [m["concept_id"] for c in got.values() for m in c["markers"] + c["noise_markers"]]
    assert set(ids) <= set(concept.concept_id)
    assert "glatiramer" in set(concept.concept_name)


def test_exposures_follow_a_year_of_observation(planted_world):
    """Every patient of a comparison (its disease recorded, one of its drugs) starts the first
    drug >= 365 days after observation start; base-world users of these drugs keep theirs."""
    truth = json.loads((planted_world / "truth.json").read_text())
    drugs = _read(planted_world / "drug_exposure.parquet")
    cond = _read(planted_world / "condition_occurrence.parquet")
    obs = _read(planted_world / "observation_period.parquet").set_index("person_id")
    for c in truth["confounding_by_indication"]:
        ids = set(c["target"]["concept_ids"]) | set(c["comparator"]["concept_ids"])
        sick = set(cond.person_id[cond.condition_concept_id == c["disease_concept_id"]])
        x = drugs[drugs.drug_concept_id.isin(ids) & drugs.person_id.isin(sick)]
        first = x.groupby("person_id").drug_exposure_start_date.min()
        prior = (first - obs.observation_period_start_date.reindex(first.index)).dt.days
        assert prior.size > 600 and prior.min() >= 365, c["comparison"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_key_changes_nothing_it_does_not_draw(tmp_path):
    """Off: no new concepts, no truth key. On: its draws come last, so the persons, their
    observation periods and observations are the same files as without it."""
    off, on = tmp_path / "off", tmp_path / "on"
    generate(3000, 7005, off, scenario={"baseline": None})
    generate(3000, 7005, on, scenario=_scenario(NULL_HR))
    assert "confounding_by_indication" not in json.loads((off / "truth.json").read_text())
    names = set(pd.read_parquet(off / "concept.parquet").concept_name)
    assert "glatiramer" not in names and "Other fatigue" not in names
    for t in ("person", "observation_period", "observation", "death"):
        assert _digest(off / f"{t}.parquet") == _digest(on / f"{t}.parquet"), t
    assert _digest(off / "concept.parquet") != _digest(on / "concept.parquet")


@pytest.mark.parametrize(
    ("cbi", "field"),
    [({"ms_ifn_vs_gaa": {"hr": 1.0}}, "ms_ifn_vs_gaa"), ({"ra_tnf_vs_mtx": {"hr": 0}}, "hr")],
)
def test_a_bad_key_is_named(cbi, field):
    with pytest.raises(MiglinkError, match=f"confounding_by_indication, field '.*{field}"):
        load_scenario({"baseline": None, "confounding_by_indication": cbi})
