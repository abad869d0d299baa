"""report.html: rendered from a run directory's artefacts only, self-contained, honest about
what is missing, and never setting unlike measures side by side."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.report import render_report
from miglink.report.artefacts import load_run
from miglink.report.literature import measure_family
from miglink.report.render import _forest_rows, build_context


@pytest.fixture(scope="module")
def context(tmp_path_factory, make_run) -> dict:
    return build_context(load_run(make_run(tmp_path_factory.mktemp("context") / "run")))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, make_run) -> tuple[Path, str]:
    run = make_run(tmp_path_factory.mktemp("rendered") / "run")
    path = render_report(run)
    return run, path.read_text(encoding="utf-8")


def test_written_to_run_dir_by_default(rendered):
    run, html = rendered
    assert (run / "report.html").exists()
    assert html.startswith("<!DOCTYPE html>")
    assert not list(run.glob(".report.html.*"))  # atomic write left no temporary file


def test_explicit_out_path(tmp_path, make_run):
    run = make_run(tmp_path / "run", optional=False)
    out = render_report(run, tmp_path / "elsewhere" / "r.html")
    assert out == tmp_path / "elsewhere" / "r.html" and out.exists()
    assert not (run / "report.html").exists()


def test_summary_has_nine_claims_with_their_verdicts(rendered):
    run, html = rendered
    rows = re.findall(r'<tr class="summary-row" data-claim="(\d+)">(.*?)</tr>', html, re.S)
    assert [int(c) for c, _ in rows] == list(range(1, 10))
    claims = json.loads((run / "claims.json").read_text())["claims"]
    for (_, body), claim in zip(rows, claims, strict=True):
        badge = re.search(r'<span class="badge v-[a-z-]+">([a-z ]+)</span>', body).group(1)
        assert badge == claim["verdict"]


def test_self_contained_and_script_free(rendered):
    _, html = rendered
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html.lower()  # the methods text's <script> is escaped
    assert "&lt;script&gt;" in html
    assert "<link" not in html.lower()
    assert not re.search(r"""\bsrc\s*=""", html, re.I)
    assert "url(" not in html.replace("url(#", "")  # only in-document SVG references
    assert "@media print" in html


def test_svg_ids_are_unique_across_the_page(rendered):
    _, html = rendered
    ids = re.findall(r'\bid="([^"]+)"', html)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert dupes == []
    refs = set(re.findall(r"url\(#([^)]+)\)", html))
    assert refs and refs <= set(ids)


def test_every_part_of_a_claim_is_present(rendered):
    _, html = rendered
    claim9 = html[html.index('id="claim-9"') : html.index('id="calibration"')]
    for heading in (
        "Forest plot",
        "Kaplan–Meier curves",
        "Age–sex prevalence",
        "Calibration: negative controls",
        "Attrition",
        "Diagnostics",
        "Methods",
    ):
        assert heading in claim9
    assert claim9.count("<svg") >= 4  # forest, 2 KM curves, calibration, prevalence
    assert "h9_migraine_to_ai__main" in claim9
    assert "negative controls 12" in claim9


def test_suppressed_counts_are_shown_as_given(rendered):
    _, html = rendered
    diag = html[html.index('id="claim-3"') : html.index('id="claim-4"')]
    assert "14,613 / &lt;5" in diag or "/ &lt;5" in diag
    assert re.search(r"<td class=\"num\">&lt;5</td>", html)  # KM at-risk tail


def test_run_level_sections(rendered):
    _, html = rendered
    dq = html[html.index('id="data-quality"') : html.index('id="methods"')]
    assert "future_dates" in dq and "condition_occurrence" in dq and ">12<" in dq
    sw = html[html.index('id="software"') :]
    assert "statsmodels" in sw and "0.15.0" in sw and "settings.matching_ratio" in sw
    methods = html[html.index('id="methods"') : html.index('id="software"')]
    assert "<h4>Population</h4>" in methods and "<strong>365 days</strong>" in methods


def test_comparable_published_rows_share_our_measure(context):
    ctx = context
    n_same = n_other = 0
    for claim in ctx["claims"]:
        for h in claim["hypotheses"]:
            ours = measure_family(h["view"]["measure"]) if h["view"] else None
            for item in h["published"]["items"]:
                if item["comparable"]:
                    n_same += 1
                    assert item["family"] == ours
                else:
                    n_other += 1
    assert n_same > 5 and n_other > 5


def test_forest_plots_only_same_measure_published(context):
    ctx = context
    claim3 = next(c for c in ctx["claims"] if c["id"] == 3)
    rows = _forest_rows(claim3["hypotheses"])
    ra = rows[rows["label"].str.startswith("h3_ra_incident")]
    # Kim et al. BMJ Open 2021 RA->migraine aHR 1.35; Kang et al. Headache 2024 aHR 1.2;
    # the crude RR 1.371 derived from Kim's counts is not an HR and is not drawn.
    assert sorted(ra.loc[ra["kind"] == "published", "estimate"]) == [1.2, 1.35]
    assert set(ra["kind"]) == {"this study", "calibrated", "published"}


def test_not_available_when_optional_artefacts_absent(tmp_path, make_run):
    run = make_run(tmp_path / "run", optional=False)
    html = render_report(run).read_text()
    claim9 = html[html.index('id="claim-9"') : html.index('id="calibration"')]
    assert claim9.count('class="na"') >= 4  # KM, calibration, prevalence, attrition
    # negative controls are in results, so the calibration plot still draws without a fitted null
    assert "negative controls (no fitted null)" in html


def test_empty_optional_tables_render(tmp_path, make_run):
    run = make_run(tmp_path / "run")
    for name in ("curves", "prevalence", "attrition"):
        cols = pd.read_parquet(run / f"{name}.parquet").columns
        pd.DataFrame(columns=cols).to_parquet(run / f"{name}.parquet")
    (run / "calibration.json").write_text("{}")
    html = render_report(run).read_text()
    assert html.count('class="summary-row"') == 9


def test_pooled_result_renders_like_a_site(tmp_path, make_run):
    run = make_run(tmp_path / "run", pooled=True, optional=False)
    html = render_report(run).read_text()
    assert "pooled over 3 sites" in html
    assert html.count('class="summary-row"') == 9


def test_missing_results_is_a_user_error(tmp_path, make_run):
    run = make_run(tmp_path / "run")
    (run / "results.parquet").unlink()
    with pytest.raises(MiglinkError, match="no results.parquet or results.csv"):
        render_report(run)


def test_results_without_a_required_column_names_it(tmp_path, make_run):
    run = make_run(tmp_path / "run")
    res = pd.read_parquet(run / "results.parquet").drop(columns=["measure"])
    res.to_parquet(run / "results.parquet")
    with pytest.raises(MiglinkError) as e:
        render_report(run)
    assert e.value.table == "results" and e.value.column == "measure"
    assert e.value.n_rows == len(res) and "measure" in str(e.value)


def test_results_csv_is_accepted(tmp_path, make_run):
    run = make_run(tmp_path / "run", optional=False)
    pd.read_parquet(run / "results.parquet").to_csv(run / "results.csv", index=False)
    (run / "results.parquet").unlink()
    html = render_report(run).read_text()
    assert html.count('class="summary-row"') == 9


def test_key_row_is_the_hypothesis_row_not_a_sensitivity_row(context):
    claim3 = next(c for c in context["claims"] if c["id"] == 3)
    sle = next(h for h in claim3["hypotheses"] if h["id"] == "h3_sle")
    assert sle["row"]["role"] == "primary" and sle["row"]["method"] == "mantel_haenszel"
    # the sensitivity row shares the analysis id, has no claim number, and is still listed
    roles = [(r["analysis"], r["role"]) for r in claim3["rows"]]
    assert ("h3_sle__main", "sensitivity") in roles


def test_shares_are_listed_not_plotted(context):
    claim9 = next(c for c in context["claims"] if c["id"] == 9)
    order = next(h for h in claim9["hypotheses"] if h["id"] == "h9_order")
    assert order["view"]["measure"] == "share" and order["view"]["estimate"].startswith("0.44")
    rows = _forest_rows(claim9["hypotheses"])
    assert not rows["label"].str.startswith("h9_order").any()
    assert rows["label"].str.startswith("h9_migraine_to_ai").any()


def test_fatal_findings_and_notes_are_shown(tmp_path, make_run):
    run = make_run(tmp_path / "run", optional=False)
    meta = json.loads((run / "run.json").read_text())
    meta["data_quality"]["fatal"] = [
        {"check": "person_id_unique", "table": "person", "column": "person_id", "n_rows": 3,
         "message": "person_id repeated"}
    ]  # fmt: skip
    (run / "run.json").write_text(json.dumps(meta))
    html = render_report(run).read_text()
    dq = html[html.index('id="data-quality"') : html.index('id="methods"')]
    assert "person_id_unique" in dq and "person_id repeated" in dq
    assert '<td class="num">&lt;5</td>' in dq  # 3 rows: gated again by the report
    assert "D7: no family-history observations in this source" in dq


def test_report_gates_ungated_counts_again(tmp_path, make_run):
    """Defence in depth: a count below the minimum that reached the artefacts is still hidden."""
    run = make_run(tmp_path / "run")
    res = pd.read_parquet(run / "results.parquet")
    res.loc[res["hypothesis"] == "h3_ms", "events_exposed"] = "2"
    res.to_parquet(run / "results.parquet")
    att = pd.read_parquet(run / "attrition.parquet")
    att.loc[0, "n"] = "1"
    att.to_parquet(run / "attrition.parquet")
    art = load_run(run)
    assert set(art.results.loc[art.results["hypothesis"] == "h3_ms", "events_exposed"]) == {"<5"}
    assert art.attrition.loc[0, "n"] == "<5"
    prev = art.prevalence
    assert prev.loc[prev["n_cases"] == "<5", "prevalence"].isna().all()


def test_published_row_is_marked_comparable_only_beside_its_own_measure(context):
    claim3 = next(c for c in context["claims"] if c["id"] == 3)
    # Kang et al. Headache 2024: RA->migraine aHR 1.2 (1.17-1.26)
    kang = next(p for p in claim3["published"] if p["short"] == "Kang et al. 2024")
    beside = {h["id"]: (h["measure"], h["same"]) for h in kang["hypotheses"]}
    assert beside == {"h3_ra": ("OR", False), "h3_ra_incident": ("HR", True)}


def _with_claim_tallies(run: Path) -> Path:
    """Claims 7 and 9 as the claim rules of issue 15 write them: the interferon-beta positive
    control without a vote, an SCCS family with its Holm p, k of n, a mixed claim, rule texts."""
    p = run / "claims.json"
    claims = json.loads(p.read_text())["claims"]
    tallies = {
        7: ("no evidence", dict(n_hypotheses=2, n_voting=1, n_supported=0, n_contradicted=0,
                                n_no_evidence=1, n_inconclusive=0, n_not_analysed=0,
                                n_descriptive=0, n_positive_controls=1)),
        9: ("mixed", dict(n_hypotheses=2, n_voting=2, n_supported=1, n_contradicted=1,
                          n_no_evidence=0, n_inconclusive=0, n_not_analysed=0, n_descriptive=0,
                          n_positive_controls=0)),
    }  # fmt: skip
    for c in claims:
        if c["id"] in tallies:
            c["verdict"], t = tallies[c["id"]]
            c.update(t, rule_text=f"rule text of claim {c['id']}")
        for h in c["hypotheses"]:
            if h["id"].startswith("h7_"):
                h["family"] = "sccs_drugs"
            if h["id"] == "h7_ifn_sccs":
                h["role"] = "positive_control"
    p.write_text(json.dumps({"claims": claims}))
    res = pd.read_parquet(run / "results.parquet")
    res["holm_p_value"] = None
    res.loc[res["hypothesis"] == "h7_nsaid_sccs", "holm_p_value"] = 0.0123
    res.to_parquet(run / "results.parquet", index=False)
    return run


def test_claim_verdicts_state_k_of_n_and_their_rule(tmp_path, make_run):
    run = _with_claim_tallies(make_run(tmp_path / "run"))
    html = render_report(run).read_text(encoding="utf-8")
    c7 = html[html.index('id="claim-7"') : html.index('id="claim-8"')]
    c9 = html[html.index('id="claim-9"') :]
    assert "no evidence (1 of 1)" in c7 and "positive control: does not vote" in c7
    assert "rule text of claim 7" in c7 and "1 of 2 hypotheses vote" in c7
    assert "1 positive control(s)" in c7 and "family sccs_drugs (Holm)" in c7
    assert "0.012" in c7  # the Holm-adjusted p of h7_nsaid_sccs
    assert '<span class="badge v-mixed">mixed (1 supported, 1 contradicted, of 2)</span>' in c9
    rows = dict(re.findall(r'<tr class="summary-row" data-claim="(\d+)">(.*?)</tr>', html, re.S))
    assert "1 of 1" in rows["7"] and "v-mixed" in rows["9"]


def test_claims_json_without_tallies_still_renders(context):
    """An older claims.json (no n_voting): the verdict alone, no k of n."""
    assert all(c["tally"] == "" for c in context["claims"])
