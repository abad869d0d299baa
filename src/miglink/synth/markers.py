"""Inflammatory markers (CRP, ESR) measured at visits, raised by inflammation and planted effects."""

from __future__ import annotations

import numpy as np

from miglink.synth.records import Visits
from miglink.synth.stats import NB, Stats
from miglink.synth.timescale import YEAR
from miglink.synth.world import World

MARKERS = ("crp", "esr")


def measure_markers(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    onset: np.ndarray,
    ai_on: np.ndarray,
    dx_day: np.ndarray,
    years: np.ndarray,
    visits: Visits,
    stats: Stats,
) -> dict[str, np.ndarray]:
    """Measurement rows (person, lab index, day, visit, value) of both markers."""
    n = p["sex"].size
    ai_rec = np.isfinite(np.min(dx_day[:, world.ai_idx], axis=1))
    u = rng.normal(0, 1, n)  # a person's own level, shared by the markers
    m_cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "lab", "day", "visit", "value")}
    lab_index = 0
    for marker in MARKERS:
        rate = 0.12 * p["seek"] * (1 + 3 * ai_rec)
        cnt = rng.poisson(rate * years)
        mp = np.repeat(np.arange(n), cnt)
        mday = p["start_day"][mp] + rng.random(mp.size) * (p["end_day"] - p["start_day"])[mp]
        mv = visits.snap(mp, mday)
        ok = mv >= 0
        mp, mv = mp[ok], mv[ok]
        mday = visits.day[mv]
        age = (mday - p["birth_day"][mp]) / YEAR
        mig_on = (p["birth_day"] + onset[:, 0] * YEAR)[mp] <= mday
        ai_act = (p["birth_day"] + ai_on * YEAR)[mp] <= mday
        rgm = np.log(world.scenario.marker_rgm(marker))
        logv = _log_value(rng, marker, p, mp, age, ai_act, u)
        logv = logv + rgm * mig_on
        value = np.maximum(np.round(np.exp(logv), 1), 0.1)
        labs = world.vocab.labs[marker]
        shares = np.array([s for *_, s in labs])
        which = rng.choice(len(labs), mp.size, p=shares / shares.sum())
        m_cols["p"].append(mp)
        m_cols["lab"].append(lab_index + which)
        m_cols["day"].append(mday)
        m_cols["visit"].append(mv)
        m_cols["value"].append(value)
        lab_index += len(labs)
        _marker_stats(stats, marker, np.log(value), p["sex"][mp], age, ai_act, mig_on)
    return {k: np.concatenate(v) for k, v in m_cols.items()}


def _log_value(rng, marker, p, mp, age, ai_act, u) -> np.ndarray:
    """Log marker value before the planted effect: age, sex, immune factor, active disease."""
    if marker == "crp":
        return (
            np.log(1.2)
            + 0.012 * (age - 40)
            + 0.35 * p["immune"][mp]
            + 0.9 * ai_act
            + 0.5 * u[mp]
            + rng.normal(0, 0.6, mp.size)
        )
    return (
        np.log(10.0)
        + 0.008 * (age - 40)
        + 0.25 * p["female"][mp]
        + 0.25 * p["immune"][mp]
        + 0.7 * ai_act
        + 0.35 * u[mp]
        + rng.normal(0, 0.35, mp.size)
    )


def _marker_stats(stats: Stats, marker, lv, sex, age, ai_act, mig_on) -> None:
    """Count, sum and sum of squares of log values by sex x band, with / without migraine."""
    band = np.clip((age // 5).astype(np.int64), 0, NB - 1)
    for tag, mask in (("all", np.ones(lv.size, bool)), ("no_ai", ~ai_act)):
        for g, gm in ((1, mig_on), (0, ~mig_on)):
            sel = mask & gm
            idx = sex[sel] * NB + band[sel]
            stats.add(f"marker:{marker}:{tag}:{g}:n", np.bincount(idx, minlength=2 * NB))
            stats.add(
                f"marker:{marker}:{tag}:{g}:s",
                np.bincount(idx, weights=lv[sel], minlength=2 * NB),
            )
            stats.add(
                f"marker:{marker}:{tag}:{g}:ss",
                np.bincount(idx, weights=lv[sel] ** 2, minlength=2 * NB),
            )
