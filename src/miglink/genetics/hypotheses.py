"""Claim 2's genetic half in the study: every MR hypothesis of the study file as results rows.

An MR hypothesis runs when the study's ``genetics`` map (or ``miglink run --sumstats ID=PATH``)
names summary statistics for both its exposure and its outcome; otherwise its key row says "not
analysed: no summary statistics given" and it does not vote. The key row is the random-effects
IVW estimate as an OR per unit of the exposure's genetic liability (exp(beta); a binary exposure's
GWAS beta is a log-odds, so per unit of log-odds of liability); MR-Egger, weighted median and
weighted mode are secondary rows. Three diagnostics gate the key row's verdict as other designs'
diagnostics do: directional pleiotropy (Egger intercept p < alpha), Steiger pointing the other
way, and weak instruments (mean F < 10). The MDRR is the pipeline's exp((z + z_power) SE) of the
IVW SE, which is Burgess's (2014) summary-data power approximation with the observed SE.

Summary statistics are GWAS aggregates: rows carry no person counts (the count columns stay
empty), and the instrument table (``mr_instruments``) and leave-one-out table hold only variant
associations, from which no person-level value can be recovered.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from miglink.claims.model import MRHypothesis, Study, SumstatsFile
from miglink.designs.base import DesignResult, Task, hypothesis_task, key_row
from miglink.designs.d10_estimate import DESIGN_FAILS_KEY
from miglink.designs.not_analysed import not_analysed_row
from miglink.designs.rows import REASON_KEY, make_row
from miglink.errors import MiglinkError
from miglink.genetics.analysis import MRResult, MRSettings, run_mr
from miglink.genetics.estimators import Estimate
from miglink.genetics.sumstats import read_sumstats

NAME = "MR"
NO_FILES = "no summary statistics given"
#: results ``method`` per estimator of genetics.analysis (the first is the key row)
METHODS = {
    "IVW (multiplicative random effects)": "mr_ivw_random_effects",
    "Wald ratio": "mr_wald_ratio",
    "IVW (fixed effect)": "mr_ivw_fixed_effect",
    "MR-Egger": "mr_egger",
    "Weighted median": "mr_weighted_median",
    "Weighted mode": "mr_weighted_mode",
}
KEY_METHODS = ("IVW (multiplicative random effects)", "Wald ratio")
MIN_MEAN_F = 10.0
#: the further tables an MR run writes (names of the run directory's files)
MR_TABLES = ("mr_instruments", "mr_leave_one_out")
INSTRUMENT_COLUMNS = ("hypothesis", "analysis", "rsid", "chromosome_exposure",
                      "position_exposure", "effect_allele_exposure", "other_allele_exposure",
                      "beta_exposure", "se_exposure", "p_exposure", "beta_outcome", "se_outcome",
                      "p_outcome", "ratio", "ratio_se")  # fmt: skip
LOO_COLUMNS = ("hypothesis", "analysis", "left_out", "estimate", "se", "ci_lower", "ci_upper",
               "p_value")  # fmt: skip


def mr_hypotheses(study: Study) -> list[MRHypothesis]:
    return [h for _c, h in study.hypotheses() if isinstance(h, MRHypothesis)]


def with_sumstats(study: Study, sumstats: dict[str, str] | None) -> Study:
    """``study`` with ``--sumstats ID=PATH`` files added to (or replacing) its genetics map."""
    if not sumstats:
        return study
    genetics = {**study.genetics}
    for trait, path in sumstats.items():
        old = genetics.get(trait)
        columns = old.columns if old else {}
        genetics[trait] = SumstatsFile(path=str(Path(path).resolve()), columns=columns)
    return study.model_copy(update={"genetics": genetics})


def sumstats_path(study: Study, trait: str, study_path=None) -> Path:
    """Where trait's file is: as given when absolute, else relative to the study file."""
    p = Path(study.genetics[trait].path)
    if p.is_absolute() or study_path is None:
        return p
    return Path(study_path).parent / p


def check_sumstats(study: Study, study_path=None) -> None:
    """Every summary-statistics file an MR hypothesis will read exists (before the long run)."""
    used = {t for h in mr_hypotheses(study) for t in (h.exposure, h.outcome)}
    for trait in sorted(used & set(study.genetics)):
        p = sumstats_path(study, trait, study_path)
        if not p.is_file():
            raise MiglinkError(f"summary statistics for {trait!r} not found: {p}")


def sumstats_notes(study: Study, study_path=None) -> list[str]:
    """run.json's record of the summary statistics the MR hypotheses read (file name and size;
    directories are left out of the artefacts)."""
    used = {t for h in mr_hypotheses(study) for t in (h.exposure, h.outcome)} & set(study.genetics)
    parts = []
    for trait in sorted(used):
        p = sumstats_path(study, trait, study_path)
        size = p.stat().st_size if p.is_file() else 0
        parts.append(f"{trait}={p.name} ({size} bytes)")
    return [f"MR summary statistics: {', '.join(parts)}"] if parts else []


