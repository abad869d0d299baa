"""``miglink pool`` end to end: user errors give one clear line and exit 2; good inputs pool."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from miglink.claims.model import load_study
from miglink.cli.main import main
from miglink.designs.rows import make_row
from miglink.federate.site import site_results
from miglink.privacy.spec import decode_table, validate_dir
from miglink.stats.meta import pool
from miglink.study import StudyRun

NCS = ["nc_ingrown_nail", "nc_lipoma", "nc_warts", "nc_cataract", "nc_ganglion", "nc_haemorrhoids"]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _one_clear_line(code: int, err: str, *words: str) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err
    err = err.strip()
    assert err.startswith("miglink: error:"), err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


def _site(path, seed: int, study_hash: str | None = None):
    """A site file built from D1 rows: 6 negative controls and the migraine-SLE estimate."""
    study, h = load_study()
    rng = np.random.default_rng(seed)
    rows = []
    for i, out in enumerate(NCS + ["sle"]):
        y = (0.4 if out == "sle" else 0.0) + rng.normal(0, 0.08)
        se = 0.1 + 0.01 * i
        a = 40 + i
        rows.append(
            make_row(
                design="D1", exposure="migraine", outcome=out, measure="OR", method="mantel_haenszel",
                role="negative_control" if out in NCS else "primary",
                estimate=math.exp(y), log_estimate=y, se_log=se, ci_low=math.exp(y - 1.96 * se),
                ci_high=math.exp(y + 1.96 * se), p_value=0.5, n_exposed=2000, n_unexposed=18000,
                events_exposed=a, events_unexposed=3 if out == "nc_warts" else 300, mdrr=1.5,
                # a site run names each hypothesis's key row (claims.attach.label_key_rows)
                hypothesis="h3_sle" if out == "sle" else None,
            )
        )  # fmt: skip
    run = StudyRun(results=pd.DataFrame(rows), claims=[])
    data = site_results(run, study, study_hash or h, f"test site {seed}", 5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path, data


def test_pool_sites_end_to_end(tmp_path, capsys):
    (f1, d1), (_f2, d2) = (
        _site(tmp_path / "a" / "site_results.json", 1),
        _site(tmp_path / "b" / "site_results.json", 2),
    )
    code, out, err = _run(
        capsys, "pool", str(f1), str(tmp_path / "b"), "--out", str(tmp_path / "pooled")
    )
    assert code == 0, err
    assert "pooled 2 sites" in out
    # counts back to labels: a pooled range is written empty and named in count_labels
    res = decode_table(pd.read_csv(tmp_path / "pooled" / "results.csv"), "results")
    assert (res.database_id == "pooled").all()
    sle = res[(res.outcome == "sle") & (res.method == "mantel_haenszel")].iloc[0]
    ys = [next(e for e in d["estimates"] if e["outcome"] == "sle") for d in (d1, d2)]
    ref = pool([e["log_estimate"] for e in ys], [e["se_log"] for e in ys], method="REML")
    assert sle.log_estimate == pytest.approx(ref.log_estimate, rel=1e-12)
    assert sle.n_exposed == "4000" or int(sle.n_exposed) == 4000
    assert sle.hypothesis == "h3_sle" and isinstance(sle.verdict, str)
    assert math.isfinite(sle.cal_ci_low)  # calibrated with the pooled negative controls
    # the heterogeneity of each pooled row is in the results files (declared in the schema)
    assert int(sle.k_sites) == 2 and sle.i2 == pytest.approx(ref.i2, abs=1e-12)
    assert sle.q_p == pytest.approx(ref.q_p, rel=1e-9)
    warts = res[res.outcome == "nc_warts"].iloc[0]
    assert warts.events_unexposed == "2-8"  # two suppressed site counts (1-4 each): an honest range
    run = json.loads((tmp_path / "pooled" / "run.json").read_text())
    assert run["pooled"]["sites"] == 2
    # the pooled directory is an OHDSI-shaped result set too (issue 18 item 4)
    assert validate_dir(tmp_path / "pooled", run["parameters"]["min_cell"]) == []
    assert (tmp_path / "pooled" / "report.html").exists()
    assert (tmp_path / "pooled" / "pooled.json").exists()


def test_mismatched_study_hashes_are_refused(tmp_path, capsys):
    f1, _ = _site(tmp_path / "a.json", 1, study_hash="aaaa1111aaaa1111")
    f2, _ = _site(tmp_path / "b.json", 2, study_hash="bbbb2222bbbb2222")
    code, _, err = _run(capsys, "pool", str(f1), str(f2), "--out", str(tmp_path / "out"))
    _one_clear_line(
        code, err, "a.json", "b.json", "aaaa1111aaaa1111", "bbbb2222bbbb2222", "different study"
    )
    assert not (tmp_path / "out").exists()


def test_missing_site_file(tmp_path, capsys):
    f1, _ = _site(tmp_path / "a.json", 1)
    code, _, err = _run(
        capsys, "pool", str(f1), str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")
    )
    _one_clear_line(code, err, "nope.json", "not found")


def test_not_a_site_file(tmp_path, capsys):
    p = tmp_path / "results.json"
    p.write_text('[{"a": 1}]')
    code, _, err = _run(capsys, "pool", str(p), "--out", str(tmp_path / "out"))
    _one_clear_line(code, err, "results.json", "site_results.json")


def test_bad_table_columns(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text("study,or,lower,upper\nA,1.2,0.9,1.6\nB,1.5,1.1,2.0\n")
    code, _, err = _run(
        capsys, "pool", "--table", str(p), "--measure", "OR", "--out", str(tmp_path / "out")
    )
    _one_clear_line(code, err, "t.csv", "estimate,ci_low,ci_high", "2 rows")


def test_table_needs_measure_and_valid_values(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text("study,estimate,ci_low,ci_high\nA,1.2,0.9,1.6\nB,1.5,1.7,2.0\n")
    code, _, err = _run(capsys, "pool", "--table", str(p), "--out", str(tmp_path / "out"))
    _one_clear_line(code, err, "--measure")
    code, _, err = _run(
        capsys, "pool", "--table", str(p), "--measure", "OR", "--out", str(tmp_path / "out")
    )
    _one_clear_line(code, err, "t.csv", "1 row")
    c = tmp_path / "c.csv"
    c.write_text(
        "study,exposed_events,exposed_total,unexposed_events,unexposed_total\nA,5,100,3,100\n"
    )
    code, _, err = _run(
        capsys, "pool", "--table", str(c), "--measure", "HR", "--out", str(tmp_path / "out")
    )
    _one_clear_line(code, err, "c.csv", "HR")


def test_table_pools_and_prints(tmp_path, capsys):
    p = tmp_path / "t.csv"
    p.write_text("study,estimate,ci_low,ci_high\nA,1.2,0.9,1.6\nB,1.5,1.1,2.0\nC,1.3,1.0,1.7\n")
    code, out, err = _run(
        capsys,
        "pool",
        "--table",
        str(p),
        "--measure",
        "OR",
        "--method",
        "DL",
        "--hksj",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, err
    s = json.loads((tmp_path / "o" / "pooled.json").read_text())
    assert s["k"] == 3 and s["method"] == "DL+HKSJ" and 1.2 < s["estimate"] < 1.5
    assert "pooled OR" in out and (tmp_path / "o" / "forest.svg").exists()


def test_study_file_must_match_the_sites_hash(tmp_path, capsys):
    from miglink.claims.model import default_study_path

    f1, d1 = _site(tmp_path / "a.json", 1)
    other = tmp_path / "study.yaml"
    other.write_text(default_study_path().read_text() + "\n# edited\n")
    code, _, err = _run(
        capsys, "pool", str(f1), "--study", str(other), "--out", str(tmp_path / "out")
    )
    _one_clear_line(code, err, "study.yaml", d1["study"]["hash"])


def test_sites_pool_with_dl_and_hksj(tmp_path, capsys):
    (f1, d1), (f2, d2) = _site(tmp_path / "a.json", 1), _site(tmp_path / "b.json", 2)
    code, _, err = _run(
        capsys,
        "pool",
        str(f1),
        str(f2),
        "--method",
        "dl",
        "--hksj",
        "--no-report",
        "--out",
        str(tmp_path / "p"),
    )
    assert code == 0, err
    assert not (tmp_path / "p" / "report.html").exists()
    het = json.loads((tmp_path / "p" / "pooled.json").read_text())
    assert het["method"] == "DL" and het["hksj"] is True
    sle = next(a for a in het["analyses"] if a["analysis"] == "d1__migraine__sle")
    ys = [next(e for e in d["estimates"] if e["outcome"] == "sle") for d in (d1, d2)]
    ref = pool([e["log_estimate"] for e in ys], [e["se_log"] for e in ys], method="DL", hksj=True)
    assert sle["pool_method"] == "DL+HKSJ"
    assert sle["ci_low"] == pytest.approx(ref.ci_low, rel=1e-12)
    assert sle["tau2"] == pytest.approx(ref.tau2, abs=1e-15)
