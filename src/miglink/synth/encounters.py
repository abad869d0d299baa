"""Migraine encounters after diagnosis, the planted drug effects on them, and their truth.

Encounters are a Poisson process after diagnosis; inside a drug's risk window (exposure days +
30 days) the rate is multiplied by the planted incidence rate ratio: extra encounters for a
ratio above 1, thinning of the existing ones below 1. A scenario's event-dependent drug starts
are drawn from the encounters before the effects are planted (so a planted drug effect applies
to those courses too); the encounters themselves never depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.diagnoses import MigrainePatients
from miglink.synth.prescriptions import DrugExposures, event_dependent_courses
from miglink.synth.records import ConditionRows, Visits
from miglink.synth.stats import Stats
from miglink.synth.timescale import KEY, YEAR, ranges
from miglink.synth.world import World

ENCOUNTER_RATE = 1.2  # migraine encounters per year after diagnosis at seek 1
RISK_WINDOW_DAYS = 30  # drug risk window = exposure days + 30 days


@dataclass
class RiskWindows:
    """Each exposure's risk window, cut to a migraine patient's time after diagnosis."""

    lo: np.ndarray
    hi: np.ndarray
    ok: np.ndarray  # the window is non-empty (the person has a recorded migraine in it)


def record_encounters(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    mig: MigrainePatients,
    drugs: DrugExposures,
    dx_code: np.ndarray,
    visits: Visits,
    rows: ConditionRows,
    stats: Stats,
) -> DrugExposures:
    """Encounters, their codes and visits, medication-overuse headache, drug-effect truth.

    Returns the drug exposures with the courses the encounters start (event-dependent exposure),
    the same rows as ``drugs`` when the scenario has none."""
    n = p["sex"].size
    rho = ENCOUNTER_RATE * rng.gamma(2.0, 0.5, mig.who.size) * np.sqrt(p["seek"][mig.who])
    rho_p = np.zeros(n)
    rho_p[mig.who] = rho
    dx_p = np.full(n, np.inf)
    dx_p[mig.who] = mig.dx
    span = np.maximum(mig.end - mig.dx, 0)
    cnt = rng.poisson(rho * span / YEAR)
    o = np.repeat(np.arange(mig.who.size), cnt)
    enc_p = mig.who[o]
    enc_d = np.floor(mig.dx[o] + 1 + rng.random(o.size) * span[o])
    enc_d = np.minimum(enc_d, mig.end[o])
    specs = world.scenario.event_dependent()
    drugs, tally = event_dependent_courses(world, rng, p, drugs, enc_p, enc_d, specs)
    for name, v in tally.items():
        stats.add(f"event_dependent:{name}", v)
    win = _risk_windows(p, drugs, dx_p)
    enc_p, enc_d = _plant_drug_effects(world, rng, rho_p, drugs, win, enc_p, enc_d)
    enc_code = _encounter_codes(world, rng, p, mig, dx_p, dx_code, enc_p, enc_d)
    enc_visit = visits.add(enc_p, enc_d, cat.VISIT_OUTPATIENT)
    rows.emit(enc_p, enc_code, enc_d, enc_visit)
    # medication-overuse headache: a share of migraine patients, at a later routine visit
    moh = mig.who[rng.random(mig.who.size) < cat.MOH_SHARE]
    mday = dx_p[moh] + rng.random(moh.size) * (p["end_day"][moh] - dx_p[moh])
    mv = visits.snap(moh, mday)
    ok = mv >= 0
    code = world.code_of[("migraine:moh", 0)]
    rows.emit(moh[ok], np.full(ok.sum(), code), visits.day[mv[ok]], mv[ok])
    _drug_effect_stats(world, p, drugs, win, dx_p, enc_p, enc_d, stats)
    return drugs


def _risk_windows(p, drugs: DrugExposures, dx_p: np.ndarray) -> RiskWindows:
    dp, ds, de = drugs.person, drugs.start, drugs.end
    w_lo = np.maximum(ds, dx_p[dp]) if dp.size else ds
    w_hi = np.minimum(de + RISK_WINDOW_DAYS, p["end_day"][dp]) if dp.size else de
    return RiskWindows(w_lo, w_hi, np.isfinite(w_lo) & (w_hi >= w_lo))


def _plant_drug_effects(world, rng, rho_p, drugs, win, enc_p, enc_d):
    """Add (ratio > 1) or thin (ratio < 1) encounters inside each drug set's risk windows."""
    for si, sname in enumerate(world.set_names):
        irr = world.scenario.drug_irr(sname)
        if irr == 1.0:
            continue
        sel = win.ok & (drugs.drug_set == si)
        wp, wl, wh = drugs.person[sel], win.lo[sel], win.hi[sel]
        if irr > 1:
            c2 = rng.poisson(rho_p[wp] * (irr - 1) * (wh - wl + 1) / YEAR)
            o2 = np.repeat(np.arange(wp.size), c2)
            enc_p = np.concatenate([enc_p, wp[o2]])
            enc_d = np.concatenate(
                [enc_d, np.floor(wl[o2] + rng.random(o2.size) * (wh - wl + 1)[o2])]
            )
        else:
            ekey = enc_p * KEY + enc_d.astype(np.int64)
            srt = np.argsort(ekey, kind="stable")
            enc_p, enc_d, ekey = enc_p[srt], enc_d[srt], ekey[srt]
            a = np.searchsorted(ekey, wp * KEY + wl.astype(np.int64), "left")
            b = np.searchsorted(ekey, wp * KEY + wh.astype(np.int64), "right")
            _, idx = ranges(a, b - a)
            drop = np.unique(idx[rng.random(idx.size) < 1 - irr])
            keep = np.ones(enc_p.size, dtype=bool)
            keep[drop] = False
            enc_p, enc_d = enc_p[keep], enc_d[keep]
    return enc_p, enc_d


