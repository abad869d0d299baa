"""Study-file errors a user can act on (issue 18 item 5): every problem listed at once, each
with its 1-based line, claim id and hypothesis id; unknown keys refused at every level of the
file; any number of claims, through verdicts.

Files are written with ``yaml.safe_dump`` (block style: one key per line), so the expected line
of a problem is found by searching the written text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from miglink.claims.attach import attach_verdicts
from miglink.claims.model import default_study_path, load_study
from miglink.errors import MiglinkError

BAD = "zz_oops"


def _raw() -> dict:
    return yaml.safe_load(default_study_path().read_text(encoding="utf-8"))


def _hyp(raw: dict, hid: str) -> dict:
    return next(h for c in raw["claims"] for h in c["hypotheses"] if h["id"] == hid)


def _write(tmp_path: Path, raw: dict) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def _error(p: Path) -> str:
    with pytest.raises(MiglinkError) as e:
        load_study(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    return msg


def _line(p: Path, needle: str, after: str | None = None) -> int:
    """1-based line of the first line ending in ``needle`` (after the first ``after``)."""
    lines = p.read_text(encoding="utf-8").splitlines()
    start = next(i for i, t in enumerate(lines) if after in t) if after else 0
    return next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(needle)) + 1


def test_every_problem_is_listed_with_its_line_claim_and_hypothesis(tmp_path):
    raw = _raw()
    _hyp(raw, "h3_sle")["outcom"] = _hyp(raw, "h3_sle").pop("outcome")
    _hyp(raw, "h4_aura_aps")["contrast"] = "aura_vs_noaura"
    _hyp(raw, "h9_order")["expected"] = "up"
    raw["settings"]["alpha"] = 2
    p = _write(tmp_path, raw)
    msg = _error(p)
    assert "5 problem(s)" in msg  # h3_sle: the unknown key and the missing outcome
    expect = [
        f"study.yaml:{_line(p, 'alpha: 2')}: settings.alpha: Input should be less than 1",
        f"study.yaml:{_line(p, 'id: h3_sle')}: claim 3 / hypothesis h3_sle (D1): outcome: "
        "Field required",
        f"study.yaml:{_line(p, 'outcom: sle', 'id: h3_sle')}: claim 3 / hypothesis h3_sle (D1): "
        "unknown key 'outcom'",
        f"study.yaml:{_line(p, 'contrast: aura_vs_noaura')}: claim 4 / hypothesis h4_aura_aps "
        "(D4): contrast: Input should be",
        f"study.yaml:{_line(p, 'expected: up')}: claim 9 / hypothesis h9_order (D9): expected:",
    ]
    for e in expect:
        assert e in msg, (e, msg)
    # in file order
    assert [msg.index(e) for e in expect] == sorted(msg.index(e) for e in expect)


def test_an_unknown_set_is_listed_with_the_schema_problems(tmp_path):
    raw = _raw()
    _hyp(raw, "h3_sle")["outcom"] = _hyp(raw, "h3_sle").pop("outcome")
    _hyp(raw, "h3_ms")["outcome"] = "multiple_sclerosys"
    raw["autoimmune"][0] = "slee"
    p = _write(tmp_path, raw)
    msg = _error(p)
    assert "4 problem(s)" in msg
    assert (
        f"study.yaml:{_line(p, 'outcome: multiple_sclerosys')}: claim 3 / hypothesis h3_ms (D1): "
        "outcome: concept set 'multiple_sclerosys' is not defined"
    ) in msg
    assert f"study.yaml:{_line(p, '- slee')}: autoimmune[1]: concept set 'slee'" in msg


def test_cross_checks_are_all_listed_at_their_lines(tmp_path):
    raw = _raw()
    raw["claims"][4]["id"] = 3  # a second claim 3 (claim 5, with h5_ms_incident)
    _hyp(raw, "h9_order")["id"] = "h3_sle"  # a second h3_sle
    _hyp(raw, "h7_rtx_sccs")["family"] = "sccs_drug"  # a family of one
    _hyp(raw, "h5_ms_incident")["exposure"] = "sle"  # D2 without the index set
    p = _write(tmp_path, raw)
    msg = _error(p)
    assert "6 problem(s)" in msg
    for e in (
        f"study.yaml:{_line(p, 'id: 3', 'statement')}: claim 3: id: claim id 3 is used 2 times",
        f"study.yaml:{_line(p, 'id: h3_sle')}: claim 3 / hypothesis h3_sle (D1): id: "
        "hypothesis id 'h3_sle' is used more than once",
        ": claim 9 / hypothesis h3_sle (D9): id: hypothesis id 'h3_sle'",
        f"study.yaml:{_line(p, 'family: sccs_drug')}: claim 7 / hypothesis h7_rtx_sccs (D5): "
        "family: a family needs at least two",
        f"study.yaml:{_line(p, 'exposure: sle', 'id: h5_ms_incident')}: claim 3 / hypothesis "
        "h5_ms_incident (D2): exposure: a D2 hypothesis has 'migraine' as exactly one",
    ):
        assert e in msg, (e, msg)


def _comparison(raw: dict) -> dict:
    return raw["comparisons"][0]


#: (where, edit adding the unknown key, the id part the message names)
LEVELS = [
    ("top level", lambda r: r.update({BAD: 1}), "study.yaml:"),
    ("settings", lambda r: r["settings"].update({BAD: 1}), "settings: unknown key"),
    ("claim", lambda r: r["claims"][0].update({BAD: 1}), ": claim 1: unknown key"),
    *[
        (
            f"hypothesis {design}",
            lambda r, hid=hid: _hyp(r, hid).update({BAD: 1}),
            f"hypothesis {hid} ({design}): unknown key",
        )
        for design, hid in [
            ("D1", "h3_sle"),
            ("D2", "h3_sle_incident"),
            ("D3", "h6_sex_sle"),
            ("D4", "h4_aura_aps"),
            ("D5", "h7_ifn_sccs"),
            ("D6", "h1_crp"),
            ("D7", "h2_fh_ai_to_migraine"),
            ("D8", "h8_dose_response"),
            ("D9", "h9_order"),
            ("D10", "h7_tnf_vs_mtx_migraine"),
            ("MR", "h2_mr_sjogren_to_migraine"),
        ]
    ],
    (
        "MR settings",
        lambda r: _hyp(r, "h2_mr_sjogren_to_migraine").update(settings={BAD: 1}),
        "hypothesis h2_mr_sjogren_to_migraine (MR): settings: unknown key",
    ),
    ("genetics file", lambda r: r.update(genetics={"sle": {"path": "x", BAD: 1}}), "genetics.sle:"),
    ("comparison", lambda r: _comparison(r).update({BAD: 1}), "comparisons[1]: unknown key"),
    (
        "comparison target",
        lambda r: _comparison(r)["target"].update({BAD: 1}),
        "comparisons[1].target: unknown key",
    ),
    (
        "comparison outcome",
        lambda r: _comparison(r)["outcomes"][0].update({BAD: 1}),
        "comparisons[1].outcomes[1]: unknown key",
    ),
    (
        "comparison population",
        lambda r: _comparison(r)["population"].update({BAD: 1}),
        "comparisons[1].population: unknown key",
    ),
    (
        "comparison adjustment",
        lambda r: _comparison(r)["adjustment"].update({BAD: 1}),
        "comparisons[1].adjustment: unknown key",
    ),
]


@pytest.mark.parametrize(
    "edit,fragment", [(e, f) for _w, e, f in LEVELS], ids=[w for w, *_ in LEVELS]
)
def test_an_unknown_key_is_refused_at_every_level(tmp_path, edit, fragment):
    raw = _raw()
    edit(raw)
    p = _write(tmp_path, raw)
    msg = _error(p)
    assert fragment in msg, msg
    assert f"study.yaml:{_line(p, f'{BAD}: 1')}:" in msg and f"unknown key '{BAD}'" in msg


def test_a_claim_id_is_a_positive_whole_number_without_a_cap(tmp_path):
    raw = _raw()
    raw["claims"][0]["id"] = 0
    msg = _error(_write(tmp_path, raw))
    assert ": claim 0: id: Input should be greater than or equal to 1" in msg
    raw["claims"][0]["id"] = 1234
    study, _ = load_study(_write(tmp_path, raw))
    assert study.claims[0].id == 1234


def test_more_than_nine_claims_round_trip_through_verdicts(tmp_path):
    """Twelve claims with ids out of order and above 9: each keeps its hypotheses and gets a
    verdict, in study-file order (the report is rendered from these: tests/cli/test_init_demo)."""
    raw = _raw()
    extra = []
    for k, cid in enumerate((42, 10, 11)):
        c = dict(raw["claims"][2], id=cid, title=f"claim {cid}")
        c["hypotheses"] = [dict(h, id=f"{h['id']}_c{k}") for h in c["hypotheses"]]
        extra.append(c)
    raw["claims"] += extra
    study, _ = load_study(_write(tmp_path, raw))
    assert [c.id for c in study.claims] == [*range(1, 10), 42, 10, 11]
    results = pd.DataFrame(columns=["analysis", "hypothesis", "role", "design"])
    _res, claims = attach_verdicts(results, study)
    assert [c["id"] for c in claims] == [*range(1, 10), 10, 11, 42]
    assert len(claims) == 12 and all(c["verdict"] == "not analysed" for c in claims[-3:])
    n3 = len(raw["claims"][2]["hypotheses"])
    assert [len(c["hypotheses"]) for c in claims[-3:]] == [n3] * 3
