"""The claim rules of issue 15 item 4 on synthetic worlds they were not written on.

Bars and seeds were fixed here before the first run (the rules were developed on seeds 7 and
11, which this file does not use): 50,000 persons, seeds 23 and 29, the default scenario (drug
effects planted: interferon beta IRR 2.5, the other six SCCS drugs 1.0; truth.json) and the null
scenario (nothing planted).

- Claim 7 never counts its positive control: one positive control, at most seven voting.
- No SCCS drug that has no planted effect is supported or contradicted, in any world (Holm over
  the seven-hypothesis family keeps the family-wise error at alpha when the SCCS is unbiased;
  before Holm, 2 of 24 such hypotheses were decided on seeds 7 and 11).
- The planted interferon-beta control is found in both default worlds (CI above 1 and
  Holm-adjusted p <= alpha), and is not supported in either null world.
- Every claim's tally adds up, and its verdict is the one its rule gives from the tally.
- D8 specificity is supported only above its 90th-percentile criterion.

Measured on the first run (2026-12-01): every bar met except one world. Default seed 23:
h7_mtx_sccs IRR 1.46 (1.14-1.86), p 0.0026, Holm p 0.015, "supported", where the generator
planted 1.0 (realised crude IRR 1.05, truth.json). That is a false positive of the SCCS estimate
itself, which no claim rule can remove (Holm is already applied); calibrating the SCCS against
negative controls (issue 15 item 2) is where it is fixed. The failure is kept visible as
``KNOWN_FAILURES``: the test xfails while exactly that result persists, passes once it is gone,
and fails on any other decided drug.

Diagnosed (2026-12-01, issue 15 items 2 and 6): it is not a bias, so no fix at a cause removes it.
Nothing in the generator ties methotrexate to encounters (its eras are drawn before and
independently of the encounters, a constant-rate Poisson process per person after diagnosis; no
migraine record comes from another source); encounters by time since the first methotrexate era
are flat (observed / expected 0.92-1.24 in ten bins from -3000 to +6000 days, nine worlds); over
24 default worlds of 50,000 (seeds 20-43, this one included) the methotrexate SCCS z has mean
0.04 and sd 1.08. Seed 23 is that distribution's tail: z 2.1 without age adjustment, 3.1 with it
(53 cases). The SCCS is now calibrated on its negative-control outcomes (group "D5 SCCS"; in this
world null mean 0.003, sd 0.05), which leaves it supported, calibrated 1.46 (1.12-1.90): the
controls see no systematic error because there is none. A chance false positive at the rate the
family-wise alpha allows (Holm holds it at 5% per world, and this file has four worlds) stays a
known failure rather than a tuned-away one.
"""

from __future__ import annotations

import json
import warnings

import pytest

from miglink.claims.model import load_study
from miglink.study import execute

N = 50_000
SEEDS = (23, 29)
DRUGS = ("steroid", "nsaid", "tnf", "mtx", "hcq", "rtx")
KNOWN_FAILURES = {("default", 23): [("h7_mtx_sccs", "supported")]}  # see the module docstring


@pytest.fixture(scope="module", params=[(s, w) for s in SEEDS for w in ("default", "null")],
                ids=lambda p: f"{p[1]}-seed{p[0]}")  # fmt: skip
def world(request, tmp_path_factory):
    from miglink.sources import open_cdm
    from miglink.synth import generate

    seed, kind = request.param
    out = tmp_path_factory.mktemp(f"{kind}{seed}") / "cdm"
    scenario = None if kind == "default" else {"baseline": None, "effects": []}
    generate(N, seed, out, scenario=scenario)
    study, _ = load_study()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = execute(open_cdm(out), study)
    truth = json.loads((out / "truth.json").read_text())
    return kind, run, truth, seed


def _hyps(run) -> dict[str, dict]:
    return {h["id"]: h for c in run.claims for h in c["hypotheses"]}


def test_claim_7_does_not_count_its_positive_control(world):
    _, run, _, _ = world
    c7 = next(c for c in run.claims if c["id"] == 7)
    # voting: 6 SCCS drugs, the D5 new-user cohort and the two D10 comparisons (issue 16), not the
    # positive control (h7_ifn_sccs) nor the descriptive burden row
    assert c7["n_positive_controls"] == 1 and c7["n_voting"] <= 9
    assert _hyps(run)["h7_ifn_sccs"]["role"] == "positive_control"


def test_no_unplanted_sccs_drug_is_decided(world):
    kind, run, truth, seed = world
    planted = {d["drug"] for d in truth.get("drug_effects", []) if d.get("planted")}
    assert "corticosteroids" not in planted  # the scenario as this file's bars assume
    hyps = _hyps(run)
    decided = [
        (f"h7_{d}_sccs", hyps[f"h7_{d}_sccs"]["verdict"])
        for d in DRUGS
        if hyps[f"h7_{d}_sccs"]["verdict"] in ("supported", "contradicted")
    ]
    if decided and decided == KNOWN_FAILURES.get((kind, seed)):
        pytest.xfail(f"known SCCS false positive {decided} (module docstring)")
    assert not decided


def test_the_positive_control_is_found_only_where_planted(world):
    kind, run, _, _ = world
    r = run.results
    key = r[r.hypothesis == "h7_ifn_sccs"].iloc[0]
    if kind == "default":
        assert key["ci_low"] > 1.0 and key["holm_p_value"] <= 0.05
        assert key["verdict"] in ("supported", "inconclusive")  # inconclusive: diagnostics
    else:
        assert key["verdict"] != "supported"


def test_every_tally_adds_up_and_gives_the_verdict(world):
    from miglink.claims.model import Claim
    from miglink.claims.verdicts import claim_verdict

    _, run, _, _ = world
    for c in run.claims:
        parts = ("n_supported", "n_contradicted", "n_no_evidence", "n_inconclusive")
        assert sum(c[k] for k in parts) == c["n_voting"], c["id"]
        rest = c["n_voting"] + c["n_not_analysed"] + c["n_descriptive"] + c["n_positive_controls"]
        assert rest == c["n_hypotheses"] == len(c["hypotheses"])
        claim = Claim(id=c["id"], title="t", statement="s", rule=c["rule"])
        votes = [h["verdict"] for h in c["hypotheses"]]
        assert claim_verdict(claim, votes, [h["role"] for h in c["hypotheses"]]) == c["verdict"]


def test_d8_specificity_needs_its_criterion(world):
    _, run, _, _ = world
    r = run.results
    key = r[r.hypothesis == "h8_specificity"]
    if len(key) and key.iloc[0]["verdict"] == "supported":
        assert key.iloc[0]["phenome_percentile"] > 90.0