def _encounter_codes(world, rng, p, mig, dx_p, dx_code, enc_p, enc_d) -> np.ndarray:
    """The person's migraine code; chronic migraine after a transformation day."""
    n = p["sex"].size
    base_code = np.full(n, -1)
    base_code[mig.who] = dx_code[mig.who, 0]
    chronic_day = np.full(n, np.inf)
    chron = mig.who[rng.random(mig.who.size) < cat.CHRONIC_SHARE]
    chronic_day[chron] = np.floor(
        dx_p[chron] + rng.random(chron.size) * (p["end_day"][chron] - dx_p[chron])
    )
    return np.where(
        enc_d >= chronic_day[enc_p], world.code_of[("migraine:chronic", 0)], base_code[enc_p]
    )


def _drug_effect_stats(world, p, drugs, win, dx_p, enc_p, enc_d, stats: Stats) -> None:
    """Encounters in / out of risk windows, among exposed migraine patients, per drug set."""
    ekey = np.sort(enc_p * KEY + enc_d.astype(np.int64))
    for si, sname in enumerate(world.set_names):
        sel = win.ok & (drugs.drug_set == si)
        wp, wl, wh = drugs.person[sel], win.lo[sel], win.hi[sel]
        a = np.searchsorted(ekey, wp * KEY + wl.astype(np.int64), "left")
        b = np.searchsorted(ekey, wp * KEY + wh.astype(np.int64), "right")
        ev_in = float((b - a).sum())
        pt_in = float((wh - wl + 1).sum()) / YEAR
        exposed = np.unique(wp)
        ev_all = float(
            (
                np.searchsorted(ekey, exposed * KEY + KEY - 1, "right")
                - np.searchsorted(ekey, exposed * KEY, "left")
            ).sum()
        )
        pt_all = float((p["end_day"][exposed] - dx_p[exposed] + 1).sum()) / YEAR
        stats.add(f"drug:{sname}", [ev_in, pt_in, ev_all - ev_in, pt_all - pt_in, exposed.size])
