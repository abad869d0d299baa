"""Family history: a true trait, more common (planted odds ratio) among persons with the `to`."""

from __future__ import annotations

import numpy as np

from miglink.synth.records import Visits
from miglink.synth.stats import Stats
from miglink.synth.world import World

FH_BASE = {"autoimmune": 0.06, "migraine": 0.08}  # family-history prevalence without the `to`


def record_family_history(
    world: World,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    mig_true: np.ndarray,
    ai_true: np.ndarray,
    visits: Visits,
    stats: Stats,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observation rows (person, code index, day); odds ratio against true status by end."""
    n = p["sex"].size
    o_p: list[np.ndarray] = []
    o_code: list[np.ndarray] = []
    o_day: list[np.ndarray] = []
    fh_index = 0
    for kind in ("autoimmune", "migraine"):
        logit = np.log(FH_BASE[kind] / (1 - FH_BASE[kind]))
        logit = logit + np.log(world.scenario.family_or(kind, "migraine")) * mig_true
        logit = logit + np.log(world.scenario.family_or(kind, "any_autoimmune")) * ai_true
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
        fv = visits.snap(who, fday)
        ok = fv >= 0
        codes = world.vocab.family_history[kind]
        shares = np.array([s for _, s in codes])
        which = rng.choice(len(codes), ok.sum(), p=shares / shares.sum())
        o_p.append(who[ok])
        o_code.append(fh_index + which)
        o_day.append(visits.day[fv[ok]])
        fh_index += len(codes)
        stats.add(f"fh_recorded:{kind}", [ok.sum()])
    return np.concatenate(o_p), np.concatenate(o_code), np.concatenate(o_day)
