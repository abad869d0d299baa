"""Run the whole pre-specified study: check -> features -> each design's count and estimate ->
calibration -> diagnostics -> verdicts -> artefacts.

``run_study`` is the public Python API under ``miglink run``; it returns a
:class:`miglink.result.StudyResult` (the gated results, claims, curves, calibration, attrition and
prevalence; docs/api.md) and, when ``out`` is given, writes every artefact through the single
minimum-cell gate. :func:`execute` is the loop; what each
design estimates lives in its module (:mod:`miglink.designs.registry` lists them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from miglink.calibrate import calibrate_groups, dropped_targets
from miglink.claims.attach import apply_diagnostics, attach_verdicts, label_key_rows
from miglink.claims.model import NOT_RECORD_SETS, Study, comparison_sets, load_study
from miglink.concepts import load_concept_sets
from miglink.designs.base import DesignResult, Task
from miglink.designs.registry import DESIGNS
from miglink.errors import MiglinkError
from miglink.features.build import ANY_AUTOIMMUNE, DERIVED, FeatureTables, build_features
from miglink.genetics.hypotheses import (
    check_sumstats,
    estimate_mr,
    mr_hypotheses,
    sumstats_notes,
    with_sumstats,
)
from miglink.privacy import gate_count
from miglink.result import StudyResult
from miglink.stagecache import StageCache, cache_key
from miglink.stats.level import interval_level

Progress = Callable[[str], None]

__all__ = ["StudyRun", "execute", "plan", "run_study"]


@dataclass
class StudyRun:
    """Everything a run produces before gating: the tables the artefacts are rendered from."""

    results: pd.DataFrame
    claims: list[dict]
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    prevalence: pd.DataFrame = field(default_factory=pd.DataFrame)
    attrition: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data_quality: dict = field(default_factory=dict)
    resolution: dict = field(default_factory=dict)
    #: set id -> why it matched no record (concepts.coverage), shown beside the claims using it
    resolution_notes: dict = field(default_factory=dict)
    #: the designs' further tables (D10's d10_table1, d10_balance ...), ungated
    tables: dict = field(default_factory=dict)


def run_study(
    data,
    out: str | Path | None = None,
    *,
    study: str | Path | None = None,
    engine: str = "duckdb",
    min_cell: int = 5,
    progress: Progress | None = None,
    report: bool = True,
    resume: bool = True,
    cache_dir: str | Path | None = None,
    database_id: str | None = None,
    sumstats: dict[str, str] | None = None,
    trusted: bool = False,
    concept_sets: list[str | Path] | None = None,
) -> StudyResult:
    """Run the study on ``data`` (an OMOP / FHIR / MEDS source) and return its gated tables.

    The :class:`~miglink.result.StudyResult` holds what the artefacts hold (gated at ``min_cell``,
    as the run directory); ``trusted=True`` also keeps the ungated tables in memory, for a notebook
    on the machine that may see them (``result.ungated("results")``; never share them).

    With ``out`` and ``resume`` (the default), finished stages are cached beside ``out`` (or in
    ``cache_dir``) under a key of the data fingerprint, study hash, engine and miglink version, so
    a run that was interrupted restarts where it stopped.

    With ``out``, writes results.{parquet,csv,json}, claims.json, curves/prevalence/attrition
    parquet, calibration.json, run.json, run.log and report.html (all gated, written atomically).
    ``out`` must be new, empty or a previous miglink output (see :mod:`miglink.outdir`); it is
    checked, probed for writability and locked before any computation. ``sumstats`` (trait id
    -> path) adds GWAS summary statistics to the study's ``genetics`` map for its MR hypotheses;
    ``concept_sets`` (files) add concept sets to the study's own (``run --concept-sets``).
    """
    from contextlib import nullcontext

    from miglink.cli.options import validate_min_cell
    from miglink.outdir import guarded_out
    from miglink.outputs import default_database_id

    if engine not in ("duckdb", "spark"):
        raise MiglinkError(f"unknown engine {engine!r}: choose 'duckdb' or 'spark'")
    min_cell = validate_min_cell(min_cell)
    study_obj, study_hash = load_study(study, concept_sets)
    study_obj = with_sumstats(study_obj, sumstats)
    # --out is checked, probed and locked before any computation (a refused --out costs nothing)
    with guarded_out(out, data) if out is not None else nullcontext():
        run = _run(
            data,
            out,
            study,
            study_obj,
            study_hash,
            engine,
            min_cell,
            progress,
            report,
            resume,
            cache_dir,
            database_id,
        )
    # gated at the run's level, as write_run gates the files (curves' bands are recomputed)
    with interval_level(study_obj.settings.alpha, study_obj.settings.power):
        return StudyResult.from_run(
            run,
            min_cell=min_cell,
            database_id=database_id or default_database_id(data),
            out=out,
            study_name=study_obj.name,
            alpha=study_obj.settings.alpha,
            trusted=trusted,
        )


def _run(
    data,
    out,
    study,
    study_obj,
    study_hash,
    engine,
    min_cell,
    progress,
    report,
    resume,
    cache_dir,
    database_id=None,
) -> StudyRun:
    """run_study after its checks: open the data, run (resuming), write, and clean the cache."""
    from miglink.sources import open_cdm

    t0 = time.perf_counter()
    cdm = open_cdm(data, engine=engine)
    stage_cache = StageCache(None)
    # a content hash reads every input file once: only when a cache or run.json needs it
    need = out is not None or (resume and cache_dir is not None)
    fingerprint = cdm.fingerprint() if need else None
    try:
        if resume and (out is not None or cache_dir is not None):
            base = (
                Path(cache_dir)
                if cache_dir is not None
                else Path(out).parent / f".{Path(out).name}.miglink-cache"
            )
            key = cache_key(fingerprint, study_hash, cdm.engine)
            stage_cache = StageCache(
                base / key, on_reuse=(lambda n: progress(f"{n} (reused)")) if progress else None
            )
        run = execute(
            cdm,
            study_obj,
            progress=progress,
            study_path=study,
            cache=stage_cache,
            min_cell=min_cell,
        )
        if stage_cache.reused:
            run.notes.append("reused finished stages: " + ", ".join(stage_cache.reused))
        run.timings["total"] = time.perf_counter() - t0
        if out is not None:
            from miglink.outputs import default_database_id, write_run

            with interval_level(study_obj.settings.alpha, study_obj.settings.power):
                write_run(
                    run,
                    Path(out),
                    study=study_obj,
                    study_hash=study_hash,
                    data_description=cdm.description,
                    engine=cdm.engine,  # a database URL names its own engine (postgres)
                    min_cell=min_cell,
                    report=report,
                    data_fingerprint=fingerprint,
                    database_id=database_id or default_database_id(data),
                )
            # the cache holds ungated aggregates: once every artefact is written, remove it
            stage_cache.remove()
    except BaseException:
        # a failed or interrupted run leaves no ungated aggregates behind (a killed one cannot
        # clean up: its cache is reused, or removed as stale, by the next run on this --out)
        stage_cache.remove()
        raise
    return run


class _Clock:
    """Per-stage timings (seconds) and the progress callback, one call per finished stage."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.timings, self.t = progress, {}, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.t, 3)
        self.t = now
        if self.progress:
            self.progress(name)


