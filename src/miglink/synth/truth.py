"""truth.json: every planted parameter and the realised numbers the study can be checked against.

Realised hazard-pair numbers come from the TRUE onset times among persons in observation:
person-time at risk of ``to`` (before its onset) split before / after ``from`` onset, by sex and
five-year age band. The crude incidence rate ratio ignores age; the age-sex adjusted one is a
Poisson regression on those grouped counts (statsmodels), which estimates the planted hazard
ratio. Recorded counts (what the CDM shows) are given beside the true ones.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import statsmodels.api as sm
from pydantic import BaseModel

from miglink.synth import catalogue as cat
from miglink.synth import indication
from miglink.synth.scenario import (
    DRUG_SETS,
    DrugEffect,
    FamilyHistoryEffect,
    HazardEffect,
    MarkerEffect,
    Scenario,
)
from miglink.synth.stats import NB, Stats
from miglink.synth.vocab import Vocab


class Truth(BaseModel):
    """The declared truth of one synthetic population (also written to ``out/truth.json``)."""

    generator: str = "miglink.synth/1"
    seed: int
    persons: int
    scenario: dict[str, Any]
    population: dict[str, Any]
    hazard_pairs: list[dict[str, Any]]
    drug_effects: list[dict[str, Any]]
    marker_effects: list[dict[str, Any]]
    family_history: list[dict[str, Any]]
    recorded_vs_migraine: dict[str, dict[str, Any]]
    negative_control_ids: list[str]
    negative_control_concept_ids: dict[str, int]
    background_concept_ids: list[int]
    set_concept_ids: dict[str, int]
    #: outcome-dependent drug starts (scenario ``event_dependent_drug``; no causal effect)
    event_dependent_exposure: list[dict[str, Any]] = []
    #: active-comparator cohorts confounded by indication (synth/indication.py; None: off)
    confounding_by_indication: list[dict[str, Any]] | None = None
    tables: dict[str, int] = {}


def poisson_rr(ev1, pt1, ev0, pt0) -> dict[str, float | None]:
    """Rate ratio adjusted for strata (rows of the arrays) by Poisson regression on grouped counts."""
    ev1, pt1, ev0, pt0 = (np.asarray(x, float).ravel() for x in (ev1, pt1, ev0, pt0))
    keep = (ev1 + ev0 > 0) & (pt1 > 0) & (pt0 > 0)
    if ev1[keep].sum() == 0 or ev0[keep].sum() == 0:
        return {"estimate": None, "ci_low": None, "ci_high": None}
    s = int(keep.sum())
    y = np.concatenate([ev1[keep], ev0[keep]])
    off = np.log(np.concatenate([pt1[keep], pt0[keep]]))
    x = np.zeros((2 * s, s + 1))
    x[:s, 0] = 1.0
    x[np.arange(2 * s), 1 + np.tile(np.arange(s), 2)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=off).fit()
    b, se = float(fit.params[0]), float(fit.bse[0])
    return {
        "estimate": math.exp(b),
        "ci_low": math.exp(b - 1.959964 * se),
        "ci_high": math.exp(b + 1.959964 * se),
    }


def _ratio(a, b, c, d) -> float | None:
    return float((a * d) / (b * c)) if min(b, c) > 0 and a * d > 0 else None


def _mh_or(cells: np.ndarray) -> float | None:
    """Mantel-Haenszel odds ratio over the sex x age x observation-length strata (statsmodels)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    t = np.asarray(cells, float)
    keep = (t[:, 0] + t[:, 1] > 0) & (t[:, 2] + t[:, 3] > 0)
    keep &= (t[:, 0] + t[:, 2] > 0) & (t[:, 1] + t[:, 3] > 0)
    t = t[keep]
    n = t.sum(axis=1)
    if t.size == 0 or (t[:, 0] * t[:, 3] / n).sum() == 0 or (t[:, 1] * t[:, 2] / n).sum() == 0:
        return None
    return float(StratifiedTable(t.reshape(-1, 2, 2).transpose(1, 2, 0)).oddsratio_pooled)


def _rate_ratio(e1, p1, e0, p0) -> float | None:
    return float((e1 / p1) / (e0 / p0)) if min(p1, p0, e0) > 0 else None


