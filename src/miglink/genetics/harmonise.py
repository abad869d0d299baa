"""Aligning the outcome's associations to the exposure's effect allele, as TwoSampleMR's
``harmonise_data`` does (Hartwig, Davies, Hemani & Davey Smith 2016,
Int J Epidemiol 45:1717), written afresh.

Per variant in both files: same alleles -> kept; swapped alleles -> outcome beta and frequency
flipped; alleles matching only on the other strand -> complemented, then aligned or swapped;
anything else -> dropped as irreconcilable. A palindromic variant (A/T, C/G) looks the same on
both strands, so its strand is read from the allele frequencies: dropped when either frequency is
missing or its minor-allele frequency is within ``maf_tolerance`` of 0.5 (ambiguous), flipped when
the exposure's and outcome's effect-allele frequencies lie on opposite sides of 0.5.
``action=1`` assumes every file is on the forward strand and keeps palindromes as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from miglink.errors import MiglinkError

COMPLEMENT = str.maketrans("ACGT", "TGCA")
DEFAULT_MAF_TOLERANCE = 0.08


@dataclass(frozen=True)
class HarmonisationCounts:
    """What happened to each variant; a researcher checks these before trusting an estimate."""

    exposure_variants: int
    outcome_variants: int
    shared: int
    aligned: int
    swapped: int
    strand_flipped: int
    palindromic_kept: int
    palindromic_flipped: int
    palindromic_dropped: int
    irreconcilable_dropped: int
    kept: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _palindromic(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.str.translate(COMPLEMENT) == b


def harmonise(
    exposure: pd.DataFrame,
    outcome: pd.DataFrame,
    *,
    action: int = 2,
    maf_tolerance: float = DEFAULT_MAF_TOLERANCE,
) -> tuple[pd.DataFrame, HarmonisationCounts]:
    """One row per kept variant: the exposure's columns with an ``_exposure`` suffix and the
    outcome's, aligned to the exposure's effect allele, with ``_outcome``; and the counts."""
    if action not in (1, 2):
        raise MiglinkError(f"harmonisation action must be 1 or 2, got {action}")
    m = exposure.merge(outcome, on="rsid", suffixes=("_exposure", "_outcome"))
    ea, oa = m["effect_allele_exposure"], m["other_allele_exposure"]
    eb, ob = m["effect_allele_outcome"], m["other_allele_outcome"]
    same = (ea == eb) & (oa == ob)
    swap = (ea == ob) & (oa == eb)
    ebc, obc = eb.str.translate(COMPLEMENT), ob.str.translate(COMPLEMENT)
    pal = _palindromic(ea, oa)
    strand = ~same & ~swap & ~pal & (((ea == ebc) & (oa == obc)) | ((ea == obc) & (oa == ebc)))
    swap_after = strand & (ea == obc)
    flip = swap | swap_after
    keep = same | swap | strand
    pal_flip = pal & swap  # action 1: a palindrome is read as written
    pal_drop = pd.Series(False, index=m.index)
    if action == 2:
        fx, fy = m["eaf_exposure"], m["eaf_outcome"]
        near_half = lambda f: (np.minimum(f, 1 - f) > 0.5 - maf_tolerance) | f.isna()  # noqa: E731
        pal_drop = pal & (same | swap) & (near_half(fx) | near_half(fy))
        # a palindrome's alleles always "match", as written or swapped; what decides is whether
        # the two effect-allele frequencies lie on the same side of 0.5 (then both name the same
        # allele) or not (then the outcome's beta is for the exposure's other allele): flip
        pal_ok = pal & (same | swap) & ~pal_drop
        pal_flip = pal_ok & ((fx < 0.5) != (fy < 0.5))
        flip = (flip & ~pal) | pal_flip
        keep = keep & ~pal_drop
    out = m.copy()
    sign = np.where(flip, -1.0, 1.0)
    out["beta_outcome"] = m["beta_outcome"] * sign
    out["eaf_outcome"] = np.where(flip, 1 - m["eaf_outcome"], m["eaf_outcome"])
    out["effect_allele_outcome"], out["other_allele_outcome"] = ea, oa
    out["palindromic"] = pal
    out = out[keep].reset_index(drop=True)
    counts = HarmonisationCounts(
        exposure_variants=len(exposure),
        outcome_variants=len(outcome),
        shared=len(m),
        aligned=int((same & ~pal).sum()),
        swapped=int((swap & ~pal).sum()),
        strand_flipped=int(strand.sum()),
        palindromic_kept=int((pal & keep & ~pal_flip).sum()),
        palindromic_flipped=int((pal & keep & pal_flip).sum()),
        palindromic_dropped=int(pal_drop.sum()),
        irreconcilable_dropped=int((~(same | swap | strand)).sum()),
        kept=len(out),
    )
    return out, counts
