"""D1 prevalence association: the stratified 2x2 table of the index set x each outcome.

Estimators on the counts: crude OR (Woolf CI), Mantel-Haenszel OR (Robins-Breslow-Greenland
variance, the primary estimate) with Breslow-Day homogeneity, and logistic regression on the
grouped counts with the stratum variables as covariates (sensitivity). The CNS vs non-CNS
contrast is the ratio of the two composites' MH ORs. The negative controls' MH ORs calibrate
every MH row (group "D1"). The utilisation stratum of each table leaves out the visit days that
record its exposure or its outcome (:mod:`miglink.designs.strata`): counted on all visits it is a
consequence of the outcome and biased the negative controls' ORs downwards.
"""

from __future__ import annotations

import pandas as pd

from miglink.calibrate import ControlGroup
from miglink.claims.model import Settings, Study
from miglink.designs.base import Counts, DesignResult, Task, key_row
from miglink.designs.rows import analysis_id, make_row
from miglink.designs.strata import STRATA, own_utilisation, stratified_counts, with_flag
from miglink.designs.twobytwo import as_est, estimate_2x2
from miglink.features.build import (
    ANY_AUTOIMMUNE,
    CNS_AUTOIMMUNE,
    NON_CNS_AUTOIMMUNE,
    FeatureTables,
)
from miglink.stats.twobytwo import ratio_of_estimates

NAME = "D1"
#: the task contrast of the CNS vs non-CNS ratio of MH ORs
CNS_CONTRAST = "cns_vs_non_cns"


def outcome_roles(study: Study) -> list[tuple[str, str]]:
    """(outcome, role) of every D1 estimate, in run order: autoimmune sets, the composites and
    the extra D1 outcomes (primary when a D1 hypothesis on the index set names them), then the
    negative controls."""
    idx = study.settings.index_set
    primary = {h.outcome for _, h in study.hypotheses() if h.design == NAME and h.exposure == idx}
    ncs = list(study.negative_controls)
    outs = list(
        dict.fromkeys(
            [*study.autoimmune, ANY_AUTOIMMUNE, CNS_AUTOIMMUNE, NON_CNS_AUTOIMMUNE]
            + list(study.d1_outcomes)
        )
    )
    role = {o: ("primary" if o in primary else "secondary") for o in outs}
    role.update({o: "negative_control" for o in ncs})
    return [(o, role[o]) for o in outs + ncs]


def tasks(study: Study) -> list[Task]:
    """One MH task per outcome (with its sensitivity rows unless a negative control), then one
    ratio task per CNS vs non-CNS contrast hypothesis."""
    idx = study.settings.index_set
    hyps = [h for _, h in study.hypotheses() if h.design == NAME]
    out = [
        Task(
            design=NAME,
            analysis=analysis_id(NAME, idx, o),
            exposure=idx,
            outcome=o,
            role=role,
            hypotheses=tuple(
                h.id for h in hyps if h.contrast is None and h.exposure == idx and h.outcome == o
            ),
        )
        for o, role in outcome_roles(study)
    ]
    # one ratio per distinct hypothesis key; the last hypothesis with the key names it (as the
    # study's hypothesis map always did)
    ratios: dict[tuple, list] = {}
    for h in hyps:
        if h.contrast == CNS_CONTRAST:
            ratios.setdefault((h.exposure, h.outcome, h.subgroup), []).append(h)
    for (exp, outc, sub), hs in ratios.items():
        out.append(
            Task(
                design=NAME,
                analysis=hs[-1].id,
                exposure=exp,
                outcome=outc,
                role="primary",
                hypotheses=tuple(h.id for h in hs),
                contrast=CNS_CONTRAST,
                subgroup=sub,
            )
        )
    return out


def d1_counts(ft: FeatureTables, exposure: str, outcomes: list[str], persons=None) -> pd.DataFrame:
    """Stratified 2x2 counts of ``exposure`` against each outcome (optionally in a subset), with
    utilisation measured without the exposure's and the outcome's visit days."""
    p = with_flag(ft.persons if persons is None else persons, ft.conditions, exposure, "exposed")
    util = own_utilisation(ft, [exposure])
    return stratified_counts(p, ft.conditions, "exposed", outcomes, util=util)


def count(ft: FeatureTables, tasks: list[Task]) -> Counts:
    """Frame "tables": exposure, outcome, strata, a, b, c, d for every MH task's pair (one
    two-query count per exposure)."""
    by_exposure: dict[str, list[str]] = {}
    for t in tasks:
        if t.contrast is None:
            by_exposure.setdefault(t.exposure, [])
            if t.outcome not in by_exposure[t.exposure]:
                by_exposure[t.exposure].append(t.outcome)
    frames = []
    for exp, outs in by_exposure.items():
        tab = d1_counts(ft, exp, outs)
        tab.insert(0, "exposure", exp)
        frames.append(tab)
    tables = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Counts(design=NAME, frames={"tables": tables})


def pair_tables(tables: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """The counts frame split into one 2x2 table per (exposure, outcome), in frame order."""
    if tables.empty:
        return {}
    return {
        k: g.drop(columns="exposure").reset_index(drop=True)
        for k, g in tables.groupby(["exposure", "outcome"], sort=False)
    }


def estimate(counts: Counts, tasks: list[Task], settings: Settings) -> DesignResult:
    """Rows of every task; the "D1" group calibrates every MH row with the negative controls."""
    tabs = pair_tables(counts.frame("tables"))
    empty = pd.DataFrame(columns=["outcome", *STRATA, "a", "b", "c", "d"])
    rows: list[dict] = []
    mh: dict[tuple[str, str], dict] = {}
    for t in tasks:
        if t.contrast is not None:
            continue
        got = estimate_2x2(
            tabs.get((t.exposure, t.outcome), empty),
            design=NAME,
            exposure=t.exposure,
            outcome=t.outcome,
            role=t.role,
            analysis=t.analysis,
            with_sensitivity=t.role != "negative_control",
        )
        key_row(got[0], t)
        mh.setdefault((t.exposure, t.outcome), got[0])
        rows += got
    groups = control_groups(rows)
    for t in tasks:
        if t.contrast == CNS_CONTRAST:
            rows += _cns_ratio(t, mh)
    return DesignResult(rows=rows, controls=groups)


def control_groups(rows: list[dict]) -> list[ControlGroup]:
    """ "D1": the negative-control outcomes' MH ORs calibrate every D1 MH OR. From rows alone, so
    a pooled run rebuilds the same group from its pooled rows."""
    mh_rows = [r for r in rows if r.get("design") == NAME and r.get("method") == "mantel_haenszel"]
    controls = [r for r in mh_rows if r.get("role") == "negative_control"]
    return [ControlGroup("D1", controls, mh_rows, label="outcome")]


def _cns_ratio(t: Task, mh: dict[tuple[str, str], dict]) -> list[dict]:
    """The ratio of the CNS and non-CNS composites' MH ORs (no row when either is not counted)."""
    a, b = mh.get((t.exposure, CNS_AUTOIMMUNE)), mh.get((t.exposure, NON_CNS_AUTOIMMUNE))
    if a is None or b is None:
        return []
    row = make_row(
        design=NAME,
        exposure=t.exposure,
        outcome=t.outcome,
        measure="ROR",
        method="ratio_of_mh_odds_ratios",
        est=ratio_of_estimates(as_est(a), as_est(b)),
        role=t.role,
        stratum="CNS vs non-CNS autoimmune",
        analysis=t.analysis,
    )
    return [key_row(row, t)]
