"""Coverage notes: why a set matched nothing, and the report's note beside the claims that use
it (and nowhere else)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from miglink.concepts.coverage import (
    REASONS,
    empty_set_notes,
    empty_sets,
    grouped_warnings,
    vocabulary_warnings,
)
from miglink.concepts.model import ConceptSet, ConceptSetItem
from miglink.concepts.resolve import resolve_concept_sets
from miglink.report.render import render_report

HERE = Path(__file__).resolve()
_spec = importlib.util.spec_from_file_location(
    "literal_cdm", HERE.with_name("test_mapped_excluded.py")
)
literal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(literal)


def _s(sid, domain, *items):
    return ConceptSet(id=sid, name=sid, domain=domain, role="outcome", items=tuple(items))


def test_reasons_follow_the_vocabulary_at_hand():
    sets = {
        "nsaids": _s("nsaids", "drug", ConceptSetItem(vocabulary="RxNorm", code="5640")),
        "absent": _s("absent", "condition", ConceptSetItem(vocabulary="SNOMED", code="0000")),
        "unused": _s("unused", "condition", ConceptSetItem(concept_id=3200)),
    }
    cdm = literal._cdm(drugs=[(1, 1002, 0, "x")], conditions=[(1, 3001, "G43.9")])
    resolved = resolve_concept_sets(cdm, sets)
    empty = empty_sets(cdm, resolved, {"nsaids"})
    assert empty == {"absent": "codes_absent", "unused": "no_record"}
    assert vocabulary_warnings(cdm)[0].startswith("concept_ancestor is empty: drug sets reach")
    bare = literal._cdm(drugs=[(1, 1002, 0, "x")], vocabulary=False)
    assert empty_sets(bare, resolve_concept_sets(bare, sets), set()) == dict.fromkeys(
        sets, "no_concept"
    )
    assert vocabulary_warnings(bare)[0].startswith("no vocabulary tables")
    lines = grouped_warnings({"a": "no_record", "b": "no_record", "c": "codes_absent"})
    assert lines == [
        f"concept sets that matched no record ({REASONS['no_record']}): a, b",
        f"concept sets that matched no record ({REASONS['codes_absent']}): c",
    ]
    assert not any(ch.isdigit() for ln in lines for ch in ln)  # no count in a published note


def test_report_shows_the_note_beside_the_claims_using_the_set(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "report_conftest", HERE.parents[2] / "report" / "conftest.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    run = conf.write_fake_run(tmp_path / "run")
    meta = json.loads((run / "run.json").read_text())
    meta["resolution_notes"] = empty_set_notes({"sjogren": "no_concept", "vte": "no_record"})
    (run / "run.json").write_text(json.dumps(meta))
    html = render_report(run).read_text()
    sections = html.split('<section class="claim" id="claim-')[1:]
    with_note = [s.split('"', 1)[0] for s in sections if "set &#39;sjogren&#39; matched" in s]
    assert with_note == ["3"]  # h3_sjogren is claim 3's; no other claim uses the set
    assert "set &#39;vte&#39;" not in html and "matched no record" in html  # no claim uses it
