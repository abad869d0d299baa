"""Adversarial tests of the results-table disclosure policy (issue 13, Deliver 2 and 4).

Each route by which a suppressed count came back is attacked on the published numbers only:
SE inversion of a 2x2 (Woolf), of a Poisson rate ratio and of a Mantel-Haenszel OR, subtraction
within a partition, free-text notes and claim summaries. The attacks run on hand-made frames and
end to end on the real MIMIC-IV FHIR demo and a 5k synthetic population, at min_cell 5 and 11.
"""

from __future__ import annotations

import json
import math
import re
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

from miglink.privacy import SECONDARY_LABEL, gate_claims, gate_results, scan_text
from miglink.privacy.results import row_totals
from miglink.privacy.schema import column_kinds, columns_of
from miglink.privacy.spec import decode_table

MIN_CELLS = (5, 11)
COUNTS = ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed")


def _row(**kw) -> dict:
    base = {c: None for c in column_kinds()}
    base.update(
        design="D1",
        role="primary",
        exposure="migraine",
        outcome="sle",
        stratum="all",
        measure="OR",
        method="crude_woolf",
        analysis="a1",
        note="",
    )
    base.update(kw)
    return base


def _woolf(a: float, n1: float, c: float, n0: float) -> tuple[float, float]:
    """Crude OR and Woolf SE of log OR (Woolf 1955), as the estimator publishes them."""
    b, d = n1 - a, n0 - c
    return (a * d) / (b * c), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def _num(v) -> float | None:
    if v is None or isinstance(v, (str, bool)):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# ----- attacks: each returns the set of (row, column, value) it recovered -----------------------


def attack_se_inversion(pub: pd.DataFrame, min_cell: int) -> set[tuple]:
    """Solve for a suppressed 2x2 cell from OR and SE (Woolf), a rate ratio and SE (Poisson with
    person-years), or a share (events / n): try every value the label allows and keep the ones
    that reproduce the published numbers; a unique fit is a recovery."""
    found = set()
    for i, r in pub.iterrows():
        est, se = _num(r.get("estimate")), _num(r.get("se_log"))
        hidden = [c for c in COUNTS if isinstance(r.get(c), str)]
        if not hidden or est is None:
            continue
        # every hidden cell ranges over 0..(a generous bound); published cells are fixed
        ranges = []
        for c in COUNTS:
            v = r.get(c)
            if c in hidden:
                ranges.append(range(0, 200) if v == SECONDARY_LABEL else range(1, min_cell))
            else:
                ranges.append([_num(v)] if _num(v) is not None else [None])
        fits = []
        for n1, n0, a, c in product(*ranges):
            if None in (n1, n0, a, c):
                continue
            cand = []
            if 0 < a < n1 and 0 < c < n0:
                cand.append(_woolf(a, n1, c, n0))
            if a and c:
                py1, py0 = (
                    _num(r.get("person_years_exposed")),
                    _num(r.get("person_years_unexposed")),
                )
                if py1 and py0:
                    cand.append(((a / py1) / (c / py0), math.sqrt(1 / a + 1 / c)))
            if n1:
                cand.append((a / n1, None))
            for e, s in cand:
                if abs(e - est) < 1e-6 * max(1, abs(est)) and (
                    se is None or s is None or abs(s - se) < 1e-6
                ):
                    fits.append((n1, n0, a, c))
        if len(set(fits)) == 1:
            vals = dict(zip(COUNTS, fits[0], strict=True))
            for c in hidden:
                if 0 < vals[c] < min_cell:
                    found.add((i, c, vals[c]))
    return found


