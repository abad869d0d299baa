"""The matched-cohort hazard ratio estimator (stratified Poisson rate ratio, stratum effects
absorbed) equals the dummy-variable Poisson GLM and the closed form in one stratum."""

import numpy as np
import pandas as pd
import pytest

from miglink.stats.cohort import poisson_rate_ratio


def _data(seed: int, n_strata: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_strata):
        base = rng.gamma(2.0, 0.01)
        for exposed in (0, 1):
            py = rng.uniform(5, 200)
            rate = base * (1.8 if exposed else 1.0)
            rows.append(
                {
                    "stratum": f"s{s}",
                    "exposed": exposed,
                    "events": rng.poisson(rate * py),
                    "person_years": py,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equals_poisson_with_stratum_fixed_effects(seed):
    df = _data(seed)
    import statsmodels.api as sm

    x = pd.get_dummies(df["stratum"], drop_first=True, dtype=float)
    x.insert(0, "exposed", df["exposed"].astype(float))
    x.insert(0, "const", 1.0)
    fit = sm.GLM(
        df["events"], x, family=sm.families.Poisson(), offset=np.log(df["person_years"])
    ).fit()
    got = poisson_rate_ratio(df)
    assert got.log_estimate == pytest.approx(fit.params["exposed"], abs=1e-6)
    assert got.se_log == pytest.approx(fit.bse["exposed"], rel=1e-5)


def test_single_stratum_is_the_crude_rate_ratio():
    # one stratum: MLE is (e1/t1)/(e0/t0) = (12/100)/(8/200) = 3.0 exactly
    df = pd.DataFrame(
        {
            "stratum": ["a", "a"],
            "exposed": [1, 0],
            "events": [12, 8],
            "person_years": [100.0, 200.0],
        }
    )
    e = poisson_rate_ratio(df)
    assert e.estimate == pytest.approx(3.0, rel=1e-9)
    assert e.se_log == pytest.approx(np.sqrt(1 / 12 + 1 / 8), rel=1e-6)  # IRLS tolerance


def test_no_events_in_one_arm_is_not_estimable():
    df = pd.DataFrame(
        {"stratum": ["a", "a"], "exposed": [1, 0], "events": [0, 8], "person_years": [100.0, 200.0]}
    )
    assert np.isnan(poisson_rate_ratio(df).estimate)
