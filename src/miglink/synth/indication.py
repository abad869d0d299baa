"""Confounding by indication in two active-comparator new-user cohorts (issue 16, item 5).

Off unless the scenario has ``confounding_by_indication``; no random draw is made without it,
so other worlds are unchanged. With it, per comparison (multiple sclerosis: interferon beta vs
glatiramer acetate; rheumatoid arthritis: a TNF inhibitor vs methotrexate), a ``share`` of the
eligible persons become patients. Eligible: >= 1.5 years of observation, the age window at
index, and no record of migraine, of the disease or of the comparison's drugs in the base world
(so these patients are the comparison's only new users and their migraine is this model's).

1. Index (first exposure) is >= 365 days after observation start and >= 180 days before its
   end; the disease is recorded at a visit before index and at the index visit.
2. Baseline conditions are drawn independently (Bernoulli): eight *indication markers*
   (depression, anxiety, obesity, ...) and four *noise* conditions with no effect. Each present
   one is recorded, with its own concept id, at one or more of three visits in the 365 days
   before index.
3. Treatment is the target with probability expit(a0 + sum_k g_k m_k); a0 is solved exactly
   (over the 2^8 marker patterns) so the expected target share is 1/2, so the preference score
   equals the propensity score and equipoise is known exactly.
4. Incident migraine after index has hazard h0(sex) exp(sum_k b_k m_k) HR^target for the whole
   follow-up (the effect of the drug started: the intention-to-treat estimand, ``hr`` in the
   scenario). Three negative-control outcomes have hazard h_nc exp(sum_k c_k m_k): the markers
   only, no drug term.
5. The first drug stops after an exponential era; a share of those who stop switch to the other
   drug. Stop and switch are random (not informative), so an on-treatment analysis estimates
   the same HR on less time.

The markers raise both the chance of the target and the outcome hazard, so the crude (or
age/sex-matched) HR is biased (the direction is in truth.json); a Cox model or a propensity
score on the recorded markers recovers the planted HR.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.prescriptions import DrugExposures
from miglink.synth.records import ConditionRows, Visits
from miglink.synth.scenario import IndicationSpec
from miglink.synth.stats import Stats
from miglink.synth.timescale import YEAR
from miglink.synth.vocab import Code, Vocab

#: Baseline conditions: (key, ICD-10-CM code, description, SNOMED code, prevalence).
MARKERS: tuple[tuple[str, str, str, str, float], ...] = (
    ("depression", "F32.A", "Depression, unspecified", "35489007", 0.25),
    ("anxiety", "F41.9", "Anxiety disorder, unspecified", "197480006", 0.25),
    ("obesity", "E66.9", "Obesity, unspecified", "414916001", 0.30),
    ("hypertension", "I10", "Essential (primary) hypertension", "59621000", 0.25),
    ("insomnia", "G47.00", "Insomnia, unspecified", "193462001", 0.20),
    ("tension_headache", "G44.209", "Tension-type headache, unspecified", "398057008", 0.20),
    ("fatigue", "R53.83", "Other fatigue", "84229001", 0.25),
    ("hyperlipidaemia", "E78.5", "Hyperlipidemia, unspecified", "55822004", 0.20),
)
NOISE: tuple[tuple[str, str, str, str, float], ...] = (
    ("allergic_rhinitis", "J30.9", "Allergic rhinitis, unspecified", "61582004", 0.20),
    ("low_back_pain", "M54.50", "Low back pain, unspecified", "279039007", 0.20),
    ("gerd", "K21.9", "Gastro-esophageal reflux disease without esophagitis", "235595009", 0.20),
    ("acne", "L70.0", "Acne vulgaris", "88616000", 0.20),
)
#: The comparator drug the catalogue lacks: (key, RxNorm code, name, ATC code, ATC name).
GLATIRAMER = ("glatiramer", "84375", "glatiramer", "L03AX13", "glatiramer; parenteral")
#: Negative-control outcomes (concept-set ids of negative_controls.yaml) and their base hazard.
NC_OUTCOMES = ("nc_haemorrhoids", "nc_plantar_fasciitis", "nc_ganglion")
NC_RATE = 0.02  # per year, at no marker
BASELINE_VISITS = 3
SWITCH_SHARE = 0.3  # of those whose first drug stops before the observation ends


@dataclass(frozen=True)
class Comparison:
    """One comparison: disease, target and comparator drugs, and the planted coefficients.

    ``treatment`` are the log odds ratios of the target per marker, ``outcome`` the log hazard
    ratios of migraine, ``control`` those of the negative-control outcomes (MARKERS order).
    """

    key: str
    disease: str
    target_set: str
    target: tuple[tuple[str, float], ...]
    comparator_set: str
    comparator: tuple[tuple[str, float], ...]
    age: tuple[float, float]
    sex_weight: tuple[float, float]  # (women, men) multipliers of the share
    era_years: float
    rate: tuple[float, float]  # migraine hazard per year at no marker (women, men)
    treatment: tuple[float, ...]
    outcome: tuple[float, ...]
    control: tuple[float, ...]


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "ms_ifn_vs_ga",
        "multiple_sclerosis",
        "interferon_beta",
        (("interferon_beta_1a", 0.7), ("interferon_beta_1b", 0.3)),
        "glatiramer",
        (("glatiramer", 1.0),),
        (18.0, 60.0),
        (1.5, 0.5),
        2.0,
        (0.05, 0.025),
        # interferon avoided with depression, anxiety, sleep and headache complaints
        (-1.1, -0.9, 0.2, 0.2, -0.9, -1.1, -0.8, 0.2),
        (0.9, 0.7, 0.2, 0.1, 0.7, 1.0, 0.5, 0.1),
        (0.6, 0.5, 0.2, 0.2, 0.4, 0.3, 0.5, 0.2),
    ),
    Comparison(
        "ra_tnf_vs_mtx",
        "rheumatoid_arthritis",
        "tnf_inhibitors",
        (("adalimumab", 0.5), ("etanercept", 0.5)),
        "methotrexate",
        (("methotrexate", 1.0),),
        (25.0, 80.0),
        (1.4, 0.6),
        2.5,
        (0.04, 0.02),
        # a TNF inhibitor for the more burdened patient (obesity, hypertension, depression ...)
        (0.9, 0.6, 1.1, 1.0, 0.7, 0.9, 1.0, 0.7),
        (0.8, 0.5, 0.6, 0.5, 0.5, 0.9, 0.6, 0.4),
        (0.4, 0.3, 0.6, 0.5, 0.3, 0.2, 0.4, 0.4),
    ),
)
BY_KEY = {c.key: c for c in COMPARISONS}
PREVALENCE = np.array([m[-1] for m in MARKERS])
NOISE_PREVALENCE = np.array([m[-1] for m in NOISE])


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _patterns() -> tuple[np.ndarray, np.ndarray]:
    """Every marker pattern (2^K, K) and its probability."""
    m = np.array(list(itertools.product((0.0, 1.0), repeat=len(MARKERS))))
    prob = np.prod(np.where(m == 1.0, PREVALENCE, 1.0 - PREVALENCE), axis=1)
    return m, prob


def intercept(c: Comparison) -> float:
    """a0 with E[expit(a0 + m.g)] = 1/2 exactly (bisection over the marker patterns)."""
    m, prob = _patterns()
    lin = m @ np.array(c.treatment)
    lo, hi = -20.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (prob * _expit(mid + lin)).sum() < 0.5:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def expected(c: Comparison) -> dict[str, float]:
    """Exact equipoise (preference 0.3-0.7; preference = PS at a target share of 1/2) and the
    sign of the confounding: the covariance of the treatment and outcome linear predictors."""
    m, prob = _patterns()
    ps = _expit(intercept(c) + m @ np.array(c.treatment))
    eta = m @ np.array(c.outcome)
    cov = float((prob * (ps - 0.5) * (eta - (prob * eta).sum())).sum())
    return {
        "equipoise": float(prob[(ps > 0.3) & (ps < 0.7)].sum()),
        "ps_outcome_covariance": cov,
    }


def extend_vocab(v: Vocab) -> Vocab:
    """A copy of the vocabulary with the baseline conditions and glatiramer (CONCEPT has them)."""
    v = copy.deepcopy(v)
    for key, icd, desc, snomed, _ in MARKERS + NOISE:
        sid = v.standard((None, "SNOMED", snomed, desc), "Condition", "Clinical Finding")
        v.disease_std["cbi_" + key] = sid
        v.extra_codes["cbi_" + key] = v.icd(icd, desc, sid, "Condition")
    key, rx, name, atc, atc_name = GLATIRAMER
    cid = v.new_id(cat.RXNORM_BASE)
    v.add(cid, name, "Drug", "RxNorm", "Ingredient", "S", rx)
    v.ancestor.append((cid, cid, 0))
    v.ingredient[key] = Code(rx, cid, cid)
    aid = v.new_id(cat.ATC_BASE)
    v.add(aid, atc_name, "Drug", "ATC", "ATC 5th", "C", atc)
    v.ancestor.extend([(aid, aid, 0), (aid, cid, 1)])
    return v


@dataclass
class _Cohort:
    """The patients of one comparison (local person indices) and their draws."""

    who: np.ndarray
    index: np.ndarray
    markers: np.ndarray  # (n, K) 0/1
    noise: np.ndarray
    target: np.ndarray  # bool


def _eligible(c: Comparison, world, p: dict, dx_day: np.ndarray, drugs: DrugExposures):
    """Eligibility mask (before the share is drawn) and the drug rows to drop.

    Base-world rows of the comparison's drug sets are dropped for persons with a recorded
    diagnosis of the disease, so they are not new users; persons with such rows are not eligible.
    """
    n = p["sex"].size
    k = world.ck[c.disease]
    sets = [
        world.set_names.index(s) for s in (c.target_set, c.comparator_set) if s in world.set_names
    ]
    row_in = np.isin(drugs.drug_set, sets)
    has_drug = np.zeros(n, bool)
    has_drug[drugs.person[row_in]] = True
    dx = np.isfinite(dx_day[:, k])
    drop = row_in & dx[drugs.person]
    ok = (p["end_day"] - p["start_day"] >= 365 + 180) & ~dx & ~has_drug
    ok &= ~np.isfinite(dx_day[:, 0])  # no migraine record: its incidence is this model's
    return ok, drop


def _draw_cohort(c: Comparison, spec, rng, p: dict, ok: np.ndarray) -> _Cohort:
    """Patients, index days, baseline conditions and treatment."""
    w = np.where(p["female"] == 1, c.sex_weight[0], c.sex_weight[1])
    lo, hi = p["start_day"] + 365, p["end_day"] - 180
    index = np.floor(lo + rng.random(lo.size) * (hi - lo + 1))
    age = (index - p["birth_day"]) / YEAR
    take = ok & (age >= c.age[0]) & (age < c.age[1])
    take &= rng.random(lo.size) < np.minimum(spec.share * w, 1.0)
    who = np.flatnonzero(take)
    m = (rng.random((who.size, len(MARKERS))) < PREVALENCE).astype(np.int8)
    noise = (rng.random((who.size, len(NOISE))) < NOISE_PREVALENCE).astype(np.int8)
    ps = _expit(intercept(c) + m @ np.array(c.treatment))
    target = rng.random(who.size) < ps
    return _Cohort(who, index[who], m, noise, target)


def _record_baseline(
    c: Comparison, world, rng, p, co: _Cohort, visits: Visits, rows: ConditionRows
):
    """Disease at a visit before index and at index; each present condition at 1-3 of the
    three baseline visits in the 365 days before index."""
    who, index = co.who, co.index
    dx = np.floor(p["start_day"][who] + rng.random(who.size) * (index - 14 - p["start_day"][who]))
    code = world.code_of[(c.disease, 0)]
    rows.emit(who, code, dx, visits.add(who, dx, cat.VISIT_OUTPATIENT))
    rows.emit(who, code, index, visits.add(who, index, cat.VISIT_OUTPATIENT))
    lo = np.maximum(p["start_day"][who], index - 365)
    bday = np.floor(lo[:, None] + rng.random((who.size, BASELINE_VISITS)) * (index - lo)[:, None])
    bvis = np.stack(
        [visits.add(who, bday[:, j], cat.VISIT_OUTPATIENT) for j in range(BASELINE_VISITS)], 1
    )
    keys = [m[0] for m in MARKERS] + [m[0] for m in NOISE]
    present = np.concatenate([co.markers, co.noise], axis=1)
    for j, key in enumerate(keys):
        i = np.flatnonzero(present[:, j])
        at = rng.random((i.size, BASELINE_VISITS)) < 0.5
        at[np.arange(i.size), rng.integers(0, BASELINE_VISITS, i.size)] = True
        r, v = np.nonzero(at)
        rows.emit(who[i[r]], world.code_of[("cbi_" + key, 0)], bday[i[r], v], bvis[i[r], v])


def _exposures(
    c: Comparison, world, rng, p, co: _Cohort
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Drug rows (person, ingredient, start, end, set -1) of the first drug and of switches;
    the first era's end day and whether the patient switched."""
    who, n = co.who, co.who.size
    end_obs = p["end_day"][who]
    era_end = np.minimum(co.index + np.ceil(rng.exponential(c.era_years * YEAR, n)), end_obs)
    ingr_t = _pick(world, rng, c.target, n)
    ingr_c = _pick(world, rng, c.comparator, n)
    first = np.where(co.target, ingr_t, ingr_c)
    switch = (era_end < end_obs) & (rng.random(n) < SWITCH_SHARE)
    s2 = era_end + 1 + rng.integers(0, 61, n)
    switch &= s2 <= end_obs
    e2 = np.minimum(s2 + np.ceil(rng.exponential(c.era_years * YEAR, n)), end_obs)
    second = np.where(co.target, ingr_c, ingr_t)
    sw = np.flatnonzero(switch)
    cols = [
        np.concatenate([who, who[sw]]),
        np.concatenate([first, second[sw]]),
        np.concatenate([co.index, s2[sw]]),
        np.concatenate([era_end, e2[sw]]),
    ]
    return cols, era_end, switch