def _marker(st: dict[str, np.ndarray], marker: str, tag: str) -> dict[str, float | None]:
    n1, s1 = st[f"marker:{marker}:{tag}:1:n"], st[f"marker:{marker}:{tag}:1:s"]
    n0, s0 = st[f"marker:{marker}:{tag}:0:n"], st[f"marker:{marker}:{tag}:0:s"]
    if n1.sum() == 0 or n0.sum() == 0:
        return {"crude": None, "age_sex_adjusted": None, "n_migraine": 0, "n_other": int(n0.sum())}
    crude = math.exp(s1.sum() / n1.sum() - s0.sum() / n0.sum())
    ok = (n1 > 0) & (n0 > 0)
    w = n1[ok] * n0[ok] / (n1[ok] + n0[ok])
    diff = s1[ok] / n1[ok] - s0[ok] / n0[ok]
    adj = math.exp(float((w * diff).sum() / w.sum())) if ok.any() else None
    return {
        "crude": crude,
        "age_sex_adjusted": adj,
        "n_migraine": int(n1.sum()),
        "n_other": int(n0.sum()),
    }


def build_truth(seed: int, persons: int, scenario: Scenario, stats: Stats, vocab: Vocab) -> Truth:
    """The truth of a finished population, from its summed statistics and planted effects."""
    st = stats.arrays
    ncs = [d.key for d in cat.negative_control_diseases()]
    set_ids = {
        k: v for k, v in vocab.disease_std.items() if not k.startswith(("bg_", "nc_", "cbi_"))
    }
    for k in ("migraine_with_aura", "migraine_without_aura"):
        set_ids[k] = vocab.migraine_codes[k].concept_id
    return Truth(
        seed=seed,
        persons=persons,
        scenario=scenario.to_dict(),
        population=_population(st),
        hazard_pairs=[_hazard_pair(e, st) for e in scenario.hazard_effects()],
        drug_effects=[_drug_effect(scenario, s, st) for s in DRUG_SETS],
        marker_effects=[_marker_effect(scenario, m, st) for m in ("crp", "esr")],
        family_history=[
            _family_history(scenario, kind, to, st)
            for kind in ("autoimmune", "migraine")
            for to in ("migraine", "any_autoimmune")
        ],
        recorded_vs_migraine=_recorded(st),
        negative_control_ids=ncs,
        negative_control_concept_ids={k: vocab.disease_std[k] for k in ncs},
        background_concept_ids=[vocab.disease_std[d.key] for d in cat.background_diseases()],
        set_concept_ids=set_ids,
        event_dependent_exposure=[_event_dependent(e, st) for e in scenario.event_dependent()],
        confounding_by_indication=indication.truth(scenario.confounding_by_indication, st, vocab)
        or None,
    )


def _event_dependent(e, st: dict[str, np.ndarray]) -> dict[str, Any]:
    """An outcome-dependent drug start: its parameters and how many courses encounters started."""
    a = st.get(f"event_dependent:{e.event_dependent_drug}", np.zeros(2))
    return {
        "drug": e.event_dependent_drug,
        "after": e.after,
        "start_probability": e.start_probability,
        "delay_days": e.delay_days,
        "course_days": list(e.course_days),
        "causal_effect": False,
        "courses_started": int(a[0]),
        "encounters": int(a[1]),
    }


def _population(st: dict[str, np.ndarray]) -> dict[str, Any]:
    pop = st["persons"]
    n, fem = float(pop[0]), float(pop[1])
    return {
        "persons": int(n),
        "women": int(fem),
        "person_years": float(pop[2]),
        "deaths": int(pop[3]),
        "migraine_recorded_prevalence_women": float(pop[4] / fem) if fem else None,
        "migraine_recorded_prevalence_men": float(pop[5] / (n - fem)) if n > fem else None,
        "migraine_with_aura_recorded": int(st["rec:aura"][0]),
    }