def attack_subtraction(pub: pd.DataFrame, truth: pd.DataFrame, min_cell: int) -> set[tuple]:
    """Every suppressed cell that equals a published cell minus a sum of other published cells of
    its column in the same analysis, or a row total minus its other arm where other artefacts
    publish that total (persons and cases of whole-population designs, cohort sizes: the attacker
    is given the true totals)."""
    found = set()
    for _a, g in pub.groupby("analysis"):
        idx = list(g.index)
        for c in COUNTS:
            shown = {i: _num(pub.at[i, c]) for i in idx if _num(pub.at[i, c]) is not None}
            for i in idx:
                if not isinstance(pub.at[i, c], str):
                    continue
                true = _num(truth.at[i, c])
                if true is None or not 0 < true < min_cell:
                    continue
                # cell = total - sum(others): if all other strata are shown and a larger row is
                # their total, the difference gives the hidden cell
                others = [j for j in idx if j != i and pub.at[j, "stratum"] != pub.at[i, "stratum"]]
                for t in others:
                    if t not in shown:
                        continue
                    rest = [j for j in others if j != t]
                    for k in range(1, len(rest) + 1):
                        for combo in _combos(rest, k):
                            if (
                                all(j in shown for j in combo)
                                and shown[t] - sum(shown[j] for j in combo) == true
                            ):
                                found.add((i, c, true))
        for i in idx:
            for x, y in row_totals(pub.at[i, "design"], pub.at[i, "method"]):
                tx, ty = _num(truth.at[i, x]), _num(truth.at[i, y])
                if tx is None or ty is None:
                    continue
                for hid, other, t in ((x, y, tx), (y, x, ty)):
                    if isinstance(pub.at[i, hid], str) and _num(pub.at[i, other]) is not None:
                        if 0 < t < min_cell:
                            found.add((i, hid, t))
    return found


def _combos(items, k):
    from itertools import combinations

    return combinations(items, k) if len(items) <= 12 else []


def attack_text(pub: pd.DataFrame, truth: pd.DataFrame, min_cell: int) -> set[tuple]:
    """A suppressed count of an analysis written as a number in any text column of it."""
    found = set()
    texts = columns_of("text")
    for _a, g in pub.groupby("analysis"):
        hidden = {
            int(_num(truth.at[i, c]))
            for i in g.index
            for c in COUNTS
            if isinstance(pub.at[i, c], str) and _num(truth.at[i, c]) is not None
        }
        for i in g.index:
            for c in texts:
                for tok in re.findall(r"(?<![\w.])\d+(?![\w]|\.\d)", str(pub.at[i, c] or "")):
                    if int(tok) in hidden and 0 < int(tok) < min_cell:
                        found.add((i, c, int(tok)))
    return found


def no_small_counts(pub: pd.DataFrame, min_cell: int) -> list:
    return [
        (i, c, v)
        for c in COUNTS
        for i, v in pub[c].items()
        if _num(v) is not None and 0 < _num(v) < min_cell
    ]


def all_attacks(pub: pd.DataFrame, truth: pd.DataFrame, min_cell: int) -> set[tuple]:
    truth = truth.reset_index(drop=True)
    return (
        attack_se_inversion(pub, min_cell)
        | attack_subtraction(pub, truth, min_cell)
        | attack_text(pub, truth, min_cell)
    )


# ----- unit tests on hand-made frames ----------------------------------------------------------


@pytest.mark.parametrize("m", MIN_CELLS)
def test_woolf_se_inversion_recovers_the_cell_before_and_nothing_after(m):
    a, n1, c, n0 = m - 2, 40, 30, 400
    est, se = _woolf(a, n1, c, n0)
    truth = pd.DataFrame(
        [
            _row(
                n_exposed=n1,
                n_unexposed=n0,
                events_exposed=a,
                events_unexposed=c,
                estimate=est,
                se_log=se,
                ci_low=est / 2,
                ci_high=est * 2,
                p_value=0.01,
            )
        ]
    )
    naive = truth.copy().astype(object)
    naive.loc[0, "events_exposed"] = f"<{m}"  # primary suppression only (the old gate)
    assert (0, "events_exposed", a) in attack_se_inversion(naive, m)
    pub = gate_results(truth, m)
    assert pub.loc[0, "events_exposed"] == f"<{m}"
    assert pub.loc[0, ["estimate", "se_log", "ci_low", "ci_high", "p_value"]].isna().all()
    assert "withheld" in pub.loc[0, "note"] and str(m) in pub.loc[0, "note"]
    assert not all_attacks(pub, truth, m)


