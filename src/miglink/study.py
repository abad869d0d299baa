"""Run the whole pre-specified study: data -> features -> designs -> calibration -> verdicts -> artefacts.

``run_study`` is the public Python API under ``miglink run``; it returns the results table (a pandas
DataFrame, one row per estimate, columns in data/results_schema.csv) and, when ``out`` is given,
writes every artefact through the single minimum-cell gate.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from miglink.calibrate import ControlGroup, calibrate_group, calibrate_groups
from miglink.claims.model import Study, load_study
from miglink.claims.verdicts import (
    NOT_ANALYSED,
    claim_verdict,
    diagnose,
    hypothesis_verdict,
)
from miglink.concepts import load_concept_sets
from miglink.errors import MiglinkError
from miglink.features.build import (
    ANY_AUTOIMMUNE,
    CNS_AUTOIMMUNE,
    NON_CNS_AUTOIMMUNE,
    FeatureTables,
    build_features,
)
from miglink.privacy import gate_count

Progress = Callable[[str], None]

#: Stages whose outputs are cached for resumable runs (the features are rebuilt only when one is
#: missing).
STAGE_NAMES = ("check", "d1", "d2", "d3_d8_d9", "d4", "d5", "d6", "d7", "d8_phenome", "prevalence")


#: A stage-cache key: the first 20 hex digits of a sha256 (see :func:`cache_key`).
_KEY_CHARS = set("0123456789abcdef")


class StageCache:
    """Finished stages of a run, under a key of data fingerprint, study hash, engine and version.

    A run killed part-way and started again reuses every stage that finished. The folder is
    private (0700, never world-readable even briefly: the stages hold ungated counts) and holds
    JSON and Parquet only (:mod:`miglink.cachefmt`), so a planted file can at worst be ignored
    and its stage recomputed, never executed. Each stage file is written atomically, so a kill
    never leaves a half-written one. Older keys under the same base (a stale cache of a killed
    run on other data or another study) are removed on opening. ``StageCache(None)`` caches
    nothing.
    """

    def __init__(
        self,
        root: Path | None,
        on_reuse: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.on_reuse = on_reuse
        self.reused: list[str] = []
        if root is not None:
            _private_dir(root.parent)
            for old in root.parent.iterdir():  # stale caches: another key under this base
                if old.name != root.name and _is_key(old.name) and not old.is_symlink():
                    import shutil

                    shutil.rmtree(old, ignore_errors=True)
            _private_dir(root)

    @property
    def key(self) -> str:
        return "" if self.root is None else self.root.name

    def _path(self, name: str) -> Path | None:
        return None if self.root is None else self.root / f"{name}.json"

    def complete(self, names) -> bool:
        return self.root is not None and all(self._path(n).exists() for n in names)  # type: ignore[union-attr]

    def get(self, name: str, compute: Callable[[], object]):
        from miglink.cachefmt import CacheFormatError, dump, load

        if self.root is not None and self._path(name).exists():  # type: ignore[union-attr]
            try:
                value = load(self.root, name, self.key)
            except CacheFormatError:  # damaged or planted: recomputed
                pass
            else:
                self.reused.append(name)
                if self.on_reuse:
                    self.on_reuse(name)
                return value
        value = compute()
        if self.root is not None:
            try:
                dump(value, self.root, name, self.key)
            except TypeError:  # a value this format does not cover: recomputed next time
                self._path(name).unlink(missing_ok=True)  # type: ignore[union-attr]
        return value

    def remove(self) -> None:
        """Delete this cache (and its base folder, once empty)."""
        import shutil

        if self.root is None:
            return
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            self.root.parent.rmdir()
        except OSError:
            pass


def _is_key(name: str) -> bool:
    return len(name) == 20 and set(name) <= _KEY_CHARS


def _private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 (no window in which it is readable by others), or make sure
    an existing one is a real folder of this user, and private."""
    import os

    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise MiglinkError(f"cannot create the stage cache {path}: {e.strerror}") from None
    st = os.lstat(path)
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise MiglinkError(
            f"the stage cache {path} is not a folder of this user; remove it or use --no-resume"
        )
    os.chmod(path, 0o700)


def cache_key(fingerprint: str, study_hash: str, engine: str) -> str:
    import hashlib

    from miglink import __version__
    from miglink.cachefmt import FORMAT

    raw = f"{fingerprint}|{study_hash}|{engine}|{__version__}|{FORMAT}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


