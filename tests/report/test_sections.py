"""Issue 18 item 2: the report's missing sections, each rendered from the artefacts only.

Headline (persons, with migraine, with any autoimmune disease), a banner per claim the data cannot
answer, attrition diagrams, the pooled report's per-site rows / forest / heterogeneity, and
relative links to the artefacts. Every test fails on the report of main before this change (the
sections did not exist).
"""

from __future__ import annotations

import html as html_text
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from miglink.report import render_report
from miglink.report.banners import claim_banner
from miglink.report.headline import NOT_SHOWN, headline_counts

from .conftest import POOL_SLE, Z


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section[^>]*id="{sid}"[^>]*>(.*?)</section>', html, re.S)
    assert m, f"section {sid} missing"
    return m.group(1)


def _text(fragment: str) -> str:
    return html_text.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


@pytest.fixture(scope="module")
def html(tmp_path_factory, make_run) -> str:
    run = make_run(tmp_path_factory.mktemp("sections") / "run")
    return render_report(run).read_text(encoding="utf-8")


# --- headline ---------------------------------------------------------------------------------


def test_headline_sums_the_published_prevalence_cells(html):
    # conftest prevalence: 13 age bands x 2 sexes, n = int(3000 exp(-a/60)) persons per cell
    ages = range(20, 85, 5)
    persons = 2 * sum(int(3000 * math.exp(-a / 60)) for a in ages)
    text = _text(_section(html, "headline"))
    assert f"Persons {persons:,}" in text
    assert "Persons with migraine" in text and "Persons with any autoimmune disease" in text
    # every migraine cell is >= 5 in the fixture: the exact sum is shown
    assert re.search(r"Persons with migraine [\d,]+ ", text)
    # any_autoimmune has cells suppressed to "<5" (the fixture gates cell by cell, without the
    # coarsening of a real run): its total would give them back, so it is not shown
    assert "Persons with any autoimmune disease not shown" in text


def test_headline_never_sums_around_a_suppressed_cell():
    """A set with a suppressed cell has no total: total minus the shown cells would give it."""
    prev = pd.DataFrame(
        {
            "set_id": ["migraine"] * 3 + ["any_autoimmune"],
            "sex": ["F", "F", "M", "all"],
            "age_band": ["20-39", "40-59", "20-59", "all"],
            "n_persons": [100, 120, 200, 420],
            "n_cases": [12, "<5", 30, "<5"],
        }
    )
    h = headline_counts(prev, "migraine", 5)
    assert h["persons_index"] == NOT_SHOWN  # not 42, not "<5"
    assert h["persons_any_autoimmune"] == "<5"  # the gate's single suppressed total
    assert h["persons"] == 420
    every_cell = prev.assign(n_cases=[12, 7, 30, 9])
    assert headline_counts(every_cell, "migraine", 5)["persons_index"] == 49


def test_run_json_headline_is_the_sum_of_the_written_prevalence(pooled_run):
    run = json.loads((pooled_run / "run.json").read_text(encoding="utf-8"))
    prev = pd.read_parquet(pooled_run / "prevalence.parquet")
    mig = prev[prev.set_id == "migraine"]
    assert run["headline"]["persons_index"] == int(mig.n_cases.sum()) == 3 * 4 * 60
    assert run["headline"]["persons"] == int(mig.n_persons.sum()) == 3 * 4 * 400


# --- banners ----------------------------------------------------------------------------------


def test_banner_says_why_a_claim_cannot_be_answered(html):
    claim2 = _text(_section(html, "claim-2"))
    assert "This source cannot answer this claim" in claim2
    assert "no family-history records in this source" in claim2  # the row's own note
    # claim 3 is partly answered: h3_sjogren is inconclusive with too few events
    claim3 = _text(_section(html, "claim-3"))
    assert "1 of 5 hypotheses could not be answered" in claim3
    assert "h3_sjogren" in claim3 and "events" in claim3
    # claim 1 is answered throughout: no banner
    assert 'class="banner' not in _section(html, "claim-1")