@pytest.mark.parametrize("m", MIN_CELLS)
def test_poisson_rate_ratio_and_rates_are_withheld(m):
    a, c, py1, py0 = 2, 40, 120.5, 900.25
    truth = pd.DataFrame(
        [
            _row(
                design="D2",
                measure="HR",
                method="poisson_matched_strata",
                n_exposed=60,
                n_unexposed=300,
                events_exposed=a,
                events_unexposed=c,
                person_years_exposed=py1,
                person_years_unexposed=py0,
                estimate=(a / py1) / (c / py0),
                se_log=math.sqrt(1 / a + 1 / c),
                ir_exposed_per_1000py=1000 * a / py1,
                ir_unexposed_per_1000py=1000 * c / py0,
                mdrr=2.0,
                cal_estimate=1.1,
            )
        ]
    )
    naive = truth.copy().astype(object)
    naive.loc[0, "events_exposed"] = f"<{m}"
    assert attack_se_inversion(naive, m)
    pub = gate_results(truth, m)
    for col in columns_of("estimate", "interval", "p_value", "rate", "person_time"):
        assert pub.loc[0, col] is None or pd.isna(pub.loc[0, col]), col
    assert not all_attacks(pub, truth, m)


@pytest.mark.parametrize("m", MIN_CELLS)
def test_partition_with_one_suppressed_stratum_gets_a_second(m):
    """Dose-response strata and a trend row that is their total (women under 15 alike)."""
    rows = [
        _row(
            analysis="h8",
            stratum="per additional disease",
            method="logistic_trend_grouped",
            n_exposed=415,
            events_exposed=68,
            estimate=1.03,
            se_log=0.1,
        ),
        _row(
            analysis="h8",
            stratum="1",
            method="descriptive",
            role="descriptive",
            n_exposed=383,
            events_exposed=62,
            estimate=62 / 383,
        ),
        _row(
            analysis="h8",
            stratum="2",
            method="descriptive",
            role="descriptive",
            n_exposed=31,
            events_exposed=6,
            estimate=6 / 31,
        ),
        _row(
            analysis="h8",
            stratum="3+",
            method="descriptive",
            role="descriptive",
            n_exposed=1,
            events_exposed=0,
            estimate=0.0,
        ),
    ]
    truth = pd.DataFrame(rows)
    naive = truth.copy().astype(object)
    naive.loc[3, "n_exposed"] = f"<{m}"
    assert (3, "n_exposed", 1) in attack_subtraction(naive, truth, m)
    pub = gate_results(truth, m)
    assert pub.loc[3, "n_exposed"] == f"<{m}"
    assert (pub["n_exposed"] == SECONDARY_LABEL).sum() >= 1
    assert not all_attacks(pub, truth, m)
    # the trend fit over these strata is withheld with them (it would be solvable for them)
    assert pd.isna(pub.loc[0, "estimate"])


@pytest.mark.parametrize("m", MIN_CELLS)
def test_other_arm_of_a_row_is_withheld_with_a_small_one(m):
    truth = pd.DataFrame(
        [_row(n_exposed=m - 1, n_unexposed=800, events_exposed=0, events_unexposed=40)]
    )
    pub = gate_results(truth, m)
    assert pub.loc[0, "n_exposed"] == f"<{m}" and pub.loc[0, "n_unexposed"] == SECONDARY_LABEL
    assert pub.loc[0, "events_exposed"] == 0  # a structural zero reveals no one
    assert not all_attacks(pub, truth, m)


@pytest.mark.parametrize("m", MIN_CELLS)
def test_complement_within_an_arm_is_protected(m):
    """n = 100 with 99 events: the one person without the outcome is a small cell too."""
    truth = pd.DataFrame(
        [
            _row(
                n_exposed=100,
                n_unexposed=900,
                events_exposed=100 - (m - 1),
                events_unexposed=300,
                estimate=3.0,
                se_log=0.4,
            )
        ]
    )
    pub = gate_results(truth, m)
    assert isinstance(pub.loc[0, "events_exposed"], str)
    assert pd.isna(pub.loc[0, "estimate"])


