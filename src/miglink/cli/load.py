"""``miglink load``: put an OMOP folder into a PostgreSQL schema with typed columns."""

from __future__ import annotations

import typer

from miglink.cli.options import OneLineCommand


def register(app: typer.Typer) -> None:
    @app.command("load", cls=OneLineCommand)
    def load(
        data: str = typer.Option(..., "--data", help="OMOP CDM folder / .zip / .duckdb file."),
        to: str = typer.Option(
            ...,
            "--to",
            help="postgresql://[user@]host[:port]/database (password: PGPASSWORD / ~/.pgpass).",
        ),
        schema: str | None = typer.Option(
            None, "--schema", help="Target schema (default: the URL's cdm_schema, else 'cdm')."
        ),
        replace: bool = typer.Option(
            False, "--replace", help="Overwrite tables that already hold rows."
        ),
    ) -> None:
        """Load an OMOP CDM folder into PostgreSQL (docs/postgres.md)."""
        from miglink.errors import MiglinkError
        from miglink.privacy import DEFAULT_MIN_CELL, gate_count
        from miglink.sources.describe import describe_source
        from miglink.sources.pg_load import load_folder
        from miglink.sources.postgres import is_postgres_url

        if not is_postgres_url(to):
            raise MiglinkError(f"--to must be a postgresql:// URL, got {describe_source(to)}")

        def say(name: str, n: int) -> None:
            typer.echo(f"loaded {name}: {gate_count(n, DEFAULT_MIN_CELL)} rows", err=True)

        counts = load_folder(data, to, schema, replace=replace, progress=say)
        typer.echo(f"loaded {len(counts)} tables into {describe_source(to)}")
