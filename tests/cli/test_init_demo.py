"""``miglink init`` and ``miglink demo`` (issue 18 item 5), and ``run --concept-sets A B``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from miglink.claims.model import default_study_path, load_study
from miglink.cli.main import main
from miglink.concepts import load_concept_sets
from miglink.study import plan, study_concept_sets

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cli(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "miglink.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def test_init_writes_an_editable_study_that_is_the_protocol(tmp_path, capsys):
    assert main(["init", str(tmp_path / "mine")]) == 0
    d = tmp_path / "mine"
    names = sorted(p.name for p in (d / "concept_sets").iterdir())
    assert names == [
        "conditions.yaml",
        "drugs.yaml",
        "labs_observations.yaml",
        "negative_controls.yaml",
    ]
    text = (d / "study.yaml").read_text(encoding="utf-8")
    assert text.startswith("# An editable miglink study") and "miglink run --data" in text
    for section in ("settings", "negative_controls", "autoimmune", "claims"):
        i = text.index(f"\n{section}:")
        assert text[:i].rstrip().splitlines()[-1].startswith("#"), section  # a comment above
    study, digest = load_study(d / "study.yaml")
    default, default_digest = load_study(None)
    # the same study as the protocol, reading its own copies of the sets
    assert study.concept_set_files == [f"concept_sets/{n}" for n in names]
    assert study.model_dump(exclude={"concept_set_files"}) == default.model_dump(
        exclude={"concept_set_files"}
    )
    assert digest != default_digest  # the hash covers the copied set files
    assert study_concept_sets(study, d / "study.yaml") == load_concept_sets()
    assert {k: len(v) for k, v in plan(study).items()} == {
        k: len(v) for k, v in plan(default).items()
    }
    assert "wrote" in capsys.readouterr().out


def test_init_refuses_to_overwrite_one_line_exit_2(tmp_path):
    d = tmp_path / "mine"
    (d / "concept_sets").mkdir(parents=True)
    (d / "concept_sets" / "drugs.yaml").write_text("mine\n")
    p = _cli("init", str(d), cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1 and "drugs.yaml exists" in err
    assert not (d / "study.yaml").exists()  # nothing written: the check comes first
    assert (d / "concept_sets" / "drugs.yaml").read_text() == "mine\n"


def test_an_edited_init_study_names_its_line(tmp_path, capsys):
    assert main(["init", str(tmp_path)]) == 0
    p = tmp_path / "study.yaml"
    lines = p.read_text(encoding="utf-8").splitlines()
    i = next(i for i, t in enumerate(lines) if "id: h3_sle," in t)
    lines[i] = lines[i].replace("outcome: sle", "outcom: sle")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--study", str(p)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"study.yaml:{i + 1}: claim 3 / hypothesis h3_sle (D1): unknown key 'outcom'" in err


EXTRA = """\
version: 1
concept_sets:
  - {id: user_cataract, name: Cataract, domain: condition, role: outcome,
     items: [{vocabulary: ICD10CM, code: H25}]}
"""


def _study_naming_user_set(tmp_path: Path) -> Path:
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    raw["claims"][2]["hypotheses"].append(
        {
            "id": "h3_cat",
            "text": "t",
            "design": "D2",
            "exposure": "migraine",
            "outcome": "user_cataract",
        }
    )
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def test_run_takes_several_concept_set_files_after_one_flag(tmp_path, capsys):
    """The second file after one ``--concept-sets`` is read as a concept-set file (its error is
    reported), both with one flag and with the flag repeated; the study's own sets resolve."""
    study = _study_naming_user_set(tmp_path)
    (tmp_path / "a.yaml").write_text(EXTRA)
    (tmp_path / "b.yaml").write_text("version: 1\nconcept_sets: [{id: Bad}]\n")
    base = ["run", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--study", str(study)]
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    for flags in (["--concept-sets", a, b], ["--concept-sets", a, "--concept-sets", b]):
        assert main([*base, *flags]) == 2
        assert "b.yaml is invalid" in capsys.readouterr().err
    assert main(base) == 2
    assert "concept set 'user_cataract' is not defined" in capsys.readouterr().err
    s, digest = load_study(study, [tmp_path / "a.yaml"])
    assert "user_cataract" in study_concept_sets(s, study)
    (tmp_path / "a2.yaml").write_text(EXTRA.replace("H25", "H26"))
    assert digest != load_study(study, [tmp_path / "a2.yaml"])[1]  # the hash covers the files
    assert "a.yaml" not in json.dumps(s.model_dump(mode="json"))  # no local path in a definition


def test_demo_runs_a_study_of_twelve_claims_and_writes_the_report(tmp_path, capsys):
    """``miglink demo`` (what ``make demo`` runs) on a small population, with a study of twelve
    claims whose ids are not 1-12: every claim reaches claims.json and the report."""
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    raw.update(
        autoimmune=["sle", "psoriasis"],
        nervous_system_autoimmune=[],
        d1_outcomes=[],
        comparisons=[],
    )
    raw["negative_controls"] = raw["negative_controls"][:5]
    ids = [*range(1, 10), 70, 77, 84]
    raw["claims"] = [
        {
            "id": cid,
            "title": f"claim {cid}",
            "statement": "s",
            "hypotheses": [
                {
                    "id": f"h{cid}",
                    "text": "t",
                    "design": "D1",
                    "exposure": "migraine",
                    "outcome": "sle" if k % 2 else "psoriasis",
                }
            ],
        }
        for k, cid in enumerate(ids)
    ]
    study = tmp_path / "twelve.yaml"
    study.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp_path / "demo"
    capsys.readouterr()
    argv = ["demo", "--persons", "1000", "--out", str(out), "--study", str(study)]
    assert main(argv) == 0
    r = capsys.readouterr()
    report = out / "study" / "report.html"
    assert r.out.strip() == f"report: {report.resolve()}"
    claims = json.loads((out / "study" / "claims.json").read_text())["claims"]
    assert [c["id"] for c in claims] == ids
    assert all(c["hypotheses"][0]["verdict"] != "not analysed" for c in claims)
    html = report.read_text(encoding="utf-8")
    assert all(f"claim-{cid}" in html for cid in ids)
    assert "12 claims tested" in html  # the title counts the study's claims, not nine
    assert "claim 84: claim 84:" in r.err  # the demo's verdict lines name every claim
