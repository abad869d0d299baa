"""``miglink pool SITE.json ...``: pool sites' aggregate results into one run directory.

Every estimate is pooled across the sites that report it (inverse-variance: a fixed effect and a
random effect — REML by default, DerSimonian–Laird or Paule–Mandel on request, optionally with the
Hartung–Knapp–Sidik–Jonkman adjustment). The pooled rows then go through the same calibration
(empirical null per D1, D2 forward, D2 reverse, fitted on the pooled negative controls), the same
diagnostics and the same verdict rules as a single-site run, and are written in the same results
schema, so the report renders a pooled study exactly like a local one.

Sites that ran a different study file (another hash) are refused: their estimates answer
different questions.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import interpolate, optimize, stats

from miglink.claims.model import Study, load_study
from miglink.errors import MiglinkError
from miglink.federate.site import (
    COUNT_KEYS,
    FORMAT,
    PROPORTION_MEASURES,
    RATIO_MEASURES,
    grid,
    normal_profile,
)
from miglink.federate.site_forest import site_estimates
from miglink.io import atomic_dir, write_json
from miglink.stats import level
from miglink.stats.meta import pool

METHODS = ("REML", "DL", "PM", "FE")
KEY = (
    "analysis",
    "stratum",
    "method",
    "design",
    "exposure",
    "outcome",
    "measure",
    "role",
    "direction",
    "hypothesis",  # two hypotheses sharing an estimate each have a key row: pooled apart
)
SUMMED = COUNT_KEYS  # every count a site shares is summed across sites
EVENT_MEASURES = ("OR", "HR", "IRR", "RR")


def load_site(path: str | Path) -> dict:
    """Read and check one site file (a MiglinkError names the file and what is wrong)."""
    p = Path(path)
    if not p.exists():
        raise MiglinkError(f"site file not found: {p}")
    if p.is_dir():
        if (p / "site_results.json").exists():
            p = p / "site_results.json"
        else:
            raise MiglinkError(f"{p} is a directory without site_results.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MiglinkError(f"site file {p} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MiglinkError(f"{p} is not a miglink site_results.json file (no 'format: {FORMAT}')")
    for k in ("study", "estimates", "min_cell"):
        if k not in data:
            raise MiglinkError(
                f"site file {p} lacks '{k}'; it was not written by this version of miglink"
            )
    data["_path"] = str(p)
    return data


def check_same_study(sites: list[dict]) -> str:
    """The common study hash; refuse sites that ran different study files."""
    hashes = {s["study"].get("hash") for s in sites}
    if len(hashes) != 1:
        listing = "; ".join(f"{s['_path']}: study hash {s['study'].get('hash')}" for s in sites)
        raise MiglinkError(
            f"site files ran different study files ({len(hashes)} distinct hashes): {listing}. "
            "Pool only sites that ran the same study file."
        )
    return hashes.pop()


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def sum_counts(values: list[Any], min_cell: int) -> Any:
    """Sum of shown counts; with suppressed ones, an honest range label ("12-20"), or None if absent."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    known = [int(v) for v in vals if math.isfinite(_num(v))]
    n_sup = len(vals) - len(known)
    if n_sup == 0:
        return int(sum(known))
    lo, hi = sum(known) + n_sup, sum(known) + n_sup * (min_cell - 1)
    return f"<{min_cell}" if hi < min_cell else f"{lo}-{hi}"


def _lower(v: Any) -> float:
    """Lower bound of a summed count (an int, a "lo-hi" range, or "<N")."""
    if isinstance(v, str):
        if v.startswith("<"):
            return 1.0
        return _num(v.split("-")[0])
    return _num(v)


