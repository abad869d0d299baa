"""D5 SCCS: intervals built by designs/d5_sccs.py, fitted by stats.sccs, checked two ways.

1. A hand-computable example: without age adjustment and with one exposed window, the conditional
   Poisson MLE of the IRR has a closed form when every case has the same risk share of time:
   IRR = (events in risk / risk time) / (events in baseline / baseline time) (Farrington 1995,
   Stat Med 14:2363; the SCCS likelihood reduces to a binomial on the pooled split).
2. statsmodels' ConditionalPoisson on the same person-level intervals (persons whose counts vary
   across intervals; statsmodels 0.15 drops the others, so the example gives every case a varying
   count) gives the same IRR and SE.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.conditional_models import ConditionalPoisson

from miglink.designs.d5_sccs import drug_eras, sccs_intervals
from miglink.stats.sccs import sccs_fit

D0 = 18262  # 2020-01-01


def test_intervals_by_hand():
    """A 365-day window with two eras and an age-band boundary, split by hand."""
    persons = pd.DataFrame({"person": [1], "start": [D0], "end": [D0 + 364], "birth_year": [1980]})
    rec = pd.DataFrame(
        {
            "person": [1, 1, 1],
            "start_day": [D0 + 100, D0 + 120, D0 + 300],
            "end_day": [D0 + 109, D0 + 129, None],
        }
    )
    eras = drug_eras(rec)
    # records 10 days apart merge (gap <= 30); the one-day record stays separate
    assert eras[["start", "end"]].values.tolist() == [[D0 + 100, D0 + 129], [D0 + 300, D0 + 300]]
    events = pd.DataFrame({"person": [1, 1, 1, 1], "day": [D0 + 5, D0 + 80, D0 + 150, D0 + 320]})
    iv = sccs_intervals(persons, eras, events).set_index(["window", "age_band"])
    # age band 40 starts 2020-07-01 = day 182; risk from the day after each era start: 101..159
    # and 301..330; pre-exposure -30..0 days: 70..100 and 270..300 (the start days included)
    assert iv.loc[("baseline", "35"), "length"] == 70 + 22
    assert iv.loc[("baseline", "40"), "length"] == 110 - 22 + 34
    assert iv.loc[("risk", "35"), "length"] == 59
    assert iv.loc[("risk", "40"), "length"] == 30
    assert iv.loc[("pre_exposure", "35"), "length"] == 31
    assert iv.loc[("pre_exposure", "40"), "length"] == 31
    assert iv["length"].sum() == 365
    assert iv.loc[("baseline", "35"), "events"] == 1
    assert iv.loc[("pre_exposure", "35"), "events"] == 1
    assert iv.loc[("risk", "35"), "events"] == 1
    assert iv.loc[("risk", "40"), "events"] == 1


def test_an_event_on_the_start_day_is_not_risk_time():
    """A drug started at an encounter: the encounter (day 0) falls in the pre-exposure window."""
    persons = pd.DataFrame({"person": [1], "start": [D0], "end": [D0 + 99], "birth_year": [1980]})
    eras = pd.DataFrame({"person": [1], "start": [D0 + 50], "end": [D0 + 59]})
    events = pd.DataFrame({"person": [1, 1], "day": [D0 + 50, D0 + 51]})
    iv = sccs_intervals(persons, eras, events).set_index("window")
    assert iv.loc["pre_exposure", "length"] == 31 and iv.loc["pre_exposure", "events"] == 1
    assert iv.loc["risk", "length"] == 40 - 1 and iv.loc["risk", "events"] == 1  # 51..89
    assert iv["length"].sum() == 100


def _example() -> pd.DataFrame:
    """Ten cases, each 300 days baseline + 100 days risk; events chosen so every count varies."""
    rows = []
    base = [2, 3, 1, 4, 2, 0, 3, 1, 2, 2]
    risk = [1, 2, 1, 0, 2, 2, 1, 1, 3, 1]
    for i, (b, r) in enumerate(zip(base, risk, strict=True)):
        rows.append(
            {"person": i, "window": "baseline", "length": 300.0, "events": b, "age_band": "a"}
        )
        rows.append({"person": i, "window": "risk", "length": 100.0, "events": r, "age_band": "a"})
    return pd.DataFrame(rows)


def test_sccs_hand_computable():
    df = _example()
    est = sccs_fit(df, age_col=None)["risk"]
    eb, er = (
        df.loc[df.window == "baseline", "events"].sum(),
        df.loc[df.window == "risk", "events"].sum(),
    )
    # hand: (14 / 1000 d) / (20 / 3000 d) = 2.1; SE of log IRR = sqrt(1/14 + 1/20) (binomial split)
    assert (eb, er) == (20, 14)
    assert est.estimate == pytest.approx((14 / 1000) / (20 / 3000), rel=1e-8)
    assert est.estimate == pytest.approx(2.1, rel=1e-8)
    assert est.se_log == pytest.approx(math.sqrt(1 / 14 + 1 / 20), rel=1e-6)


def test_sccs_equals_statsmodels_conditional_poisson():
    rng = np.random.default_rng(11)
    persons = pd.DataFrame(
        {
            "person": np.arange(300),
            "start": D0 + rng.integers(0, 200, 300),
            "birth_year": rng.integers(1950, 1990, 300),
        }
    )
    persons["end"] = persons["start"] + rng.integers(700, 2000, 300)
    rec = pd.DataFrame(
        {"person": np.arange(300), "start_day": persons["start"] + rng.integers(50, 600, 300)}
    )
    rec["end_day"] = rec["start_day"] + rng.integers(10, 200, 300)
    eras = drug_eras(rec)
    ev = []
    for _, p in persons.iterrows():
        days = np.arange(p.start, p.end + 1)
        e = eras[eras.person == p.person].iloc[0]
        rate = np.where((days >= e.start) & (days <= e.end + 30), 2.0, 1.0) * 0.01
        hit = days[rng.random(days.size) < rate]
        ev += [(p.person, d) for d in hit]
    events = pd.DataFrame(ev, columns=["person", "day"])
    iv = sccs_intervals(persons, eras, events)
    iv = iv[iv.groupby("person")["events"].transform("sum") > 0]
    ours = sccs_fit(iv, age_col="age_band")
    # statsmodels on the same rows; keep persons whose counts vary (statsmodels drops the rest)
    sm_df = iv[iv.groupby("person")["events"].transform("nunique") > 1].reset_index(drop=True)
    ours_same = sccs_fit(sm_df, age_col="age_band")
    x = pd.get_dummies(sm_df[["window", "age_band"]], drop_first=False).astype(float)
    x = x.drop(
        columns=["window_baseline", sorted(c for c in x.columns if c.startswith("age_band_"))[0]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ConditionalPoisson(
            sm_df["events"].to_numpy(float),
            x,
            groups=sm_df["person"].to_numpy(),
            offset=np.log(sm_df["length"].to_numpy(float)),
        ).fit(method="bfgs", maxiter=2000, disp=0)
    params = pd.Series(np.asarray(fit.params), index=x.columns)
    bse = pd.Series(np.asarray(fit.bse), index=x.columns)
    assert ours_same["risk"].log_estimate == pytest.approx(params["window_risk"], abs=1e-4)
    assert ours_same["risk"].se_log == pytest.approx(bse["window_risk"], rel=1e-3)
    assert ours_same["pre_exposure"].log_estimate == pytest.approx(
        params["window_pre_exposure"], abs=1e-4
    )
    # planted IRR 2 on this simulated person-level data lies in the CI of the full fit
    assert ours["risk"].ci_low < 2.0 < ours["risk"].ci_high
