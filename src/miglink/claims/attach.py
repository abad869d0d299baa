"""Diagnostics and verdicts attached to result rows (of a run, or of a pooled run).

Each design marks the key row of every hypothesis it answers (``designs.base.key_row``);
:func:`label_key_rows` turns the marks into the ``hypothesis`` column (one key row per
hypothesis: two hypotheses that share an estimate each get their own copy), and
:func:`attach_verdicts` reads each hypothesis's verdict from its own key row, after
:func:`holm_adjust` has put the Holm-adjusted p of every hypothesis in a declared family on it.
"""

from __future__ import annotations

import math

import pandas as pd

from miglink.claims.model import D8Hypothesis, Study
from miglink.claims.verdicts import (
    NOT_ANALYSED,
    PRE_EXPOSURE_KEY,
    calibration_untrusted,
    claim_verdict,
    diagnose,
    hypothesis_verdict,
    tally,
    verdict_mdrr,
    verdict_p,
)
from miglink.designs.d5_sccs_rows import PRE_EXPOSURE_STRATUM, SCCS_METHOD
from miglink.designs.rows import finite


def _event_dependent_analyses(recs: list[dict]) -> set:
    """SCCS analyses whose pre-exposure window IRR has a CI excluding 1: events change the
    chance of exposure starting, which the SCCS assumes they do not (the key IRR then fails the
    ``pre_exposure_irr`` diagnostic)."""
    out = set()
    for r in recs:
        if r.get("method") != SCCS_METHOD or r.get("stratum") != PRE_EXPOSURE_STRATUM:
            continue
        lo, hi = r.get("ci_low"), r.get("ci_high")
        if finite(lo) and finite(hi) and (float(lo) > 1 or float(hi) < 1):
            out.add(r.get("analysis"))
    return out


def apply_diagnostics(results: pd.DataFrame, st) -> pd.DataFrame:
    """Diagnostics pass/fail per row (and the estimator's reason in the note); public because
    the pooled run diagnoses its rows with the same rules."""
    from miglink.designs.d10_estimate import DESIGN_FAILS_KEY
    from miglink.designs.rows import REASON_KEY
    from miglink.stats.level import z_mdrr
    from miglink.stats.power import exp_or_inf

    recs = results.to_dict("records")
    dependent = _event_dependent_analyses(recs)
    for r in recs:
        reason = r.pop(REASON_KEY, None)
        design_fails = r.pop(DESIGN_FAILS_KEY, None)  # a design's own gates (D10: equipoise)
        note = r.get("note") if isinstance(r.get("note"), str) else ""
        if isinstance(reason, str) and reason and not finite(r.get("estimate")):
            if reason not in note:
                # the estimator's reason first: a design's own note says what was estimated
                r["note"] = f"{reason}; {note}" if note else reason
        if r.get("mdrr") is None or not finite(r.get("mdrr")):
            if finite(r.get("se_log")) and r.get("measure") in ("ROR", "OR", "HR", "IRR", "RGM"):
                r["mdrr"] = exp_or_inf(z_mdrr() * float(r["se_log"]))
        r["verdict_mdrr"] = verdict_mdrr(r) if finite(r.get("mdrr")) else None
        cal_expected = (
            r["design"] in ("D1", "D2")
            and r["method"] in ("mantel_haenszel", "poisson_matched_strata")
        ) or r["method"] == "phenome_background_calibrated"
        if r["role"] == "descriptive" or r["measure"] in ("count", "share", "prevalence"):
            r["diagnostics_pass"] = None
            r["diagnostics"] = ""
            continue
        if r.get("analysis") in dependent and r.get("stratum") != PRE_EXPOSURE_STRATUM:
            r[PRE_EXPOSURE_KEY] = True
        fails = diagnose(r, st, cal_expected)
        if isinstance(design_fails, str) and design_fails:
            fails += design_fails.split(";")
        r.pop(PRE_EXPOSURE_KEY, None)
        r["diagnostics_pass"] = not fails
        r["diagnostics"] = ";".join(fails)
        if calibration_untrusted(r, st):
            _add_note(r, _untrusted_note(r, st))
    return pd.DataFrame(recs)


def _untrusted_note(r: dict, st) -> str:
    """Why a calibrated row's verdict cannot be 'supported' or 'contradicted' (the gate)."""
    return (
        f"calibration not trusted: leave-one-out coverage of its negative controls "
        f"{float(r['cal_loo_coverage']):.0%} < {st.min_loo_coverage:.0%}, so its calibrated CI "
        "decides no verdict"
    )


