"""The model's time scales and the one array expansion every part of it uses.

Time runs in years of age for hazards and in days since 1970-01-01 for records.
"""

from __future__ import annotations

import numpy as np

YEAR = 365.25
DAY_2000 = 10957  # 2000-01-01
DAY_2025 = 20089  # 2025-01-01
AGES = np.arange(0.0, 101.0)  # hazard grid (yearly, piecewise constant hazard)
KEY = 1 << 15  # day numbers (< 32768 until 2059) packed beside a person index


def ranges(lo: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand (start, count) pairs into (owner row, value) with values start..start+count-1."""
    n = n.astype(np.int64)
    owner = np.repeat(np.arange(n.size), n)
    if owner.size == 0:
        return owner, owner
    starts = np.cumsum(n) - n
    offs = np.arange(owner.size) - np.repeat(starts, n)
    return owner, lo.astype(np.int64)[owner] + offs
