"""``miglink mr``: synthetic files in, every estimator's row out; bad input exits 2 on one line."""

import json

import pandas as pd
import pytest

from miglink.cli.main import main
from miglink.genetics.synth import Scenario, simulate_sumstats

METHODS = {
    "IVW (multiplicative random effects)", "IVW (fixed effect)", "MR-Egger",
    "MR-Egger intercept", "Weighted median", "Weighted mode",
}  # fmt: skip


@pytest.fixture
def files(tmp_path):
    x, y = simulate_sumstats(Scenario(effect=0.2), seed=7)
    x = x.rename(columns={"rsid": "variant_id", "position": "base_pair_location",
                          "se": "standard_error", "eaf": "effect_allele_frequency",
                          "p": "p_value"})  # fmt: skip
    px, py = tmp_path / "exposure.tsv.gz", tmp_path / "outcome.csv"
    x.to_csv(px, sep="\t", index=False)
    y.rename(columns={"beta": "B"}).to_csv(py, index=False)
    cols = tmp_path / "cols.yaml"
    cols.write_text("beta: B\n")
    return px, py, cols


def test_writes_every_estimator(files, tmp_path, capsys):
    px, py, cols = files
    out = tmp_path / "out"
    args = ["mr", "--exposure", str(px), "--outcome", str(py), "--outcome-columns", str(cols),
            "--out", str(out), "--bootstrap", "50"]  # fmt: skip
    assert main(args) == 0
    table = pd.read_csv(out / "mr_results.csv")
    assert set(table["method"]) == METHODS
    ivw = table.set_index("method").loc["IVW (multiplicative random effects)"]
    assert ivw["ci_lower"] < 0.2 < ivw["ci_upper"]  # the planted effect
    doc = json.loads((out / "mr_results.json").read_text())
    assert doc["harmonisation"]["kept"] == doc["selection"]["instruments"] > 30
    assert doc["harmonisation"]["swapped"] > 0  # the generator reports random alleles
    assert doc["steiger"]["correct_direction"] is True
    assert len(pd.read_csv(out / "mr_leave_one_out.csv")) == doc["selection"]["instruments"]
    assert "instrument(s)" in capsys.readouterr().out
    assert main(args) == 0  # a previous mr output is replaced


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--p-threshold", "0"], "--p-threshold"),
        (["--outcome-columns", "/nonexistent.yaml"], "not found"),
        (["--p-threshold", "1e-300"], "no exposure variant passes"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, tmp_path, capsys, extra, words):
    px, py, cols = files
    args = ["mr", "--exposure", str(px), "--outcome", str(py), "--out", str(tmp_path / "o")]
    if "--outcome-columns" not in extra:
        args += ["--outcome-columns", str(cols)]
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("miglink: error:") and "\n" not in err and words in err


def test_run_sumstats_option_is_one_line_exit_2(tmp_path, capsys):
    """``miglink run --sumstats`` takes ID=PATH; anything else is refused before any work."""
    args = ["run", "--data", str(tmp_path / "cdm"), "--out", str(tmp_path / "out"),
            "--sumstats", "migraine"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "expected ID=PATH" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