def _proportion(row: dict) -> None:
    """Pooled descriptive proportions from summed counts (share / count / prevalence rows)."""
    from statsmodels.stats.proportion import proportion_confint

    m = row["measure"]
    if m == "prevalence":
        num, den = row.get("events_exposed"), row.get("n_exposed")
    else:
        num, tot = row.get("n_exposed"), row.get("n_unexposed")
        den = num + tot if isinstance(num, int) and isinstance(tot, int) else None
    if not (isinstance(num, int) and isinstance(den, int)) or den <= 0:
        return
    row["estimate"] = num / den
    if m == "share":
        lo, hi = proportion_confint(num, den, alpha=level.alpha(), method="beta")  # Clopper-Pearson
        row["ci_low"], row["ci_high"] = float(lo), float(hi)


def pooled_max_smd(rs: list[dict]) -> float | None:
    """Size-weighted mean of the sites' largest |SMD| after matching.

    For one covariate, the pooled sample's mean difference is the size-weighted mean of the sites'
    differences, so (with similar within-site SDs) its |SMD| is at most the weighted mean of the
    sites' |SMD|s, and so at most this value. The largest site |SMD| would instead fail balance
    whenever one small site is noisy, though the pooled comparison is balanced.
    """
    pairs = []
    for r in rs:
        smd = _num(r.get("max_smd"))
        n = _lower(r.get("n_exposed")) + _lower(r.get("n_unexposed"))
        if math.isfinite(smd) and math.isfinite(n) and n > 0:
            pairs.append((smd, n))
    if not pairs:
        return None
    return float(sum(s * n for s, n in pairs) / sum(n for _, n in pairs))


def pooled_mdrr(row: dict, rs: list[dict]) -> float | None:
    """MDRR of the pooled comparison from summed counts, as D1/D2 compute it (stats.power.mdrr_cohort).

    Only for event-based ratios whose sites reported an MDRR; a summed count that is a range uses
    its lower bound (the conservative, larger MDRR). None lets the SE-based default apply.
    """
    from miglink.stats.power import mdrr_cohort

    if row.get("measure") not in EVENT_MEASURES or not any(
        math.isfinite(_num(r.get("mdrr"))) for r in rs
    ):
        return None
    n1, n0, e1, e0 = (
        _lower(row.get(k))
        for k in ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed")
    )
    if not all(math.isfinite(v) for v in (n1, n0, e1, e0)):
        return None
    return float(mdrr_cohort(n1, n0, e1 + e0))


def pool_estimates(
    sites: list[dict], *, method: str = "REML", hksj: bool = False, max_smd_threshold: float = 0.1
) -> tuple[list[dict], list[dict]]:
    """Pool every estimate key across sites; return pooled result rows and per-key heterogeneity."""
    min_cell = max(int(s["min_cell"]) for s in sites)
    groups: dict[tuple, list[dict]] = {}
    for i, s in enumerate(sites):
        for r in s["estimates"]:
            groups.setdefault(tuple(r.get(k) for k in KEY), []).append(r | {"_site": i})
    rows, het = [], []
    for key, rs in groups.items():
        first = rs[0]
        row = _summed_row(key, rs, min_cell, max_smd_threshold)
        withheld = sum(_withheld(r) for r in rs)
        if first.get("measure") in RATIO_MEASURES and withheld:
            # pooling only the sites that could publish would select sites on their event
            # counts (the ones above the minimum cell): biased, so the row is not pooled
            row["k_pooled"] = 0
            row["sites_not_estimable"] = withheld
            row["note"] = (
                f"not estimable: {withheld} of {len(rs)} site(s) withheld the estimate (a count "
                "below the minimum cell); pooling the others would select sites on their counts"
            )
        elif first.get("measure") in RATIO_MEASURES:
            het.append(_pool_ratio(row, rs, method, hksj))
        elif first.get("measure") in PROPORTION_MEASURES:
            _proportion(row)
        if first.get("method") == "phenome_background_calibrated":
            pcts = [
                r.get("phenome_percentile") for r in rs if r.get("phenome_percentile") is not None
            ]
            row["not_analysed_reason"] = (
                "the phenome background is not shared by sites; site percentiles: "
                + ", ".join(f"{p:.1f}" for p in pcts)
            )
        rows.append(row)
    return rows, het


