"""The absorbed-stratum GLM equals statsmodels' GLM with dense stratum dummies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from miglink.stats.absorbed import fit_absorbed


def _strata(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(30):
        for sex in (0, 1):
            for e in (0, 1):
                n = int(rng.integers(30, 300))
                lin = -2.5 + 0.05 * s + 0.3 * sex + 0.4 * e
                rows.append((f"s{s}", sex, e, n, int(rng.binomial(n, 1 / (1 + np.exp(-lin))))))
    return pd.DataFrame(rows, columns=["stratum", "sex", "exposed", "n", "y"])


def _dense(df: pd.DataFrame) -> pd.DataFrame:
    d = pd.get_dummies(df.stratum, dtype=float)
    return pd.concat([df[["exposed", "sex"]].astype(float), d], axis=1)


def test_binomial_absorbed_equals_dense_glm():
    df = _strata(1)
    fit = fit_absorbed(
        df.y, df[["exposed", "sex"]].to_numpy(float), df.stratum.to_numpy(), "binomial", n=df.n
    )
    ref = sm.GLM(
        np.column_stack([df.y, df.n - df.y]), _dense(df), family=sm.families.Binomial()
    ).fit()
    assert fit.converged
    assert fit.params == pytest.approx(ref.params[["exposed", "sex"]].to_numpy(), abs=1e-8)
    assert np.sqrt(np.diag(fit.cov)) == pytest.approx(
        ref.bse[["exposed", "sex"]].to_numpy(), rel=1e-6
    )


def test_poisson_absorbed_equals_dense_glm():
    df = _strata(2)
    py = df.n * 10.0
    fit = fit_absorbed(
        df.y,
        df[["exposed", "sex"]].to_numpy(float),
        df.stratum.to_numpy(),
        "poisson",
        offset=np.log(py),
    )
    ref = sm.GLM(df.y, _dense(df), family=sm.families.Poisson(), offset=np.log(py)).fit()
    assert fit.params == pytest.approx(ref.params[["exposed", "sex"]].to_numpy(), abs=1e-8)
    assert np.sqrt(np.diag(fit.cov)) == pytest.approx(
        ref.bse[["exposed", "sex"]].to_numpy(), rel=1e-6
    )
