"""Rehearse a network on one machine: split a population by person, run every site, keep site files.

Used by the federated validity test and handy for a reviewer who wants to see what pooling does
before asking real sites to run the study.
"""

from __future__ import annotations

from pathlib import Path

from miglink.claims.model import load_study
from miglink.federate.site import write_site_results
from miglink.federate.split import split_cdm


def run_site(
    data: str | Path,
    out_dir: str | Path,
    *,
    study: str | Path | None = None,
    min_cell: int = 5,
    engine: str = "duckdb",
):
    """Run the study on one site's data and write only ``out_dir/site_results.json``.

    Returns (path, StudyRun) so a caller can compare the site's in-memory results.
    """
    from miglink.sources import open_cdm
    from miglink.study import execute

    study_obj, study_hash = load_study(study)
    cdm = open_cdm(data, engine=engine)
    run = execute(cdm, study_obj, study_path=study)
    path = write_site_results(
        run,
        Path(out_dir),
        study=study_obj,
        study_hash=study_hash,
        data_description=cdm.description,
        min_cell=min_cell,
    )
    return path, run


def rehearse(
    data: str | Path,
    k: int,
    out: str | Path,
    *,
    study: str | Path | None = None,
    min_cell: int = 5,
    person_id_offset: int = 0,
) -> list[Path]:
    """Split ``data`` (an OMOP parquet folder) into ``k`` sites under ``out/data`` and run each.

    Site files land in ``out/sites/site{i}/site_results.json``; their paths are returned.
    """
    out = Path(out)
    folders = split_cdm(data, k, out / "data", person_id_offset=person_id_offset)
    return [run_site(f, out / "sites" / f.name, study=study, min_cell=min_cell)[0] for f in folders]
