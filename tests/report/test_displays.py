"""Issue 18 item 1: displays that misled a reader, each checked on a run directory shaped as the
writer shapes it (calibration.json keyed "D2 forward" / "D2 reverse" with its controls, D2
attrition keyed by index cohort, a degenerate null, machine diagnostics, suppressed prevalence).
Each test fails on the report as it was before the fix."""

from __future__ import annotations

import html as htmllib
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from miglink.io import write_json, write_parquet
from miglink.report import render_report
from miglink.report.artefacts import load_run

#: the issue's example: raw HR 1.09, calibrated HR 1.35 with calibrated CI 1.09-1.67
RAW, CAL, CAL_LO, CAL_HI = 1.09, 1.35, 1.09, 1.67


def _controls(mean: float, n: int = 6) -> list[dict]:
    return [
        {"outcome": f"nc_{i}", "log_estimate": mean + 0.05 * (i - n / 2), "se_log": 0.2 + 0.02 * i}
        for i in range(n)
    ]


def _reshape(run: Path) -> Path:
    """The fake run rewritten into the shapes the writer produces."""
    res = pd.read_parquet(run / "results.parquet")
    d2 = res["design"] == "D2"
    res.loc[d2, "direction"] = [
        "forward" if e == "migraine" else "reverse" for e in res.loc[d2, "exposure"]
    ]
    key = (res["hypothesis"] == "h9_ai_to_migraine") & (res["role"] == "primary")
    res.loc[key, ["estimate", "cal_estimate", "cal_ci_low", "cal_ci_high"]] = [
        RAW,
        CAL,
        CAL_LO,
        CAL_HI,
    ]
    res.loc[key, "log_estimate"] = math.log(RAW)
    res.loc[key, "diagnostics"] = "not_estimable;events<5;balance(smd_age;smd_visits)"
    res.loc[key, "diagnostics_pass"] = False
    # D6 is not calibrated (the fake run calibrates every row)
    res.loc[res["design"] == "D6", ["cal_estimate", "cal_ci_low", "cal_ci_high"]] = None
    write_parquet(run / "results.parquet", res)

    cal = {
        "D1": {"mean": 0.08, "sd": 0.06, "ease": 0.07, "n_controls": 6, "controls": _controls(0.08)},
        "D2 forward": {"mean": 0.05, "sd": 0.09, "ease": 0.09, "n_controls": 6,
                       "controls": _controls(0.05)},
        "D2 reverse": {"mean": 0.55, "sd": 0.0004, "ease": 0.55, "n_controls": 6,
                       "controls": _controls(0.55)},
    }  # fmt: skip
    (run / "calibration.json").write_text(json.dumps(cal), encoding="utf-8")

    # D2 writes one attrition per index cohort, shared by its outcomes
    att = pd.DataFrame(
        [
            {
                "analysis": "d2__any_autoimmune",
                "step": 1,
                "description": "new diagnoses",
                "n": "900",
            },
            {"analysis": "d2__any_autoimmune", "step": 2, "description": "matched", "n": "700"},
        ]
    )
    write_parquet(run / "attrition.parquet", att)

    # only zero cells survive suppression for SLE; every cell with cases is "<5"
    prev = pd.read_parquet(run / "prevalence.parquet")
    sle = prev["set_id"] == "sle"
    cases = pd.Series(["<5", "0"] * (int(sle.sum()) // 2 + 1))[: int(sle.sum())]
    prev.loc[sle, "n_cases"] = cases.to_numpy()
    prev.loc[sle, "prevalence"] = [0.0 if c == "0" else float("nan") for c in cases]
    write_parquet(run / "prevalence.parquet", prev)

    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["data_quality"]["warnings"][0]["n_rows"] = 1234
    write_json(run / "run.json", meta)
    return run


@pytest.fixture(scope="module")
def page(tmp_path_factory, make_run) -> tuple[Path, str]:
    run = _reshape(make_run(tmp_path_factory.mktemp("displays") / "run"))
    return run, render_report(run).read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    fragment = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def _claim(html: str, cid: int) -> str:
    m = re.search(rf'<section class="claim" id="claim-{cid}">(.*?)</section>', html, re.S)
    assert m, f"claim {cid} section missing"
    return m.group(1)


def _summary_row(html: str, cid: int) -> str:
    m = re.search(rf'<tr class="summary-row" data-claim="{cid}">(.*?)</tr>', html, re.S)
    assert m
    return _text(m.group(1))


def test_summary_sets_the_calibrated_estimate_in_the_calibrated_ci(page):
    run, html = page
    summary = next(c for c in load_run(run).claims if c["id"] == 9)["summary"]
    assert f"HR {CAL:.2f} (calibrated 95% CI {CAL_LO:.2f}-{CAL_HI:.2f}" in summary
    assert f"raw HR {RAW:.2f}" in summary
    assert f"HR {RAW:.2f} (calibrated" not in summary  # the old, misleading pairing


def test_key_estimate_column_labels_calibrated_and_raw(page):
    _, html = page
    assert "Key estimate (calibrated 95% CI)" not in html
    row = _summary_row(html, 9)
    assert f"{CAL:.2f} ({CAL_LO:.2f}–{CAL_HI:.2f}) calibrated" in row
    assert f"raw {RAW:.2f}" in row
    # a design without calibration (D6) says its estimate is raw
    assert "raw (not calibrated)" in _summary_row(html, 1)


def test_d2_calibration_panel_one_funnel_per_direction(page):
    _, html = page
    c9 = _text(_claim(html, 9))  # both directions
    assert "no fitted null" not in c9
    assert "D2 forward: negative controls 6" in c9 and "D2 reverse: negative controls 6" in c9
    c5 = _text(_claim(html, 5))  # migraine -> MS only: the forward null
    assert "D2 forward" in c5 and "D2 reverse" not in c5


def test_attrition_found_under_the_index_cohort_key(page):
    _, html = page
    c9 = _claim(html, 9)
    att = c9[c9.index("<h3>Attrition</h3>") : c9.index("<h3>Diagnostics</h3>")]
    assert "not available" not in att and "d2__any_autoimmune" in att and "900" in att


def test_data_quality_counts_are_counts(page):
    _, html = page
    dq = _text(html[html.index('id="data-quality"') :])
    assert "1,234" in dq and "<1000000000" not in dq


def test_descriptive_hypothesis_is_not_called_not_analysed(page):
    _, html = page
    c9 = _claim(html, 9)
    row = re.search(r"<tr>\s*<td><code>h9_order</code>.*?</tr>", c9, re.S).group(0)
    assert "descriptive" in _text(row) and "not analysed" not in _text(row)


def test_prevalence_of_suppressed_cells_says_suppressed(page):
    _, html = page
    c3 = _claim(html, 3)
    fig = c3[c3.index("<h3>Age–sex prevalence</h3>") : c3.index("<h3>Attrition</h3>")]
    assert "SLE: suppressed" in _text(fig)
    assert fig.count("<svg") == 3  # MS, RA and migraine are drawn; SLE is not drawn as 0%


def test_degenerate_null_is_flagged(page):
    _, html = page
    assert "Degenerate null" in _text(_claim(html, 9))
    assert "degenerate" in _text(html[html.index('id="calibration"') :])


def test_diagnostics_in_plain_words(page):
    _, html = page
    c9 = _text(_claim(html, 9))
    assert "not_estimable" not in c9 and "events<5" not in c9
    assert "no estimate could be computed" in c9 and "too few outcome events (minimum 5)" in c9
    assert "covariates unbalanced after matching: age, number of visits" in c9


def test_km_titles_are_names_not_ids(page):
    _, html = page
    svgs = re.findall(r"<svg.*?</svg>", _claim(html, 9), re.S)
    titles = " ".join(_text(s) for s in svgs)
    assert "h9_ai_to_migraine__main" not in " ".join(svgs)
    assert "any autoimmune disease → migraine" in htmllib.unescape(" ".join(svgs)) or (
        "any autoimmune disease → migraine" in titles
    )


def test_literature_links_go_to_doi_or_pubmed(page):
    _, html = page
    links = []
    for cid in range(1, 10):
        links += re.findall(r'<a href="([^"]+)" rel="noopener', _claim(html, cid))
    assert links
    bad = [u for u in links if not re.match(r"https://(doi\.org|pubmed\.ncbi\.nlm\.nih\.gov|pmc\.ncbi\.nlm\.nih\.gov)/", htmllib.unescape(u))]  # fmt: skip
    assert not bad, bad[:5]
