"""Choosing the instruments: genome-wide significant exposure variants, one per locus.

Clumping keeps, among variants within ``window_kb`` of each other on a chromosome, the one with the
smallest p-value (PLINK's greedy clumping, as TwoSampleMR's ``clump_data`` runs it). Without an LD
reference every variant within the window is taken as linked; with one (a user's r^2 pairs or
matrix) only pairs with r^2 above ``r2`` are, and variants the reference lacks are dropped, as
PLINK does, because their independence cannot be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from miglink.errors import MiglinkError

DEFAULT_P_THRESHOLD = 5e-8
DEFAULT_WINDOW_KB = 10_000
DEFAULT_R2 = 0.001


@dataclass(frozen=True)
class Selection:
    """The counts of each selection step, for the report."""

    candidates: int
    significant: int
    not_in_ld_reference: int
    clumped_away: int
    instruments: int


def read_ld_reference(path: str | Path) -> dict[frozenset[str], float]:
    """r^2 between pairs of variants from ``path``: either a pairs file with columns
    ``snp_a, snp_b, r2`` or a square matrix whose header and first column name the variants."""
    path = Path(path)
    if not path.is_file():
        raise MiglinkError(f"LD reference {path}: no such file")
    frame = pd.read_csv(path, sep=None, engine="python")
    cols = [c.lower() for c in frame.columns]
    if {"snp_a", "snp_b", "r2"} <= set(cols):
        frame.columns = cols
        r2 = pd.to_numeric(frame["r2"], errors="coerce")
        pairs = zip(frame["snp_a"].astype(str), frame["snp_b"].astype(str), r2, strict=True)
    else:
        frame = frame.set_index(frame.columns[0])
        if list(frame.index.astype(str)) != [str(c) for c in frame.columns]:
            raise MiglinkError(
                f"LD reference {path}: neither a pairs file (snp_a, snp_b, r2) nor a square "
                "matrix with the same variants as rows and columns"
            )
        stacked = frame.apply(pd.to_numeric, errors="coerce").stack()
        r2 = stacked.to_numpy()
        pairs = zip(stacked.index.get_level_values(0).astype(str),
                    stacked.index.get_level_values(1).astype(str), r2, strict=True)  # fmt: skip
    bad = int(np.sum(~((r2 >= 0) & (r2 <= 1))))
    if bad:
        raise MiglinkError(
            f"LD reference {path}: column r2 is outside 0-1 or missing in {bad} row(s)"
        )
    return {frozenset((a, b)): float(v) for a, b, v in pairs if a != b}


def select_instruments(
    exposure: pd.DataFrame,
    *,
    p_threshold: float = DEFAULT_P_THRESHOLD,
    window_kb: float = DEFAULT_WINDOW_KB,
    ld: dict[frozenset[str], float] | None = None,
    r2: float = DEFAULT_R2,
) -> tuple[pd.DataFrame, Selection]:
    """The exposure's variants with p < ``p_threshold`` after clumping, and the counts."""
    sig = exposure[exposure["p"] < p_threshold]
    missing_pos = sig["chromosome"].isna() | sig["position"].isna()
    if missing_pos.any() and ld is None and window_kb > 0:
        raise MiglinkError(
            f"clumping by distance needs chromosome and position; {int(missing_pos.sum())} "
            "significant variant(s) lack them (give an LD reference, or a window of 0 kb)"
        )
    absent = pd.Series(False, index=sig.index)
    if ld is not None:
        known = {v for pair in ld for v in pair}
        absent = ~sig["rsid"].isin(known)
    pool = sig[~absent].sort_values(["p", "rsid"], kind="stable")
    kept = _clump(pool, window_kb, ld, r2)
    chosen = pool.loc[kept].sort_index()
    sel = Selection(
        candidates=len(exposure),
        significant=len(sig),
        not_in_ld_reference=int(absent.sum()),
        clumped_away=len(pool) - len(chosen),
        instruments=len(chosen),
    )
    return chosen, sel


def _clump(pool: pd.DataFrame, window_kb: float, ld, r2: float) -> list:
    """Greedy clumping in order of p: a variant is kept unless linked to one already kept
    (within the window on its chromosome and, with an LD reference, r^2 above ``r2``)."""
    if window_kb <= 0 and ld is None:
        return list(pool.index)
    window = np.inf if window_kb <= 0 else window_kb * 1000
    kept: list = []
    by_chrom: dict[object, tuple[list[float], list[str]]] = {}
    for idx, rsid, chrom, pos in zip(
        pool.index, pool["rsid"], pool["chromosome"], pool["position"], strict=True
    ):
        key = "?" if pd.isna(chrom) or window == np.inf else chrom
        positions, names = by_chrom.setdefault(key, ([], []))
        near = np.abs(np.asarray(positions) - pos) <= window if positions else np.zeros(0, bool)
        if window == np.inf or pd.isna(pos):
            near = np.ones(len(positions), bool)
        if ld is None:
            linked = bool(near.any())
        else:
            linked = any(
                ld.get(frozenset((rsid, names[j])), 0.0) > r2 for j in np.flatnonzero(near)
            )
        if not linked:
            kept.append(idx)
            positions.append(pos)
            names.append(rsid)
    return kept
