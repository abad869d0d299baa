"""The visits of one chunk and the condition rows recorded at them.

Routine visits are drawn first and sorted by person and day; records that need a visit
"snap" to the person's next routine visit. Events with a visit of their own (inpatient stays,
migraine encounters) append visits after the routine ones, so visit indices stay stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.timescale import KEY, ranges

VISIT_RATE = 2.4  # routine visits per person-year at seek 1, middle age


@dataclass
class Visits:
    """Routine visits sorted by (person, day), then the visits events added, in order."""

    person: np.ndarray
    day: np.ndarray
    key: np.ndarray  # person * KEY + day, sorted
    last: np.ndarray  # index of each person's last routine visit (-1: none)
    extra_p: list[np.ndarray] = field(default_factory=list)
    extra_day: list[np.ndarray] = field(default_factory=list)
    extra_concept: list[np.ndarray] = field(default_factory=list)

    def snap(self, who: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the person's first routine visit on or after ``day`` (-1: none)."""
        d = np.where(np.isfinite(day), day, KEY - 1).astype(np.int64)
        q = who * KEY + np.minimum(d, KEY - 1)
        i = np.searchsorted(self.key, q, side="left")
        ok = (i < self.key.size) & np.isfinite(day)
        i = np.where(ok, i, 0)
        ok &= self.person[i] == who if self.person.size else ok
        return np.where(ok, i, -1)

    def add(self, who: np.ndarray, day: np.ndarray, concept: int) -> np.ndarray:
        """Append one visit per row (its own visit of ``concept``); return their indices."""
        base = self.person.size + sum(x.size for x in self.extra_p)
        self.extra_p.append(who)
        self.extra_day.append(day)
        self.extra_concept.append(np.full(who.size, concept))
        return base + np.arange(who.size)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(person, day, visit concept) of every visit, routine ones first."""
        vp = np.concatenate([self.person] + self.extra_p)
        vd = np.concatenate([self.day] + self.extra_day)
        vc = np.concatenate([np.full(self.person.size, cat.VISIT_OUTPATIENT)] + self.extra_concept)
        return vp, vd, vc


def routine_visits(rng: np.random.Generator, p: dict[str, np.ndarray], years: np.ndarray) -> Visits:
    """Routine visits: Poisson in observation, rate ~ healthcare seeking and age."""
    n = p["sex"].size
    mid_age = (p["age_start"] + p["age_end"]) / 2
    vrate = VISIT_RATE * p["seek"] * (0.6 + 0.9 * np.minimum(mid_age, 90) / 90)
    nv = rng.poisson(vrate * years)
    v_p = np.repeat(np.arange(n), nv)
    v_day = np.floor(
        p["start_day"][v_p] + rng.random(v_p.size) * (p["end_day"] - p["start_day"] + 1)[v_p]
    )
    vkey = v_p * KEY + v_day.astype(np.int64)
    order = np.argsort(vkey, kind="stable")
    v_p, v_day, vkey = v_p[order], v_day[order], vkey[order]
    v_last = np.full(n, -1)
    v_last[v_p] = np.arange(v_p.size)  # last routine visit index per person
    return Visits(person=v_p, day=v_day, key=vkey, last=v_last)


@dataclass
class ConditionRows:
    """Condition rows as they are recorded: (person, code index, day, visit index)."""

    person: list[np.ndarray] = field(default_factory=list)
    code: list[np.ndarray] = field(default_factory=list)
    day: list[np.ndarray] = field(default_factory=list)
    visit: list[np.ndarray] = field(default_factory=list)

    def emit(self, who: np.ndarray, code, day: np.ndarray, visit: np.ndarray) -> None:
        self.person.append(who)
        self.code.append(np.broadcast_to(code, who.shape).astype(np.int64))
        self.day.append(day)
        self.visit.append(visit)

    def repeats(
        self,
        rng: np.random.Generator,
        visits: Visits,
        who: np.ndarray,
        code: np.ndarray,
        visit: np.ndarray,
        prob,
    ) -> None:
        """Repeat records of chronic conditions at later routine visits."""
        if who.size == 0 or np.all(prob <= 0):
            return
        n_later = np.maximum(visits.last[who] - visit, 0)
        owner, vidx = ranges(visit + 1, n_later)
        keep = rng.random(owner.size) < np.broadcast_to(prob, who.shape)[owner]
        owner, vidx = owner[keep], vidx[keep]
        self.emit(who[owner], code[owner], visits.day[vidx], vidx)

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.concatenate(self.person),
            np.concatenate(self.code),
            np.concatenate(self.day),
            np.concatenate(self.visit),
        )