def estimate_mr(study: Study, study_path=None) -> DesignResult:
    """Every MR hypothesis's rows, and the instrument and leave-one-out tables."""
    rows: list[dict] = []
    instruments, loo = [], []
    for h in mr_hypotheses(study):
        task = hypothesis_task(h)
        missing = [t for t in dict.fromkeys((h.exposure, h.outcome)) if t not in study.genetics]
        if missing:
            rows.append(_not_analysed(task, h, study, f"{NO_FILES} for {', '.join(missing)}"))
            continue
        settings = MRSettings(
            p_threshold=h.settings.p_threshold,
            window_kb=h.settings.window_kb,
            maf_tolerance=h.settings.maf_tolerance,
        )
        try:
            result = _run(study, h, settings, study_path)
        except MiglinkError as e:  # no instrument, or none usable in the outcome file
            rows.append(_not_analysed(task, h, study, str(e)))
            continue
        rows += mr_rows(task, h, result, study)
        ids = {"hypothesis": h.id, "analysis": task.analysis}
        instruments.append(result.variants.assign(**ids))
        if not result.leave_one_out.empty:
            frame = result.leave_one_out.assign(
                left_out=result.leave_one_out["method"].str.removeprefix("IVW without ")
            )
            loo.append(frame.assign(**ids))
    tables = {
        "mr_instruments": _frame(instruments, INSTRUMENT_COLUMNS),
        "mr_leave_one_out": _frame(loo, LOO_COLUMNS),
    }
    return DesignResult(rows=rows, tables=tables)


def _run(study: Study, h: MRHypothesis, settings: MRSettings, study_path) -> MRResult:
    """Read only what is used: exposure rows below the threshold, outcome rows of those variants."""
    exp_file, out_file = study.genetics[h.exposure], study.genetics[h.outcome]
    exposure = read_sumstats(
        sumstats_path(study, h.exposure, study_path),
        exp_file.columns or None,
        max_p=settings.p_threshold,
    )
    outcome = read_sumstats(
        sumstats_path(study, h.outcome, study_path),
        out_file.columns or None,
        rsids=set(exposure["rsid"]),
    )
    return run_mr(exposure, outcome, settings)


def _frame(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True).reindex(columns=list(columns))


def _not_analysed(task: Task, h: MRHypothesis, study: Study, reason: str) -> dict:
    row = not_analysed_row(task, "OR", reason)
    row["direction"] = h.direction(study.settings.index_set)
    return row


def _row(task: Task, h: MRHypothesis, e: Estimate, role: str, study: Study) -> dict:
    row = make_row(
        design=NAME,
        exposure=h.exposure,
        outcome=h.outcome,
        measure="OR",
        method=METHODS.get(e.method, e.method),
        role=role,
        analysis=task.analysis,
        direction=h.direction(study.settings.index_set),
    )
    if math.isfinite(e.estimate) and math.isfinite(e.se):
        row.update(
            estimate=math.exp(e.estimate),
            log_estimate=e.estimate,
            se_log=e.se,
            ci_low=math.exp(e.ci_lower),
            ci_high=math.exp(e.ci_upper),
            p_value=e.p_value,
        )
    elif e.note:
        row[REASON_KEY] = e.note
        row["note"] = e.note
    return row


def mr_rows(task: Task, h: MRHypothesis, result: MRResult, study: Study) -> list[dict]:
    """The key row (random-effects IVW, or the Wald ratio of a single instrument) with its
    diagnostics, then the secondary estimators' rows."""
    by_method = {r["method"]: Estimate(**r) for r in result.table.to_dict("records")}
    key_name = next(m for m in KEY_METHODS if m in by_method)
    key = key_row(_row(task, h, by_method[key_name], task.role, study), task)
    fails, notes = mr_diagnostics(result, study.settings.alpha)
    key[DESIGN_FAILS_KEY] = ";".join(fails)
    key["note"] = "; ".join(notes)
    rows = [key]
    for name, e in by_method.items():
        if name in METHODS and name != key_name:
            rows.append(_row(task, h, e, "secondary", study))
    return rows


def mr_diagnostics(result: MRResult, alpha: float) -> tuple[list[str], list[str]]:
    """(failed diagnostics, note parts) of one analysis: pleiotropy, direction, weak instruments."""
    fails, notes = [], []
    k = len(result.variants)
    f = result.diagnostics.get("mean_f", math.nan)
    notes.append(f"{k} instrument(s), mean F {f:.1f}")
    if math.isfinite(f) and f < MIN_MEAN_F:
        fails.append(f"mean_f<{MIN_MEAN_F:g}")
    inter = result.table[result.table["method"] == "MR-Egger intercept"]
    if not inter.empty and math.isfinite(float(inter["p_value"].iloc[0])):
        b, p = float(inter["estimate"].iloc[0]), float(inter["p_value"].iloc[0])
        notes.append(f"MR-Egger intercept {b:.4f} (p {p:.3g})")
        if p < alpha:
            fails.append(f"egger_intercept_p<{alpha:g}")
    ivw = result.table[result.table["method"] == KEY_METHODS[0]]
    if not ivw.empty and math.isfinite(float(ivw["q_p_value"].iloc[0])):
        notes.append(f"Cochran's Q p {float(ivw['q_p_value'].iloc[0]):.3g}")
    s = result.steiger
    if s is None:
        notes.append("Steiger not computed (no sample size n)")
    else:
        way = "exposure -> outcome" if s.correct_direction else "outcome -> exposure"
        notes.append(f"Steiger {way} (p {s.p_value:.3g}; observed-scale r²)")
        if not s.correct_direction:
            fails.append("steiger_wrong_direction")
    return fails, notes