@pytest.mark.parametrize("m", MIN_CELLS)
def test_same_quantity_in_another_analysis_is_withheld_too(m):
    """The unexposed SLE cases of D1 reappear as the reference group of D4."""
    truth = pd.DataFrame(
        [
            _row(
                analysis="d1",
                n_exposed=500,
                n_unexposed=4000,
                events_exposed=2,
                events_unexposed=14,
            ),
            _row(
                analysis="h4",
                design="D4",
                stratum="with aura vs none",
                n_exposed=150,
                n_unexposed=4000,
                events_exposed=9,
                events_unexposed=14,
                estimate=1.2,
                se_log=0.3,
            ),
        ]
    )
    pub = gate_results(truth, m)
    assert pub.loc[0, "events_unexposed"] == SECONDARY_LABEL
    assert pub.loc[1, "events_unexposed"] == SECONDARY_LABEL


@pytest.mark.parametrize("m", MIN_CELLS)
def test_subgroup_of_another_analysis_nested_in_all_is_withheld(m):
    """D6: the 'all' row of one hypothesis and the 'no autoimmune disease' row of another describe
    nested populations; their difference (the persons with autoimmune disease) is never published,
    so it must not be small (found by tests/privacy/test_adversarial.py on 300 synthetic persons)."""
    truth = pd.DataFrame(
        [
            _row(
                analysis="h6_all",
                design="D6",
                method="rgm_ols_stratum_sums",
                n_exposed=40,
                n_unexposed=900,
                estimate=1.1,
                se_log=0.1,
            ),
            _row(
                analysis="h6_noai",
                design="D6",
                method="rgm_ols_stratum_sums",
                stratum="no autoimmune disease",
                n_exposed=39,
                n_unexposed=880,
                estimate=1.0,
                se_log=0.1,
            ),
        ]
    )
    pub = gate_results(truth, m)
    assert pub.loc[0, "n_exposed"] == 40
    assert pub.loc[1, "n_exposed"] == SECONDARY_LABEL
    assert pub.loc[1, "n_unexposed"] == 880  # a difference of 20 >= min_cell reveals nothing
    assert pd.isna(pub.loc[1, "estimate"])


def test_mantel_haenszel_or_is_withheld_when_an_arm_is_sparse():
    from miglink.stats.twobytwo import mantel_haenszel

    strata = pd.DataFrame({"a": [1, 2], "b": [20, 30], "c": [10, 12], "d": [300, 400]})
    est = mantel_haenszel(strata)
    truth = pd.DataFrame(
        [
            _row(
                method="mantel_haenszel",
                n_exposed=53,
                n_unexposed=722,
                events_exposed=3,
                events_unexposed=22,
                estimate=est.estimate,
                se_log=est.se_log,
                ci_low=est.ci_low,
                ci_high=est.ci_high,
                p_value=est.p_value,
            )
        ]
    )
    pub = gate_results(truth, 5)
    assert pub.loc[0, ["estimate", "se_log", "ci_low", "ci_high", "p_value"]].isna().all()


@pytest.mark.parametrize("m", MIN_CELLS)
def test_note_with_a_suppressed_count_is_redacted(m):
    truth = pd.DataFrame(
        [
            _row(
                method="sccs_conditional_poisson",
                n_exposed=m - 2,
                n_unexposed=m - 2,
                events_exposed=9,
                events_unexposed=30,
                note=f"{m - 2} exposed cases; eras from records with a 30-day gap",
            )
        ]
    )
    pub = gate_results(truth, m)
    assert f"{m - 2} exposed" not in pub.loc[0, "note"]
    assert "eras from records" in pub.loc[0, "note"]
    assert not attack_text(pub, truth, m)


def test_scan_text_replaces_whole_integers_only():
    assert scan_text("2 exposed cases; 12 controls; 2.5 years", [2]) == (
        "[withheld] exposed cases; 12 controls; 2.5 years"
    )
    assert scan_text(None, [1]) == ""
    assert scan_text("no numbers", []) == "no numbers"


def test_a_column_outside_the_schema_does_not_leave():
    truth = pd.DataFrame([_row(n_exposed=3, n_unexposed=50, events_exposed=1, events_unexposed=9)])
    truth["secret_count"] = 3
    pub = gate_results(truth, 5)
    assert "secret_count" not in pub.columns


