"""PS matching against MatchIt (R) and a brute-force greedy search; strata; IPTW weights."""

from pathlib import Path

import numpy as np
import pytest

from miglink.stats.ps_adjust import (
    adjustment_weights,
    iptw_weights,
    logit,
    match_on_ps,
    stratify_by_ps,
)

R_OUT = Path(__file__).resolve().parents[1] / "reference" / "r" / "ps_reference.out"
T = np.r_[np.ones(10, int), np.zeros(25, int)]
LP = np.array(
    [-1.1899, 1.0332, 0.3374, 0.9257, -0.9532, -0.1057, -0.5167, 0.4173, 1.4393, 0.2010]
    + [-1.1315, -1.0589, -0.5969, -0.7756, 0.0123, 0.1960, -0.8919, -1.3334, -0.4414]
    + [-0.8034, -0.0422, -1.0531, 0.5598, 0.7030, 1.2028, -0.4874, -0.3860, 0.4517]
    + [-1.3265, -1.7133, 0.1458, -0.0029, -1.9444, -0.6542, -0.7703]
)  # the literal of tests/reference/r/ps_reference.R


def _r_sets(tag: str, ratio: int) -> dict[int, set[int]]:
    """Treated unit -> its comparators, from MatchIt's match.matrix (ps_reference.out)."""
    out = {}
    for line in R_OUT.read_text().splitlines():
        f = line.split()
        if f[:2] == [tag, str(ratio)]:
            got = {int(v) for v in f[3:] if v != "NA"}
            if got:
                out[int(f[2])] = got
    return out


def _sets(s: np.ndarray, t: np.ndarray) -> dict[int, set[int]]:
    return {
        int(i): {int(j) for j in np.flatnonzero((s == s[i]) & (t == 0))}
        for i in np.flatnonzero((t == 1) & (s >= 0))
    }


@pytest.mark.parametrize("ratio", [1, 2])
def test_matching_equals_matchit_on_the_logit_with_caliper(ratio):
    # MatchIt 4.5.1 nearest, m.order="largest", caliper 0.2 * sd(logit) (R's sd, ddof=1)
    s = match_on_ps(1 / (1 + np.exp(-LP)), T, max_ratio=ratio, caliper=0.2, order="largest")
    assert _sets(s, T) == _r_sets("random", ratio)
    units = {1: 14, 2: 19}[ratio]  # MatchIt: sum(m$weights > 0)
    assert int((s >= 0).sum()) == units


@pytest.mark.parametrize("ratio", [1, 2])
def test_matching_equals_matchit_where_the_answer_is_unique(ratio):
    t = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    lu = np.array([0, 1, 2, 3, 4, 5.5, 0.03, 1.05, 2.02, 3.04, 4.01, 6.5, 7, 8, 10])
    s = match_on_ps(
        1 / (1 + np.exp(-lu)), t, ratio, caliper=0.1, caliper_scale="logit", order="largest"
    )
    assert _sets(s, t) == _r_sets("unique", ratio)


def _brute(d, t, ratio, width):
    order = np.flatnonzero(t)[np.argsort(-d[t == 1], kind="stable")]
    free, own, eligible = set(np.flatnonzero(t == 0)), {}, set(order)
    for _ in range(ratio):
        for i in order:
            if i not in eligible:
                continue
            c = sorted(free, key=lambda j: (abs(d[j] - d[i]), d[j]))
            if not c or abs(d[c[0]] - d[i]) > width:
                eligible.discard(i)
                continue
            own.setdefault(int(i), set()).add(int(c[0]))
            free.discard(c[0])
    return own


@pytest.mark.parametrize("seed", range(8))
def test_matching_equals_a_brute_force_greedy_search(seed):
    rng = np.random.default_rng(seed)
    t = (rng.random(80) < 0.35).astype(int)
    ps = rng.beta(2, 3, 80)
    width = 0.2 * np.std(logit(ps), ddof=1)
    s = match_on_ps(ps, t, max_ratio=3, order="largest")
    assert _sets(s, t) == _brute(logit(ps), t, 3, width)
    assert sorted(set(s[s >= 0])) == list(range(len(_brute(logit(ps), t, 3, width))))


def test_random_order_is_seeded():
    rng = np.random.default_rng(9)
    t = (rng.random(300) < 0.4).astype(int)
    ps = rng.random(300)
    a = match_on_ps(ps, t, 2, order="random", seed=1)
    assert np.array_equal(a, match_on_ps(ps, t, 2, order="random", seed=1))
    assert not np.array_equal(a, match_on_ps(ps, t, 2, order="random", seed=2))
    assert np.array_equal(a, match_on_ps(ps, t, 2, seed=1))  # random is the default


def test_strata_are_quantiles_of_the_base_population():
    rng = np.random.default_rng(5)
    t = (rng.random(1000) < 0.3).astype(int)
    ps = rng.random(1000)
    s = stratify_by_ps(ps, t, 5)
    assert np.bincount(s).tolist() == [200] * 5
    st = stratify_by_ps(ps, t, 4, base="target")
    assert np.bincount(st[t == 1]).tolist() == [t.sum() // 4 + (k < t.sum() % 4) for k in range(4)]
    assert np.all(np.diff(s[np.argsort(ps)]) >= 0)  # strata are ordered in the PS


def test_iptw_weights_stabilised_and_truncated():
    ps = np.array([0.2, 0.5, 0.99, 0.01, 0.5])
    t = np.array([1, 1, 0, 0, 0])  # P = 0.4
    np.testing.assert_allclose(
        iptw_weights(ps, t, "ate", max_weight=None), [2.0, 0.8, 60.0, 0.6 / 0.99, 1.2]
    )
    np.testing.assert_allclose(iptw_weights(ps, t, "ate")[2], 10.0)
    att = iptw_weights(ps, t, "att", max_weight=None)
    np.testing.assert_allclose(att, [1, 1, 99 * 1.5, 1 / 99 * 1.5, 1.5])


def test_matched_set_weights_are_one_over_k():
    sets = np.array([0, 0, 0, 1, 1, -1, 2])
    t = np.array([1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_allclose(adjustment_weights(sets, t), [1, 0.5, 0.5, 1, 1, 0, 0])
    np.testing.assert_allclose(adjustment_weights(sets, t, "all"), [3, 1.5, 1.5, 2, 2, 0, 0])
