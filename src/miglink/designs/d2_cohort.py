"""D2 bidirectional incident matched cohort (claims 3, 5, 8, 9).

Forward: new migraine diagnoses matched to people free of migraine, followed for each autoimmune
disease (and the any / CNS composites, and the negative-control outcomes). Reverse: new diagnoses
of each autoimmune disease (and of any, and of each negative-control condition) followed for
migraine. Matching is in :mod:`miglink.designs.d2_matching`, the engine counts in
:mod:`miglink.designs.d2_counts`; the hazard ratio is a Poisson rate ratio stratified on the
matching cells (exact matching makes the cell the stratum), the Kaplan-Meier curves come from
monthly event and censoring counts, and balance is checked from per-arm sufficient statistics
(:mod:`miglink.designs.d2_estimate`). Each direction's negative controls calibrate its rows.
The pairs of :data:`~miglink.designs.d2_ps_counts.PS_DISEASES` also get a PS-stratified Cox
sensitivity row (:mod:`miglink.designs.d2_ps_counts`, ``d2_ps_pairs``, ``d2_ps_rows``), not
calibrated.

Known limits (docs/protocol.md, D2): "incident" means first recorded after index, so an outcome
whose onset preceded index but was not yet recorded counts as incident. Where the outcome raises
the exposure's hazard (a reverse effect) cases carry more of it and the HR is over-estimated
(reverse causation no record identifies); new diagnoses also mark slow detectors, whose larger
unrecorded pools bias null HRs upwards (about 1.1), which only calibration can remove: the PS
row balances every recorded seeking proxy (:mod:`miglink.designs.d2_ps_seeking`) and stays at
about 1.15 (benchmarks/VALIDITY.md, "D2 in the null worlds, PS vs matched").
"""

from __future__ import annotations

import math

import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.d2_counts import CohortCounts, cohort_counts, member_counts
from miglink.designs.d2_estimate import (
    concat_curves,
    hazard_row,
    pair_curve,
    restrict_obs_band,
    split_counts,
)
from miglink.designs.d2_matching import matched_members
from miglink.designs.d2_ps_counts import PS_DISEASES, ps_counts
from miglink.designs.d2_ps_rows import PS_METHOD, ps_row
from miglink.features.build import ANY_AUTOIMMUNE, CNS_AUTOIMMUNE, FeatureTables, derived_groups

__all__ = [
    "NAME",
    "CohortCounts",
    "cohort_counts",
    "control_groups",
    "count",
    "estimate",
    "tasks",
]

NAME = "D2"
NEGATIVE_CONTROL = "negative_control"
#: Prevalent-pool guard: per non-control pair, the HR restricted to matching cells whose
#: observation started >= this many calendar years before the index year, so everyone has
#: >= PREVALENT_POOL_YEARS - 1 full years of prior observation (3: see docs/protocol.md, D2);
#: reported in the row's note.
PREVALENT_POOL_YEARS = 4
#: calibration label per direction: the row field naming the negative-control concept set
_LABEL = {"forward": "outcome", "reverse": "exposure"}
_FRAMES = ("strata", "km", "balance", "attrition")


def _pairs(study: Study) -> list[tuple[str, tuple[str, str], bool]]:
    """(direction, pair, is negative control) in run order: forward pairs, then reverse.

    The autoimmune sets and composites in both directions, then every other pair a D2
    hypothesis names (any condition set of the study, its own sets included: the model checks
    that the index set is one side and the other a condition set)."""
    idx = study.settings.index_set
    ai, ncs = list(study.autoimmune), list(study.negative_controls)
    fwd = [(idx, o) for o in ai + [ANY_AUTOIMMUNE, CNS_AUTOIMMUNE]]
    rev = [(a, idx) for a in ai + [ANY_AUTOIMMUNE]]
    named = [(h.exposure, h.outcome) for _c, h in study.hypotheses() if h.design == NAME]
    known = set(fwd + rev) | {(idx, n) for n in ncs} | {(n, idx) for n in ncs}
    extra = list(dict.fromkeys(p for p in named if p not in known))
    fwd += [p for p in extra if p[0] == idx]
    rev += [p for p in extra if p[1] == idx]
    out = [("forward", p, False) for p in fwd] + [("forward", (idx, n), True) for n in ncs]
    return out + [("reverse", p, False) for p in rev] + [("reverse", (n, idx), True) for n in ncs]


def tasks(study: Study) -> list[Task]:
    """One HR per pair; a pair a D2 hypothesis names answers it (two hypotheses may share one)."""
    hyp: dict[tuple[str, str], list[str]] = {}
    for _claim, h in study.hypotheses():
        if h.design == NAME:
            hyp.setdefault((h.exposure, h.outcome), []).append(h.id)
    nc_pairs = {p for _d, p, nc in _pairs(study) if nc}
    out = []
    for direction, (exposure, outcome), _nc in _pairs(study):
        ids = tuple(hyp.get((exposure, outcome), ()))
        options: dict = {"direction": direction}
        if (exposure, outcome) in nc_pairs:
            role = NEGATIVE_CONTROL
        else:
            role = "primary" if ids else "secondary"
            if (exposure if direction == "reverse" else outcome) in PS_DISEASES:
                options["ps_exclude"] = ps_exclusions(study, exposure, outcome)
        out.append(
            Task(
                design=NAME,
                analysis=f"d2__{exposure}__{outcome}",
                exposure=exposure,
                outcome=outcome,
                role=role,
                hypotheses=ids,
                options=options,
            )
        )
    return out