def test_every_schema_column_has_a_known_kind():
    kinds = column_kinds()
    assert set(COUNTS) <= set(columns_of("count"))
    assert {"estimate", "se_log", "ci_low", "mdrr", "cal_estimate"} <= set(
        columns_of("estimate", "interval")
    )
    assert "note" in columns_of("text")
    assert len(kinds) >= 40


@pytest.mark.parametrize("m", MIN_CELLS)
def test_gate_is_idempotent(m):
    truth = pd.DataFrame(
        [
            _row(
                n_exposed=m - 1,
                n_unexposed=800,
                events_exposed=1,
                events_unexposed=40,
                estimate=2.0,
            )
        ]
    )
    once = gate_results(truth, m)
    assert gate_results(once, m).astype(str).equals(once.astype(str))


def test_claim_summary_shows_only_what_the_gated_table_shows():
    truth = pd.DataFrame(
        [
            _row(
                hypothesis="h3_sle",
                claim=3,
                n_exposed=5,
                n_unexposed=95,
                events_exposed=1,
                events_unexposed=0,
                estimate=0.19,
                ci_low=0.01,
                ci_high=3.6,
                measure="share",
            )
        ]
    )
    claims = [
        {
            "id": 3,
            "summary": "h3_sle: share 0.19 (95% CI 0.01-3.60)",
            "hypotheses": [{"id": "h3_sle", "analysis": "a1", "verdict": "inconclusive"}],
        }
    ]
    out = gate_claims(claims, gate_results(truth, 5))
    assert out[0]["summary"] == "h3_sle: inconclusive"
    assert claims[0]["summary"].startswith("h3_sle: share")  # the input is not changed


def test_one_arms_strata_and_their_total_row_are_a_group_of_their_own():
    """A D3 ratio row ("women vs men") holds each arm's sum of its two subgroups: a suppressed
    men's cell must not be the total minus the women's cell, even when the other arm's
    suppressed cells already make the analysis's hidden cases add up to min_cell (the 5k
    synthetic run found this: 14 - 11 = 3)."""
    m = 5
    common = dict(design="D3", method="mantel_haenszel", analysis="h6_sex_sle", role="secondary")
    truth = pd.DataFrame(
        [
            _row(**common, stratum="women", n_exposed=393, n_unexposed=2131, events_exposed=2,
                 events_unexposed=11),
            _row(**common, stratum="men", n_exposed=133, n_unexposed=2343, events_exposed=0,
                 events_unexposed=3),
            _row(**common, stratum="women vs men", measure="ROR", n_exposed=526,
                 n_unexposed=4474, events_exposed=2, events_unexposed=14),
        ]
    )  # fmt: skip
    pub = gate_results(truth, m)
    assert pub.at[1, "events_unexposed"] == f"<{m}"
    assert not attack_subtraction(pub, truth, m)


# ----- end to end ------------------------------------------------------------------------------


def _truth_and_published(data: Path, out: Path, m: int) -> tuple[pd.DataFrame, Path]:
    from miglink.claims.model import load_study
    from miglink.outputs import write_run
    from miglink.sources import open_cdm

    study, study_hash = load_study(None)
    cdm = open_cdm(data)
    from miglink.study import execute

    run = execute(cdm, study)
    write_run(
        run,
        out,
        study=study,
        study_hash=study_hash,
        data_description=cdm.description,
        engine="duckdb",
        min_cell=m,
        report=True,
    )
    return run.results.reset_index(drop=True), out


