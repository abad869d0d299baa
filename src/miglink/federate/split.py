"""Split one OMOP parquet folder into k site folders by person, to rehearse a network locally.

Every table with a ``person_id`` column is filtered to the site's persons (person_id mod k);
tables without one (the vocabulary, care sites) are copied whole, as every site has them.
"""

from __future__ import annotations

from pathlib import Path

from miglink.errors import MiglinkError
from miglink.io import atomic_dir


def split_cdm(
    folder: str | Path, k: int, out: str | Path, *, person_id_offset: int = 0
) -> list[Path]:
    """Write ``out/site1`` ... ``out/site{k}``; returns their paths.

    ``person_id_offset`` is added to every person_id, so a test can give sites identifiers that
    cannot be mistaken for counts when it scans their artefacts for person ids.
    """
    import duckdb

    src = Path(folder)
    files = sorted(src.glob("*.parquet"))
    if not files:
        raise MiglinkError(f"no parquet tables in {src}")
    if k < 2:
        raise MiglinkError(f"need at least 2 sites to split into, got {k}")
    con = duckdb.connect()
    try:
        has_person = {
            f: "person_id"
            in [
                r[0]
                for r in con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet('{f.as_posix()}')"
                ).fetchall()
            ]
            for f in files
        }
        sites = []
        for i in range(k):
            dest = Path(out) / f"site{i + 1}"
            with atomic_dir(dest) as tmp:
                for f in files:
                    where = f"WHERE person_id % {k} = {i}" if has_person[f] else ""
                    cols = "*"
                    if has_person[f] and person_id_offset:
                        cols = f"* REPLACE (person_id + {int(person_id_offset)} AS person_id)"
                    con.execute(
                        f"COPY (SELECT {cols} FROM read_parquet('{f.as_posix()}') {where}) "
                        f"TO '{(tmp / f.name).as_posix()}' (FORMAT PARQUET)"
                    )
            sites.append(dest)
    finally:
        con.close()
    return sites