def _summed_row(key: tuple, rs: list[dict], min_cell: int, max_smd_threshold: float) -> dict:
    """The pooled row's identifying fields and the sites' summed counts and person-time."""
    row: dict[str, Any] = dict(zip(KEY, key, strict=True))
    for k in SUMMED:
        row[k] = sum_counts([r.get(k) for r in rs], min_cell)
    for side in ("exposed", "unexposed"):
        py = [_num(r.get(f"person_years_{side}")) for r in rs]
        row[f"person_years_{side}"] = float(sum(py)) if all(math.isfinite(v) for v in py) else None
    row["max_smd"] = pooled_max_smd(rs)
    row["balance_fail"] = (
        "pooled_max_smd"
        if row["max_smd"] is not None and row["max_smd"] > max_smd_threshold
        else ""
    )
    reasons = [r.get("not_analysed_reason") for r in rs]
    row["not_analysed_reason"] = reasons[0] if all(reasons) else ""
    row["k_sites"] = len(rs)
    row["note"] = ""
    return row


def _pool_ratio(row: dict, rs: list[dict], method: str, hksj: bool) -> dict:
    """Random-effects (and fixed-effect) pooling of the sites' log ratios into ``row``; returns
    the key's heterogeneity record."""
    y = np.array([_num(r.get("log_estimate")) for r in rs])
    se = np.array([_num(r.get("se_log")) for r in rs])
    re = pool(y, se, method=method, hksj=hksj)
    fe = pool(y, se, method="FE")
    if re.k > 0:
        row.update(
            estimate=re.estimate,
            log_estimate=re.log_estimate,
            se_log=re.se_log,
            ci_low=re.ci_low,
            ci_high=re.ci_high,
            p_value=re.p_value,
            fe_estimate=fe.estimate,
            fe_ci_low=fe.ci_low,
            fe_ci_high=fe.ci_high,
        )
    spread = dict(tau2=re.tau2, i2=re.i2, q=re.q, q_p=re.q_p, pi_low=re.pi_low, pi_high=re.pi_high)
    row.update(k_pooled=re.k, **spread)
    row["mdrr"] = pooled_mdrr(row, rs)
    row["sites_not_estimable"] = len(rs) - re.k
    if re.k < len(rs):
        row["note"] = f"{len(rs) - re.k} of {len(rs)} site(s) had no usable estimate"
    fitted = dict(
        estimate=re.estimate,
        ci_low=re.ci_low,
        ci_high=re.ci_high,
        fe_estimate=fe.estimate,
        fe_ci_low=fe.ci_low,
        fe_ci_high=fe.ci_high,
        **spread,
    )
    return (
        {k: row.get(k) for k in ("analysis", "stratum", "method", "measure", "role")}
        | {
            "k_sites": len(rs),
            "k_pooled": re.k,
            "pool_method": re.method + ("+HKSJ" if hksj else ""),
        }
        | {k: _finite(v) for k, v in fitted.items()}
        | {"profile_fe": profile_pool([r.get("profile") for r in rs], y, se)}
        | {"sites": site_estimates(rs)}
    )


def _withheld(r: dict) -> bool:
    """A site row whose estimate the site's privacy gate withheld (a suppressed count beside it)."""
    return r.get("log_estimate") is None and bool(r.get("withheld"))


def _finite(x: Any) -> float | None:
    v = _num(x)
    return v if math.isfinite(v) else None


