"""Pooling never selects sites on their counts: a ratio that any site's disclosure gate withheld is
not pooled from the other sites (pooling only the sites with >= min_cell events is biased upward)."""

from __future__ import annotations

import math

from miglink.federate.pool import pool_estimates


def _site(log_estimate, se, events, withheld=False) -> dict:
    row = {
        "analysis": "d2__sle__migraine",
        "stratum": "all",
        "method": "poisson_matched_strata",
        "measure": "HR",
        "role": "primary",
        "design": "D2",
        "exposure": "sle",
        "outcome": "migraine",
        "log_estimate": log_estimate,
        "se_log": se,
        "estimate": None if log_estimate is None else math.exp(log_estimate),
        "n_exposed": 400,
        "n_unexposed": 1600,
        "events_exposed": events,
        "events_unexposed": 40,
    }
    if withheld:
        row["withheld"] = "estimate withheld by the site's disclosure gate"
    return {"min_cell": 5, "estimates": [row]}


def test_a_withheld_site_stops_the_pool():
    sites = [_site(0.9, 0.3, 12), _site(None, None, "<5", withheld=True), _site(0.7, 0.35, 9)]
    (row,), _ = pool_estimates(sites)
    assert row.get("estimate") is None or not math.isfinite(row["estimate"])
    assert row["k_pooled"] == 0 and row["sites_not_estimable"] == 1
    assert "1 of 3 site(s) withheld" in row["note"]


def test_sites_that_all_publish_are_pooled():
    sites = [_site(0.9, 0.3, 12), _site(0.7, 0.35, 9)]
    (row,), _ = pool_estimates(sites, method="FE")
    # fixed-effect inverse-variance mean of 0.9 (se 0.3) and 0.7 (se 0.35), by hand
    w = [1 / 0.3**2, 1 / 0.35**2]
    assert math.isclose(row["log_estimate"], (w[0] * 0.9 + w[1] * 0.7) / sum(w), rel_tol=1e-12)
    assert row["k_pooled"] == 2