class _Features:
    """The feature tables, built on first use (a fully cached re-run never builds them)."""

    def __init__(self, cdm, study: Study, sets: dict) -> None:
        self.cdm, self.study, self.sets, self._ft = cdm, study, sets, None

    def get(self) -> FeatureTables:
        if self._ft is None:
            self._ft = build_features(self.cdm, self.study, self.sets)
        return self._ft


def plan(study: Study) -> dict[str, list[Task]]:
    """Every design's tasks for ``study``, in registry order (designs with none left out)."""
    # designs D1-D9 need the protocol's autoimmune lists; a comparisons-only study runs D10 only
    tasks = {
        name: mod.tasks(study) for name, mod in DESIGNS.items() if study.autoimmune or name == "D10"
    }
    return {name: t for name, t in tasks.items() if t}


def study_concept_sets(study: Study, study_path=None) -> dict:
    """The bundled concept sets plus the study's own files (relative to the study file)."""
    sets = load_concept_sets()
    paths = study.set_file_paths(study_path)  # with those given beside it (run --concept-sets)
    if paths:
        sets.update(load_concept_sets(paths))
    return sets


def check_sets(study: Study, sets: dict) -> None:
    """Every concept-set id the study names must exist."""
    named = set(study.negative_controls) | set(study.autoimmune) | set(study.d1_outcomes)
    named |= set(study.nervous_system_autoimmune) | {study.settings.index_set}
    for _, h in study.hypotheses():
        if h.design not in NOT_RECORD_SETS:  # D10 names its cohorts, MR its GWAS traits
            named |= {h.exposure, h.outcome}
    named |= comparison_sets(study)
    missing = sorted(n for n in named if n not in sets and n not in DERIVED)
    if missing:
        raise MiglinkError(
            f"the study names concept sets that are not defined: {', '.join(missing)}"
        )