def _pick(world, rng, choices, size: int) -> np.ndarray:
    names, probs = zip(*choices, strict=True)
    idx = np.array([world.ingr_idx[x] for x in names])
    return idx[rng.choice(len(names), size, p=np.array(probs) / sum(probs))]


def _event_day(rng, rate: np.ndarray, index: np.ndarray, end: np.ndarray) -> np.ndarray:
    """First event day after index (inf: none before the observation end)."""
    day = index + np.ceil(rng.exponential(1.0, rate.size) / rate * YEAR)
    return np.where(day <= end, day, np.inf)


def _outcomes(c, spec, world, rng, p, co: _Cohort, visits: Visits, rows: ConditionRows):
    """Incident migraine (markers and drug) and negative-control outcomes (markers only)."""
    who, end = co.who, p["end_day"][co.who]
    base = np.where(p["female"][who] == 1, c.rate[0], c.rate[1])
    rate = base * np.exp(co.markers @ np.array(c.outcome)) * np.where(co.target, spec.hr, 1.0)
    mig = _event_day(rng, rate, co.index, end)
    i = np.flatnonzero(np.isfinite(mig))
    rows.emit(
        who[i],
        world.code_of[("migraine", 0)],
        mig[i],
        visits.add(who[i], mig[i], cat.VISIT_OUTPATIENT),
    )
    nc_rate = NC_RATE * np.exp(co.markers @ np.array(c.control))
    nc = {}
    for key in NC_OUTCOMES:
        d = _event_day(rng, nc_rate, co.index, end)
        j = np.flatnonzero(np.isfinite(d))
        rows.emit(
            who[j], world.code_of[(key, 0)], d[j], visits.add(who[j], d[j], cat.VISIT_OUTPATIENT)
        )
        nc[key] = d
    return mig, nc


