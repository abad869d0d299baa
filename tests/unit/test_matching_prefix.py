"""Ranking only a prefix of each matching cell gives exactly the matches of ranking every candidate.

The prefix threshold is a guess from the uniform key (checked per cell, lifted where it falls
short), so the test runs the matching three ways on the synthetic population: the default guess,
a guess so tight that most cells fall short and take the lifted path, and no prefix at all.
"""

from __future__ import annotations

import pandas as pd
import pytest

from miglink.claims.model import load_study
from miglink.concepts import load_concept_sets
from miglink.designs import d2_matching
from miglink.features.build import build_features
from miglink.sources import open_cdm

INDEX_SETS = ["migraine", "rheumatoid_arthritis", "sle", "ms", "hashimoto"]


@pytest.fixture(scope="module")
def features(synthetic_cdm):
    study, _ = load_study(None)
    return build_features(open_cdm(synthetic_cdm), study, load_concept_sets())


def _members(ft) -> pd.DataFrame:
    members, _cases = d2_matching.matched_members(ft, INDEX_SETS)
    df = members.select("index_set", "set_pid", "member", "exposed").execute()
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def test_prefix_ranking_matches_full_ranking(features, monkeypatch):
    default = _members(features)
    assert (default["exposed"] == 0).sum() > 1000, (
        "enough comparators to make the test mean something"
    )
    # a threshold far too tight: most cells take the lifted (rank-everything) path
    monkeypatch.setattr(d2_matching, "PREFIX_FACTOR", 0)
    monkeypatch.setattr(d2_matching, "PREFIX_SLACK", 1)
    tight = _members(features)
    # a threshold above every key (< 2**31 <= tau, no int64 overflow): every candidate is ranked
    monkeypatch.setattr(d2_matching, "PREFIX_SLACK", 2**31)
    full = _members(features)
    pd.testing.assert_frame_equal(default, full)
    pd.testing.assert_frame_equal(tight, full)
