"""SCCS against closed forms and an independent Poisson fit with person fixed effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from miglink.stats.sccs import sccs_fit, sccs_from_counts, sccs_patterns


def test_one_person_two_windows_closed_form():
    # Conditional on n events, the count in the risk window is Binomial(n, p) with
    # p = t_r IRR / (t_r IRR + t_b), so the MLE is IRR = (n_r / t_r) / (n_b / t_b) and
    # var(log IRR) = 1 / (n p (1 - p)) = 1 / n_r + 1 / n_b.
    df = pd.DataFrame(
        {"person": [1, 1], "window": ["baseline", "risk"], "length": [300, 45], "events": [4, 3]}
    )
    est = sccs_fit(df, age_col=None)["risk"]
    assert est.estimate == pytest.approx((3 / 45) / (4 / 300), rel=1e-8)
    assert est.se_log == pytest.approx(math.sqrt(1 / 3 + 1 / 4), rel=1e-6)


def test_identical_persons_pool_to_ratio_of_summed_rates():
    # Persons with identical windows: the likelihood is the one-person binomial with summed
    # counts, IRR = (sum n_r / sum t_r) / (sum n_b / sum t_b).
    events = [(2, 1), (0, 3), (5, 0), (1, 1)]
    rows = []
    for i, (nb, nr) in enumerate(events):
        rows += [(i, "baseline", 200, nb), (i, "risk", 50, nr)]
    df = pd.DataFrame(rows, columns=["person", "window", "length", "events"])
    est = sccs_fit(df, age_col=None)["risk"]
    nb, nr = sum(e[0] for e in events), sum(e[1] for e in events)
    assert est.estimate == pytest.approx((nr / (4 * 50)) / (nb / (4 * 200)), rel=1e-8)
    assert est.se_log == pytest.approx(math.sqrt(1 / nr + 1 / nb), rel=1e-6)


def _simulated(seed: int = 4, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        frailty = rng.gamma(1.5, 1.0)
        start = int(rng.integers(0, 3))
        for a, age_rr in enumerate((1.0, 1.4, 1.9)[start:]):
            for w, w_rr in (("baseline", 1.0), ("pre_exposure", 1.1), ("risk", 2.2)):
                length = int(rng.integers(10, 200))
                mu = 0.004 * length * frailty * age_rr * w_rr
                rows.append((f"p{i}", w, f"age{a + start}", length, int(rng.poisson(mu))))
    return pd.DataFrame(rows, columns=["person", "window", "age_band", "length", "events"])


def test_sccs_equals_poisson_with_person_fixed_effects():
    # Library reference: unconditional Poisson GLM with one intercept per person gives the
    # same window coefficients as the conditional likelihood (Cameron & Trivedi 2013, §9.2).
    df = _simulated(n=60)
    res = sccs_fit(df)
    cases = df[df.groupby("person").events.transform("sum") > 0]
    x = pd.concat(
        [
            pd.get_dummies(cases.window, dtype=float).drop(columns="baseline"),
            pd.get_dummies(cases.age_band, dtype=float).drop(columns="age0"),
            pd.get_dummies(cases.person, dtype=float),
        ],
        axis=1,
    )
    glm = sm.GLM(cases.events, x, family=sm.families.Poisson(), offset=np.log(cases.length)).fit()
    for w in ("risk", "pre_exposure"):
        assert res[w].log_estimate == pytest.approx(glm.params[w], abs=1e-6)
        assert res[w].se_log == pytest.approx(glm.bse[w], rel=1e-5)


def test_count_only_profiles_equal_person_level_fit():
    # Coarse lengths make many persons share a profile.
    df = _simulated(seed=9, n=400)
    df["length"] = (df.length // 100 + 1) * 100
    by_person = sccs_fit(df)
    profiles = sccs_patterns(df)
    assert profiles.pattern.nunique() < df.person.nunique()
    by_profile = sccs_from_counts(profiles)
    for w in ("risk", "pre_exposure"):
        assert by_profile[w].log_estimate == pytest.approx(by_person[w].log_estimate, abs=1e-8)
        assert by_profile[w].se_log == pytest.approx(by_person[w].se_log, rel=1e-6)


def test_conditional_poisson_equals_statsmodels_when_every_case_varies():
    # Library reference: statsmodels ConditionalPoisson agrees wherever it keeps every group
    # (it drops groups whose counts are constant, which our fit must not do).
    from statsmodels.discrete.conditional_models import ConditionalPoisson

    from miglink.stats.sccs import conditional_poisson

    df = _simulated(seed=21, n=150)
    df = df[df.groupby("person").events.transform("std") > 0]
    x = pd.get_dummies(df.window, dtype=float).drop(columns="baseline").to_numpy()
    beta, cov, ok = conditional_poisson(
        df.events.to_numpy(float), x, df.person.to_numpy(), np.log(df.length.to_numpy(float))
    )
    ref = ConditionalPoisson(
        df.events.to_numpy(float), x, groups=df.person.to_numpy(), offset=np.log(df.length)
    ).fit(disp=0)
    assert ok
    assert beta == pytest.approx(np.asarray(ref.params), abs=1e-5)
    assert np.sqrt(np.diag(cov)) == pytest.approx(np.asarray(ref.bse), rel=1e-4)


def test_season_covariate_equals_fixed_effects_glm():
    df = _simulated(seed=13, n=50)
    df["season"] = np.where(df.index % 2 == 0, "summer", "winter")
    res = sccs_fit(df, covariates=["season"])
    cases = df[df.groupby("person").events.transform("sum") > 0]
    x = pd.concat(
        [
            pd.get_dummies(cases.window, dtype=float).drop(columns="baseline"),
            pd.get_dummies(cases.age_band, dtype=float).drop(columns="age0"),
            pd.get_dummies(cases.season, dtype=float).drop(columns="summer"),
            pd.get_dummies(cases.person, dtype=float),
        ],
        axis=1,
    )
    glm = sm.GLM(cases.events, x, family=sm.families.Poisson(), offset=np.log(cases.length)).fit()
    assert res["risk"].log_estimate == pytest.approx(glm.params["risk"], abs=1e-6)