def simulate(
    world,
    rng: np.random.Generator,
    p: dict[str, np.ndarray],
    dx_day: np.ndarray,
    drugs: DrugExposures,
    visits: Visits,
    rows: ConditionRows,
    stats: Stats,
) -> DrugExposures:
    """Draw every switched-on comparison's patients; return the drug rows with theirs added."""
    spec: IndicationSpec = world.scenario.confounding_by_indication
    keep = np.ones(drugs.person.size, bool)
    taken = np.zeros(p["sex"].size, bool)
    new = [drugs.person, drugs.ingredient, drugs.start, drugs.end]
    add: list[list[np.ndarray]] = []
    for key, cspec in spec.comparisons().items():
        c = BY_KEY[key]
        ok, drop = _eligible(c, world, p, dx_day, drugs)
        keep &= ~drop
        co = _draw_cohort(c, cspec, rng, p, ok & ~taken)
        taken[co.who] = True
        _record_baseline(c, world, rng, p, co, visits, rows)
        cols, era_end, switch = _exposures(c, world, rng, p, co)
        add.append(cols)
        mig, nc = _outcomes(c, cspec, world, rng, p, co, visits, rows)
        _tally(c, p, co, era_end, switch, mig, nc, stats)
    out = [np.concatenate([x[keep]] + [a[i] for a in add]) for i, x in enumerate(new)]
    dset = np.concatenate([drugs.drug_set[keep]] + [np.full(a[0].size, -1) for a in add])
    return DrugExposures(out[0], out[1], out[2].astype(float), out[3].astype(float), dset)