def _hazard_pair(e: HazardEffect, st: dict[str, np.ndarray]) -> dict[str, Any]:
    """A planted hazard pair: true and recorded counts, realised rate ratios."""
    tag = f"pair:{e.from_}:{e.to}"
    pt0, pt1 = st[tag + ":pt0"], st[tag + ":pt1"]
    ev0, ev1 = st[tag + ":ev0"], st[tag + ":ev1"]
    c = st[tag + ":counts"]
    return {
        "from": e.from_,
        "to": e.to,
        "direction": f"{e.from_} -> {e.to}",
        "hazard_ratio": e.hazard_ratio,
        "hazard_ratio_men": e.hazard_ratio_men
        if e.hazard_ratio_men is not None
        else e.hazard_ratio,
        "n_from_true": int(c[0]),
        "n_to_true": int(c[1]),
        "n_both_true": int(c[2]),
        "n_from_recorded": int(c[3]),
        "n_to_recorded": int(c[4]),
        "n_both_recorded": int(c[5]),
        "events_after_from": int(ev1.sum()),
        "person_years_after_from": float(pt1.sum()),
        "events_before_from": int(ev0.sum()),
        "person_years_before_from": float(pt0.sum()),
        "irr_crude": _rate_ratio(ev1.sum(), pt1.sum(), ev0.sum(), pt0.sum()),
        "irr_age_sex": poisson_rr(ev1, pt1, ev0, pt0),
        "irr_age_sex_women": poisson_rr(ev1[0], pt1[0], ev0[0], pt0[0]),
        "irr_age_sex_men": poisson_rr(ev1[1], pt1[1], ev0[1], pt0[1]),
    }


def _drug_effect(scenario: Scenario, sname: str, st: dict[str, np.ndarray]) -> dict[str, Any]:
    a = st.get(f"drug:{sname}", np.zeros(5))
    return {
        "drug": sname,
        "to": "migraine_encounter",
        "incidence_rate_ratio": scenario.drug_irr(sname),
        "planted": any(isinstance(x, DrugEffect) and x.drug == sname for x in scenario.effects),
        "exposed_migraine_persons": int(a[4]),
        "encounters_in_risk_window": int(a[0]),
        "person_years_in_risk_window": float(a[1]),
        "encounters_outside": int(a[2]),
        "person_years_outside": float(a[3]),
        "irr_realised": _rate_ratio(a[0], a[1], a[2], a[3]),
        "risk_window": "exposure days + 30 days",
    }


def _marker_effect(scenario: Scenario, m: str, st: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "from": "migraine",
        "marker": m,
        "ratio_of_geometric_means": scenario.marker_rgm(m),
        "planted": any(isinstance(x, MarkerEffect) and x.marker == m for x in scenario.effects),
        "realised_all": _marker(st, m, "all"),
        "realised_no_autoimmune": _marker(st, m, "no_ai"),
    }


def _family_history(
    scenario: Scenario, kind: str, to: str, st: dict[str, np.ndarray]
) -> dict[str, Any]:
    a, b, c, d = st[f"fh:{kind}:{to}"]
    return {
        "family_history": kind,
        "to": to,
        "odds_ratio": scenario.family_or(kind, to),
        "planted": any(
            isinstance(x, FamilyHistoryEffect) and x.family_history == kind and x.to == to
            for x in scenario.effects
        ),
        "true_2x2": [int(a), int(b), int(c), int(d)],
        "odds_ratio_realised": _ratio(a, b, c, d),
        "recorded_persons": int(st[f"fh_recorded:{kind}"][0]),
    }


def _recorded(st: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Recorded 2x2 against recorded migraine for every condition set (statistics key order)."""
    recorded = {}
    for key, arr in st.items():
        if key.startswith("rec:") and key != "rec:aura":
            (ntrue,) = arr
            a, b, c, d = st[f"strat:{key[4:]}"].sum(axis=0)
            recorded[key[4:]] = {
                "with_migraine": int(a),
                "without_migraine": int(b),
                "migraine_only": int(c),
                "neither": int(d),
                "recorded_persons": int(a + b),
                "true_persons": int(ntrue) if key[4:] in cat.COUPLED_KEYS else None,
                "crude_or": _ratio(a, b, c, d),
                "stratified_or": _mh_or(st[f"strat:{key[4:]}"]),
            }
    return recorded


__all__ = ["Truth", "build_truth", "poisson_rr", "HazardEffect", "NB"]