DERIVED = {ANY_AUTOIMMUNE, CNS_AUTOIMMUNE, NON_CNS_AUTOIMMUNE, "female", "immunomodulators"}


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
) -> pd.DataFrame:
    """Run the study on ``data`` (an OMOP / FHIR / MEDS source) and return the results table.

    With ``out`` and ``resume`` (the default), finished stages are cached beside ``out`` (or in
    ``cache_dir``) under a key of the data fingerprint, study hash, engine and miglink version, so
    a run that was interrupted restarts where it stopped.

    With ``out``, writes results.{parquet,csv,json}, claims.json, curves/prevalence/attrition
    parquet, calibration.json, run.json, run.log and report.html (all gated, written atomically).
    ``out`` must be new, empty or a previous miglink output (see :mod:`miglink.outdir`); it is
    checked, probed for writability and locked before any computation.
    """
    from contextlib import nullcontext

    from miglink.cli.options import validate_min_cell
    from miglink.outdir import guarded_out

    if engine not in ("duckdb", "spark"):
        raise MiglinkError(f"unknown engine {engine!r}: choose 'duckdb' or 'spark'")
    min_cell = validate_min_cell(min_cell)
    study_obj, study_hash = load_study(study)
    # --out is checked, probed and locked before any computation (a refused --out costs nothing)
    with guarded_out(out, data) if out is not None else nullcontext():
        return _run(
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
        )


def _run(
    data, out, study, study_obj, study_hash, engine, min_cell, progress, report, resume, cache_dir
) -> pd.DataFrame:
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
            key = cache_key(fingerprint, study_hash, engine)
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
            from miglink.outputs import write_run

            write_run(
                run,
                Path(out),
                study=study_obj,
                study_hash=study_hash,
                data_description=cdm.description,
                engine=engine,
                min_cell=min_cell,
                report=report,
                data_fingerprint=fingerprint,
            )
            # the cache holds ungated aggregates: once every artefact is written, remove it
            stage_cache.remove()
    except BaseException:
        # a failed or interrupted run leaves no ungated aggregates behind (a killed one cannot
        # clean up: its cache is reused, or removed as stale, by the next run on this --out)
        stage_cache.remove()
        raise
    return run.results


def _stage(progress: Progress | None, timings: dict, name: str, t: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - t, 3)
    if progress:
        progress(name)
    return now


