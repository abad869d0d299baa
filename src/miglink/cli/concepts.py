"""``miglink concepts``: persons and records per concept set, and how each set was resolved."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from miglink.cli.options import OneLineCommand, min_cell_option
from miglink.privacy import gate_frame


def register(app: typer.Typer) -> None:
    @app.command("concepts", cls=OneLineCommand)
    def concepts(
        data: str = typer.Option(..., "--data", help="OMOP CDM folder / .zip / .duckdb / URL."),
        as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
        min_cell: int = min_cell_option(),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
        concept_sets: list[Path] | None = typer.Option(
            None,
            "--concept-sets",
            help="Concept-set files (YAML or ATLAS JSON); default: the protocol's sets.",
        ),
        cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Cache for copies."),
    ) -> None:
        """Count persons and records per concept set (small counts suppressed)."""
        from miglink.concepts.coverage import set_warnings
        from miglink.concepts.load import load_concept_sets
        from miglink.concepts.match import set_counts
        from miglink.concepts.resolve import resolve_concept_sets
        from miglink.sources import open_cdm

        sets = load_concept_sets(concept_sets or None)
        cdm = open_cdm(data, engine, cache_dir=cache_dir)
        resolved = resolve_concept_sets(cdm, sets)
        raw = set_counts(cdm, sets, resolved)
        warnings = set_warnings(cdm, raw, resolved)
        frame = gate_frame(raw, min_cell)
        if as_json:
            payload = {
                "source": cdm.description,
                "engine": cdm.engine,
                "min_cell": min_cell,
                "concept_sets": frame.to_dict(orient="records"),
                "warnings": warnings,
            }
            typer.echo(json.dumps(payload, indent=2, default=str))
            return
        console = Console()
        console.print(f"[bold]{cdm.description}[/] ({cdm.engine}); counts below {min_cell} hidden")
        t = Table(show_edge=False)
        for col in ("set_id", "domain", "role", "paths", "n_persons", "n_records", "note"):
            t.add_column(col, justify="right" if col.startswith("n_") else "left")
        for row in frame.itertuples(index=False):
            t.add_row(
                row.set_id,
                row.domain,
                row.role,
                row.paths,
                "" if row.n_persons is None else str(row.n_persons),
                "" if row.n_records is None else str(row.n_records),
                row.note,
            )
        console.print(t)
        for w in warnings:
            typer.echo(f"warning: {w}")
