"""``miglink check``: data-quality checks; exit code 2 when a fatal problem is found."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from miglink.cli.options import OneLineCommand, min_cell_option
from miglink.privacy import gate_count


def register(app: typer.Typer) -> None:
    @app.command("check", cls=OneLineCommand)
    def check(
        data: str = typer.Option(..., "--data", help="OMOP CDM folder / .zip / .duckdb / URL."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
        min_cell: int = min_cell_option(),
        cache_dir: Path | None = typer.Option(
            None, "--cache-dir", help="Where unzipped / converted copies are kept."
        ),
        concept_sets: list[Path] | None = typer.Option(
            None,
            "--concept-sets",
            help="Concept-set files (YAML or ATLAS JSON); default: the protocol's sets.",
        ),
    ) -> None:
        """Check an OMOP CDM for problems that would bias or break the study."""
        from miglink.sources import open_cdm
        from miglink.sources.checks import run_checks

        cdm = open_cdm(data, engine, cache_dir=cache_dir)
        report = run_checks(cdm)
        concept_warnings = [] if report.fatal else _concept_warnings(cdm, concept_sets)
        if as_json:
            payload = report.to_dict(min_cell) | {"concept_warnings": concept_warnings}
            typer.echo(json.dumps(payload, indent=2, default=str))
        else:
            _print(report, min_cell)
            for w in concept_warnings:
                typer.echo(f"warning: {w}")
        if report.fatal:
            for f in report.fatal:
                typer.echo(f"miglink: error: {f.text(min_cell)}", err=True)
            raise typer.Exit(2)


def _concept_warnings(cdm, paths: list[Path] | None) -> list[str]:
    """The vocabulary's and every concept set's coverage warnings (only zeros are named)."""
    from miglink.concepts.coverage import set_warnings
    from miglink.concepts.load import load_concept_sets
    from miglink.concepts.match import set_counts
    from miglink.concepts.resolve import resolve_concept_sets

    sets = load_concept_sets(paths or None)
    resolved = resolve_concept_sets(cdm, sets)
    return set_warnings(cdm, set_counts(cdm, sets, resolved), resolved)


def _print(report, min_cell: int) -> None:
    console = Console()
    console.print(f"[bold]{report.source}[/] ({report.engine})")
    tables = Table(title="tables", show_edge=False)
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, n in report.tables.items():
        tables.add_row(name, str(gate_count(n, min_cell)))
    console.print(tables)
    d = report.to_dict(min_cell)
    rows = d["fatal"] + d["warnings"]
    if not rows:
        console.print("[green]no problems found[/]")
        return
    t = Table(title="findings", show_edge=False)
    t.add_column("severity")
    t.add_column("check")
    t.add_column("where")
    t.add_column("rows", justify="right")
    t.add_column("share", justify="right")
    t.add_column("message", ratio=1)
    for f in rows:
        where = (f["table"] or "") + (f".{f['column']}" if f["column"] else "")
        share = "" if f["share"] is None else f"{f['share']:.1%}"
        t.add_row(
            f["severity"],
            f["check"],
            where,
            "" if f["n_rows"] is None else str(f["n_rows"]),
            share,
            f["message"],
            style="bold red" if f["severity"] == "fatal" else None,
        )
    console.print(t)
    n_fatal, n_warn = len(report.fatal), len(report.warnings)
    colour = "red" if n_fatal else "green"
    console.print(f"[{colour}]{n_fatal} fatal, {n_warn} warnings[/]")
