"""Sufficient statistics for truth.json, and the per-band tallies they are summed in.

Chunks only add arrays into :class:`Stats`, so truth.json depends on the population, not on how
it was cut into chunks; the key order (first chunk's order of ``add``) is truth.json's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

S_STRATA = 2 * 10 * 4  # sex x 10-year age band x observation-length band
NB = 20  # five-year age bands 0-4 ... 95-99 for truth statistics


@dataclass
class Stats:
    """Sufficient statistics for truth.json, summed over chunks."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float64)
        if name in self.arrays:
            self.arrays[name] = self.arrays[name] + value
        else:
            self.arrays[name] = value.copy()


def person_time_by_band(x: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Person-time from age 0 to ``x`` summed by sex x five-year band, shape (2, NB)."""
    x = np.clip(x, 0.0, NB * 5.0 - 1e-9)
    band = (x // 5).astype(np.int64)
    idx = sex * NB + band
    cnt = np.bincount(idx, minlength=2 * NB).reshape(2, NB)
    part = np.bincount(idx, weights=x - 5.0 * band, minlength=2 * NB).reshape(2, NB)
    above = np.cumsum(cnt[:, ::-1], axis=1)[:, ::-1] - cnt  # persons past the band
    return part + 5.0 * above


def band_count(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Persons by sex x five-year band of ``age``, shape (2, NB)."""
    band = np.clip((age // 5).astype(np.int64), 0, NB - 1)
    return np.bincount(sex * NB + band, minlength=2 * NB).reshape(2, NB).astype(float)
