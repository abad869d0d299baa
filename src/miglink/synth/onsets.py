"""True onset ages: the coupled diseases jointly (planted effects), the rest independently."""

from __future__ import annotations

import numpy as np

from miglink.synth.timescale import AGES
from miglink.synth.world import World

IMMUNE_BETA = 0.6  # log hazard ratio of autoimmune onset per sd of the immune factor


def coupled_onsets(
    world: World, rng: np.random.Generator, p: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """True onset ages (inf: none by end of observation), event-driven over persons.

    Multipliers change only at onsets, so each round draws, for every person still in the
    race, the next onset under the current multipliers (memoryless exponential on the
    cumulative-hazard scale) and keeps the earliest.
    """
    n = p["sex"].size
    K = len(world.coupled)
    subtype = rng.choice(len(world.sub_share), size=n, p=world.sub_share)
    onset = np.full((K, n), np.inf)
    zmult = np.exp(IMMUNE_BETA * p["immune"] - IMMUNE_BETA**2 / 2)
    t = np.zeros(n)
    active = np.arange(n)
    sex = p["sex"]
    off = world.grid_c[:, 0, -1] + 1.0  # men's grid shifted above women's (one interp)
    xs = np.concatenate([AGES, AGES + 200.0])
    while active.size:
        ta = t[active]
        sa = sex[active]
        m = np.ones((K, active.size))
        m[world.is_ai] = zmult[active]
        for src, sub, to, hr_f, hr_m, _e in world.effects:
            has = onset[src, active] <= ta
            if sub >= 0:
                has &= subtype[active] == sub
            m[to] *= np.where(has, np.where(sa == 0, hr_f, hr_m), 1.0)
        e = rng.exponential(size=(K, active.size))
        cand = np.empty((K, active.size))
        shift = sa * 200.0
        for k in range(K):
            g = np.concatenate([world.grid_c[k, 0], world.grid_c[k, 1] + off[k]])
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


def independent_onsets(
    world: World, rng: np.random.Generator, p: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, disease, onset age) for the negative controls and the background.

    Each condition is an independent first-onset process; drawing the superposed process
    per sex and keeping each condition's first event is exact and costs per event, not per
    person x condition.
    """
    out_p, out_k, out_a = [], [], []
    J = len(world.indep)
    for s in (0, 1):
        who = np.flatnonzero(p["sex"] == s)
        g = world.grid_i[:, s, :]  # (J, A)
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
