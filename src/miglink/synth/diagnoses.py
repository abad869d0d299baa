"""When a true condition becomes a record: diagnosis days, codes and repeat records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.records import ConditionRows, Visits
from miglink.synth.timescale import YEAR
from miglink.synth.world import World

SEEK_DETECT_POWER = 1.0  # detection rate is proportional to seek ** this


def detection_day(rng, p, who, onset_age, detect, resolve) -> np.ndarray:
    """Day a condition becomes known (inf: never within observation / before it resolves).

    ``detect`` is the diagnosis rate per year at seek 1; ``resolve`` (years, inf for chronic
    conditions) limits when an acute condition can still be recorded.
    """
    resolve = np.inf if resolve is None else resolve
    a_start = p["age_start"][who]
    start = np.maximum(onset_age, a_start)
    rate = detect * p["seek"][who] ** SEEK_DETECT_POWER
    t = start + rng.exponential(size=who.size) / rate
    limit = np.minimum(p["age_end"][who], onset_age + resolve)
    t = np.where(np.isfinite(resolve) & (onset_age < a_start), np.inf, t)
    t = np.where(t <= limit, t, np.inf)
    return np.where(np.isfinite(t), np.ceil(p["birth_day"][who] + t * YEAR), np.inf)


def diagnose_coupled(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    onset: np.ndarray,
    subtype: np.ndarray,
    visits: Visits,
    rows: ConditionRows,
) -> tuple[np.ndarray, np.ndarray]:
    """First record (day, code) of every coupled disease, shape (n, K); repeats recorded too.

    Acute events get an inpatient visit of their own; chronic conditions are recorded at the
    next routine visit after detection.
    """
    n = p["sex"].size
    K = len(world.coupled)
    dx_day = np.full((n, K), np.inf)
    dx_code = np.full((n, K), -1)
    for k, d in enumerate(world.coupled):
        who = np.flatnonzero(np.isfinite(onset[:, k]))
        if who.size == 0:
            continue
        day = detection_day(rng, p, who, onset[who, k], d.detect, d.resolve)
        if k == 0:
            code = _migraine_code(world, rng, p, who, onset, subtype)
        else:
            code = world.first_code_c[k] + rng.integers(0, world.n_codes_c[k], who.size)
        if d.resolve is not None:  # acute events: their own inpatient visit
            ok = np.isfinite(day)
            who, day, code = who[ok], day[ok], code[ok]
            visit = visits.add(who, day, cat.VISIT_INPATIENT)
        else:
            visit = visits.snap(who, day)
            ok = visit >= 0
            who, code, visit = who[ok], code[ok], visit[ok]
            day = visits.day[visit]
        rows.emit(who, code, day, visit)
        dx_day[who, k] = day
        dx_code[who, k] = code
        if k != 0 and d.resolve is None:
            rows.repeats(rng, visits, who, code, visit, d.repeat)
    return dx_day, dx_code


def _migraine_code(world, rng, p, who, onset, subtype) -> np.ndarray:
    """Migraine: the subtype's code (menstrual for some women without aura)."""
    code = world.sub_code[subtype[who]]
    men = (
        (subtype[who] == world.without_aura)
        & (p["female"][who] == 1)
        & (onset[who, 0] < 50)
        & (rng.random(who.size) < cat.MENSTRUAL_SHARE)
    )
    return np.where(men, world.code_of[("migraine:menstrual", 0)], code)


def diagnose_independent(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    independent: tuple[np.ndarray, np.ndarray, np.ndarray],
    visits: Visits,
    rows: ConditionRows,
) -> np.ndarray:
    """Record the negative controls and background, all conditions at once; (n, J) recorded."""
    ip, ik, ia = independent
    rec_i = np.zeros((p["sex"].size, len(world.indep)), dtype=bool)
    day = detection_day(rng, p, ip, ia, world.i_detect[ik], world.i_resolve[ik])
    visit = visits.snap(ip, day)
    ok = visit >= 0
    who, kk, visit = ip[ok], ik[ok], visit[ok]
    code = world.first_code_i[kk] + (rng.random(who.size) * world.n_codes_i[kk]).astype(np.int64)
    rows.emit(who, code, visits.day[visit], visit)
    rec_i[who, kk] = True
    rows.repeats(rng, visits, who, code, visit, world.i_repeat[kk])
    return rec_i


@dataclass
class MigrainePatients:
    """Persons with a recorded migraine: who, their diagnosis day and end of observation."""

    recorded: np.ndarray  # (n,) bool
    who: np.ndarray
    dx: np.ndarray
    end: np.ndarray


def migraine_patients(p: dict[str, np.ndarray], dx_day: np.ndarray) -> MigrainePatients:
    recorded = np.isfinite(dx_day[:, 0])
    who = np.flatnonzero(recorded)
    return MigrainePatients(recorded, who, dx_day[who, 0], p["end_day"][who])