def _tally(c, p, co: _Cohort, era_end, switch, mig, nc, stats: Stats) -> None:
    """Realised counts for truth.json, by arm (target, comparator)."""
    end = p["end_day"][co.who]
    stop_itt = np.minimum(mig, end)
    stop_ot = np.minimum(mig, era_end)
    arms = (co.target, ~co.target)
    a = [
        [float(t.sum()) for t in arms],
        [float(np.isfinite(mig[t]).sum()) for t in arms],
        [float(((stop_itt - co.index)[t] / YEAR).sum()) for t in arms],
        [float((mig[t] <= era_end[t]).sum()) for t in arms],
        [float(((stop_ot - co.index)[t] / YEAR).sum()) for t in arms],
        [float((era_end[t] < end[t]).sum()) for t in arms],
        [float(switch[t].sum()) for t in arms],
    ]
    stats.add(f"indication:{c.key}:arms", np.array(a))
    stats.add(f"indication:{c.key}:markers", np.array([co.markers[t].sum(0) for t in arms]))
    stats.add(
        f"indication:{c.key}:nc",
        np.array([[np.isfinite(nc[k][t]).sum() for t in arms] for k in NC_OUTCOMES]),
    )


def truth(
    spec: IndicationSpec | None, st: dict[str, np.ndarray], vocab: Vocab
) -> list[dict[str, Any]]:
    """truth.json's ``confounding_by_indication``: per comparison, the planted values and counts."""
    if spec is None:
        return []
    return [_truth_one(BY_KEY[k], s, st, vocab) for k, s in spec.comparisons().items()]


