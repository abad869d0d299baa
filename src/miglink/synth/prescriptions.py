"""Drug exposures: treatment of the autoimmune diseases, of migraine, and background use.

A *course* is a short exposure drawn as a Poisson process between two days; an *era* a long
treatment starting soon after diagnosis for a share of patients. Both are drawn before, and
independently of, the migraine encounters (exposure that does not depend on the outcome, the
SCCS assumption). A scenario's ``event_dependent_drug`` entries add courses that an encounter
starts (:func:`event_dependent_courses`), drawn after the encounters: exposure that depends on
the outcome, with no effect of the drug on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from miglink.synth.diagnoses import MigrainePatients
from miglink.synth.medicines import INGREDIENTS
from miglink.synth.scenario import EventDependentExposure
from miglink.synth.timescale import YEAR
from miglink.synth.world import World

STEROIDS = [("prednisone", 0.6), ("methylprednisolone", 0.25), ("prednisolone", 0.15)]
#: Long treatment eras after an autoimmune diagnosis: (share of patients, ingredient choices).
TREATMENT_ERAS = {
    "rheumatoid_arthritis": [
        (0.6, [("methotrexate", 1)]),
        (0.25, [("adalimumab", 0.5), ("etanercept", 0.5)]),
        (0.2, [("hydroxychloroquine", 1)]),
        (0.05, [("rituximab", 1)]),
    ],
    "sle": [
        (0.8, [("hydroxychloroquine", 1)]),
        (0.1, [("methotrexate", 1)]),
        (0.05, [("rituximab", 1)]),
    ],
    "sjogren": [(0.4, [("hydroxychloroquine", 1)])],
    "psoriasis": [
        (0.15, [("methotrexate", 1)]),
        (0.1, [("adalimumab", 0.5), ("etanercept", 0.5)]),
    ],
    "crohn": [(0.4, [("infliximab", 0.5), ("adalimumab", 0.5)])],
    "ulcerative_colitis": [(0.25, [("infliximab", 0.5), ("adalimumab", 0.5)])],
    "ankylosing_spondylitis": [(0.4, [("adalimumab", 0.5), ("etanercept", 0.5)])],
    "neuromyelitis_optica": [(0.4, [("rituximab", 1)])],
    "myositis": [(0.4, [("methotrexate", 1)])],
    "multiple_sclerosis": [(0.55, [("interferon_beta_1a", 0.7), ("interferon_beta_1b", 0.3)])],
}
MIGRAINE_NSAIDS = [("ibuprofen", 0.5), ("naproxen", 0.35), ("diclofenac", 0.15)]
TRIPTANS = [("sumatriptan", 0.7), ("rizatriptan", 0.3)]
BACKGROUND_NSAIDS = [
    ("ibuprofen", 0.4),
    ("naproxen", 0.2),
    ("diclofenac", 0.1),
    ("celecoxib", 0.1),
    ("meloxicam", 0.1),
    ("indomethacin", 0.05),
    ("ketorolac", 0.05),
]
BACKGROUND_STEROIDS = STEROIDS + [("dexamethasone", 0.1), ("hydrocortisone", 0.05)]
#: Ingredients of a course an encounter starts (other sets: their ingredients, equally likely).
EVENT_DEPENDENT_CHOICES = {
    "nsaids": MIGRAINE_NSAIDS,
    "triptans": TRIPTANS,
    "corticosteroids": STEROIDS,
}


@dataclass
class DrugExposures:
    """Drug exposure rows (person, ingredient index, start day, end day, drug-set index)."""

    person: np.ndarray
    ingredient: np.ndarray
    start: np.ndarray
    end: np.ndarray
    drug_set: np.ndarray

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.person, self.ingredient, self.start, self.end


@dataclass
class _Prescriber:
    """Collects exposure rows in the order they are drawn."""

    world: World
    rng: np.random.Generator
    d_p: list[np.ndarray] = field(default_factory=list)
    d_i: list[np.ndarray] = field(default_factory=list)
    d_s: list[np.ndarray] = field(default_factory=list)
    d_e: list[np.ndarray] = field(default_factory=list)

    def _ingredients(self, ingr_choices, size: int) -> np.ndarray:
        names, probs = zip(*ingr_choices, strict=True)
        return np.array([self.world.ingr_idx[x] for x in names])[
            self.rng.choice(len(names), size, p=np.array(probs) / sum(probs))
        ]

    def courses(self, who, lo, hi, rate_per_year, ingr_choices, len_lo, len_hi) -> None:
        if who.size == 0:
            return
        rng = self.rng
        span = np.maximum(hi - lo, 0)
        cnt = rng.poisson(rate_per_year * span / YEAR)
        o = np.repeat(np.arange(who.size), cnt)
        start = np.floor(lo[o] + rng.random(o.size) * span[o])
        length = rng.integers(len_lo, len_hi + 1, o.size)
        ing = self._ingredients(ingr_choices, o.size)
        self.d_p.append(who[o])
        self.d_i.append(ing)
        self.d_s.append(start)
        self.d_e.append(np.minimum(start + length - 1, hi[o]))

    def era(self, who, lo, hi, prob, ingr_choices, mean_years) -> None:
        """A long treatment era starting soon after diagnosis, for a share of patients."""
        rng = self.rng
        take = rng.random(who.size) < prob
        who, lo, hi = who[take], lo[take], hi[take]
        start = np.floor(lo + rng.exponential(60.0, who.size))
        end = np.minimum(start + np.ceil(rng.exponential(mean_years * YEAR, who.size)), hi)
        ok = start <= hi
        who, start, end = who[ok], start[ok], end[ok]
        ing = self._ingredients(ingr_choices, who.size)
        self.d_p.append(who)
        self.d_i.append(ing)
        self.d_s.append(start)
        self.d_e.append(end)

    def add(self, rows: DrugExposures) -> None:
        """Start from rows drawn before (their order kept first)."""
        self.d_p.append(rows.person)
        self.d_i.append(rows.ingredient)
        self.d_s.append(rows.start)
        self.d_e.append(rows.end)

    def exposures(self) -> DrugExposures:
        dp = np.concatenate(self.d_p) if self.d_p else np.zeros(0, np.int64)
        di = np.concatenate(self.d_i) if self.d_i else np.zeros(0, np.int64)
        ds = np.concatenate(self.d_s) if self.d_s else np.zeros(0)
        de = np.concatenate(self.d_e) if self.d_e else np.zeros(0)
        w = self.world
        dset = np.array([w.set_names.index(s) for s in w.drug_sets])[di] if di.size else di
        return DrugExposures(dp, di, ds, de, dset)


def prescribe(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    dx_day: np.ndarray,
    mig: MigrainePatients,
) -> DrugExposures:
    """Every drug exposure of the chunk, drawn in a fixed order."""
    rx = _Prescriber(world, rng)
    for k in world.ai_idx:
        d = world.coupled[k]
        who = np.flatnonzero(np.isfinite(dx_day[:, k]))
        lo, hi = dx_day[who, k], p["end_day"][who]
        rx.courses(who, lo, hi, 0.5, STEROIDS, 7, 60)
        for prob, choices in TREATMENT_ERAS.get(d.key, []):
            rx.era(who, lo, hi, prob, choices, 2.5)
    rx.courses(mig.who, mig.dx, mig.end, 0.4, MIGRAINE_NSAIDS, 7, 30)
    tri = rng.random(mig.who.size) < 0.5
    rx.courses(mig.who[tri], mig.dx[tri], mig.end[tri], 1.0, TRIPTANS, 30, 30)
    allp = np.arange(p["sex"].size)
    s0, e0 = p["start_day"], p["end_day"]
    rx.courses(allp, s0, e0, 0.04 * p["seek"], BACKGROUND_NSAIDS, 5, 30)
    rx.courses(allp, s0, e0, 0.02 * p["seek"], BACKGROUND_STEROIDS, 5, 21)
    return rx.exposures()


def event_dependent_courses(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    drugs: DrugExposures,
    enc_p: np.ndarray,
    enc_d: np.ndarray,
    specs: list[EventDependentExposure],
) -> tuple[DrugExposures, dict[str, list[float]]]:
    """``drugs`` plus the courses the encounters (enc_p, enc_d) start; per drug: [courses, encounters].

    Each encounter starts a course with the spec's probability, ``0..delay_days`` days after it
    (uniform), inside observation. No random draw is made without a spec, so worlds without
    one are unchanged.
    """
    if not specs:
        return drugs, {}
    rx = _Prescriber(world, rng)
    rx.add(drugs)
    tally: dict[str, list[float]] = {}
    for spec in specs:
        take = rng.random(enc_p.size) < spec.start_probability
        who, day = enc_p[take], enc_d[take]
        start = day + rng.integers(0, spec.delay_days + 1, who.size)
        length = rng.integers(spec.course_days[0], spec.course_days[1] + 1, who.size)
        end_day = p["end_day"][who]
        ok = start <= end_day
        who, start, end = who[ok], start[ok], np.minimum(start[ok] + length[ok] - 1, end_day[ok])
        choices = EVENT_DEPENDENT_CHOICES.get(spec.event_dependent_drug) or [
            (key, 1.0) for key, *_, dset in INGREDIENTS if dset == spec.event_dependent_drug
        ]
        rx.d_p.append(who)
        rx.d_i.append(rx._ingredients(choices, who.size))
        rx.d_s.append(start.astype(float))
        rx.d_e.append(end.astype(float))
        tally[spec.event_dependent_drug] = [float(who.size), float(enc_p.size)]
    return rx.exposures(), tally
