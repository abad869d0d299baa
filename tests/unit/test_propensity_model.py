"""fit_propensity (issue 16): original-scale coefficients, the sampling intercept correction,
CV, near predictors; preference score and equipoise (Walker et al. 2013)."""

import numpy as np
import pytest
import scipy.sparse as sp

from miglink.stats.propensity import equipoise, fit_propensity, near_predictors, preference_score


def _cohort(n=12_000, seed=1, b0=-0.9):
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.random(n) < 0.3,
            rng.random(n) < 0.1,
            rng.random(n) < 0.5,
            rng.uniform(0, 10, n),  # continuous: max-scaling must be undone
        ]
    ).astype(float)
    beta = np.array([0.8, -0.6, 0.0, 0.1])
    t = (rng.random(n) < 1 / (1 + np.exp(-(b0 + x @ beta)))).astype(int)
    return x, t, beta


def test_weak_prior_equals_unpenalised_logit_on_original_scale():
    import statsmodels.api as sm

    x, t, _ = _cohort()
    fit = fit_propensity(sp.csr_matrix(x), t, c=1e4, tol=1e-10)
    ref = sm.Logit(t, sm.add_constant(x)).fit(disp=0)  # statsmodels: unpenalised MLE
    coef = np.array([fit.coefficients.get(j, 0.0) for j in range(4)])
    np.testing.assert_allclose(coef, ref.params[1:], atol=2e-3)
    assert fit.intercept == pytest.approx(ref.params[0], abs=5e-3)
    np.testing.assert_allclose(fit.ps, ref.predict(), atol=1e-3)


def test_sampling_an_arm_keeps_the_population_intercept():
    x, t, _ = _cohort(n=30_000, seed=2, b0=-2.0)
    full = fit_propensity(sp.csr_matrix(x), t, c=1e4, tol=1e-10)
    n_t = int(t.sum())  # ~20% treated: sampling 4k per arm is lopsided
    sampled = fit_propensity(sp.csr_matrix(x), t, c=1e4, tol=1e-10, max_per_arm=4000)
    shift = np.log((4000 / n_t) / (4000 / (len(t) - n_t)))
    assert sampled.sampled and abs(shift) > 0.5
    assert sampled.intercept == pytest.approx(full.intercept, abs=0.12)  # sampling noise only
    assert abs(sampled.intercept + shift - full.intercept) > 0.4  # uncorrected would be off
    assert sampled.ps.mean() == pytest.approx(t.mean(), abs=0.01)
    assert len(sampled.ps) == len(t)


def test_cross_validation_chooses_a_prior_and_scores_it():
    x, t, _ = _cohort(n=4000, seed=3)
    noise = sp.random(4000, 200, density=0.05, random_state=3, data_rvs=lambda k: np.ones(k))
    xs = sp.hstack([sp.csr_matrix(x), noise]).tocsr()
    fit = fit_propensity(xs, t, cv_folds=5, seed=3)
    assert fit.c in fit.cv_scores and fit.cv_scores[fit.c] == max(fit.cv_scores.values())
    assert min(fit.cv_scores) == 1e-3 and len(fit.cv_scores) >= 3
    assert fit.prior_variance == pytest.approx(2 * fit.c**2)
    assert {0, 1} <= set(fit.coefficients)  # the two real binary predictors survive
    from sklearn.metrics import roc_auc_score

    assert fit.auc == pytest.approx(roc_auc_score(t, fit.ps))
    assert 0.6 < fit.auc < 0.8


def test_near_predictors_are_reported_and_can_stop_the_fit():
    rng = np.random.default_rng(4)
    n = 3000
    t = (rng.random(n) < 0.4).astype(int)
    leak = np.where(rng.random(n) < 0.98, t, 1 - t)  # the exposure itself, nearly
    x = sp.csr_matrix(np.column_stack([leak, rng.random(n) < 0.3]).astype(float))
    near = near_predictors(x, t)
    assert near["covariate"].tolist() == [0]
    assert near["corr"].iloc[0] == pytest.approx(np.corrcoef(leak, t)[0, 1])
    assert near["mean_t"].iloc[0] == pytest.approx(leak[t == 1].mean())
    with pytest.raises(ValueError, match="nearly predict"):
        fit_propensity(x, t, c=1.0, on_near="error")
    with pytest.warns(UserWarning):
        fit = fit_propensity(x, t, c=1.0, on_near="warn")
    assert len(fit.near_predictors) == 1


def test_preference_score_walker():
    t = np.array([1, 0, 0, 0, 0])  # P = 0.2
    f = preference_score(np.array([0.8, 0.2, 0.2, 0.5, 0.05]), t)
    # logit F = logit(0.8) - logit(0.2) = log 16: F = 16/17 (by hand, Walker 2013 eq. 1)
    assert f[0] == pytest.approx(16 / 17)
    assert f[1] == pytest.approx(0.5)  # ps equal to the treated share: no preference
    assert f[3] == pytest.approx(0.8)
    assert equipoise(np.array([0.8, 0.2, 0.2, 0.5, 0.05]), t) == pytest.approx(2 / 5)