def test_banner_ignores_descriptive_hypotheses_and_groups_reasons():
    row = pd.Series(
        {"note": "not estimable: no strata; x", "diagnostics": "not_estimable;events<5"}
    )
    hyps = [
        {"id": "a", "verdict": "inconclusive", "row": row},
        {"id": "b", "verdict": "inconclusive", "row": row},
        {"id": "d", "verdict": "descriptive", "row": None},
    ]
    b = claim_banner(hyps, "inconclusive")
    assert b["kind"] == "cannot"
    assert b["reasons"] == [
        {"reason": "no strata; too few outcome events (minimum 5)", "ids": "a, b", "n": 2}
    ]
    assert claim_banner([hyps[2]], "not analysed") is None


# --- attrition --------------------------------------------------------------------------------


def test_attrition_diagrams_per_cohort_with_gated_counts(html):
    sec = _section(html, "attrition")
    svgs = re.findall(r'<svg[^>]*class="attrition-diagram".*?</svg>', sec, re.S)
    assert len(svgs) == 3  # the fixture's three cohorts of attrition.parquet
    first = _text(svgs[0])
    # h3_ra_incident: 5400 -> 4100 -> 3900 -> 3850, each step and change >= 5
    assert "n = 5,400" in first and "excluded 1,300" in first and "excluded 50" in first
    # h4_sle_stroke has 4 persons: the gate shows "<5", and nothing is subtracted from it
    assert any("n <5" in _text(s) for s in svgs)
    assert "<script" not in sec
    # the claim section draws its own cohort too
    assert 'class="attrition-diagram"' in _section(html, "claim-9")


# --- artefact links ---------------------------------------------------------------------------


def test_links_to_the_artefacts_present(html, tmp_path, make_run):
    hrefs = re.findall(r'<a href="([^"#]+)">', _section(html, "artefacts"))
    assert "claims.json" in hrefs and "results.parquet" in hrefs and "run.json" in hrefs
    assert "results.csv" not in hrefs  # the fixture writes no CSV: no dead link
    assert all("/" not in h and ":" not in h for h in hrefs)  # relative, beside the report


# --- pooled report ----------------------------------------------------------------------------


def test_pooled_report_has_site_rows_forest_and_heterogeneity(pooled_run):
    html = (pooled_run / "report.html").read_text(encoding="utf-8")
    sec = _section(html, "sites")
    text = _text(sec)
    se = 0.1 + 0.01 * 5  # the key row's SE at every site (conftest._site_file)
    for i, y in enumerate(POOL_SLE):
        lo, hi = math.exp(y - Z * se), math.exp(y + Z * se)
        assert f"site {i + 1}: test site {i + 1} {math.exp(y):.2f} ({lo:.2f}–{hi:.2f})" in text
    assert "<svg" in sec  # the per-site forest
    # Cochran's Q by hand (fixed-effect weights) and its chi-square p: the reference numbers
    y = np.array(POOL_SLE)
    w = np.full(3, 1 / se**2)
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    p = float(stats.chi2.sf(q, 2))
    assert f"Q {q:.2f} (p {p:.3f})" in text
    assert re.search(r"I² [1-9]\d% · tau² 0\.\d{3}", text)
    pooled = json.loads((pooled_run / "pooled.json").read_text(encoding="utf-8"))
    entry = next(a for a in pooled["analyses"] if a["analysis"] == "d1__migraine__sle")
    assert [s["site"] for s in entry["sites"]] == [0, 1, 2]
    assert all("events" not in k and not k.startswith("n_") for s in entry["sites"] for k in s)


def test_single_site_report_has_no_sites_section(html):
    assert 'id="sites"' not in html


def test_every_section_is_in_the_contents(html):
    nav = re.search(r'<nav class="toc".*?</nav>', html, re.S).group(0)
    for sid in ("headline", "summary", "attrition", "calibration", "artefacts"):
        assert f'href="#{sid}"' in nav
        assert f'id="{sid}"' in html


def test_report_still_has_no_script_and_forbids_network(html):
    assert "<script" not in html.replace("&lt;script", "")
    assert "default-src 'none'" in html
    assert not re.search(r'src="(https?:)?//', html)  # one file: nothing loaded from elsewhere
