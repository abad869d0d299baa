"""The vectorised Efron Cox fit across tie structures and unequal matched-set sizes."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg

from miglink.stats.coxfast import fit_cox_efron


@pytest.mark.parametrize("seed", range(6))
def test_matches_phreg_efron_on_varied_sets(seed):
    rng = np.random.default_rng(100 + seed)
    sizes = rng.integers(2, 8, size=80)  # 1:1 to 1:6 matching, unequal sets
    strata = np.repeat(np.arange(len(sizes)), sizes)
    x = np.concatenate([[1] + [0] * (k - 1) for k in sizes]).astype(float)
    z = rng.normal(size=len(strata))
    rate = 0.2 * np.exp(0.5 * x + 0.2 * z)
    resolution = [1, 2, 5][seed % 3]  # coarser times -> more ties
    t = np.ceil(rng.exponential(1 / rate) / resolution) * resolution
    c = np.ceil(rng.uniform(1, 15, len(strata)) / resolution) * resolution
    time, event = np.minimum(t, c), (t <= c).astype(int)
    cov = np.column_stack([x, z])
    ours = fit_cox_efron(time, event, cov, strata)
    ref = PHReg(time, cov, status=event, strata=strata, ties="efron").fit()
    assert ours.converged
    assert ours.params == pytest.approx(ref.params, abs=1e-6)
    assert np.sqrt(np.diag(ours.cov)) == pytest.approx(ref.bse, rel=1e-5)


def test_unstratified_without_ties_matches_phreg():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 1))
    time = rng.exponential(1 / np.exp(0.7 * x[:, 0]))
    event = np.ones(60, int)
    ours = fit_cox_efron(time, event, x)
    ref = PHReg(time, x, status=event).fit()
    assert ours.params == pytest.approx(ref.params, abs=1e-6)
