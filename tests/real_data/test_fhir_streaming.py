"""Streaming: converter memory does not grow with input size.

The MIMIC FHIR MedicationRequest file (17,552 resources) is converted once as is and once
replicated 20 times (351,040 resources, about 20x the bytes), each in a fresh subprocess that
reports its peak resident memory. A converter that held the input in memory would need several
hundred MB more for the 20x input; the streaming one stays within a small constant.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

FHIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mimic-iv-fhir-demo" / "fhir"
)

pytestmark = pytest.mark.skipif(not FHIR.exists(), reason="shared datasets not found")

_PROBE = """
import resource, sys
from pathlib import Path
from miglink.sources.convert import convert
convert(Path(sys.argv[1]), Path(sys.argv[2]), "fhir")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
"""


def _make_input(folder: Path, copies: int) -> int:
    folder.mkdir()
    (folder / "MimicPatient.ndjson.gz").symlink_to(FHIR / "MimicPatient.ndjson.gz")
    for name in ("MimicMedication.ndjson.gz", "MimicMedicationMix.ndjson.gz"):
        (folder / name).symlink_to(FHIR / name)
    with gzip.open(FHIR / "MimicMedicationRequest.ndjson.gz", "rb") as fh:
        body = fh.read()
    with (folder / "MimicMedicationRequest.ndjson").open("wb") as out:
        for _ in range(copies):
            out.write(body)
    return len(body) * copies


def _peak_rss_mib(src: Path, out: Path) -> float:
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, str(src), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(res.stdout.strip().splitlines()[-1]) / 1024


def _drug_rows(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM drug_exposure").fetchone()[0]


def test_peak_memory_flat_in_input_size(tmp_path: Path):
    bytes_1 = _make_input(tmp_path / "x1", 1)
    bytes_20 = _make_input(tmp_path / "x20", 20)
    rss_1 = _peak_rss_mib(tmp_path / "x1", tmp_path / "x1.duckdb")
    rss_20 = _peak_rss_mib(tmp_path / "x20", tmp_path / "x20.duckdb")
    n = {k: _drug_rows(tmp_path / f"{k}.duckdb") for k in ("x1", "x20")}
    assert n["x1"] > 17_000 and n["x20"] == 20 * n["x1"]  # every copy was converted
    growth = rss_20 - rss_1
    extra_input_mib = (bytes_20 - bytes_1) / 2**20
    print(
        json.dumps(
            {
                "input_mib_1x": round(bytes_1 / 2**20, 1),
                "input_mib_20x": round(bytes_20 / 2**20, 1),
                "peak_rss_mib_1x": round(rss_1),
                "peak_rss_mib_20x": round(rss_20),
            }
        )
    )
    # growth well below the extra input size (the parsed JSON would be several times that)
    assert growth < 0.5 * extra_input_mib, (rss_1, rss_20, extra_input_mib)
