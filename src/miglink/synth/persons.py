"""Persons of one chunk: sex, birth, observation period, death and the latent traits."""

from __future__ import annotations

import numpy as np

from miglink.synth.timescale import DAY_2000, DAY_2025, YEAR

SEEK_SD = 0.45  # sd of log healthcare-seeking level (mean of seek is 1)


def draw_persons(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Persons indexed locally 0..n-1 (ages in years, days since 1970-01-01)."""
    female = (rng.random(n) < 0.505).astype(np.int64)
    ages = np.arange(95)
    w = np.where(ages < 50, 1.0, np.exp(-(((ages - 50) / 25.0) ** 2)))
    age_start = rng.choice(ages, size=n, p=w / w.sum()) + rng.random(n)
    from_birth = rng.random(n) < 0.06
    age_start[from_birth] = 0.0
    length = np.clip(np.exp(rng.normal(np.log(5.5), 0.75, n)), 1.0, 20.0)
    start_day = DAY_2000 + rng.random(n) * ((DAY_2025 - DAY_2000) - length * YEAR)
    start_day = np.floor(start_day)
    birth_day = np.floor(start_day - age_start * YEAR)
    age_start = (start_day - birth_day) / YEAR
    age_end = age_start + length
    # Gompertz mortality, conditional on being alive at the start of observation
    a0, b = 3e-5, 0.095
    death_age = np.log(np.exp(b * age_start) + b * rng.exponential(size=n) / a0) / b
    died = death_age < np.minimum(age_end, 95.99)
    age_end = np.minimum(np.where(died, death_age, age_end), 95.99)
    end_day = np.floor(birth_day + age_end * YEAR)
    end_day = np.maximum(end_day, start_day)
    age_end = (end_day - birth_day) / YEAR
    seek = np.exp(rng.normal(0, SEEK_SD, n) - SEEK_SD**2 / 2)
    immune = rng.normal(0, 1, n)
    return dict(
        female=female,
        sex=1 - female,  # 0 women, 1 men (grid row)
        birth_day=birth_day,
        start_day=start_day,
        end_day=end_day,
        age_start=age_start,
        age_end=age_end,
        died=died,
        seek=seek,
        immune=immune,
    )


def observation_years(p: dict[str, np.ndarray]) -> np.ndarray:
    """Length of each person's observation period in years (both end days included)."""
    return (p["end_day"] - p["start_day"] + 1) / YEAR
