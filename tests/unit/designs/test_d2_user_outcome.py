"""Issue 18 item 5: a D2 outcome from any condition set the study names, its own sets included.

Before, D2's tasks() only paired the index set with the autoimmune list (and the negative
controls), so a D2 hypothesis on a user's concept set had no key row and was silently "not
analysed". Here a user set (the codes of senile cataract, a condition the synthetic world
records, under a new id) is the outcome of a D2 hypothesis of an eleventh claim, on a small
synthetic world; the hypothesis gets a key task and a finite hazard ratio.
"""

from __future__ import annotations

import math

import pytest
import yaml

from miglink.claims.model import default_study_path, load_study
from miglink.designs import d2_cohort
from miglink.errors import MiglinkError

USER_SETS = """\
version: 1
concept_sets:
  - {id: user_cataract, name: Cataract (user set), domain: condition, role: outcome,
     items: [{vocabulary: ICD10CM, code: H25}, {vocabulary: ICD9CM, code: "366.1"}]}
  - {id: user_statin, name: a drug set, domain: drug, role: drug,
     items: [{vocabulary: RxNorm, code: "36567"}]}
"""


def _user_study(tmp_path, outcome: str = "user_cataract"):
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    raw["concept_set_files"] = ["mine.yaml"]
    hyp = {
        "id": "h11_cataract",
        "text": "New migraine raises the incidence of cataract",
        "design": "D2",
        "exposure": "migraine",
        "outcome": outcome,
    }
    raw["claims"] += [
        {
            "id": 10,
            "title": "ten",
            "statement": "a tenth claim",
            "hypotheses": [{**hyp, "id": "h10_cataract_prev", "design": "D1"}],
        },
        {"id": 11, "title": "eleven", "statement": "an eleventh claim", "hypotheses": [hyp]},
    ]
    (tmp_path / "mine.yaml").write_text(USER_SETS, encoding="utf-8")
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def test_a_user_condition_set_is_a_d2_outcome_with_a_key_task(tmp_path):
    study, _ = load_study(_user_study(tmp_path))
    key = [t for t in d2_cohort.tasks(study) if "h11_cataract" in t.hypotheses]
    assert len(key) == 1
    assert key[0].role == "primary" and key[0].options["direction"] == "forward"
    assert key[0].outcome == "user_cataract"


def test_a_drug_set_or_an_unknown_set_as_d2_outcome_is_a_located_error(tmp_path):
    for outcome, why in [("user_statin", "is drug"), ("no_such_set", "is not defined")]:
        p = _user_study(tmp_path, outcome)
        lines = p.read_text().splitlines()
        at = next(i for i, t in enumerate(lines) if "h11_cataract" in t)
        line = next(i for i, t in enumerate(lines[at:], at + 1) if f"outcome: {outcome}" in t)
        with pytest.raises(MiglinkError) as e:
            load_study(p)
        msg = str(e.value)
        assert "claim 11 / hypothesis h11_cataract (D2): outcome:" in msg and why in msg
        assert f"study.yaml:{line}:" in msg  # the hypothesis's own line, 1-based


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("d2user") / "cdm"
    generate(persons=15_000, seed=5, out=out)
    return out


def test_a_user_condition_set_as_d2_outcome_yields_an_estimate(tmp_path, world):
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.study import study_concept_sets

    p = _user_study(tmp_path)
    study, _ = load_study(p)
    key = [t for t in d2_cohort.tasks(study) if "h11_cataract" in t.hypotheses]
    ft = build_features(open_cdm(world), study, study_concept_sets(study, p))
    res = d2_cohort.estimate(d2_cohort.count(ft, key), key, study.settings)
    rows = [r for r in res.rows if r.get("analysis") == key[0].analysis]
    hr = [r for r in rows if r.get("method") == "poisson_matched_strata"]
    assert hr, [r.get("method") for r in rows]
    assert hr[0]["events_exposed"] + hr[0]["events_unexposed"] > 0
    assert math.isfinite(hr[0]["estimate"]) and hr[0]["estimate"] > 0
