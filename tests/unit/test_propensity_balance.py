"""Sparse covariate balance against a direct pandas computation and CohortMethod's formula."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from miglink.stats.ps_adjust import adjustment_weights, match_on_ps
from miglink.stats.ps_balance import covariate_balance


def _data(seed=1, n=2000):
    rng = np.random.default_rng(seed)
    t = (rng.random(n) < 0.4).astype(int)
    binary = (rng.random((n, 3)) < np.array([0.1, 0.3, 0.6]) + 0.1 * t[:, None]).astype(float)
    cont = np.where(rng.random(n) < 0.5, rng.gamma(2.0, 3.0 + t), 0.0)  # sparse continuous
    x = np.column_stack([binary, cont, np.zeros(n)])  # last covariate empty everywhere
    return x, t


def _pandas_smd(x, t, w):
    rows = []
    for j in range(x.shape[1]):
        df = pd.DataFrame({"x": x[:, j], "t": t, "w": w})
        m, v = {}, {}
        for arm, g in df[df.w > 0].groupby("t"):
            m[arm] = np.average(g.x, weights=g.w)
            v[arm] = np.average((g.x - m[arm]) ** 2, weights=g.w)
        sd = np.sqrt((v[1] + v[0]) / 2)  # CohortMethod: sqrt((var_t + var_c) / 2)
        rows.append((m[1], m[0], sd, (m[1] - m[0]) / sd if sd > 0 else 0.0))
    return pd.DataFrame(rows, columns=["mt", "mc", "sd", "smd"])


def test_before_equals_pandas_and_the_binary_formula():
    x, t = _data()
    bal = covariate_balance(sp.csr_matrix(x), t)
    ref = _pandas_smd(x, t, np.ones(len(t)))
    np.testing.assert_allclose(bal.table["smd_before"], ref["smd"], rtol=1e-10)
    np.testing.assert_allclose(bal.table["mean_t_before"], ref["mt"], rtol=1e-12)
    p1, p0 = x[t == 1, 0].mean(), x[t == 0, 0].mean()  # Austin 2009 binary SMD
    binary = (p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert bal.table["smd_before"].iloc[0] == pytest.approx(binary)
    assert bal.table["smd_before"].iloc[4] == 0.0  # empty covariate: no imbalance
    assert bal.max_abs_smd_before == pytest.approx(ref["smd"].abs().max())
    assert np.isnan(bal.max_abs_smd_after)


def test_after_matching_weights_equal_pandas_on_the_weighted_rows():
    x, t = _data(2)
    ps = 1 / (1 + np.exp(-(x[:, 0] + 0.2 * x[:, 3] - 1)))
    w = adjustment_weights(match_on_ps(ps, t, max_ratio=3), t)
    bal = covariate_balance(sp.csr_matrix(x), t, w)
    ref = _pandas_smd(x, t, w)
    np.testing.assert_allclose(bal.table["smd_after"], ref["smd"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bal.table["mean_c_after"], ref["mc"], rtol=1e-12)
    assert bal.max_abs_smd_after < bal.max_abs_smd_before