def _truth_one(c: Comparison, s, st: dict[str, np.ndarray], vocab: Vocab) -> dict[str, Any]:
    a = st.get(f"indication:{c.key}:arms", np.zeros((7, 2)))
    mk = st.get(f"indication:{c.key}:markers", np.zeros((2, len(MARKERS))))
    ncs = st.get(f"indication:{c.key}:nc", np.zeros((len(NC_OUTCOMES), 2)))
    ex = expected(c)
    rr = None
    if min(a[2]) > 0 and a[1][1] > 0:
        rr = float((a[1][0] / a[2][0]) / (a[1][1] / a[2][1]))
    arm = ("target", "comparator")
    return {
        "comparison": c.key,
        "disease": c.disease,
        "disease_concept_id": vocab.disease_std[c.disease],
        "target": {
            "drug_set": c.target_set,
            "ingredients": [k for k, _ in c.target],
            "concept_ids": [vocab.ingredient[k].concept_id for k, _ in c.target],
        },
        "comparator": {
            "drug_set": c.comparator_set,
            "ingredients": [k for k, _ in c.comparator],
            "concept_ids": [vocab.ingredient[k].concept_id for k, _ in c.comparator],
        },
        "outcome": "migraine",
        "outcome_concept_id": vocab.disease_std["migraine"],
        "hazard_ratio": s.hr,
        "estimand": "intention to treat from the first exposure (effect of the drug started); "
        "stops and switches are random, so on-treatment time estimates the same hazard ratio",
        "share": s.share,
        "markers": [
            {
                "key": m[0],
                "concept_id": vocab.disease_std["cbi_" + m[0]],
                "prevalence": m[-1],
                "treatment_log_odds_ratio": g,
                "outcome_log_hazard_ratio": b,
                "negative_control_log_hazard_ratio": nc,
            }
            for m, g, b, nc in zip(MARKERS, c.treatment, c.outcome, c.control, strict=True)
        ],
        "noise_markers": [
            {"key": m[0], "concept_id": vocab.disease_std["cbi_" + m[0]], "prevalence": m[-1]}
            for m in NOISE
        ],
        "treatment_intercept": intercept(c),
        "expected_equipoise": ex["equipoise"],
        "expected_crude_bias": "up" if ex["ps_outcome_covariance"] > 0 else "down",
        "negative_control_outcomes": {k: vocab.disease_std[k] for k in NC_OUTCOMES},
        "negative_control_hazard_ratio": 1.0,
        "realised": {
            **{f"n_{x}": int(a[0][i]) for i, x in enumerate(arm)},
            **{f"events_itt_{x}": int(a[1][i]) for i, x in enumerate(arm)},
            **{f"person_years_itt_{x}": float(a[2][i]) for i, x in enumerate(arm)},
            **{f"events_on_treatment_{x}": int(a[3][i]) for i, x in enumerate(arm)},
            **{f"person_years_on_treatment_{x}": float(a[4][i]) for i, x in enumerate(arm)},
            **{f"stopped_{x}": int(a[5][i]) for i, x in enumerate(arm)},
            **{f"switched_{x}": int(a[6][i]) for i, x in enumerate(arm)},
            "crude_rate_ratio_itt": rr,
            "marker_persons": {
                x: {m[0]: int(mk[i][j]) for j, m in enumerate(MARKERS)} for i, x in enumerate(arm)
            },
            "negative_control_events": {
                k: {x: int(ncs[j][i]) for i, x in enumerate(arm)} for j, k in enumerate(NC_OUTCOMES)
            },
        },
    }