def _add_note(r: dict, text: str) -> None:
    note = r.get("note") if isinstance(r.get("note"), str) else ""
    if text not in note:
        r["note"] = f"{note}; {text}" if note else text


def label_key_rows(rows: list[dict]) -> list[dict]:
    """Turn each design's key-row marks into the ``hypothesis`` column.

    A row marked for two hypotheses (two hypotheses naming one estimate) becomes one row per
    hypothesis, so every hypothesis has its own key row, claim and verdict.
    """
    from miglink.designs.base import HYPOTHESES_KEY

    out: list[dict] = []
    for r in rows:
        hyps = r.pop(HYPOTHESES_KEY, ())
        if not hyps:
            out.append(r)
            continue
        for h in hyps:
            out.append({**r, "hypothesis": h})
    return out


def _first_rows(results: pd.DataFrame) -> dict[str, int]:
    """Index of each hypothesis's key row (the first row naming it)."""
    first: dict[str, int] = {}
    for i, h in zip(results.index, results["hypothesis"], strict=True):
        if isinstance(h, str) and h not in first:
            first[h] = i
    return first


def holm_adjust(results: pd.DataFrame, study: Study, first: dict[str, int]) -> None:
    """Holm's step-down within each declared family, on the p each verdict reads (calibrated
    where calibrated), written to the key rows' ``holm_p_value`` (in place). Members without a
    key row or a finite p (not analysed, not estimable) were not tested and leave the family."""
    from statsmodels.stats.multitest import multipletests

    for ids in study.families().values():
        tested = []
        for hid in ids:
            i = first.get(hid)
            if i is None:
                continue
            p = verdict_p(results.loc[i].to_dict())
            if math.isfinite(p):
                tested.append((i, p))
        if not tested:
            continue
        adj = multipletests([p for _, p in tested], alpha=study.settings.alpha, method="holm")[1]
        for (i, _), q in zip(tested, adj, strict=True):
            results.loc[i, "holm_p_value"] = float(q)


def attach_verdicts(results: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, list[dict]]:
    """Each hypothesis's verdict from its key row (the row naming it); the claims list."""
    st = study.settings
    results = results.copy()
    if "hypothesis" not in results.columns:
        results["hypothesis"] = None
    for c in ("claim", "expected", "verdict"):
        results[c] = None
    results["holm_p_value"] = math.nan
    first = _first_rows(results)
    holm_adjust(results, study, first)
    claims = []
    for claim in sorted(study.claims, key=lambda c: c.id):
        hyps = []
        for h in claim.hypotheses:
            i = first.get(h.id)
            crit = h.criterion if isinstance(h, D8Hypothesis) else None
            if i is None:
                v, analysis = NOT_ANALYSED, None
            else:
                row = results.loc[i].to_dict()
                v = hypothesis_verdict(row, h.expected, st, percentile_criterion=crit)
                analysis = row["analysis"]
                results.loc[i, ["claim", "expected", "verdict"]] = [claim.id, h.expected, v]
            hyp = {
                "id": h.id,
                "text": h.text,
                "design": h.design,
                "exposure": h.exposure,
                "outcome": h.outcome,
                "expected": h.expected,
                "role": h.role,
                "family": h.family,
                "verdict": v,
                "analysis": analysis,
            }
            if crit is not None:
                hyp["percentile_criterion"] = crit
            hyps.append(hyp)
        t = tally([x["verdict"] for x in hyps], [x["role"] for x in hyps])
        cv = claim_verdict(claim, [x["verdict"] for x in hyps], [x["role"] for x in hyps])
        claims.append(
            {
                "id": claim.id,
                "title": claim.title,
                "statement": claim.statement,
                "rule": claim.rule,
                "rule_text": claim.rule_description(),
                "verdict": cv,
                **t.as_dict(),
                "summary": _summary(claim, hyps, results),
                "hypotheses": hyps,
            }
        )
    return results, claims


def _summary(claim, hyps: list[dict], results: pd.DataFrame) -> str:
    """The claim's one-line summary. Written artefacts re-render it from the gated results
    (miglink.privacy.gate_claims), so it never shows more than the results table."""
    from miglink.privacy import claim_summary

    return claim_summary(hyps, results)