def _refuse_fatal(dq, min_cell: int) -> None:
    """A fatal data-quality finding stops the run (its row count gated, as ``miglink check``)."""
    if dq.fatal:
        f = dq.fatal[0]
        n = gate_count(f.n_rows, min_cell)
        raise MiglinkError(
            f"data-quality check failed: {f.message} (table {f.table}, column {f.column}, "
            f"{n} rows); run 'miglink check' for all findings",
            table=f.table,
            column=f.column,
            n_rows=n,
        )


def execute(
    cdm,
    study: Study,
    *,
    progress: Progress | None = None,
    study_path=None,
    cache: StageCache | None = None,
    min_cell: int = 5,
) -> StudyRun:
    """Run every design on an opened CDM; no artefacts are written here (``min_cell`` gates the
    row count a fatal data-quality error prints, as ``miglink check`` does).

    The stage cache holds the check report and each design's counts, never rows: a change in
    an estimator re-estimates from cached counts without touching the engine.
    """
    from miglink.sources.checks import run_checks

    st = study.settings
    clock = _Clock(progress)
    sets = study_concept_sets(study, study_path)
    check_sets(study, sets)
    check_sumstats(study, study_path)
    cache = cache or StageCache(None)
    dq = cache.get("check", lambda: run_checks(cdm))
    _refuse_fatal(dq, min_cell)
    clock("check")

    tasks = plan(study)
    features = _Features(cdm, study, sets)
    if not cache.complete([f"counts_{n.lower()}" for n in tasks] + ["features"]):
        features.get()
    clock("features")
    with interval_level(st.alpha, st.power):
        results: list[DesignResult] = []
        for name, design_tasks in tasks.items():
            mod = DESIGNS[name]
            counts = cache.get(
                f"counts_{name.lower()}",
                lambda mod=mod, t=design_tasks: mod.count(features.get(), t),
            )
            results.append(mod.estimate(counts, design_tasks, st))
            clock(f"{name} estimated")
        if mr_hypotheses(study):  # claim 2's genetic half: summary statistics, no engine
            results.append(estimate_mr(study, study_path))
            clock("MR estimated")
        groups = [g for r in results for g in r.controls]
        calibration = calibrate_groups(groups, st.min_negative_controls)
        drop = dropped_targets(groups)
        rows = label_key_rows([row for r in results for row in r.rows if id(row) not in drop])
        clock("calibration")
        table = apply_diagnostics(pd.DataFrame(rows), st)
        table, claims = attach_verdicts(table, study)
    clock("verdicts")
    described = cache.get("features", lambda: _describe_features(features.get(), study))
    return StudyRun(
        results=table,
        claims=claims,
        curves=_concat([r.curves for r in results]),
        prevalence=pd.DataFrame(described["prevalence"]),
        attrition=_concat([r.attrition for r in results]),
        calibration=calibration,
        timings=clock.timings,
        notes=list(described["notes"]) + sumstats_notes(study, study_path),
        data_quality=dq.to_dict(min_cell) if hasattr(dq, "to_dict") else {},
        resolution=described["resolution"],
        resolution_notes=described.get("resolution_notes", {}),
        tables={k: v for r in results for k, v in r.tables.items()},
    )


def _describe_features(ft: FeatureTables, study: Study) -> dict:
    """What a run reports about its features: prevalence by sex and age, notes, resolution."""
    from miglink.features.prevalence import prevalence_table

    sets = [study.settings.index_set, ANY_AUTOIMMUNE, *study.autoimmune]
    return {
        "prevalence": prevalence_table(ft, sets),
        "notes": list(ft.notes),
        "resolution": {k: list(v) for k, v in ft.resolution.items()},
        "resolution_notes": dict(ft.resolution_notes),
    }


def _concat(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
