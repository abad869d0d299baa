"""D8 phenome background: an autoimmune OR's percentile among the MH ORs of the index set against
every other condition concept with enough persons, calibrated on that background.

The background excludes the index set, every set whose id starts with "migraine", the
autoimmune sets and the negative controls (their resolved concept ids). The hypothesis's own OR
is the D1 estimate of its pair, counted here with the same query as D1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs import d1_prevalence
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.rows import finite, make_row
from miglink.designs.strata import (
    STRATA,
    assemble_2x2,
    own_utilisation,
    with_flag,
    without_own_days,
)
from miglink.designs.twobytwo import estimate_2x2
from miglink.features.build import FeatureTables
from miglink.stats.twobytwo import mantel_haenszel

NAME = "D8"
PHENOME = "phenome_percentile"


def tasks(study: Study) -> list[Task]:
    """One task per phenome-percentile hypothesis. ``options``: the sets whose concepts leave
    the background, and whether D1 estimates the pair (its OR is D1's: only the index set
    against D1's outcomes has one)."""
    idx = study.settings.index_set
    d1_outcomes = {o for o, _ in d1_prevalence.outcome_roles(study)}
    opts = {
        "index_set": idx,
        "autoimmune": list(study.autoimmune),
        "negative_controls": list(study.negative_controls),
        "min_persons": study.settings.phenome_min_persons,
    }
    return [
        Task(
            design=NAME,
            analysis=h.id,
            exposure=h.exposure,
            outcome=h.outcome,
            role="primary",
            hypotheses=(h.id,),
            contrast=PHENOME,
            options={**opts, "d1_pair": h.exposure == idx and h.outcome in d1_outcomes},
        )
        for _, h in study.hypotheses()
        if h.design == NAME and h.contrast == PHENOME
    ]


def _excluded_ids(ft: FeatureTables, opts) -> set[int]:
    exclude: set[int] = set()
    for sid, ids in ft.resolved_ids.items():
        if (
            sid == opts["index_set"]
            or sid.startswith("migraine")
            or sid in opts["autoimmune"]
            or sid in opts["negative_controls"]
        ):
            exclude |= set(ids)
    return exclude


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Values: "phenome_available" (False when the data have no phenome: nothing is analysed)
    and "background_concepts" (the concepts kept); frames "pairs" (exposure, outcome, strata,
    a-d of the hypotheses' pairs), "background_totals" (persons per stratum and exposure) and
    "background_cases" (outcome = concept id, strata, exposure, persons with the concept)."""
    counts = Counts(design=NAME, values={"phenome_available": ft.phenome is not None})
    if ft.phenome is None or not tasks:
        return counts
    by_exposure: dict[str, list[str]] = {}
    for t in tasks:
        if t.options["d1_pair"] and t.outcome not in by_exposure.setdefault(t.exposure, []):
            by_exposure[t.exposure].append(t.outcome)
    pairs = []
    for exp, outs in by_exposure.items():
        tab = d1_prevalence.d1_counts(ft, exp, outs)
        tab.insert(0, "exposure", exp)
        pairs.append(tab)
    counts.frames["pairs"] = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame()
    opts = tasks[0].options
    ph = ft.phenome
    sizes = ph.group_by("concept_id").aggregate(n=ph.person_id.count())
    keep = sizes.filter(sizes.n >= opts["min_persons"])
    exclude = _excluded_ids(ft, opts)
    if exclude:
        keep = keep.filter(~keep.concept_id.isin(list(exclude)))
    keep_ids = [int(i) for i in keep.concept_id.execute().tolist()]
    counts.values["background_concepts"] = keep_ids
    if keep_ids:
        P = with_flag(ft.persons, ft.conditions, opts["index_set"], "exposed")
        # without the exposure's visit days; the features keep no record days per background
        # concept, so a concept's own days still count (a known limitation, docs/statistics.md)
        idx = [opts["index_set"]]
        P = without_own_days(P, own_utilisation(ft, idx), idx)
        totals = P.group_by([*STRATA, "exposed"]).aggregate(n=P.person_id.count()).execute()
        sel = ph.filter(ph.concept_id.isin(keep_ids)).select(
            pid=ph.person_id, outcome=ph.concept_id.cast("string")
        )
        j = P.join(sel, P.person_id == sel.pid)
        cases = (
            j.group_by(["outcome", *STRATA, "exposed"]).aggregate(k=j.person_id.count()).execute()
        )
        counts.frames["background_totals"] = totals
        counts.frames["background_cases"] = cases
    return counts


def background_ors(counts: Counts) -> pd.DataFrame:
    """Mantel-Haenszel OR of the index set against each background concept (estimable only):
    concept_id, log_or, se, n."""
    keep_ids = counts.values.get("background_concepts") or []
    out = []
    if keep_ids:
        tab = assemble_2x2(
            counts.frame("background_totals"),
            counts.frame("background_cases"),
            "exposed",
            [str(i) for i in keep_ids],
            STRATA,
        )
        for cid, t in tab.groupby("outcome"):
            e = mantel_haenszel(t[["a", "b", "c", "d"]])
            if np.isfinite(e.log_estimate) and np.isfinite(e.se_log) and e.se_log > 0:
                out.append(
                    {
                        "concept_id": int(cid),
                        "log_or": e.log_estimate,
                        "se": e.se_log,
                        "n": int(t["a"].sum() + t["c"].sum()),
                    }
                )
    return pd.DataFrame(out, columns=["concept_id", "log_or", "se", "n"])


def percentile_of(value: float, background: np.ndarray) -> float:
    """Share (in percent) of background values strictly below ``value``."""
    if background.size == 0 or not np.isfinite(value):
        return float("nan")
    return float(100.0 * np.mean(background < value))


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """One row per task and the "D8 phenome" group: the background ORs calibrate the rows that
    have a percentile. Nothing when the data have no phenome."""
    if not tasks or not counts.values.get("phenome_available"):
        return DesignResult()
    bg = background_ors(counts)
    bg_log, bg_se = bg["log_or"].to_numpy(dtype=float), bg["se"].to_numpy(dtype=float)
    pairs = d1_prevalence.pair_tables(counts.frame("pairs"))
    rows = []
    for t in tasks:
        tab = pairs.get((t.exposure, t.outcome))
        base = None
        if tab is not None:
            base = estimate_2x2(
                tab,
                design="D1",
                exposure=t.exposure,
                outcome=t.outcome,
                role=t.role,
                with_sensitivity=False,
            )[0]
        rows.append(key_row(_percentile_row(t, base, bg_log, len(bg)), t))
    background = [{"log_estimate": lo, "se_log": se} for lo, se in zip(bg_log, bg_se, strict=True)]
    # every row is a target; only those with an estimate (and so a percentile) get cal_*
    group = ControlGroup("D8 phenome", background, rows, label=None)
    return DesignResult(rows=rows, controls=[group])


def _percentile_row(t: Task, base: dict | None, bg_log: np.ndarray, n_bg: int) -> dict:
    ids = dict(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="OR",
        method="phenome_background_calibrated",
        role=t.role,
        analysis=t.analysis,
    )
    if base is None or not finite(base.get("log_estimate")):
        # the hypothesis still gets its row, saying why it has no percentile
        return make_row(
            **ids,
            stratum="phenome background",
            note=(
                f"not estimable: the D1 Mantel-Haenszel OR of {t.exposure} and "
                f"{t.outcome} is not estimable, so it has no place in the phenome background"
            ),
        )
    pct = percentile_of(base["log_estimate"], bg_log)
    copied = (
        "estimate log_estimate se_log ci_low ci_high p_value n_exposed n_unexposed "
        "events_exposed events_unexposed mdrr"
    ).split()
    row = make_row(
        **ids,
        stratum=f"percentile {pct:.1f} of {n_bg} condition concepts",
        **{k: base[k] for k in copied},
        note=f"phenome percentile {pct:.1f}; calibrated against the phenome background",
    )
    row["phenome_percentile"] = pct
    return row