def _check_run(truth: pd.DataFrame, out: Path, m: int) -> None:
    pub = pd.read_csv(out / "results.csv", dtype=object, keep_default_na=False)
    pub = pub.replace({"": None})
    # counts as written (-5 for "<5", a withheld one named in count_labels) back to the labels
    pub = decode_table(pub, "results")
    for c in columns_of("estimate", "interval", "p_value", "person_time", "rate", "statistic"):
        pub[c] = pd.to_numeric(pub[c], errors="coerce")
    for c in COUNTS:
        pub[c] = [
            v if v is None or str(v).startswith("<") or v == SECONDARY_LABEL else float(v)
            for v in pub[c]
        ]
    assert len(pub) == len(truth)
    assert not no_small_counts(pub, m)
    recovered = all_attacks(pub, truth, m)
    assert not recovered, sorted(recovered)[:5]
    # claim summaries: every number in them is a published estimate or limit of the key row
    published = set()
    for c in ("estimate", "ci_low", "ci_high", "cal_estimate", "cal_ci_low", "cal_ci_high"):
        published |= {f"{v:.2f}" for v in pub[c].dropna()}
    claims = json.loads((out / "claims.json").read_text())["claims"]
    for cl in claims:
        for tok in re.findall(r"\d+\.\d\d", cl["summary"]):
            assert tok in published, (cl["id"], cl["summary"])
    # calibration.json lists a control's estimate only where the table shows it, and never
    # leaves exactly one control out of a published null fit
    cal = json.loads((out / "calibration.json").read_text())
    nc_logs = {
        f"{v:.6f}" for v in pub.loc[pub["role"] == "negative_control", "log_estimate"].dropna()
    }
    for key, info in cal.items():
        ctrls = info.get("controls") or []
        for ctl in ctrls:
            if ctl.get("log_estimate") is not None:
                assert f"{ctl['log_estimate']:.6f}" in nc_logs, (key, ctl)
        n_hidden = sum(1 for ctl in ctrls if ctl.get("log_estimate") is None)
        assert n_hidden != 1 or info.get("mean") is None, key
    # the report prints no estimate (with its interval) of a withheld row
    from miglink.report import fmt

    html = (out / "report.html").read_text(encoding="utf-8")
    shown = {fmt.ci(r.estimate, r.ci_low, r.ci_high) for r in pub.itertuples() if _num(r.estimate)}
    hidden = pub["estimate"].isna() & truth["estimate"].map(lambda v: _num(v) is not None)
    leaks = [
        t
        for r in truth[hidden].itertuples()
        if _num(r.ci_low) is not None
        and (t := fmt.ci(r.estimate, r.ci_low, r.ci_high)) in html
        and t not in shown
    ]
    assert not leaks, leaks[:5]


@pytest.mark.parametrize("m", MIN_CELLS)
def test_mimic_fhir_demo_recovers_nothing(shared_data, tmp_path, m):
    data = shared_data / "mimic-iv-fhir-demo"
    if not data.exists():
        pytest.skip(f"{data} not found")
    truth, out = _truth_and_published(data, tmp_path / "run", m)
    _check_run(truth, out, m)


@pytest.fixture(scope="module")
def synth5k(tmp_path_factory) -> Path:
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("synth5k") / "cdm"
    generate(persons=5_000, seed=3, out=out)
    return out


@pytest.mark.parametrize("m", MIN_CELLS)
def test_synthetic_5k_recovers_nothing(synth5k, tmp_path, m):
    truth, out = _truth_and_published(synth5k, tmp_path / "run", m)
    _check_run(truth, out, m)
    # the old table (primary suppression only) gave cells back on the same run
    naive = truth.copy().astype(object)
    for c in COUNTS:
        naive[c] = [f"<{m}" if _num(v) is not None and 0 < _num(v) < m else v for v in naive[c]]
    assert attack_se_inversion(naive, m) or attack_subtraction(naive, truth, m)


def test_report_rerenders_a_leaky_summary_from_gated_rows(tmp_path):
    """A claims.json whose summary shows a withheld share (the MIMIC finding) cannot reach the
    report: load_run re-renders summaries from the gated table."""
    from miglink.io import write_json, write_parquet
    from miglink.report.artefacts import load_run

    truth = pd.DataFrame(
        [
            _row(
                hypothesis="h9_order",
                claim=9,
                design="D9",
                measure="share",
                method="clopper_pearson",
                n_exposed=1,
                events_exposed=1,
                estimate=1.0,
                ci_low=0.025,
                ci_high=1.0,
            )
        ]
    )
    write_parquet(tmp_path / "results.parquet", truth)  # as an old, primary-only writer left it
    leaky = "h9_order: share 1.00 (95% CI 0.03-1.00) inconclusive"
    hyp = {"id": "h9_order", "analysis": "a1", "verdict": "inconclusive"}
    write_json(
        tmp_path / "claims.json", {"claims": [{"id": 9, "summary": leaky, "hypotheses": [hyp]}]}
    )
    write_json(tmp_path / "run.json", {"parameters": {"min_cell": 5}})
    art = load_run(tmp_path)
    assert art.claims[0]["summary"] == "h9_order: inconclusive"
    assert art.results.loc[0, "n_exposed"] == "<5"
    assert pd.isna(art.results.loc[0, "estimate"]) and pd.isna(art.results.loc[0, "ci_low"])


