"""Synthetic OMOP CDM population with planted, declared truth (docs/synthetic-data.md)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from miglink.errors import MiglinkError
from miglink.io import atomic_dir, write_json
from miglink.synth import vocab as vocab_mod
from miglink.synth.indication import extend_vocab
from miglink.synth.model import ChunkSimulator, Stats
from miglink.synth.scenario import Scenario, load_scenario
from miglink.synth.truth import Truth, build_truth
from miglink.synth.writer import CDM_TABLES, VOCAB_TABLES, ChunkTables, ParquetSink

#: Persons per chunk: fixed, so that output depends only on (persons, seed, scenario).
CHUNK = 200_000

__all__ = ["CHUNK", "Scenario", "Truth", "generate", "load_scenario"]


def generate(
    persons: int,
    seed: int,
    out: str | Path,
    scenario: str | Path | dict | None = None,
    format: str = "parquet",
) -> Truth:
    """Write a synthetic OMOP CDM v5.4 population to ``out`` and return its truth.

    ``scenario`` is a YAML path or dict (``None``: the built-in default). ``format`` is
    ``parquet`` (one ``<table>.parquet`` per table) or ``duckdb`` (``out/cdm.duckdb``). The
    directory is built beside ``out`` and renamed into place when complete.
    """
    if not isinstance(persons, int) or persons < 1:
        raise MiglinkError(f"--persons must be a positive integer, got {persons!r}")
    if not isinstance(seed, int) or seed < 0:
        raise MiglinkError(f"--seed must be a non-negative integer, got {seed!r}")
    if format not in ("parquet", "duckdb"):
        raise MiglinkError(f"--format must be 'parquet' or 'duckdb', got {format!r}")
    scen = load_scenario(scenario)
    voc = vocab_mod.build()
    if scen.confounding_by_indication is not None:
        voc = extend_vocab(voc)  # its baseline conditions and glatiramer; the default keeps its own
    sim = ChunkSimulator(scen, voc)
    builder = ChunkTables(sim)
    stats = Stats()
    with atomic_dir(out, kind="synth", marker=False) as tmp:  # recognised by truth.json
        sink = ParquetSink(tmp)
        try:
            for name, table in vocab_mod.tables(voc).items():
                sink.write(name, table)

            def write_chunk(cols: dict, pid0: int) -> None:
                for name, table in builder.build(cols, pid0).items():
                    sink.write(name, table)

            # one writer thread: chunk i is encoded and written while chunk i+1 is simulated
            # (pyarrow and most numpy work release the GIL); order is kept by waiting.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = None
                for ci, pid0 in enumerate(range(0, persons, CHUNK)):
                    n = min(CHUNK, persons - pid0)
                    rng = np.random.default_rng(np.random.SeedSequence([seed, ci]))
                    cols, st, _ = sim.run(rng, n)
                    for k, v in st.arrays.items():
                        stats.add(k, v)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(write_chunk, cols, pid0 + 1)
                    del cols
                if pending is not None:
                    pending.result()
        finally:
            sink.close()
        truth = build_truth(seed, persons, scen, stats, voc)
        truth.tables = {t: sink.rows.get(t, 0) for t in CDM_TABLES + VOCAB_TABLES}
        if format == "duckdb":
            _to_duckdb(tmp)
        off = {"confounding_by_indication"} if truth.confounding_by_indication is None else None
        write_json(tmp / "truth.json", truth.model_dump(mode="json", exclude=off))
    return truth


def _to_duckdb(folder: Path) -> None:
    """Load the parquet files into ``cdm.duckdb`` (same tables, same columns) and drop them."""
    import duckdb

    con = duckdb.connect(str(folder / "cdm.duckdb"))
    try:
        for t in CDM_TABLES + VOCAB_TABLES:
            f = folder / f"{t}.parquet"
            con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{f.as_posix()}')")
    finally:
        con.close()
    for t in CDM_TABLES + VOCAB_TABLES:
        (folder / f"{t}.parquet").unlink()
    shutil.rmtree(folder / ".tmp", ignore_errors=True)
