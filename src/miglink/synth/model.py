"""The generative model, vectorised over the persons of one chunk.

Time runs in years of age for hazards and in days since 1970-01-01 for records. One call of
:func:`simulate_chunk` draws persons, latent traits, true onsets, visits and every record, and
returns Arrow-ready column arrays plus the sufficient statistics that truth.json is built from.
See docs/synthetic-data.md for the model in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.scenario import Scenario
from miglink.synth.vocab import Code, Vocab

YEAR = 365.25
DAY_2000 = 10957  # 2000-01-01
DAY_2025 = 20089  # 2025-01-01
AGES = np.arange(0.0, 101.0)  # hazard grid (yearly, piecewise constant hazard)
S_STRATA = 2 * 10 * 4  # sex x 10-year age band x observation-length band
NB = 20  # five-year age bands 0-4 ... 95-99 for truth statistics
KEY = 1 << 15  # day numbers (< 32768 until 2059) packed beside a person index
RISK_WINDOW_DAYS = 30  # drug risk window = exposure days + 30 days

# latent traits
SEEK_SD = 0.45  # sd of log healthcare-seeking level (mean of seek is 1)
SEEK_DETECT_POWER = 1.0  # detection rate is proportional to seek ** this
IMMUNE_BETA = 0.6  # log hazard ratio of autoimmune onset per sd of the immune factor
VISIT_RATE = 2.4  # routine visits per person-year at seek 1, middle age
ENCOUNTER_RATE = 1.2  # migraine encounters per year after diagnosis at seek 1
FH_BASE = {"autoimmune": 0.06, "migraine": 0.08}  # family-history prevalence without the `to`


def _grid(d: cat.Disease) -> np.ndarray:
    """Cumulative hazard at integer ages for (women, men): shape (2, len(AGES))."""
    mid = AGES[:-1] + 0.5
    if d.shape[0] == "bump":
        h = np.exp(-0.5 * ((mid - d.shape[1]) / d.shape[2]) ** 2) + 1e-3
    else:
        h = np.exp(d.shape[1] * (mid - 80.0)) + 1e-4
    h = h / h[:80].sum() * d.cum80
    hw = np.concatenate([[0.0], np.cumsum(h)])
    return np.stack([hw, hw / d.female_ratio])


@dataclass
class Tables:
    """Column arrays of one chunk (persons indexed locally 0..n-1)."""

    cols: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


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


def _g(x: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Person-time from age 0 to ``x`` summed by sex x five-year band, shape (2, NB)."""
    x = np.clip(x, 0.0, NB * 5.0 - 1e-9)
    band = (x // 5).astype(np.int64)
    idx = sex * NB + band
    cnt = np.bincount(idx, minlength=2 * NB).reshape(2, NB)
    part = np.bincount(idx, weights=x - 5.0 * band, minlength=2 * NB).reshape(2, NB)
    above = np.cumsum(cnt[:, ::-1], axis=1)[:, ::-1] - cnt  # persons past the band
    return part + 5.0 * above


def _band_count(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    band = np.clip((age // 5).astype(np.int64), 0, NB - 1)
    return np.bincount(sex * NB + band, minlength=2 * NB).reshape(2, NB).astype(float)


def _ranges(lo: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand (start, count) pairs into (owner row, value) with values start..start+count-1."""
    n = n.astype(np.int64)
    owner = np.repeat(np.arange(n.size), n)
    if owner.size == 0:
        return owner, owner
    starts = np.cumsum(n) - n
    offs = np.arange(owner.size) - np.repeat(starts, n)
    return owner, lo.astype(np.int64)[owner] + offs


class ChunkSimulator:
    """Everything that is the same for every chunk: grids, code tables, effects."""

    def __init__(self, scenario: Scenario, vocab: Vocab) -> None:
        self.scenario = scenario
        self.vocab = vocab
        self.coupled = cat.COUPLED
        self.ck = {d.key: i for i, d in enumerate(self.coupled)}
        self.indep = cat.independent_diseases()
        self.grid_c = np.stack([_grid(d) for d in self.coupled])  # (K, 2, A)
        self.grid_i = np.stack([_grid(d) for d in self.indep])  # (J, 2, A)
        self.ai_idx = np.array([self.ck[k] for k in cat.AUTOIMMUNE_KEYS])
        self.is_ai = np.array([d.autoimmune for d in self.coupled])
        # condition code table: every code a condition row can carry
        codes: list[Code] = []
        self.code_of: dict[tuple[str, int], int] = {}
        for key, lst in vocab.disease_codes.items():
            for j, c in enumerate(lst):
                self.code_of[(key, j)] = len(codes)
                codes.append(c)
        for key, c in vocab.migraine_codes.items():
            self.code_of[("migraine:" + key, 0)] = len(codes)
            codes.append(c)
        self.cond_codes = codes
        self.n_codes_c = np.array([len(vocab.disease_codes[d.key]) for d in self.coupled])
        self.first_code_c = np.array([self.code_of[(d.key, 0)] for d in self.coupled])
        self.i_detect = np.array([d.detect for d in self.indep])
        self.i_resolve = np.array([np.inf if d.resolve is None else d.resolve for d in self.indep])
        self.i_repeat = np.array([d.repeat if d.resolve is None else 0.0 for d in self.indep])
        self.n_codes_i = np.array([len(vocab.disease_codes[d.key]) for d in self.indep])
        self.first_code_i = np.array([self.code_of[(d.key, 0)] for d in self.indep])
        self.sub_code = np.array(
            [self.code_of[("migraine:" + k, 0)] for k, *_ in cat.MIGRAINE_SUBTYPES]
        )
        self.sub_share = np.array([s for _, s, *_ in cat.MIGRAINE_SUBTYPES])
        self.aura = 1  # index of migraine_with_aura in MIGRAINE_SUBTYPES
        self.without_aura = 2
        self.effects = []
        for e in scenario.hazard_effects():
            src = "migraine" if e.from_.startswith("migraine_") else e.from_
            sub = {"migraine_with_aura": 1, "migraine_without_aura": 2}.get(e.from_, -1)
            self.effects.append((self.ck[src], sub, self.ck[e.to], e.hr(True), e.hr(False), e))
        self.ingr = list(vocab.ingredient)
        self.ingr_idx = {k: i for i, k in enumerate(self.ingr)}
        self.drug_sets = [s for *_, s in cat.INGREDIENTS]
        self.set_names = list(dict.fromkeys(self.drug_sets))

    # ------------------------------------------------------------------ persons
    def persons(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
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

    # ------------------------------------------------------------------ onsets
    def coupled_onsets(self, rng, p) -> tuple[np.ndarray, np.ndarray]:
        """True onset ages (inf: none by end of observation), event-driven over persons.

        Multipliers change only at onsets, so each round draws, for every person still in the
        race, the next onset under the current multipliers (memoryless exponential on the
        cumulative-hazard scale) and keeps the earliest.
        """
        n = p["sex"].size
        K = len(self.coupled)
        subtype = rng.choice(len(self.sub_share), size=n, p=self.sub_share)
        onset = np.full((K, n), np.inf)
        zmult = np.exp(IMMUNE_BETA * p["immune"] - IMMUNE_BETA**2 / 2)
        t = np.zeros(n)
        active = np.arange(n)
        sex = p["sex"]
        off = self.grid_c[:, 0, -1] + 1.0  # men's grid shifted above women's (one interp)
        xs = np.concatenate([AGES, AGES + 200.0])
        while active.size:
            ta = t[active]
            sa = sex[active]
            m = np.ones((K, active.size))
            m[self.is_ai] = zmult[active]
            for src, sub, to, hr_f, hr_m, _e in self.effects:
                has = onset[src, active] <= ta
                if sub >= 0:
                    has &= subtype[active] == sub
                m[to] *= np.where(has, np.where(sa == 0, hr_f, hr_m), 1.0)
            e = rng.exponential(size=(K, active.size))
            cand = np.empty((K, active.size))
            shift = sa * 200.0
            for k in range(K):
                g = np.concatenate([self.grid_c[k, 0], self.grid_c[k, 1] + off[k]])
                cur = np.interp(ta + shift, xs, g)
                a = np.interp(cur + e[k] / m[k], g, xs) - shift
                a[(a >= 100.0) | np.isfinite(onset[k, active])] = np.inf
                cand[k] = a
            best = np.argmin(cand, axis=0)
            ba = cand[best, np.arange(active.size)]
            ok = ba < p["age_end"][active]
            onset[best[ok], active[ok]] = ba[ok]
            t[active[ok]] = ba[ok]
            active = active[ok]
        return np.ascontiguousarray(onset.T), subtype

    def independent_onsets(self, rng, p) -> tuple[np.ndarray, np.ndarray]:
        """(person, disease, onset age) for the negative controls and the background.

        Each condition is an independent first-onset process; drawing the superposed process
        per sex and keeping each condition's first event is exact and costs per event, not per
        person x condition.
        """
        out_p, out_k, out_a = [], [], []
        J = len(self.indep)
        for s in (0, 1):
            who = np.flatnonzero(p["sex"] == s)
            g = self.grid_i[:, s, :]  # (J, A)
            tot = g.sum(axis=0)
            H_end = np.interp(p["age_end"][who], AGES, tot)
            cnt = rng.poisson(H_end)
            owner = np.repeat(who, cnt)
            u = rng.random(owner.size) * np.repeat(H_end, cnt)
            age = np.interp(u, tot, AGES)
            # which condition: proportional to its hazard in that year of age (one search over
            # the per-age CDFs laid end to end, each shifted by its age)
            band = np.clip(age.astype(np.int64), 0, len(AGES) - 2)
            inc = np.diff(g, axis=1)  # (J, A-1)
            cdf = np.cumsum(inc, axis=0) / inc.sum(axis=0)
            flat = (cdf + np.arange(cdf.shape[1])[None, :]).T.ravel()
            r = rng.random(owner.size) * 0.999999
            k = np.searchsorted(flat, band + r, side="right") - band * J
            k = np.clip(k, 0, J - 1)
            out_p.append(owner)
            out_k.append(k)
            out_a.append(age)
        pp = np.concatenate(out_p)
        kk = np.concatenate(out_k)
        aa = np.concatenate(out_a)
        order = np.lexsort((aa, kk, pp))
        pp, kk, aa = pp[order], kk[order], aa[order]
        first = np.ones(pp.size, dtype=bool)
        first[1:] = (pp[1:] != pp[:-1]) | (kk[1:] != kk[:-1])
        return pp[first], kk[first], aa[first]

    # ------------------------------------------------------------------ helpers
    def _detect(self, rng, p, who, onset_age, detect, resolve):
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

    def run(self, rng: np.random.Generator, n: int) -> tuple[dict, Stats, dict]:
        """Simulate one chunk; return table columns, truth statistics and chunk internals."""
        p = self.persons(rng, n)
        onset, subtype = self.coupled_onsets(rng, p)
        ip, ik, ia = self.independent_onsets(rng, p)
        stats = Stats()

        # ---- routine visits: Poisson in observation, rate ~ seek and age
        years = (p["end_day"] - p["start_day"] + 1) / YEAR
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

        def snap(who, day):
            """Index of the person's first routine visit on or after ``day`` (-1: none)."""
            d = np.where(np.isfinite(day), day, KEY - 1).astype(np.int64)
            q = who * KEY + np.minimum(d, KEY - 1)
            i = np.searchsorted(vkey, q, side="left")
            ok = (i < vkey.size) & np.isfinite(day)
            i = np.where(ok, i, 0)
            ok &= v_p[i] == who if v_p.size else ok
            return np.where(ok, i, -1)

        extra_vp: list[np.ndarray] = []  # visits created by events (inpatient / encounters)
        extra_vd: list[np.ndarray] = []
        extra_vc: list[np.ndarray] = []
        n_routine = v_p.size

        def new_visits(who, day, concept):
            base = n_routine + sum(x.size for x in extra_vp)
            extra_vp.append(who)
            extra_vd.append(day)
            extra_vc.append(np.full(who.size, concept))
            return base + np.arange(who.size)

        # condition rows: (person, code index, day, visit index)
        c_p: list[np.ndarray] = []
        c_code: list[np.ndarray] = []
        c_day: list[np.ndarray] = []
        c_visit: list[np.ndarray] = []

        def emit(who, code, day, visit):
            c_p.append(who)
            c_code.append(np.broadcast_to(code, who.shape).astype(np.int64))
            c_day.append(day)
            c_visit.append(visit)

        def repeats(who, code, visit, prob):
            """Repeat records of chronic conditions at later routine visits."""
            if who.size == 0 or np.all(prob <= 0):
                return
            n_later = np.maximum(v_last[who] - visit, 0)
            owner, vidx = _ranges(visit + 1, n_later)
            keep = rng.random(owner.size) < np.broadcast_to(prob, who.shape)[owner]
            owner, vidx = owner[keep], vidx[keep]
            emit(who[owner], code[owner], v_day[vidx], vidx)

        # ---- coupled diseases: diagnosis (first record) and repeats
        K = len(self.coupled)
        dx_day = np.full((n, K), np.inf)
        dx_code = np.full((n, K), -1)
        for k, d in enumerate(self.coupled):
            who = np.flatnonzero(np.isfinite(onset[:, k]))
            if who.size == 0:
                continue
            day = self._detect(rng, p, who, onset[who, k], d.detect, d.resolve)
            if k == 0:  # migraine: subtype code (menstrual for some women without aura)
                code = self.sub_code[subtype[who]]
                men = (
                    (subtype[who] == self.without_aura)
                    & (p["female"][who] == 1)
                    & (onset[who, 0] < 50)
                    & (rng.random(who.size) < cat.MENSTRUAL_SHARE)
                )
                code = np.where(men, self.code_of[("migraine:menstrual", 0)], code)
            else:
                code = self.first_code_c[k] + rng.integers(0, self.n_codes_c[k], who.size)
            if d.resolve is not None:  # acute events: their own inpatient visit
                ok = np.isfinite(day)
                who, day, code = who[ok], day[ok], code[ok]
                visit = new_visits(who, day, cat.VISIT_INPATIENT)
            else:
                visit = snap(who, day)
                ok = visit >= 0
                who, code, visit = who[ok], code[ok], visit[ok]
                day = v_day[visit]
            emit(who, code, day, visit)
            dx_day[who, k] = day
            dx_code[who, k] = code
            if k != 0 and d.resolve is None:
                repeats(who, code, visit, d.repeat)

        # ---- negative controls and background, all conditions at once
        rec_i = np.zeros((n, len(self.indep)), dtype=bool)
        day = self._detect(rng, p, ip, ia, self.i_detect[ik], self.i_resolve[ik])
        visit = snap(ip, day)
        ok = visit >= 0
        who, kk, visit = ip[ok], ik[ok], visit[ok]
        code = self.first_code_i[kk] + (rng.random(who.size) * self.n_codes_i[kk]).astype(np.int64)
        emit(who, code, v_day[visit], visit)
        rec_i[who, kk] = True
        repeats(who, code, visit, self.i_repeat[kk])

        mig_rec = np.isfinite(dx_day[:, 0])
        mig_who = np.flatnonzero(mig_rec)
        mig_dx = dx_day[mig_who, 0]
        mig_end = p["end_day"][mig_who]

        # ---- drugs: courses (person, ingredient, start, end)
        d_p: list[np.ndarray] = []
        d_i: list[np.ndarray] = []
        d_s: list[np.ndarray] = []
        d_e: list[np.ndarray] = []

        def courses(who, lo, hi, rate_per_year, ingr_choices, len_lo, len_hi):
            if who.size == 0:
                return
            span = np.maximum(hi - lo, 0)
            cnt = rng.poisson(rate_per_year * span / YEAR)
            o = np.repeat(np.arange(who.size), cnt)
            start = np.floor(lo[o] + rng.random(o.size) * span[o])
            length = rng.integers(len_lo, len_hi + 1, o.size)
            names, probs = zip(*ingr_choices, strict=True)
            ing = np.array([self.ingr_idx[x] for x in names])[
                rng.choice(len(names), o.size, p=np.array(probs) / sum(probs))
            ]
            d_p.append(who[o])
            d_i.append(ing)
            d_s.append(start)
            d_e.append(np.minimum(start + length - 1, hi[o]))

        def era(who, lo, hi, prob, ingr_choices, mean_years):
            """A long treatment era starting soon after diagnosis, for a share of patients."""
            take = rng.random(who.size) < prob
            who, lo, hi = who[take], lo[take], hi[take]
            start = np.floor(lo + rng.exponential(60.0, who.size))
            end = np.minimum(start + np.ceil(rng.exponential(mean_years * YEAR, who.size)), hi)
            ok = start <= hi
            who, start, end = who[ok], start[ok], end[ok]
            names, probs = zip(*ingr_choices, strict=True)
            ing = np.array([self.ingr_idx[x] for x in names])[
                rng.choice(len(names), who.size, p=np.array(probs) / sum(probs))
            ]
            d_p.append(who)
            d_i.append(ing)
            d_s.append(start)
            d_e.append(end)

        steroid = [("prednisone", 0.6), ("methylprednisolone", 0.25), ("prednisolone", 0.15)]
        eras = {
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
            "multiple_sclerosis": [
                (0.55, [("interferon_beta_1a", 0.7), ("interferon_beta_1b", 0.3)])
            ],
        }
        for k in self.ai_idx:
            d = self.coupled[k]
            who = np.flatnonzero(np.isfinite(dx_day[:, k]))
            lo, hi = dx_day[who, k], p["end_day"][who]
            courses(who, lo, hi, 0.5, steroid, 7, 60)
            for prob, choices in eras.get(d.key, []):
                era(who, lo, hi, prob, choices, 2.5)
        courses(
            mig_who,
            mig_dx,
            mig_end,
            0.4,
            [("ibuprofen", 0.5), ("naproxen", 0.35), ("diclofenac", 0.15)],
            7,
            30,
        )
        tri = rng.random(mig_who.size) < 0.5
        courses(
            mig_who[tri],
            mig_dx[tri],
            mig_end[tri],
            1.0,
            [("sumatriptan", 0.7), ("rizatriptan", 0.3)],
            30,
            30,
        )
        allp = np.arange(n)
        s0, e0 = p["start_day"], p["end_day"]
        courses(
            allp,
            s0,
            e0,
            0.04 * p["seek"],
            [
                ("ibuprofen", 0.4),
                ("naproxen", 0.2),
                ("diclofenac", 0.1),
                ("celecoxib", 0.1),
                ("meloxicam", 0.1),
                ("indomethacin", 0.05),
                ("ketorolac", 0.05),
            ],
            5,
            30,
        )
        courses(
            allp,
            s0,
            e0,
            0.02 * p["seek"],
            steroid + [("dexamethasone", 0.1), ("hydrocortisone", 0.05)],
            5,
            21,
        )
        dp = np.concatenate(d_p) if d_p else np.zeros(0, np.int64)
        di = np.concatenate(d_i) if d_i else np.zeros(0, np.int64)
        ds = np.concatenate(d_s) if d_s else np.zeros(0)
        de = np.concatenate(d_e) if d_e else np.zeros(0)
        dset = np.array([self.set_names.index(s) for s in self.drug_sets])[di] if di.size else di

        # ---- migraine encounters: Poisson after diagnosis, IRR in drug risk windows
        rho = ENCOUNTER_RATE * rng.gamma(2.0, 0.5, mig_who.size) * np.sqrt(p["seek"][mig_who])
        rho_p = np.zeros(n)
        rho_p[mig_who] = rho
        dx_p = np.full(n, np.inf)
        dx_p[mig_who] = mig_dx
        span = np.maximum(mig_end - mig_dx, 0)
        cnt = rng.poisson(rho * span / YEAR)
        o = np.repeat(np.arange(mig_who.size), cnt)
        enc_p = mig_who[o]
        enc_d = np.floor(mig_dx[o] + 1 + rng.random(o.size) * span[o])
        enc_d = np.minimum(enc_d, mig_end[o])
        # risk windows of migraine patients after diagnosis
        w_lo = np.maximum(ds, dx_p[dp]) if dp.size else ds
        w_hi = np.minimum(de + RISK_WINDOW_DAYS, p["end_day"][dp]) if dp.size else de
        w_ok = np.isfinite(w_lo) & (w_hi >= w_lo)
        for si, sname in enumerate(self.set_names):
            irr = self.scenario.drug_irr(sname)
            if irr == 1.0:
                continue
            sel = w_ok & (dset == si)
            wp, wl, wh = dp[sel], w_lo[sel], w_hi[sel]
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
                _, idx = _ranges(a, b - a)
                drop = np.unique(idx[rng.random(idx.size) < 1 - irr])
                keep = np.ones(enc_p.size, dtype=bool)
                keep[drop] = False
                enc_p, enc_d = enc_p[keep], enc_d[keep]
        # encounter code: the person's migraine code; chronic migraine after a transformation day
        base_code = np.full(n, -1)
        base_code[mig_who] = dx_code[mig_who, 0]
        chronic_day = np.full(n, np.inf)
        chron = mig_who[rng.random(mig_who.size) < cat.CHRONIC_SHARE]
        chronic_day[chron] = np.floor(
            dx_p[chron] + rng.random(chron.size) * (p["end_day"][chron] - dx_p[chron])
        )
        enc_code = np.where(
            enc_d >= chronic_day[enc_p], self.code_of[("migraine:chronic", 0)], base_code[enc_p]
        )
        enc_visit = new_visits(enc_p, enc_d, cat.VISIT_OUTPATIENT)
        emit(enc_p, enc_code, enc_d, enc_visit)
        # medication-overuse headache: a share of migraine patients, at a later routine visit
        moh = mig_who[rng.random(mig_who.size) < cat.MOH_SHARE]
        mday = dx_p[moh] + rng.random(moh.size) * (p["end_day"][moh] - dx_p[moh])
        mv = snap(moh, mday)
        ok = mv >= 0
        emit(moh[ok], np.full(ok.sum(), self.code_of[("migraine:moh", 0)]), v_day[mv[ok]], mv[ok])

        # drug-effect truth: encounters in / out of risk windows, among exposed migraine patients
        ekey = np.sort(enc_p * KEY + enc_d.astype(np.int64))
        for si, sname in enumerate(self.set_names):
            sel = w_ok & (dset == si)
            wp, wl, wh = dp[sel], w_lo[sel], w_hi[sel]
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

        # ---- measurements: CRP and ESR at visits, raised by inflammation and planted effects
        ai_on = np.min(onset[:, self.ai_idx], axis=1)
        ai_rec = np.isfinite(np.min(dx_day[:, self.ai_idx], axis=1))
        u = rng.normal(0, 1, n)
        meas: dict[str, np.ndarray] = {}
        m_cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "lab", "day", "visit", "value")}
        lab_index = 0
        for marker in ("crp", "esr"):
            rate = 0.12 * p["seek"] * (1 + 3 * ai_rec)
            cnt = rng.poisson(rate * years)
            mp = np.repeat(np.arange(n), cnt)
            mday = p["start_day"][mp] + rng.random(mp.size) * (p["end_day"] - p["start_day"])[mp]
            mv = snap(mp, mday)
            ok = mv >= 0
            mp, mv = mp[ok], mv[ok]
            mday = v_day[mv]
            age = (mday - p["birth_day"][mp]) / YEAR
            mig_on = (p["birth_day"] + onset[:, 0] * YEAR)[mp] <= mday
            ai_act = (p["birth_day"] + ai_on * YEAR)[mp] <= mday
            rgm = np.log(self.scenario.marker_rgm(marker))
            if marker == "crp":
                logv = (
                    np.log(1.2)
                    + 0.012 * (age - 40)
                    + 0.35 * p["immune"][mp]
                    + 0.9 * ai_act
                    + 0.5 * u[mp]
                    + rng.normal(0, 0.6, mp.size)
                )
            else:
                logv = (
                    np.log(10.0)
                    + 0.008 * (age - 40)
                    + 0.25 * p["female"][mp]
                    + 0.25 * p["immune"][mp]
                    + 0.7 * ai_act
                    + 0.35 * u[mp]
                    + rng.normal(0, 0.35, mp.size)
                )
            logv = logv + rgm * mig_on
            value = np.maximum(np.round(np.exp(logv), 1), 0.1)
            labs = self.vocab.labs[marker]
            shares = np.array([s for *_, s in labs])
            which = rng.choice(len(labs), mp.size, p=shares / shares.sum())
            m_cols["p"].append(mp)
            m_cols["lab"].append(lab_index + which)
            m_cols["day"].append(mday)
            m_cols["visit"].append(mv)
            m_cols["value"].append(value)
            lab_index += len(labs)
            lv = np.log(value)
            sex = p["sex"][mp]
            band = np.clip((age // 5).astype(np.int64), 0, NB - 1)
            for tag, mask in (("all", np.ones(mp.size, bool)), ("no_ai", ~ai_act)):
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
        meas = {k: np.concatenate(v) for k, v in m_cols.items()}

        # ---- family history (true trait, odds ratio against true status by end of observation)
        mig_true = np.isfinite(onset[:, 0])
        ai_true = np.isfinite(ai_on)
        o_p: list[np.ndarray] = []
        o_code: list[np.ndarray] = []
        o_day: list[np.ndarray] = []
        fh_index = 0
        for kind in ("autoimmune", "migraine"):
            logit = np.log(FH_BASE[kind] / (1 - FH_BASE[kind]))
            logit = logit + np.log(self.scenario.family_or(kind, "migraine")) * mig_true
            logit = logit + np.log(self.scenario.family_or(kind, "any_autoimmune")) * ai_true
            fh = rng.random(n) < 1 / (1 + np.exp(-logit))
            for tag, status in (("migraine", mig_true), ("any_autoimmune", ai_true)):
                stats.add(
                    f"fh:{kind}:{tag}",
                    [
                        np.sum(fh & status),
                        np.sum(fh & ~status),
                        np.sum(~fh & status),
                        np.sum(~fh & ~status),
                    ],
                )
            rec = fh & (rng.random(n) < np.minimum(1.0, 0.4 * p["seek"]))
            who = np.flatnonzero(rec)
            fday = p["start_day"][who] + rng.random(who.size) * (p["end_day"] - p["start_day"])[who]
            fv = snap(who, fday)
            ok = fv >= 0
            codes = self.vocab.family_history[kind]
            shares = np.array([s for _, s in codes])
            which = rng.choice(len(codes), ok.sum(), p=shares / shares.sum())
            o_p.append(who[ok])
            o_code.append(fh_index + which)
            o_day.append(v_day[fv[ok]])
            fh_index += len(codes)
            stats.add(f"fh_recorded:{kind}", [ok.sum()])

        # ---- truth statistics for every planted hazard pair (true onset times)
        sex = p["sex"]
        a0, a1 = p["age_start"], p["age_end"]
        rec_c = np.isfinite(dx_day)
        for src, sub, to, _hf, _hm, e in self.effects:
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
            stats.add(tag + ":ev0", _band_count(t_on[ev & ~exp_ev], sex[ev & ~exp_ev]))
            stats.add(tag + ":ev1", _band_count(t_on[exp_ev], sex[exp_ev]))
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

        # ---- recorded 2x2 against recorded migraine, for every condition set
        # strata of the study's D1: sex x 10-year age band at end x observation length band
        obs_band = np.searchsorted([3.0, 6.0, 10.0], years, side="right")
        age_band = np.clip((a1 // 10).astype(np.int64), 0, 9)
        stratum = (p["sex"] * 10 + age_band) * 4 + obs_band
        cell_mig = (~mig_rec).astype(np.int64)

        def strat(x):
            cell = (1 - x.astype(np.int64)) * 2 + cell_mig  # a, b, c, d = (x,m), (x,~m), ...
            return np.bincount(stratum * 4 + cell, minlength=S_STRATA * 4).reshape(S_STRATA, 4)

        for k, d in enumerate(self.coupled):
            stats.add(f"rec:{d.key}", [np.isfinite(onset[:, k]).sum()])
            stats.add(f"strat:{d.key}", strat(rec_c[:, k]))
        for j, d in enumerate(self.indep):
            if d.kind == "negative_control":
                stats.add(f"rec:{d.key}", [0])
                stats.add(f"strat:{d.key}", strat(rec_i[:, j]))
        stats.add("rec:aura", [np.sum(mig_rec & (subtype == self.aura))])
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

        # ---- assemble
        all_vp = np.concatenate([v_p] + extra_vp)
        all_vd = np.concatenate([v_day] + extra_vd)
        all_vc = np.concatenate([np.full(v_p.size, cat.VISIT_OUTPATIENT)] + extra_vc)
        cols = dict(
            persons=p,
            visits=(all_vp, all_vd, all_vc),
            conditions=(
                np.concatenate(c_p),
                np.concatenate(c_code),
                np.concatenate(c_day),
                np.concatenate(c_visit),
            ),
            drugs=(dp, di, ds, de),
            measurements=meas,
            observations=(np.concatenate(o_p), np.concatenate(o_code), np.concatenate(o_day)),
        )
        return cols, stats, {"onset": onset, "subtype": subtype, "dx_day": dx_day}