def profile_pool(profiles: list[dict | None], y: np.ndarray, se: np.ndarray) -> dict | None:
    """Fixed-effect pooling of likelihood profiles (EvidenceSynthesis' idea), solved exactly.

    Each shared non-normal profile is interpolated between its grid points by a cubic spline
    (the conditional log-likelihood is smooth and concave); every other site contributes its
    normal log-likelihood in closed form. The estimate maximises the sum and the interval ends
    are the roots (brentq) of sum = max − χ²₁(1 − α)/2, not grid points: reading them off the
    0.05 grid put each end up to 0.05 inside the interval (tests/reference/r/profile_pool.R).
    The profiles exist on the grid only, so an end beyond it is reported at the grid's edge,
    with a note. Only reported when at least one site shared a non-normal profile.
    """
    if not any(p and p.get("kind") != "normal" for p in profiles):
        return None
    parts = []
    for p, yi, si in zip(profiles, y, se, strict=True):
        shared = p and p.get("kind") != "normal" and _spline_profile(p.get("log_likelihood"))
        if shared:
            parts.append(shared)
        elif math.isfinite(yi) and math.isfinite(si) and si > 0:
            parts.append(partial(normal_profile, yi, si))
    if not parts:
        return None
    b = grid()

    def total(x):
        return sum(f(x) for f in parts)

    on_grid = total(b)
    i = int(np.argmax(on_grid))
    lo, hi = b[max(i - 1, 0)], b[min(i + 1, len(b) - 1)]
    peak = optimize.minimize_scalar(
        lambda x: -total(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}
    )
    top = -float(peak.fun)
    if not top >= on_grid[i]:  # the grid point is the better maximum (an edge, a kink)
        peak_x, top = float(b[i]), float(on_grid[i])
    else:
        peak_x = float(peak.x)
    cut = top - float(stats.chi2.ppf(level.confidence(), 1)) / 2

    def end(edge: float) -> tuple[float, bool]:
        if not total(edge) < cut:
            return edge, True
        # clipped: a site's -inf beyond its shared points has the sign brentq needs, not a value
        gap = lambda x: max(float(total(x)) - cut, -1e6)  # noqa: E731
        return optimize.brentq(gap, *sorted((edge, peak_x)), xtol=1e-12), False

    (low, low_edge), (high, high_edge) = end(float(b[0])), end(float(b[-1]))
    return {
        "estimate": math.exp(peak_x),
        "ci_low": math.exp(low),
        "ci_high": math.exp(high),
        "note": "the interval reaches the grid edge" if low_edge or high_edge else "",
    }


def _spline_profile(values: list[float | None] | None):
    """The shared profile as a function of log ratio: a cubic spline through its finite grid
    points, −∞ where the site shared none (outside them or beyond the grid); None when it
    shared fewer than 4 points (too few to interpolate: its normal approximation is used)."""
    b = grid()
    ll = np.array([np.nan if v is None else v for v in values or []], dtype=float)
    if len(ll) != len(b) or np.isfinite(ll).sum() < 4:
        return None
    ok = np.isfinite(ll)
    spline = interpolate.CubicSpline(b[ok], ll[ok])
    lo, hi = b[ok].min(), b[ok].max()

    def f(x):
        x = np.asarray(x, dtype=float)
        inside = (x >= lo - 1e-12) & (x <= hi + 1e-12)
        return np.where(inside, spline(np.clip(x, lo, hi)), -np.inf)

    return f


def _study(sites: list[dict], study_path: str | Path | None, study_hash: str) -> Study:
    if study_path is not None:
        study, h = load_study(study_path)
        if h != study_hash:
            raise MiglinkError(
                f"study file {study_path} has hash {h}, but the site files ran study hash {study_hash}"
            )
        return study
    definition = sites[0]["study"].get("definition")
    if not definition:
        raise MiglinkError(f"{sites[0]['_path']} carries no study definition; pass --study FILE")
    from pydantic import ValidationError

    from miglink.claims.model import validation_summary

    try:
        return Study.model_validate(definition)
    except ValidationError as e:
        raise MiglinkError(
            f"{sites[0]['_path']}: its study definition is not valid for this miglink "
            f"({validation_summary(e)}); pass --study FILE"
        ) from None


