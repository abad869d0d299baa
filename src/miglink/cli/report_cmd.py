"""``miglink report``: re-render report.html from a run (or pooled) directory's artefacts."""

from __future__ import annotations

from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand
from miglink.errors import MiglinkError


def register(app: typer.Typer) -> None:
    @app.command("report", cls=OneLineCommand)
    def report_cmd(
        run: Path = typer.Option(..., "--run", help="A run or pooled output directory."),
        out: Path | None = typer.Option(
            None, "--out", help="Where to write (default RUN/report.html)."
        ),
    ) -> None:
        """Render the self-contained HTML report from a run directory (no data access)."""
        from miglink.outdir import check_report_target
        from miglink.report import render_report

        if not run.is_dir():
            raise MiglinkError(f"run directory not found: {run}")
        check_report_target(out if out is not None else run / "report.html")
        path = render_report(run, out)
        typer.echo(f"report: {path}")