def test_redact_secrets_keeps_the_source_and_drops_credentials():
    from miglink.privacy import redact_secrets

    url = "postgresql://alice:s3cr3t@db.example.org:5432/cdm?password=hunter2&sslmode=require"
    out = redact_secrets(url)
    assert "db.example.org:5432/cdm" in out
    assert "s3cr3t" not in out and "hunter2" not in out and "alice" not in out
    assert "hunter2" not in redact_secrets("host=db password=hunter2 dbname=cdm")
    assert redact_secrets("'mimic' (FHIR, 3 tables)") == "'mimic' (FHIR, 3 tables)"


def test_no_secret_in_any_artefact(synth5k, tmp_path):
    from miglink.claims.model import load_study
    from miglink.outputs import write_run
    from miglink.sources import open_cdm
    from miglink.study import execute

    study, study_hash = load_study(None)
    run = execute(open_cdm(synth5k), study)
    url = "postgresql://alice:s3cr3t@db.example.org/cdm?password=hunter2&sslmode=require"
    run.notes.append(f"connected to {url}")
    out = tmp_path / "run"
    write_run(
        run,
        out,
        study=study,
        study_hash=study_hash,
        data_description=url,
        engine="duckdb",
        min_cell=5,
        report=True,
    )
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "run.json", "run.log", "site_results.json"} <= names
    for p in out.iterdir():
        text = p.read_bytes().decode("utf-8", errors="replace")
        for secret in ("s3cr3t", "hunter2", "alice"):
            assert secret not in text, f"{p.name} holds {secret!r}"
    assert "db.example.org/cdm" in (out / "run.json").read_text()


def test_calibration_withholds_controls_with_their_rows():
    from miglink.privacy import gate_calibration

    gated = gate_results(
        pd.DataFrame(
            [
                _row(
                    role="negative_control",
                    outcome=f"nc{k}",
                    analysis=f"d1_nc{k}",
                    n_exposed=500,
                    n_unexposed=4000,
                    events_exposed=e,
                    events_unexposed=40,
                    log_estimate=0.1 * k,
                    se_log=0.3 + 0.1 * k,
                    estimate=math.exp(0.1 * k),
                )
                for k, e in enumerate([2, 30, 25, 20])
            ]
        ),
        5,
    )
    cal = {
        "D1": {
            "mean": 0.1,
            "sd": 0.2,
            "n_controls": 4,
            "controls": [
                {"outcome": f"nc{k}", "log_estimate": 0.1 * k, "se_log": 0.3 + 0.1 * k}
                for k in range(4)
            ],
        }
    }
    out = gate_calibration(cal, gated)["D1"]["controls"]
    hidden = [c["outcome"] for c in out if c["log_estimate"] is None]
    assert "nc0" in hidden and len(hidden) == 2  # nc0 (2 cases) and the sparsest other one
    assert cal["D1"]["controls"][0]["log_estimate"] == 0.0  # the input is not changed


def test_gate_fails_soft_on_empty_and_partial_tables():
    """An empty run (no incident cohort, say) or a partial table still passes the gate."""
    from miglink.privacy import gate_calibration

    empty = gate_results(pd.DataFrame(), 5)
    assert empty.empty and list(empty.columns) == list(column_kinds())
    part = gate_results(pd.DataFrame([{"analysis": "a", "n_exposed": 3}]), 5)
    assert part.loc[0, "n_exposed"] == "<5"
    assert gate_claims([], part) == [] and gate_calibration(None, part) == {}