def pooled_run(sites: list[dict], study: Study, *, method: str = "REML", hksj: bool = False):
    """A study.StudyRun holding the pooled, calibrated, diagnosed rows with verdicts."""
    from miglink.calibrate import calibrate_groups
    from miglink.claims.attach import apply_diagnostics, attach_verdicts
    from miglink.designs.registry import control_groups
    from miglink.stats.level import interval_level
    from miglink.study import StudyRun

    st = study.settings
    with interval_level(st.alpha, st.power):
        rows, het = pool_estimates(sites, method=method, hksj=hksj, max_smd_threshold=st.max_smd)
        calibration = calibrate_groups(control_groups(rows), st.min_negative_controls)
        results = pd.DataFrame(rows)
        for c in ("cal_ci_low", "cal_ci_high", "cal_p_value", "cal_estimate", "mdrr"):
            if c not in results.columns:
                results[c] = None
        results = apply_diagnostics(results, st)
        results = _pooled_diagnostics(results, st)
        results, claims = attach_verdicts(results, study)
    notes = [f"pooled from {len(sites)} site files ({method}{' + HKSJ' if hksj else ''})"]
    prevalence = pooled_prevalence(sites)
    return StudyRun(
        results=results, claims=claims, calibration=calibration, notes=notes, prevalence=prevalence
    ), het


def pooled_prevalence(sites: list[dict]) -> pd.DataFrame:
    """Persons and cases per set, sex and age band summed over sites; prevalence only where both are exact.

    Each site publishes its prevalence on its own coarsened bands (miglink.privacy.partitions), so
    the sites' cells are first re-aggregated onto the bands common to every site that reports the
    set (and onto both sexes together if any site shows the set only for both): a band is summed
    only where every site's count for exactly that band is known. A band with a suppressed site
    count has an unknown sum: it is left empty (NaN), not guessed.
    """
    from miglink.privacy.partitions import ALL, band_bounds

    min_cell = max(int(s["min_cell"]) for s in sites)
    by_set: dict[str, list[list[dict]]] = {}
    for s in sites:
        per: dict[str, list[dict]] = {}
        for r in s.get("prevalence") or []:
            per.setdefault(str(r["set_id"]), []).append(r)
        for set_id, rs in per.items():
            by_set.setdefault(set_id, []).append(rs)
    rows = []
    for set_id, site_rows in by_set.items():
        total_only = any(r["age_band"] == ALL for rs in site_rows for r in rs)
        pool_sex = total_only or any(r["sex"] == ALL for rs in site_rows for r in rs)
        sexes = [ALL] if pool_sex else sorted({str(r["sex"]) for rs in site_rows for r in rs})
        for sex in sexes:
            mine = [[r for r in rs if pool_sex or str(r["sex"]) == sex] for rs in site_rows]
            if total_only:
                groups = [(0, None)]
            else:
                # a band may start only where it starts for every site and, within a site,
                # for every sex (both sexes are summed when the set is pooled over sex)
                starts = set.intersection(
                    *(
                        {band_bounds(r["age_band"])[0] for r in rs if str(r["sex"]) == sx}
                        for rs in mine
                        for sx in {str(r["sex"]) for r in rs}
                    )
                )
                open_top = any(band_bounds(r["age_band"])[1] is None for rs in mine for r in rs)
                top = max((band_bounds(r["age_band"])[1] or 0) for rs in mine for r in rs)
                lo_list = sorted(starts)
                groups = [
                    (
                        lo,
                        (lo_list[i + 1] - 1)
                        if i + 1 < len(lo_list)
                        else (None if open_top else top),
                    )
                    for i, lo in enumerate(lo_list)
                ]
            for lo, hi in groups:

                def inside(band: str, lo=lo, hi=hi, whole=total_only) -> bool:
                    if whole:
                        return True
                    b0 = band_bounds(band)[0]
                    return b0 >= lo and (hi is None or b0 <= hi)

                ns, cs = [], []
                for rs in mine:
                    sel = [r for r in rs if inside(str(r["age_band"]))]
                    if not sel:
                        continue
                    ns.append(sum_counts([r.get("n_persons") for r in sel], min_cell))
                    cs.append(sum_counts([r.get("n_cases") for r in sel], min_cell))
                n = sum_counts(ns, min_cell)
                c = sum_counts(cs, min_cell)
                # inexact sums (ranges) become NaN: the writer's gate compares these columns numerically
                n = n if isinstance(n, int) else math.nan
                c = c if isinstance(c, int) else math.nan
                band = ALL if total_only else (f"{lo}+" if hi is None else f"{lo}-{hi}")
                rows.append(
                    {"set_id": set_id, "sex": sex, "age_band": band, "n_persons": n, "n_cases": c,
                     "prevalence": c / n if n > 0 else math.nan}
                )  # fmt: skip
    return pd.DataFrame(
        rows, columns=["set_id", "sex", "age_band", "n_persons", "n_cases", "prevalence"]
    )


