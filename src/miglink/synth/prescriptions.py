"""Drug exposures: treatment of the autoimmune diseases, of migraine, and background use.

A *course* is a short exposure drawn as a Poisson process between two days; an *era* a long
treatment starting soon after diagnosis for a share of patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from miglink.synth.diagnoses import MigrainePatients
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