def ps_exclusions(study: Study, exposure: str, outcome: str) -> list[str]:
    """The concept sets whose concepts the PS covariates of a pair leave out: the index set's
    and the outcome's (a composite: its member sets)."""
    groups = derived_groups(study)
    return sorted({m for s in (exposure, outcome) for m in groups.get(s, [s])})


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """The matched cohorts of every index set and the counts of every pair (KM counts only for
    the pairs that get a curve: not the negative controls)."""
    if not tasks:
        return Counts(design=NAME)
    pairs = [(t.exposure, t.outcome) for t in tasks]
    curve_pairs = [(t.exposure, t.outcome) for t in tasks if t.role != NEGATIVE_CONTROL]
    index_sets = sorted({i for i, _ in pairs})
    members, cases = matched_members(ft, index_sets)
    cc = member_counts(ft, members, cases, pairs, balance_set=None, curve_pairs=curve_pairs)
    frames = {f: getattr(cc, f) for f in _FRAMES}
    frames.update(ps_counts(ft, members, tasks))
    return Counts(design=NAME, frames=frames)


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """HR rows in task order, KM curves of the non-control pairs, attrition per index set, and
    one calibration group per direction (its negative controls calibrate all its rows)."""
    if not tasks:
        return DesignResult()
    cc = CohortCounts(*(counts.frame(f) for f in _FRAMES))
    pc = split_counts(cc)
    guard = split_counts(restrict_obs_band(cc, PREVALENT_POOL_YEARS))
    rows, curves = [], []
    for t in tasks:
        common = dict(max_smd=settings.max_smd, direction=t.options["direction"])
        row = hazard_row(pc, t.exposure, t.outcome, role=t.role, analysis=t.analysis, **common)
        if t.role != NEGATIVE_CONTROL:
            g = hazard_row(guard, t.exposure, t.outcome, role=t.role, analysis=t.analysis, **common)
            if not row.get("note"):  # a not-estimable row keeps its reason
                row["note"] = guard_note(g)
            curves.append(
                pair_curve(pc, t.exposure, t.outcome, t.analysis, settings.km_horizon_years)
            )
        rows.append(key_row(row, t))
        if "ps_exclude" in t.options:
            rows.append(ps_row(counts.frame("ps_risk"), counts.frame("ps_summary"), t))
    return DesignResult(
        rows=rows,
        curves=concat_curves(curves),
        attrition=_attrition(counts),
        controls=control_groups(rows),
    )


#: The fewest events per arm with which the prevalent-pool guard's HR is shown in the note.
GUARD_MIN_EVENTS = 20


def guard_note(g: dict) -> str:
    """The prevalent-pool guard's HR as the row's note (a row of its own would share the pair's
    design, exposure and outcome with the key row). Shown only with at least GUARD_MIN_EVENTS
    events in each arm: a sensitivity figure is not read on fewer, and a subgroup HR on a few
    events with its CI would let a reader work back to counts the gate never saw."""
    head = f"prevalent-pool guard (>= {PREVALENT_POOL_YEARS - 1} years prior observation): "
    est, lo, hi = g.get("estimate"), g.get("ci_low"), g.get("ci_high")
    few = min(g.get("events_exposed", 0), g.get("events_unexposed", 0)) < GUARD_MIN_EVENTS
    if few or not all(isinstance(v, float) and math.isfinite(v) for v in (est, lo, hi)):
        return head + "not shown (too few events in an arm)"
    return head + f"HR {est:.2f} ({lo:.2f}-{hi:.2f})"


def control_groups(rows: list[dict]) -> list[ControlGroup]:
    """ "D2 forward" and "D2 reverse": each direction's negative controls calibrate all its D2
    rows. From rows alone, so a pooled run rebuilds the same groups from its pooled rows."""
    d2 = [r for r in rows if r.get("design") == NAME]
    return [
        ControlGroup(
            f"D2 {d}",
            [r for r in d2 if r.get("direction") == d and r.get("role") == NEGATIVE_CONTROL],
            [r for r in d2 if r.get("direction") == d and r.get("method") != PS_METHOD],
            label=label,
        )
        for d, label in _LABEL.items()
    ]


def _attrition(counts: Counts) -> pd.DataFrame:
    """Attrition per index set under analysis ``d2__<index_set>``."""
    attrition = counts.frame("attrition").rename(columns={"index_set": "analysis"})
    if "analysis" in attrition:
        attrition["analysis"] = "d2__" + attrition["analysis"].astype(str)
    return attrition
