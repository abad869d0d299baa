"""A realistic fake run directory, so report tests do not depend on the study engine.

It holds what the engine writes (results, claims, curves, prevalence, attrition, calibration,
run.json) for all nine claims of the default study, with negative controls, suppressed "<5"
cells, Kaplan–Meier curves and a failed diagnostic. Numbers are invented but plausible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miglink.io import write_json, write_parquet, write_text
from miglink.privacy import COUNT_COLUMNS, gate_frame

REPO = Path(__file__).resolve().parents[2]
SCHEMA = pd.read_csv(REPO / "src" / "miglink" / "data" / "results_schema.csv")

Z = 1.959964

# fmt: off
# (claim, hypothesis, design, exposure, outcome, measure, method, estimate, se, expected, verdict)
HYPOTHESES = [
    (1, "h1_crp", "D6", "migraine", "crp", "RGM", "stratum_regression", 1.12, 0.04, "increase", "supported"),
    (1, "h1_crp_no_ai", "D6", "migraine", "crp", "RGM", "stratum_regression", 1.08, 0.05, "increase", "no evidence"),
    (2, "h2_fh_ai_to_migraine", "D7", "family_history_autoimmune", "migraine", "OR", "mantel_haenszel", None, None, "increase", "not analysed"),
    (3, "h3_sle", "D1", "migraine", "sle", "OR", "mantel_haenszel", 1.62, 0.16, "increase", "supported"),
    (3, "h3_ms", "D1", "migraine", "multiple_sclerosis", "OR", "mantel_haenszel", 1.85, 0.12, "increase", "supported"),
    (3, "h3_ra", "D1", "migraine", "rheumatoid_arthritis", "OR", "mantel_haenszel", 1.21, 0.09, "increase", "no evidence"),
    (3, "h3_sjogren", "D1", "migraine", "sjogren", "OR", "mantel_haenszel", 1.4, 0.35, "increase", "inconclusive"),
    (3, "h3_ra_incident", "D2", "rheumatoid_arthritis", "migraine", "HR", "cox_matched", 1.31, 0.11, "increase", "supported"),
    (4, "h4_aura_sle", "D4", "migraine_with_aura", "sle", "ROR", "logistic_grouped", 1.3, 0.3, "increase", "inconclusive"),
    (4, "h4_sle_stroke", "D4", "sle", "ischaemic_stroke", "HR", "cox_matched", 2.1, 0.45, "increase", "inconclusive"),
    (5, "h5_cns", "D1", "migraine", "cns_autoimmune", "OR", "mantel_haenszel", 1.7, 0.11, "increase", "supported"),
    (5, "h5_ms_incident", "D2", "migraine", "multiple_sclerosis", "HR", "cox_matched", 1.36, 0.2, "increase", "no evidence"),
    (6, "h6_female_migraine", "D3", "female", "migraine", "OR", "logistic_grouped", 2.9, 0.05, "increase", "supported"),
    (6, "h6_sex_modification", "D3", "migraine", "any_autoimmune", "ROR", "logistic_grouped", 0.92, 0.12, "increase", "no evidence"),
    (7, "h7_ifn_sccs", "D5", "interferon_beta", "migraine", "IRR", "conditional_poisson", 2.4, 0.28, "increase", "supported"),
    (7, "h7_nsaid_sccs", "D5", "nsaids", "migraine", "IRR", "conditional_poisson", 1.05, 0.06, "increase", "no evidence"),
    (8, "h8_any_prevalence", "D1", "migraine", "any_autoimmune", "OR", "mantel_haenszel", 1.38, 0.05, "increase", "supported"),
    (8, "h8_any_incident", "D2", "migraine", "any_autoimmune", "HR", "cox_matched", 1.22, 0.08, "increase", "supported"),
    (9, "h9_migraine_to_ai", "D2", "migraine", "any_autoimmune", "HR", "cox_matched", 1.22, 0.08, "increase", "supported"),
    (9, "h9_ai_to_migraine", "D2", "any_autoimmune", "migraine", "HR", "cox_matched", 0.74, 0.1, "increase", "contradicted"),
]

CLAIMS = {
    1: ("Shared inflammatory mechanisms", "Migraine is associated with raised inflammatory markers.", "any", "supported"),
    2: ("Shared genetic predisposition", "Migraine and autoimmune disease share a genetic predisposition.", "any", "not analysed"),
    3: ("Higher migraine prevalence in SLE, MS, RA and Sjögren's", "Migraine is more common in lupus, MS, RA and Sjögren's syndrome.", "majority", "supported"),
    4: ("Vascular dysfunction", "Migraine with aura, lupus and APS share vascular dysfunction.", "majority", "inconclusive"),
    5: ("Neurological overlap", "Migraine overlaps with autoimmune disease of the nervous system.", "majority", "supported"),
    6: ("Hormonal factors, especially in women", "Hormonal factors link the two conditions, especially in women.", "majority", "inconclusive"),
    7: ("Medication overlap", "Corticosteroids, immunomodulators and NSAIDs link the two conditions.", "any", "supported"),
    8: ("Immune dysregulation as the common thread", "Immune dysregulation links migraine to autoimmune disease in general.", "majority", "supported"),
    9: ("Chronic bidirectional coexistence", "Each condition raises the risk of the other.", "all", "contradicted"),
}
# fmt: on

NEGATIVE_CONTROLS = [
    "nc_ingrown_nail",
    "nc_seborrhoeic_keratosis",
    "nc_impacted_cerumen",
    "nc_plantar_fasciitis",
    "nc_lipoma",
    "nc_haemorrhoids",
    "nc_inguinal_hernia",
    "nc_onychomycosis",
    "nc_actinic_keratosis",
    "nc_warts",
    "nc_cataract",
    "nc_corns_callosities",
]

CAL = {"D1": (0.08, 0.06), "D2": (0.05, 0.09)}  # empirical null (log-scale mean, sd)


def _row(**kw) -> dict:
    row = {c: None for c in SCHEMA["column"]}
    row.update(kw)
    return row


def _est_row(
    claim,
    hyp,
    analysis,
    design,
    role,
    exposure,
    outcome,
    measure,
    method,
    est,
    se,
    expected,
    verdict,
    rng,
    stratum="all",
) -> dict:
    if est is None:
        return _row(
            claim=claim,
            hypothesis=hyp,
            analysis=analysis,
            design=design,
            role=role,
            exposure=exposure,
            outcome=outcome,
            stratum=stratum,
            measure=measure,
            method=method,
            expected=expected,
            verdict=verdict,
            diagnostics_pass=False,
            diagnostics="no data",
            note="no family-history records in this source",
        )
    lo, hi = est * math.exp(-Z * se), est * math.exp(Z * se)
    m, s = CAL.get(design, (0.0, 0.0))
    cse = math.sqrt(se**2 + s**2)
    cal = est * math.exp(-m)
    n_exp = int(rng.integers(800, 20000))
    ev_exp = 3 if verdict == "inconclusive" else int(rng.integers(20, 400))
    fails = verdict == "inconclusive"
    return _row(
        claim=claim,
        hypothesis=hyp,
        analysis=analysis,
        design=design,
        role=role,
        exposure=exposure,
        outcome=outcome,
        stratum=stratum,
        measure=measure,
        method=method,
        n_exposed=n_exp,
        n_unexposed=n_exp * 4,
        events_exposed=ev_exp,
        events_unexposed=int(rng.integers(40, 900)),
        person_years_exposed=float(n_exp * 3.1) if design == "D2" else None,
        person_years_unexposed=float(n_exp * 12.5) if design == "D2" else None,
        estimate=est,
        log_estimate=math.log(est),
        se_log=se,
        ci_low=lo,
        ci_high=hi,
        p_value=float(2 * (1 - _phi(abs(math.log(est)) / se))),
        cal_ci_low=cal * math.exp(-Z * cse),
        cal_ci_high=cal * math.exp(Z * cse),
        cal_p_value=float(2 * (1 - _phi(abs(math.log(cal)) / cse))),
        cal_estimate=cal,
        mdrr=2.6 if fails else 1.3,
        max_smd=0.14 if fails and design == "D2" else 0.03,
        diagnostics_pass=not fails,
        diagnostics="mdrr > 2; events < 5" if fails else "",
        expected=expected,
        verdict=verdict,
        note="",
    )


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _as_text(df: pd.DataFrame, columns) -> pd.DataFrame:
    """Gated count columns as text, as parquet needs one type per column ("12", "<5", None)."""
    out = df.copy()
    for c in columns:
        if c in out.columns:
            out[c] = [None if v is None or v != v else str(v) for v in out[c]]
    return out


def write_fake_run(out: Path, *, pooled: bool = False, optional: bool = True) -> Path:
    """Write a fake run directory at ``out``; ``optional=False`` leaves out the optional files."""
    rng = np.random.default_rng(7)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for c, h, d, e, o, meas, meth, est, se, exp_, v in HYPOTHESES:
        rows.append(
            _est_row(c, h, f"{h}__main", d, "primary", e, o, meas, meth, est, se, exp_, v, rng)
        )
        if d in ("D1", "D2") and est is not None:
            # As the engine writes them: a sensitivity method shares the analysis id and carries
            # neither claim number nor hypothesis.
            sens = _est_row(None, None, f"{h}__main", d, "sensitivity", e, o, meas, "crude",
                            est * 0.95, se * 1.2, exp_, None, rng)  # fmt: skip
            rows.append(sens)
    # a descriptive share (D9): listed, never drawn on the ratio axis
    share = _est_row(9, "h9_order", "h9_order", "D9", "descriptive", "migraine",
                     "any_autoimmune", "share", "binomial", 0.44, 0.05, "descriptive", "", rng)  # fmt: skip
    rows.append(share | {"cal_ci_low": None, "cal_ci_high": None, "cal_estimate": None})
    for d, (m, s) in CAL.items():
        for nc in NEGATIVE_CONTROLS:
            se = float(rng.uniform(0.08, 0.4))
            est = float(math.exp(rng.normal(m, math.sqrt(s**2 + se**2))))
            meas = "OR" if d == "D1" else "HR"
            rows.append(
                _est_row(
                    None,
                    None,
                    f"nc_{d}_{nc}",
                    d,
                    "negative_control",
                    "migraine",
                    nc,
                    meas,
                    "mantel_haenszel",
                    est,
                    se,
                    "none",
                    "",
                    rng,
                )
            )
    results = pd.DataFrame(rows, columns=list(SCHEMA["column"]))
    # a suppressed cell in a primary row, as the privacy gate writes it
    results.loc[results["hypothesis"] == "h3_sjogren", "events_exposed"] = 3
    results = _as_text(gate_frame(results), COUNT_COLUMNS)
    write_parquet(out / "results.parquet", results)

    claims = []
    for cid, (title, statement, rule, verdict) in CLAIMS.items():
        hyps = [
            {
                "id": h,
                "text": f"{h}: {e} and {o} ({d})",
                "design": d,
                "exposure": e,
                "outcome": o,
                "expected": x,
                "verdict": v,
                "analysis": f"{h}__main",
            }
            for c, h, d, e, o, _m, _mm, _est, _se, x, v in HYPOTHESES
            if c == cid
        ]
        if cid == 9:
            hyps.append(
                {"id": "h9_order", "text": "Which diagnosis comes first", "design": "D9",
                 "exposure": "migraine", "outcome": "any_autoimmune", "expected": "descriptive",
                 "verdict": "", "analysis": "h9_order"}
            )  # fmt: skip
        claims.append(
            {
                "id": cid,
                "title": title,
                "statement": statement,
                "verdict": verdict,
                "rule": rule,
                "summary": f"Claim {cid}: {verdict} ({len(hyps)} hypotheses).",
                "hypotheses": hyps,
            }
        )
    write_json(out / "claims.json", {"claims": claims})
    run = {
        "miglink_version": "0.1.0",
        "versions": {
            "python": "3.11.2",
            "pandas": "2.3.3",
            "statsmodels": "0.15.0",
            "lifelines": "0.30.3",
            "duckdb": "2.0.1",
        },
        "parameters": {
            "min_cell": 5,
            "engine": "duckdb",
            "settings": {"matching_ratio": 4, "mdrr_threshold": 2.0},
        },
        "data_source": "synthetic OMOP CDM (fixture)",
        "timings": {"features": 1.2, "designs": 3.4, "stats": 0.8},
        "data_quality": {
            "fatal": [],
            "warnings": [
                {
                    "check": "future_dates",
                    "table": "condition_occurrence",
                    "column": "condition_start_date",
                    "n_rows": 12,
                    "message": "12 rows dated after the observation period end",
                }
            ],
        },
        "study": {"name": "miglink default study (PROTOCOL.md)", "hash": "0123456789abcdef"},
        "notes": ["D7: no family-history observations in this source"],
        "methods": "## Population\n\nAll persons with **365 days** of prior observation.\n\n"
        "- D1: Mantel–Haenszel OR over sex × age band strata\n"
        "- D2: 1:4 matched cohort, Cox stratified on matched set\n\n"
        "<script>alert('not executed')</script>",
    }
    if pooled:
        run["pooled"] = {"sites": 3}
    write_json(out / "run.json", run)
    if not optional:
        return out

    curves = []
    for h in ("h9_migraine_to_ai", "h9_ai_to_migraine", "h3_ra_incident", "h8_any_incident"):
        for group, rate in (("exposed", 0.035), ("unexposed", 0.025)):
            n = 4000 if group == "unexposed" else 1000
            for t in np.arange(0, 10.01, 0.5):
                s = math.exp(-rate * t)
                half = Z * math.sqrt(max(s * (1 - s), 1e-6) / n) * (1 + t / 8)
                at_risk = int(n * math.exp(-0.3 * t))
                curves.append(
                    {
                        "analysis": f"{h}__main",
                        "group": group,
                        "time": float(t),
                        "survival": s,
                        "ci_low": s - half,
                        "ci_high": min(1.0, s + half),
                        "at_risk": at_risk if t < 9.5 else 3,
                        "events": int(n * (1 - s) * 0.1),
                    }
                )
    km_counts = ("at_risk", "events")
    write_parquet(
        out / "curves.parquet",
        _as_text(gate_frame(pd.DataFrame(curves), count_columns=km_counts), km_counts),
    )

    prev = []
    for set_id, base in (
        ("migraine", 0.12),
        ("sle", 0.002),
        ("multiple_sclerosis", 0.003),
        ("rheumatoid_arthritis", 0.01),
        ("any_autoimmune", 0.05),
    ):
        for sex, f in (("F", 1.0), ("M", 0.45)):
            for a in range(20, 85, 5):
                n = int(3000 * math.exp(-a / 60))
                p = base * f * (1 + math.sin(a / 20))
                cases = int(round(n * p))
                prev.append(
                    {
                        "set_id": set_id,
                        "sex": sex,
                        "age_band": f"{a}-{a + 4}",
                        "n_persons": n,
                        "n_cases": cases,
                        "prevalence": p if cases >= 5 else float("nan"),
                    }
                )
    write_parquet(
        out / "prevalence.parquet",
        _as_text(gate_frame(pd.DataFrame(prev)), ("n_persons", "n_cases")),
    )

    att = []
    for h in ("h9_migraine_to_ai", "h3_ra_incident"):
        for step, (desc, n) in enumerate(
            [
                ("new diagnosis of the exposure", 5400),
                ("≥365 days prior observation", 4100),
                ("free of the outcome at index", 3900),
                ("matched to ≥1 comparator", 3850),
            ],
            start=1,
        ):
            att.append({"analysis": f"{h}__main", "step": step, "description": desc, "n": n})
    att.append(
        {"analysis": "h4_sle_stroke__main", "step": 1, "description": "SLE among migraine", "n": 4}
    )
    write_parquet(
        out / "attrition.parquet",
        _as_text(gate_frame(pd.DataFrame(att), count_columns=("n",)), ("n",)),
    )
    write_text(
        out / "calibration.json",
        json.dumps(
            {
                d: {
                    "mean": m,
                    "sd": s,
                    "ease": 0.07 if d == "D1" else 0.09,
                    "n_controls": len(NEGATIVE_CONTROLS),
                }
                for d, (m, s) in CAL.items()
            }
        ),
    )
    return out


@pytest.fixture(scope="session")
def make_run():
    """The writer itself, for tests that need a variant (pooled, without optional files)."""
    return write_fake_run


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    return write_fake_run(tmp_path / "run")


# ---------------------------------------------------------------------------------------------
# a pooled run: three site files pooled by ``miglink pool`` (federate/pool.py), report included

POOL_NCS = ["nc_ingrown_nail", "nc_lipoma", "nc_warts", "nc_cataract", "nc_ganglion"]
#: the sites' true log ORs of migraine -> SLE: spread out, so the pooled I² is well above 0
POOL_SLE = (0.2, 0.55, 0.9)


def _site_file(path: Path, site: int) -> Path:
    """A site file of D1 rows (negative controls and the key row of h3_sle) and a prevalence
    table, written through the site writer (federate/site.py) as a real site would."""
    from miglink.claims.model import load_study
    from miglink.designs.rows import make_row
    from miglink.federate.site import site_results
    from miglink.study import StudyRun

    study, h = load_study()
    rng = np.random.default_rng(100 + site)
    rows = []
    for i, out in enumerate(POOL_NCS + ["sle"]):
        y = POOL_SLE[site] if out == "sle" else float(rng.normal(0, 0.05))
        se = 0.1 + 0.01 * i
        rows.append(
            make_row(
                design="D1", exposure="migraine", outcome=out, measure="OR",
                method="mantel_haenszel", role="primary" if out == "sle" else "negative_control",
                estimate=math.exp(y), log_estimate=y, se_log=se, ci_low=math.exp(y - Z * se),
                ci_high=math.exp(y + Z * se), p_value=0.5, n_exposed=2000, n_unexposed=18000,
                events_exposed=40 + i, events_unexposed=300, mdrr=1.5,
                hypothesis="h3_sle" if out == "sle" else None,
            )
        )  # fmt: skip
    prev = pd.DataFrame(
        [
            {"set_id": s, "sex": sex, "age_band": band, "n_persons": 400, "n_cases": cases}
            for s, cases in (("migraine", 60), ("any_autoimmune", 20), ("sle", 10))
            for sex in ("F", "M")
            for band in ("20-39", "40-59")
        ]
    ).assign(prevalence=lambda d: d.n_cases / d.n_persons)
    run = StudyRun(results=pd.DataFrame(rows), claims=[], prevalence=prev)
    data = site_results(run, study, h, f"test site {site + 1}", 5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pooled_run(tmp_path_factory) -> Path:
    """A pooled result directory (with report.html) over three sites."""
    from miglink.federate.pool import pool_sites

    root = tmp_path_factory.mktemp("pooled")
    files = [_site_file(root / f"site{i}" / "site_results.json", i) for i in range(3)]
    return pool_sites(files, root / "pooled", report=True)
