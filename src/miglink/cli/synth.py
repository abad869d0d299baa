"""``miglink synth``: write a synthetic OMOP CDM population with planted, declared truth."""

from __future__ import annotations

from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand


def register(app: typer.Typer) -> None:
    @app.command("synth", cls=OneLineCommand)
    def synth(
        persons: int = typer.Option(..., "--persons", help="Number of persons to generate."),
        seed: int = typer.Option(..., "--seed", help="Random seed (same seed, same files)."),
        out: Path = typer.Option(..., "--out", help="Output folder (replaced when complete)."),
        effects: Path | None = typer.Option(
            None, "--effects", help="Scenario YAML with planted effects (default: built-in)."
        ),
        fmt: str = typer.Option("parquet", "--format", help="parquet or duckdb."),
    ) -> None:
        """Generate OMOP CDM v5.4 tables, the vocabulary subset and truth.json."""
        from miglink.synth import generate

        truth = generate(persons, seed, out, scenario=effects, format=fmt)
        pop = truth.population
        typer.echo(
            f"wrote {pop['persons']:,} persons, {truth.tables['condition_occurrence']:,} condition "
            f"rows, {len(truth.hazard_pairs)} planted hazard pairs to {out} (truth: {out / 'truth.json'})"
        )
