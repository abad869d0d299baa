"""Synthetic GWAS summary statistics with a planted causal effect, to test the MR estimators.

Each variant j has an effect-allele frequency f_j, an effect gamma_j on the exposure (coded to
the exposure-increasing allele, as instruments are read) and a direct (pleiotropic) effect alpha_j
on the outcome drawn independently of gamma_j (InSIDE holds, so MR-Egger stays consistent);
``pleiotropy_mean`` != 0 makes the pleiotropy directional. Both GWAS are of standardised traits
in independent samples, so an association's SE is 1 / sqrt(2 f (1 - f) n):

    bx_j = gamma_j + e_xj,     by_j = effect * gamma_j + alpha_j + e_yj.

A share ``weak_share`` of variants are weak (gamma near 0, F below ~4). Alleles are random
non-palindromic pairs; each file randomly reports a variant from either allele, so harmonisation
has work to do. Same seed, same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

PAIRS = (("A", "C"), ("A", "G"), ("T", "C"), ("T", "G"))


@dataclass(frozen=True)
class Scenario:
    """What is planted; the defaults give strong instruments (mean F ~ 150) and no pleiotropy."""

    n_variants: int = 50
    effect: float = 0.3
    n_exposure: int = 100_000
    n_outcome: int = 100_000
    gamma_range: tuple[float, float] = (0.02, 0.12)
    pleiotropy_mean: float = 0.0
    pleiotropy_sd: float = 0.0
    weak_share: float = 0.0
    weak_range: tuple[float, float] = (0.0, 0.01)


@dataclass(frozen=True)
class Arrays:
    """The harmonised associations, oriented to the exposure-increasing allele."""

    bx: np.ndarray
    bxse: np.ndarray
    by: np.ndarray
    byse: np.ndarray


def simulate_arrays(scenario: Scenario, seed: int) -> Arrays:
    """The associations alone: what the estimators see after harmonisation."""
    rng = np.random.default_rng(seed)
    return _draw(scenario, rng)[0]


def _draw(s: Scenario, rng: np.random.Generator) -> tuple[Arrays, np.ndarray]:
    k = s.n_variants
    f = rng.uniform(0.05, 0.5, k)
    gamma = rng.uniform(*s.gamma_range, k)
    weak = rng.random(k) < s.weak_share
    gamma[weak] = rng.uniform(*s.weak_range, int(weak.sum()))
    alpha = (
        rng.normal(s.pleiotropy_mean, s.pleiotropy_sd, k)
        if s.pleiotropy_sd or s.pleiotropy_mean
        else np.zeros(k)
    )
    het = 2 * f * (1 - f)
    bxse, byse = 1 / np.sqrt(het * s.n_exposure), 1 / np.sqrt(het * s.n_outcome)
    bx = gamma + rng.normal(0, bxse)
    by = s.effect * gamma + alpha + rng.normal(0, byse)
    return Arrays(bx, bxse, by, byse), f


def simulate_sumstats(scenario: Scenario, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exposure and outcome GWAS frames in :mod:`miglink.genetics.sumstats`' columns, each
    variant reported from a random allele in each file, on its own locus (20 Mb apart)."""
    rng = np.random.default_rng(seed)
    a, f = _draw(scenario, rng)
    k = scenario.n_variants
    pair = rng.integers(0, len(PAIRS), k)
    chrom = (np.arange(k) % 22 + 1).astype(str)
    pos = 1_000_000 + (np.arange(k) // 22) * 20_000_000
    frames = []
    for beta, se, n in ((a.bx, a.bxse, scenario.n_exposure), (a.by, a.byse, scenario.n_outcome)):
        flip = rng.random(k) < 0.5
        ea = np.array([PAIRS[p][int(x)] for p, x in zip(pair, flip, strict=True)])
        oa = np.array([PAIRS[p][1 - int(x)] for p, x in zip(pair, flip, strict=True)])
        b = np.where(flip, -beta, beta)
        frames.append(pd.DataFrame({
            "rsid": [f"rs{100 + j}" for j in range(k)], "effect_allele": ea, "other_allele": oa,
            "beta": b, "se": se, "chromosome": pd.array(chrom, dtype="string"),
            "position": pos.astype(float), "eaf": np.where(flip, 1 - f, f),
            "p": 2 * norm.sf(np.abs(b / se)), "n": float(n),
        }))  # fmt: skip
    return frames[0], frames[1]