def check_sets(study: Study, sets: dict) -> None:
    """Every concept-set id the study names must exist."""
    named = set(study.negative_controls) | set(study.autoimmune) | set(study.d1_outcomes)
    named |= set(study.nervous_system_autoimmune) | {study.settings.index_set}
    for _, h in study.hypotheses():
        named |= {h.exposure, h.outcome}
    missing = sorted(n for n in named if n not in sets and n not in DERIVED)
    if missing:
        raise MiglinkError(
            f"the study names concept sets that are not defined: {', '.join(missing)}"
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
    row count a fatal data-quality error prints, as ``miglink check`` does)."""
    from miglink.designs import d1_prevalence, d3_modification, d8_specificity, d9_order
    from miglink.designs.d2_cohort import cohort_counts
    from miglink.designs.d2_estimate import d2_rows
    from miglink.designs.rows import make_row
    from miglink.sources.checks import run_checks

    timings: dict = {}
    t = time.perf_counter()
    st = study.settings
    extra = [Path(study_path).parent / f for f in study.concept_set_files] if study_path else []
    sets = load_concept_sets()
    if extra:
        sets.update(load_concept_sets(extra))
    check_sets(study, sets)

    cache = cache or StageCache(None)
    dq = cache.get("check", lambda: run_checks(cdm))
    if dq.fatal:
        f = dq.fatal[0]
        raise MiglinkError(
            f"data-quality check failed: {f.message} (table {f.table}, column {f.column}, "
            f"{gate_count(f.n_rows, min_cell)} rows); run 'miglink check' for all findings",
            table=f.table,
            column=f.column,
            n_rows=gate_count(f.n_rows, min_cell),
        )
    t = _stage(progress, timings, "check", t)

    _ft: list[FeatureTables] = []

    def F() -> FeatureTables:
        """The feature tables, built on first use (a fully cached re-run never builds them)."""
        if not _ft:
            _ft.append(build_features(cdm, study, sets))
        return _ft[0]

    if not cache.complete(STAGE_NAMES):
        F()
    t = _stage(progress, timings, "features", t)

    idx = st.index_set
    ncs = list(study.negative_controls)
    ai = list(study.autoimmune)
    hyp_pairs = {
        (h.design, h.exposure, h.outcome, h.subgroup, h.contrast): (c, h)
        for c, h in study.hypotheses()
    }
    primary_d1 = {
        h.outcome for _, h in study.hypotheses() if h.design == "D1" and h.exposure == idx
    }
    rows: list[dict] = []

    # --- D1 -----------------------------------------------------------------------------------
    d1_out = list(
        dict.fromkeys(
            ai + [ANY_AUTOIMMUNE, CNS_AUTOIMMUNE, NON_CNS_AUTOIMMUNE] + list(study.d1_outcomes)
        )
    )
    roles = {o: ("primary" if o in primary_d1 else "secondary") for o in d1_out}
    roles.update({o: "negative_control" for o in ncs})
    d1_rows = cache.get("d1", lambda: d1_prevalence.run_d1(F(), idx, d1_out + ncs, roles)[0])
    rows += d1_rows
    t = _stage(progress, timings, "D1 prevalence", t)

    # --- D2 -----------------------------------------------------------------------------------
    fwd = [(idx, o) for o in ai + [ANY_AUTOIMMUNE, CNS_AUTOIMMUNE]] + [(idx, n) for n in ncs]
    rev = [(a, idx) for a in ai + [ANY_AUTOIMMUNE]] + [(n, idx) for n in ncs]
    d2_primary = {(h.exposure, h.outcome) for _, h in study.hypotheses() if h.design == "D2"}
    d2_roles = {p: ("primary" if p in d2_primary else "secondary") for p in fwd + rev}
    d2_roles.update({(idx, n): "negative_control" for n in ncs})
    d2_roles.update({(n, idx): "negative_control" for n in ncs})

    def _d2():
        curve_pairs = [p for p in fwd + rev if d2_roles[p] != "negative_control"]
        cc = cohort_counts(F(), fwd + rev, balance_set=None, curve_pairs=curve_pairs)
        r2, curves = d2_rows(cc, fwd + rev, d2_roles, st.max_smd, st.km_horizon_years)
        for r in r2:
            r["direction"] = "forward" if r["exposure"] == idx else "reverse"
        attrition = cc.attrition.rename(columns={"index_set": "analysis"})
        attrition["analysis"] = "d2__" + attrition["analysis"].astype(str)
        return r2, curves, attrition

    r2, curves, attrition = cache.get("d2", _d2)
    rows += r2
    t = _stage(progress, timings, "D2 cohorts", t)

    # --- calibration of D1 and D2 -------------------------------------------------------------
    calibration = calibrate_rows(rows, st)
    t = _stage(progress, timings, "calibration", t)

    # --- D1 contrast: CNS vs non-CNS (ratio of calibrated-free MH ORs) --------------------------
    from miglink.stats.twobytwo import ratio_of_estimates

    def _est(row):
        from miglink.designs.twobytwo import as_est

        return as_est(row)

    def _find(design, exp, out, method=None, role=None):
        for r in rows:
            if (
                r["design"] == design
                and r["exposure"] == exp
                and r["outcome"] == out
                and r.get("stratum", "all") == "all"
            ):
                if method and r["method"] != method:
                    continue
                if role and r["role"] != role:
                    continue
                return r
        return None

    def _extras() -> list[dict]:
        ft = F()
        extra_rows: list[dict] = []
        for (design, exp, out, sub, con), (_claim, h) in hyp_pairs.items():
            an = f"{h.id}"
            if design == "D1" and con == "cns_vs_non_cns":
                a, b = (
                    _find("D1", exp, CNS_AUTOIMMUNE, "mantel_haenszel"),
                    _find("D1", exp, NON_CNS_AUTOIMMUNE, "mantel_haenszel"),
                )
                if a and b:
                    e = ratio_of_estimates(_est(a), _est(b))
                    extra_rows.append(
                        make_row(
                            design="D1",
                            exposure=exp,
                            outcome=out,
                            measure="ROR",
                            method="ratio_of_mh_odds_ratios",
                            est=e,
                            role="primary",
                            stratum="CNS vs non-CNS autoimmune",
                            analysis=an,
                        )
                    )
            elif design == "D3":
                if con == "female_excess":
                    extra_rows += d3_modification.female_excess(ft, out, "primary", an)
                elif con == "count":
                    extra_rows += d3_modification.count_persons(ft, exp, "descriptive", an)
                elif sub:
                    extra_rows += d3_modification.modification(ft, exp, out, sub, "primary", an)
            elif design == "D8" and con == "dose_response":
                extra_rows += d8_specificity.dose_response(ft, ai, out, "primary", an)
            elif design == "D9":
                extra_rows += d9_order.temporal_order(ft, exp, out, "descriptive", an)
        return extra_rows

    extra_rows = list(cache.get("d3_d8_d9", _extras))
    t = _stage(progress, timings, "D3/D8/D9", t)

    # D4-D7 (claims 1, 2, 4, 7): each module takes its hypotheses and returns rows keyed by h.id
    for design, modname in (
        ("D4", "d4_vascular"),
        ("D5", "d5_drugs"),
        ("D6", "d6_biomarkers"),
        ("D7", "d7_family"),
    ):
        hs = [(c, h) for c, h in study.hypotheses() if h.design == design]
        if not hs:
            continue
        try:
            mod = importlib.import_module(f"miglink.designs.{modname}")
        except ModuleNotFoundError as e:
            if e.name != f"miglink.designs.{modname}":
                raise
            continue
        out_rows, out_curves = cache.get(
            design.lower(), lambda mod=mod, hs=hs: mod.run(F(), study, hs)
        )
        extra_rows += out_rows
        if out_curves is not None and not out_curves.empty:
            curves = pd.concat([curves, out_curves], ignore_index=True)
        t = _stage(progress, timings, design, t)

    # D8 phenome background
    spec = [
        (c, h)
        for c, h in study.hypotheses()
        if h.design == "D8" and h.contrast == "phenome_percentile"
    ]
    if spec:

        def _ph():
            ft = F()
            if ft.phenome is None:
                return [], None
            cal: dict = {}
            out = _phenome_rows(ft, study, rows, spec, cal)
            return out, cal.get("D8 phenome")

        ph_rows, ph_cal = cache.get("d8_phenome", _ph)
        extra_rows += ph_rows
        if ph_cal is not None:
            calibration["D8 phenome"] = ph_cal
        t = _stage(progress, timings, "D8 phenome", t)
    rows += extra_rows

    results = pd.DataFrame(rows)
    results = apply_diagnostics(results, st)
    results, claims = attach_verdicts(results, study, None)
    prevalence = cache.get("prevalence", lambda: _prevalence(F(), [idx, ANY_AUTOIMMUNE] + ai))
    t = _stage(progress, timings, "verdicts", t)
    return StudyRun(
        results=results,
        claims=claims,
        curves=curves,
        prevalence=prevalence,
        attrition=attrition,
        calibration=calibration,
        timings=timings,
        notes=cache.get("notes", lambda: F().notes),
        data_quality=dq.to_dict(10**9) if hasattr(dq, "to_dict") else {},
        resolution=cache.get("resolution", lambda: {k: list(v) for k, v in F().resolution.items()}),
    )


def _null_rows(rows: list[dict], design: str, direction: str | None) -> list[dict]:
    out = []
    for r in rows:
        if r["design"] != design or r["role"] != "negative_control":
            continue
        if design == "D2" and r.get("direction") != direction:
            continue
        if design == "D1" and r["method"] != "mantel_haenszel":
            continue
        out.append(r)
    return out


def _calibrated_rows(rows: list[dict], design: str, direction: str | None) -> list[dict]:
    return [
        r
        for r in rows
        if r["design"] == design
        and (design != "D2" or r.get("direction") == direction)
        and (design != "D1" or r["method"] == "mantel_haenszel")
    ]


def calibrate_rows(rows: list[dict], st) -> dict:
    """Fit the empirical null per design (and D2 direction) and calibrate every MH / HR row.

    Public because the pooled run calibrates its pooled rows with the same groups."""
    groups = [
        ControlGroup(
            key,
            _null_rows(rows, design, direction),
            _calibrated_rows(rows, design, direction),
            label="exposure" if direction == "reverse" else "outcome",
        )
        for design, direction, key in (
            ("D1", None, "D1"),
            ("D2", "forward", "D2 forward"),
            ("D2", "reverse", "D2 reverse"),
        )
    ]
    return calibrate_groups(groups, st.min_negative_controls)


def _phenome_rows(
    ft: FeatureTables, study: Study, rows: list[dict], spec, calibration: dict
) -> list[dict]:
    from miglink.designs.d8_specificity import percentile_of, phenome_ors
    from miglink.designs.rows import make_row

    idx = study.settings.index_set
    exclude: set[int] = set()
    for sid, ids in ft.resolved_ids.items():
        if (
            sid == idx
            or sid.startswith("migraine")
            or sid in study.autoimmune
            or sid in study.negative_controls
        ):
            exclude |= set(ids)
    bg = phenome_ors(ft, idx, exclude, study.settings.phenome_min_persons)
    out = []
    # an empty background may have no columns at all
    bg_log = bg["log_or"].to_numpy() if len(bg) else np.array([])
    bg_se = bg["se"].to_numpy() if len(bg) else np.array([])
    for _claim, h in spec:
        base = next(
            (
                r
                for r in rows
                if r["design"] == "D1"
                and r["exposure"] == h.exposure
                and r["outcome"] == h.outcome
                and r["method"] == "mantel_haenszel"
            ),
            None,
        )
        ids = dict(
            design="D8",
            exposure=h.exposure,
            outcome=h.outcome,
            measure="OR",
            method="phenome_background_calibrated",
            role="primary",
            analysis=h.id,
        )
        if base is None or not _finite(base.get("log_estimate")):
            # the hypothesis still gets its row, saying why it has no percentile
            out.append(
                make_row(
                    **ids,
                    stratum="phenome background",
                    note=(
                        f"not estimable: the D1 Mantel-Haenszel OR of {h.exposure} and "
                        f"{h.outcome} is not estimable, so it has no place in the phenome background"
                    ),
                )
            )
            continue
        pct = percentile_of(base["log_estimate"], bg_log)
        row = make_row(
            **ids,
            stratum=f"percentile {pct:.1f} of {len(bg)} condition concepts",
            estimate=base["estimate"],
            log_estimate=base["log_estimate"],
            se_log=base["se_log"],
            ci_low=base["ci_low"],
            ci_high=base["ci_high"],
            p_value=base["p_value"],
            n_exposed=base["n_exposed"],
            n_unexposed=base["n_unexposed"],
            events_exposed=base["events_exposed"],
            events_unexposed=base["events_unexposed"],
            mdrr=base["mdrr"],
            note=f"phenome percentile {pct:.1f}; calibrated against the phenome background",
        )
        row["phenome_percentile"] = pct
        out.append(row)
    # the background concepts' ORs are the controls (phenome_ors keeps only estimable ones)
    background = [{"log_estimate": lo, "se_log": se} for lo, se in zip(bg_log, bg_se, strict=True)]
    calibration["D8 phenome"] = calibrate_group(
        background,
        [r for r in out if "phenome_percentile" in r],
        min_controls=study.settings.min_negative_controls,
        label=None,
    )
    return out


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def apply_diagnostics(results: pd.DataFrame, st) -> pd.DataFrame:
    """Diagnostics pass/fail per row (and the estimator's reason in the note); public because
    the pooled run diagnoses its rows with the same rules."""
    from miglink.designs.rows import REASON_KEY
    from miglink.stats.power import exp_or_inf

    recs = results.to_dict("records")
    for r in recs:
        reason = r.pop(REASON_KEY, None)
        note = r.get("note") if isinstance(r.get("note"), str) else ""
        if isinstance(reason, str) and reason and not _finite(r.get("estimate")):
            if reason not in note:
                # the estimator's reason first: a design's own note says what was estimated
                r["note"] = f"{reason}; {note}" if note else reason
        if r.get("mdrr") is None or not _finite(r.get("mdrr")):
            if _finite(r.get("se_log")) and r.get("measure") in ("ROR", "OR", "HR", "IRR", "RGM"):
                r["mdrr"] = exp_or_inf(2.8016 * float(r["se_log"]))
        cal_expected = (
            r["design"] in ("D1", "D2")
            and r["method"] in ("mantel_haenszel", "poisson_matched_strata")
        ) or r["method"] == "phenome_background_calibrated"
        if r["role"] == "descriptive" or r["measure"] in ("count", "share", "prevalence"):
            r["diagnostics_pass"] = None
            r["diagnostics"] = ""
            continue
        fails = diagnose(r, st, cal_expected)
        r["diagnostics_pass"] = not fails
        r["diagnostics"] = ";".join(fails)
    return pd.DataFrame(recs)


def attach_verdicts(results: pd.DataFrame, study: Study, ft: FeatureTables | None):
    """Attach hypothesis and claim verdicts; return the results and the claims list."""
    st = study.settings
    results = results.copy()
    results["claim"] = None
    results["hypothesis"] = None
    results["expected"] = None
    results["verdict"] = None
    claims = []
    not_impl: set[str] = set()
    for claim in sorted(study.claims, key=lambda c: c.id):
        hyps = []
        for h in claim.hypotheses:
            key_rows = _key_rows(results, h, st.index_set)
            if h.design in not_impl and key_rows.empty:
                v = NOT_ANALYSED
                analysis = None
            elif key_rows.empty:
                v = NOT_ANALYSED
                analysis = None
            else:
                i = key_rows.index[0]
                row = results.loc[i].to_dict()
                v = hypothesis_verdict(row, h.expected, st)
                analysis = row["analysis"]
                results.loc[i, "claim"] = claim.id
                results.loc[i, "hypothesis"] = h.id
                results.loc[i, "expected"] = h.expected
                results.loc[i, "verdict"] = v
            hyps.append(
                {
                    "id": h.id,
                    "text": h.text,
                    "design": h.design,
                    "exposure": h.exposure,
                    "outcome": h.outcome,
                    "expected": h.expected,
                    "verdict": v,
                    "analysis": analysis,
                }
            )
        cv = claim_verdict(claim, [x["verdict"] for x in hyps])
        claims.append(
            {
                "id": claim.id,
                "title": claim.title,
                "statement": claim.statement,
                "rule": claim.rule,
                "verdict": cv,
                "summary": _summary(claim, hyps, results),
                "hypotheses": hyps,
            }
        )
    return results, claims


def _key_rows(results: pd.DataFrame, h, idx: str) -> pd.DataFrame:
    r = results
    if h.design == "D1" and h.contrast is None:
        return r[
            (r.design == "D1")
            & (r.exposure == h.exposure)
            & (r.outcome == h.outcome)
            & (r.method == "mantel_haenszel")
            & (r.stratum == "all")
        ]
    if h.design == "D2":
        return r[(r.design == "D2") & (r.exposure == h.exposure) & (r.outcome == h.outcome)]
    sel = r[(r.analysis == h.id) & (r.role.isin(["primary", "descriptive"]))]
    return sel.head(1)


def _summary(claim, hyps: list[dict], results: pd.DataFrame) -> str:
    """The claim's one-line summary. Written artefacts re-render it from the gated results
    (miglink.privacy.gate_claims), so it never shows more than the results table."""
    from miglink.privacy import claim_summary

    return claim_summary(hyps, results)


def _prevalence(ft: FeatureTables, sets: list[str]) -> pd.DataFrame:
    P = ft.persons
    tot = P.group_by(["sex", "age_band"]).aggregate(n_persons=P.person_id.count()).execute()
    C = ft.conditions.filter(ft.conditions.set_id.isin(sets))
    ps = P.select(ppid=P.person_id, sex=P.sex, age_band=P.age_band)
    j = C.join(ps, C.person_id == ps.ppid)
    cases = (
        j.group_by(["set_id", "sex", "age_band"]).aggregate(n_cases=j.person_id.count()).execute()
    )
    frames = []
    for s in sets:
        m = tot.merge(cases[cases.set_id == s], on=["sex", "age_band"], how="left")
        m["set_id"] = s
        m["n_cases"] = m["n_cases"].fillna(0).astype(int)
        frames.append(m)
    df = pd.concat(frames, ignore_index=True)
    w, top = ft.settings.age_band_years, ft.settings.age_band_top
    df["age_band"] = [
        f"{top}+" if a >= top else f"{a}-{a + w - 1}" for a in df["age_band"].astype(int)
    ]
    df["prevalence"] = df["n_cases"] / df["n_persons"]
    return df[["set_id", "sex", "age_band", "n_persons", "n_cases", "prevalence"]]
