"""One two-sample MR analysis: select the exposure's instruments, harmonise the outcome to them,
run every estimator and collect the table, the diagnostics and the counts of each step.

Instruments are chosen on the exposure GWAS alone (threshold, then clumping) before the outcome
is looked at, so selection cannot favour variants by their outcome association.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from miglink.errors import MiglinkError
from miglink.genetics.estimators import Estimate, egger, ivw, leave_one_out, mean_f, wald
from miglink.genetics.harmonise import DEFAULT_MAF_TOLERANCE, HarmonisationCounts, harmonise
from miglink.genetics.instruments import (
    DEFAULT_P_THRESHOLD,
    DEFAULT_R2,
    DEFAULT_WINDOW_KB,
    Selection,
    select_instruments,
)
from miglink.genetics.robust import DEFAULT_ITERATIONS, DEFAULT_SEED, weighted_median, weighted_mode
from miglink.genetics.steiger import Steiger, steiger


@dataclass(frozen=True)
class MRSettings:
    """The analysis choices, each with the field's usual default."""

    p_threshold: float = DEFAULT_P_THRESHOLD
    window_kb: float = DEFAULT_WINDOW_KB
    r2: float = DEFAULT_R2
    maf_tolerance: float = DEFAULT_MAF_TOLERANCE
    harmonise_action: int = 2
    iterations: int = DEFAULT_ITERATIONS
    seed: int = DEFAULT_SEED


@dataclass
class MRResult:
    """Everything one analysis produced; ``table`` has one row per estimator."""

    table: pd.DataFrame
    variants: pd.DataFrame
    leave_one_out: pd.DataFrame
    selection: Selection
    harmonisation: HarmonisationCounts
    steiger: Steiger | None
    diagnostics: dict = field(default_factory=dict)


def _not_estimable(method: str, k: int, need: int) -> Estimate:
    nan = float("nan")
    return Estimate(method, nan, nan, nan, nan, nan, k, note=f"needs at least {need} variants")


def estimate_all(
    bx, bxse, by, byse, settings: MRSettings = MRSettings()
) -> tuple[list[Estimate], dict]:
    """Every estimator's row on harmonised associations, and the Egger diagnostics."""
    k = len(bx)
    if k == 1:  # one instrument: the Wald ratio, with its first-order SE
        return [wald("Wald ratio", by[0] / bx[0], byse[0] / abs(bx[0]), 1)], {
            "mean_f": mean_f(bx, bxse)
        }
    rows = [ivw(bx, bxse, by, byse), ivw(bx, bxse, by, byse, random_effects=False)]
    diag = {"mean_f": mean_f(bx, bxse)}
    if k < 3:
        names = ("MR-Egger", "MR-Egger intercept", "Weighted median", "Weighted mode")
        return rows + [_not_estimable(n, k, 3) for n in names], diag
    eg = egger(bx, bxse, by, byse)
    boot = {"iterations": settings.iterations, "seed": settings.seed}
    rows += [
        eg.slope,
        eg.intercept,
        weighted_median(bx, bxse, by, byse, **boot),
        weighted_mode(bx, bxse, by, byse, second_order=True, **boot),
    ]
    diag |= {"egger_residual_se": eg.residual_se, "i2_gx": eg.i2_gx}
    return rows, diag


def run_mr(exposure: pd.DataFrame, outcome: pd.DataFrame, settings: MRSettings = MRSettings(),
           ld: dict | None = None) -> MRResult:  # fmt: skip
    """The whole analysis on two read summary-statistic frames (see :mod:`sumstats`)."""
    chosen, sel = select_instruments(
        exposure,
        p_threshold=settings.p_threshold,
        window_kb=settings.window_kb,
        ld=ld,
        r2=settings.r2,
    )
    if chosen.empty:
        raise MiglinkError(
            f"no exposure variant passes p < {settings.p_threshold:g} "
            f"(among {sel.candidates} candidate(s)); lower --p-threshold or check the p column"
        )
    h, counts = harmonise(
        chosen, outcome, action=settings.harmonise_action, maf_tolerance=settings.maf_tolerance
    )
    if h.empty:
        raise MiglinkError(
            f"none of the {sel.instruments} instrument(s) is usable in the outcome file "
            f"({counts.shared} found there, {counts.palindromic_dropped} ambiguous palindromes, "
            f"{counts.irreconcilable_dropped} with other alleles)"
        )
    bx, bxse, by, byse = (
        h[c].to_numpy(float) for c in ("beta_exposure", "se_exposure", "beta_outcome", "se_outcome")
    )
    rows, diag = estimate_all(bx, bxse, by, byse, settings)
    loo = leave_one_out(bx, bxse, by, byse, list(h["rsid"])) if len(h) >= 3 else []
    direction = None
    if (
        h["n_exposure"].notna().all()
        and h["n_outcome"].notna().all()
        and (h[["n_exposure", "n_outcome"]] > 3).all().all()
    ):
        direction = steiger(bx, bxse, h["n_exposure"], by, byse, h["n_outcome"])
    variants = h[["rsid", "chromosome_exposure", "position_exposure", "effect_allele_exposure",
                  "other_allele_exposure", "beta_exposure", "se_exposure", "p_exposure",
                  "beta_outcome", "se_outcome", "p_outcome", "palindromic"]].copy()  # fmt: skip
    variants["ratio"] = by / bx
    variants["ratio_se"] = byse / np.abs(bx)
    return MRResult(
        table=pd.DataFrame([r.as_dict() for r in rows]),
        variants=variants,
        leave_one_out=pd.DataFrame([r.as_dict() for r in loo]),
        selection=sel,
        harmonisation=counts,
        steiger=direction,
        diagnostics=diag,
    )