def _pooled_diagnostics(results: pd.DataFrame, st) -> pd.DataFrame:
    """Two checks only a pooled row needs, added to the single-site diagnostics.

    * events summed over suppressed site counts are ranges: the events check uses the lower bound;
    * a site with no usable estimate (e.g. no exposed event) is left out of inverse-variance
      pooling, which biases the pooled ratio away from the null (sparse-data bias): such a row
      fails ``sites_not_estimable``.
    """
    out = results.copy()
    m = st.min_events_for_estimate
    for i, r in out.iterrows():
        if r.get("diagnostics_pass") is None or (
            isinstance(r.get("diagnostics_pass"), float) and math.isnan(r["diagnostics_pass"])
        ):
            continue
        fails = [f for f in str(r.get("diagnostics") or "").split(";") if f]
        ev = [r.get("events_exposed"), r.get("events_unexposed")]
        if r.get("measure") in EVENT_MEASURES and any(isinstance(v, str) for v in ev):
            if any(_lower(v) < m for v in ev) and f"events<{m}" not in fails:
                fails.append(f"events<{m}")
        dropped = _num(r.get("sites_not_estimable"))
        if math.isfinite(dropped) and dropped > 0 and "not_estimable" not in fails:
            fails.append(f"sites_not_estimable({int(dropped)}/{int(_num(r.get('k_sites')))})")
        out.at[i, "diagnostics"] = ";".join(fails)
        out.at[i, "diagnostics_pass"] = not fails
    return out


def pool_sites(
    paths: list[str | Path],
    out: str | Path,
    *,
    method: str = "REML",
    hksj: bool = False,
    study: str | Path | None = None,
    report: bool = True,
) -> Path:
    """Pool site files into the run directory ``out`` (results, claims, calibration, pooled.json, report)."""
    from miglink.outputs import write_run

    method = method.upper()
    if method not in METHODS:
        raise MiglinkError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if not paths:
        raise MiglinkError("give at least one site_results.json file to pool")
    sites = [load_site(p) for p in paths]
    study_hash = check_same_study(sites)
    study_obj = _study(sites, study, study_hash)
    min_cell = max(int(s["min_cell"]) for s in sites)
    run, het = pooled_run(sites, study_obj, method=method, hksj=hksj)
    files = [s["_path"] for s in sites]
    description = f"pooled meta-analysis of {len(sites)} sites: " + "; ".join(
        str(s.get("data_source", "")) for s in sites
    )
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_run(
            run,
            tmp,
            study=study_obj,
            study_hash=study_hash,
            data_description=description,
            engine="pooled",
            min_cell=min_cell,
            report=False,
            database_id="pooled",
        )
        run_json = json.loads((tmp / "run.json").read_text(encoding="utf-8"))
        run_json["pooled"] = {"sites": len(sites), "files": files, "method": method, "hksj": hksj}
        run_json["sites"] = [
            {
                "file": s["_path"],
                "data_source": s.get("data_source"),
                "miglink_version": s.get("miglink_version"),
                "min_cell": s.get("min_cell"),
            }
            for s in sites
        ]
        write_json(tmp / "run.json", run_json)
        write_json(
            tmp / "pooled.json",
            {
                "study": {"name": study_obj.name, "hash": study_hash},
                "method": method,
                "hksj": hksj,
                "k_sites": len(sites),
                "files": files,
                "min_cell": min_cell,
                "analyses": het,
            },
        )
        if report:
            from miglink.report import render_report

            render_report(tmp, tmp / "report.html")
    return out
