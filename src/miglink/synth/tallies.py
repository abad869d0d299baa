"""Truth statistics of a chunk that need no draws: planted hazard pairs and recorded 2x2s."""

from __future__ import annotations

import numpy as np

from miglink.synth.stats import S_STRATA, Stats, band_count, person_time_by_band
from miglink.synth.world import World


def hazard_pair_stats(
    world: World,
    p: dict[str, np.ndarray],
    onset: np.ndarray,
    subtype: np.ndarray,
    dx_day: np.ndarray,
    stats: Stats,
) -> None:
    """Person-time and events of every planted pair, from the true onset times."""
    _g = person_time_by_band
    sex = p["sex"]
    a0, a1 = p["age_start"], p["age_end"]
    rec_c = np.isfinite(dx_day)
    for src, sub, to, _hf, _hm, e in world.effects:
        f_on = onset[:, src].copy()
        if sub >= 0:
            f_on[subtype != sub] = np.inf
        t_on = onset[:, to]
        at_risk = t_on > a0
        lo = np.where(at_risk, a0, 0.0)
        hi = np.where(at_risk, np.minimum(a1, t_on), 0.0)
        mid = np.clip(f_on, lo, hi)
        pt0 = _g(mid, sex) - _g(lo, sex)
        pt1 = _g(hi, sex) - _g(mid, sex)
        ev = at_risk & (t_on <= a1)
        exp_ev = ev & (f_on < t_on)
        tag = f"pair:{e.from_}:{e.to}"
        stats.add(tag + ":pt0", pt0)
        stats.add(tag + ":pt1", pt1)
        stats.add(tag + ":ev0", band_count(t_on[ev & ~exp_ev], sex[ev & ~exp_ev]))
        stats.add(tag + ":ev1", band_count(t_on[exp_ev], sex[exp_ev]))
        f_true = np.isfinite(f_on)
        t_true = np.isfinite(t_on)
        f_rec = rec_c[:, src] if sub < 0 else rec_c[:, src] & (subtype == sub)
        t_rec = rec_c[:, to]
        stats.add(
            tag + ":counts",
            [
                f_true.sum(),
                t_true.sum(),
                (f_true & t_true).sum(),
                f_rec.sum(),
                t_rec.sum(),
                (f_rec & t_rec).sum(),
            ],
        )


def recorded_stats(
    world: World,
    p: dict[str, np.ndarray],
    onset: np.ndarray,
    subtype: np.ndarray,
    dx_day: np.ndarray,
    rec_i: np.ndarray,
    mig_rec: np.ndarray,
    years: np.ndarray,
    stats: Stats,
) -> None:
    """Recorded 2x2 against recorded migraine for every condition set, and the population.

    The strata are the study's D1 ones: sex x 10-year age band at end x observation length band.
    """
    n = p["sex"].size
    rec_c = np.isfinite(dx_day)
    obs_band = np.searchsorted([3.0, 6.0, 10.0], years, side="right")
    age_band = np.clip((p["age_end"] // 10).astype(np.int64), 0, 9)
    stratum = (p["sex"] * 10 + age_band) * 4 + obs_band
    cell_mig = (~mig_rec).astype(np.int64)

    def strat(x):
        cell = (1 - x.astype(np.int64)) * 2 + cell_mig  # a, b, c, d = (x,m), (x,~m), ...
        return np.bincount(stratum * 4 + cell, minlength=S_STRATA * 4).reshape(S_STRATA, 4)

    for k, d in enumerate(world.coupled):
        stats.add(f"rec:{d.key}", [np.isfinite(onset[:, k]).sum()])
        stats.add(f"strat:{d.key}", strat(rec_c[:, k]))
    for j, d in enumerate(world.indep):
        if d.kind == "negative_control":
            stats.add(f"rec:{d.key}", [0])
            stats.add(f"strat:{d.key}", strat(rec_i[:, j]))
    stats.add("rec:aura", [np.sum(mig_rec & (subtype == world.aura))])
    stats.add(
        "persons",
        [
            n,
            p["female"].sum(),
            years.sum(),
            p["died"].sum(),
            mig_rec[p["female"] == 1].sum(),
            mig_rec[p["female"] == 0].sum(),
        ],
    )
