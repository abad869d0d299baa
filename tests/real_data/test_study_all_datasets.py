"""The full study completes and writes its report on every dataset in ../shared/data.

Thin real data must give "not estimable" rows with reasons, never end the run: Synthea27Nj and
the SMART bulk-FHIR sample have no incident cohort at all (no new diagnosis after prior
observation), which used to end ``run`` with ``KeyError: 'analysis'``. Raw MIMIC-IV is not a
format miglink reads: it must be refused with one line naming the folder and the formats.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from miglink.errors import MiglinkError
from miglink.study import run_study

#: dataset id -> path under shared/data (see each folder's SOURCE.md)
DATASETS = {
    "eunomia-gibleed": "eunomia-gibleed",
    "eunomia-synthea27nj-csv-zip": "eunomia-synthea27nj/Synthea27Nj_5.4.zip",
    "eunomia-synthea27nj-parquet-zip": "eunomia-synthea27nj/Synthea27NjParquet_5.4.zip",
    "mimic-iv-demo-omop": "mimic-iv-demo-omop",
    "mimic-iv-demo-meds": "mimic-iv-demo-meds",
    "mimic-iv-fhir-demo": "mimic-iv-fhir-demo",
    "smart-bulk-fhir-10-patients": "smart-bulk-fhir-10-patients",
}


@pytest.mark.parametrize("name", list(DATASETS), ids=list(DATASETS))
def test_full_study_completes(study_complete, shared_data, tmp_path, name):
    path = shared_data / DATASETS[name]
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    out = tmp_path / "out"
    results = run_study(path, out).results
    assert len(results) > 0
    study_complete(results, out)


def test_raw_mimic_is_refused_in_one_line(shared_data, tmp_path):
    path = shared_data / "mimic-iv-demo"
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    with pytest.raises(MiglinkError) as err:
        run_study(path, tmp_path / "out")
    msg = str(err.value)
    assert "raw MIMIC-IV" in msg and "OMOP CDM, FHIR or MEDS" in msg and str(path) in msg
    assert "\n" not in msg
    assert not (tmp_path / "out").exists()


def test_raw_mimic_cli_exits_2_without_traceback(shared_data, tmp_path):
    path = shared_data / "mimic-iv-demo"
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "miglink.cli.main",
            "run",
            "--data",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "raw MIMIC-IV" in lines[0]
