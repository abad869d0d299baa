"""``miglink demo``: the synthetic population, the whole study and its report in one command
(what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand


def register(app: typer.Typer) -> None:
    @app.command("demo", cls=OneLineCommand)
    def demo(
        out: Path = typer.Option(Path("demo-output"), "--out", help="Output folder."),
        persons: int = typer.Option(100_000, "--persons", help="Synthetic persons."),
        seed: int = typer.Option(42, "--seed", help="Seed of the synthetic population."),
        study: Path | None = typer.Option(
            None, "--study", help="Study file (YAML); default: the protocol."
        ),
    ) -> None:
        """Build the embedded synthetic dataset, run the whole study, write the report."""
        from miglink.demo import run_demo

        where = run_demo(out, persons, seed, echo=lambda m: typer.echo(m, err=True), study=study)
        typer.echo(f"report: {where}" if where.suffix == ".html" else f"results: {where}")
