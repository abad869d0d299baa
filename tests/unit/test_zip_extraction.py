"""A zipped CDM is extracted into a private temporary folder that goes with the CDM (the rows are
person-level), and an extraction is reused only for the same zip content."""

from __future__ import annotations

import gc
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from miglink.sources import open_cdm
from miglink.sources.files import unzip_to_cache


def _zip_of_synthea(shared_data: Path) -> Path:
    return shared_data / "eunomia-synthea27nj" / "Synthea27Nj_5.4.zip"


def test_extraction_is_private_and_removed_with_the_cdm(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        cdm = open_cdm(_zip_of_synthea(shared_data))
        made = [p for p in tmp_path.iterdir() if p.name.startswith("miglink-unzip-")]
        assert len(made) == 1
        assert stat.S_IMODE(os.stat(made[0]).st_mode) == 0o700
        assert cdm.table("person").count().execute() == 28  # SOURCE.md: 28 persons
        del cdm
        gc.collect()
        assert not made[0].exists()
    finally:
        tempfile.tempdir = None


def test_extraction_is_keyed_on_content_not_size_and_mtime(tmp_path):
    def make(path: Path, text: str) -> None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("person.csv", text)

    z = tmp_path / "cdm.zip"
    make(z, "person_id\n1\n")
    st = z.stat()
    first = unzip_to_cache(z, tmp_path / "cache")
    make(z, "person_id\n2\n")  # same size, same mtime, other content
    os.utime(z, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert z.stat().st_size == st.st_size
    second = unzip_to_cache(z, tmp_path / "cache")
    assert second != first
    assert (second / "person.csv").read_text() == "person_id\n2\n"
    shutil.rmtree(tmp_path / "cache")
