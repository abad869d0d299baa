"""Privacy of site files: every count is 0, >= min_cell or the "<N" label; no person id appears;
no estimate is shared that would give back a suppressed count.

Uses the 5-site network of tests/validity/test_federated.py (built once per session, whichever
file runs first); the sites' person ids are shifted to 13 digits so they cannot be mistaken for
counts when the files are scanned for them as whole tokens.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import duckdb
import pytest

from miglink.federate.site import (
    COUNT_KEYS,
    PROFILE_DECIMALS,
    normal_profile,
    profile_for,
    site_row,
)
from miglink.privacy import COUNT_COLUMNS, SECONDARY_LABEL

_spec = importlib.util.spec_from_file_location(
    "federated_network", Path(__file__).resolve().parents[1] / "validity" / "test_federated.py"
)
_fed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fed)


@pytest.fixture(scope="session")
def site_files(build_once) -> dict:
    return _fed.build_network(build_once)


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
            yield path, k, v
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")


def test_every_count_in_every_site_file_is_gated(site_files):
    count_keys = set(COUNT_COLUMNS) | set(COUNT_KEYS)
    checked = 0
    for f in site_files["files"]:
        data = json.loads(f.read_text())
        min_cell = data["min_cell"]
        assert min_cell >= 5
        for where, key, v in _walk(data):
            if key not in count_keys or v is None:
                continue
            checked += 1
            if isinstance(v, str):
                # primary suppression ("<N") or secondary suppression (SECONDARY_LABEL)
                assert v in (f"<{min_cell}", SECONDARY_LABEL), f"{f}: {where}.{key} = {v!r}"
            else:
                assert v == 0 or v >= min_cell, f"{f}: {where}.{key} = {v!r}"
    assert checked > 500  # the scan did look at the counts


def test_site_files_hold_no_person_id(site_files):
    ids: set[str] = set()
    for folder in sorted(site_files["site_data"].iterdir()):
        ids |= {
            str(r[0])
            for r in duckdb.sql(f"SELECT person_id FROM '{folder / 'person.parquet'}'").fetchall()
        }
    assert len(ids) == _fed.PERSONS
    assert min(len(i) for i in ids) == 13
    for f in site_files["files"]:
        text = f.read_text()
        tokens = set(re.findall(r"\d+", text))
        assert not (tokens & ids), f"{f} contains person ids"
        assert "person_id" not in text


def test_suppressed_rows_share_only_what_cannot_reveal_the_count(site_files):
    n_suppressed = 0
    for f in site_files["files"]:
        for e in json.loads(f.read_text())["estimates"]:
            labels = [k for k in COUNT_KEYS if isinstance(e.get(k), str)]
            if not labels:
                continue
            n_suppressed += 1
            if e["measure"] in ("share", "count", "prevalence") or str(e["method"]).startswith(
                "crude"
            ):
                assert (
                    e["estimate"] is None and e["log_estimate"] is None and e["se_log"] is None
                ), e["analysis"]
            if e.get("profile"):
                assert e["profile"]["kind"] == "normal", e["analysis"]
    assert n_suppressed > 0  # 12k-person sites do have small cells


def test_crude_estimate_with_a_suppressed_cell_is_withheld():
    # a = 3 exposed cases (suppressed at min_cell 5): OR·(n1-a)·c = a·(n0-c) would give a back
    row = dict(
        analysis="x", design="D1", measure="OR", method="crude_woolf", role="sensitivity",
        n_exposed=400, n_unexposed=4000, events_exposed=3, events_unexposed=20,
        estimate=1.5, log_estimate=math.log(1.5), se_log=0.6, ci_low=0.4, ci_high=4.9, p_value=0.5,
    )  # fmt: skip
    out = site_row(row, 5)
    assert out["events_exposed"] == "<5"
    assert out["estimate"] is None and out["log_estimate"] is None and out["profile"] is None


def test_profile_is_normal_when_a_count_is_suppressed_and_exact_when_all_shown():
    base = dict(
        measure="OR", method="crude_woolf", n_exposed=200, n_unexposed=2000, events_unexposed=40
    )
    shown = profile_for(base | {"events_exposed": 7, "log_estimate": 0.57, "se_log": 0.41}, 5)
    assert shown["kind"] == "conditional_2x2"
    suppressed = profile_for(
        {
            **base,
            "method": "mantel_haenszel",
            "events_exposed": 3,
            "log_estimate": 0.2,
            "se_log": 0.6,
        },
        5,
    )
    assert suppressed["kind"] == "normal"
    # the normal profile is a function of (log_estimate, se) only: nothing more is disclosed
    expected = [round(float(v), PROFILE_DECIMALS) for v in normal_profile(0.2, 0.6)]
    assert suppressed["log_likelihood"] == expected


def test_exact_profile_is_withheld_when_a_non_event_cell_is_small():
    # all four shown counts are >= 5, but n1 - a = 3 exposed persons without the event: the exact
    # conditional profile is a function of that cell too, so only the normal one is shared
    row = dict(
        analysis="x", design="D1", measure="OR", method="crude_woolf", role="sensitivity",
        n_exposed=9, n_unexposed=2000, events_exposed=6, events_unexposed=40,
        log_estimate=4.6, se_log=0.7,
    )  # fmt: skip
    prof = profile_for(row, 5)
    assert prof["kind"] == "normal"
    assert prof["log_likelihood"] == [
        round(float(v), PROFILE_DECIMALS) for v in normal_profile(4.6, 0.7)
    ]


def test_site_prevalence_is_the_coarsened_table_not_the_raw_run():
    """Five patients in five bands beside zeros (the MIMIC pattern): the site file must not let
    the published total pin each one."""
    import pandas as pd

    from miglink.claims.model import load_study
    from miglink.federate.site import site_results
    from miglink.study import StudyRun

    bands = [f"{a}-{a + 4}" for a in range(20, 90, 5)]
    ones = {("F", 1), ("F", 4), ("F", 7), ("M", 2), ("M", 9)}
    prev = pd.DataFrame(
        [
            {"set_id": "migraine", "sex": s, "age_band": b, "n_persons": 7,
             "n_cases": int((s, i) in ones), "prevalence": float((s, i) in ones) / 7}
            for s in ("F", "M") for i, b in enumerate(bands)
        ]
    )  # fmt: skip
    study, h = load_study()
    data = site_results(
        StudyRun(results=pd.DataFrame(), claims=[], prevalence=prev), study, h, "t", 5
    )
    shown = pd.DataFrame(data["prevalence"])
    assert not (shown["n_cases"].astype(str) == "<5").any()
    assert sum(int(v) for v in shown["n_cases"]) == 5
    from miglink.privacy.partitions import gate_prevalence

    gated = gate_prevalence(prev, 5)
    assert shown[["sex", "age_band"]].values.tolist() == gated[["sex", "age_band"]].values.tolist()
