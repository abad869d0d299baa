"""Pooled likelihood-profile interval against R's exact solution (tests/reference/r/profile_pool.R).

Two sites share the exact conditional profile of a crude 2x2 table; a third (second case) only its
estimate and SE. Bars, set before the first run: with the profiles as a site shares them (4
decimals) the estimate and both ends equal R's to 2e-4 relative; with unrounded profiles to 1e-6
(cubic interpolation on a 0.05 grid). Reading the ends off the grid, as before, misses by ~1-3%.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from miglink.federate.pool import profile_pool
from miglink.federate.site import conditional_2x2_profile, grid, profile_for

# a, n1, c, n0 per site (profile_pool.R `tables`), and the normal-only site (log 3, SE 0.6)
TABLES = [(8, 30, 5, 100), (6, 25, 5, 120)]
NORMAL = (math.log(3), 0.6)
# R 4.2.2, profile_pool.out: optimize + uniroot on the summed conditional log-likelihood
R_TABLES = (6.92855116483, 2.91321966342, 17.0594377579)
R_WITH_NORMAL = (5.15756176977, 2.56942528389, 10.3961784396)


def _shared(a: int, n1: int, c: int, n0: int) -> dict:
    """The profile as site_results.json carries it (the site's own code path, min_cell 5)."""
    log_or = math.log(a * (n0 - c) / ((n1 - a) * c))
    se = math.sqrt(1 / a + 1 / (n1 - a) + 1 / c + 1 / (n0 - c))
    row = {
        "measure": "OR",
        "method": "crude_woolf",
        "log_estimate": log_or,
        "se_log": se,
        "n_exposed": n1,
        "n_unexposed": n0,
        "events_exposed": a,
        "events_unexposed": c,
    }
    profile = profile_for(row, min_cell=5)
    assert profile["kind"] == "conditional_2x2"
    return profile, log_or, se


def _pooled(rows, extra_normal: bool):
    profiles = [p for p, _, _ in rows]
    y = [v for _, v, _ in rows]
    se = [s for _, _, s in rows]
    if extra_normal:
        profiles, y, se = profiles + [None], y + [NORMAL[0]], se + [NORMAL[1]]
    return profile_pool(profiles, np.array(y), np.array(se))


@pytest.mark.parametrize(("extra_normal", "ref"), [(False, R_TABLES), (True, R_WITH_NORMAL)])
def test_shared_profiles_match_r(extra_normal, ref):
    res = _pooled([_shared(*t) for t in TABLES], extra_normal)
    got = (res["estimate"], res["ci_low"], res["ci_high"])
    assert got == pytest.approx(ref, rel=2e-4)
    assert res["note"] == ""


def test_unrounded_profiles_match_r_closely():
    rows = []
    for a, n1, c, n0 in TABLES:
        _, log_or, se = _shared(a, n1, c, n0)
        ll = conditional_2x2_profile(a, n1, c, n0)
        rows.append(({"kind": "conditional_2x2", "log_likelihood": list(ll)}, log_or, se))
    res = _pooled(rows, extra_normal=True)
    got = (res["estimate"], res["ci_low"], res["ci_high"])
    assert got == pytest.approx(R_WITH_NORMAL, rel=1e-6)


def test_grid_reading_was_inside_the_interval():
    # the former rule: the outermost grid points within 1.92 of the grid maximum
    b = grid()
    total = sum(np.array(_shared(*t)[0]["log_likelihood"]) for t in TABLES)
    inside = b[total >= total.max() - 1.920729]
    low, high = math.exp(inside[0]), math.exp(inside[-1])
    assert R_TABLES[1] < low and high < R_TABLES[2]  # narrower than the exact interval
    assert low / R_TABLES[1] - 1 > 0.005 or 1 - high / R_TABLES[2] > 0.005


def test_all_normal_gives_none_and_edge_is_noted():
    assert (
        profile_pool([None, {"kind": "normal"}], np.array([0.1, 0.2]), np.array([0.3, 0.3])) is None
    )
    # a wide profile: the interval passes the grid's upper end (log 3) and says so
    profile, _, _ = _shared(6, 25, 5, 120)
    res = profile_pool([profile, None], np.array([0.0, 2.9]), np.array([1.0, 0.1]))
    assert res["note"] == "the interval reaches the grid edge"
    assert res["ci_high"] == pytest.approx(math.exp(3.0))
