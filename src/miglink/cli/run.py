"""``miglink run``: the whole study, with progress per stage and a verdict summary."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from miglink.errors import MiglinkError

STAGES = (
    "check",
    "features",
    "D1 prevalence",
    "D2 cohorts",
    "calibration",
    "D3/D8/D9",
    "D8 phenome",
    "verdicts",
)
VERDICT_STYLE = {
    "supported": "bold green",
    "contradicted": "bold red",
    "no evidence": "yellow",
    "inconclusive": "magenta",
    "not analysed": "dim",
}


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        data: str = typer.Option(
            ..., "--data", help="OMOP CDM folder / DuckDB file / FHIR / MEDS folder."
        ),
        out: Path = typer.Option(..., "--out", help="Output directory (written atomically)."),
        study: Path | None = typer.Option(
            None, "--study", help="Study file (YAML); default: the protocol."
        ),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
        min_cell: int = typer.Option(
            5, "--min-cell", help="Minimum cell count shown in any artefact."
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress or summary."),
        as_json: bool = typer.Option(False, "--json", help="Print the claim verdicts as JSON."),
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    ) -> None:
        """Run the whole study and write results, claims, report."""
        from miglink.study import run_study

        if engine not in ("duckdb", "spark"):
            raise MiglinkError(f"unknown engine {engine!r}: choose 'duckdb' or 'spark'")
        if study is not None and not study.exists():
            raise MiglinkError(f"study file not found: {study}")
        console = Console(stderr=True, quiet=quiet or as_json)
        t0 = time.perf_counter()
        last = [t0]

        def progress(stage: str) -> None:
            now = time.perf_counter()
            console.log(
                f"[bold]{stage}[/] done in {now - last[0]:.1f} s (elapsed {now - t0:.1f} s)"
            )
            last[0] = now

        with console.status("running the study…"):
            run_study(
                data,
                out,
                study=study,
                engine=engine,
                min_cell=min_cell,
                progress=progress,
                report=not no_report,
            )
        claims = json.loads((out / "claims.json").read_text())["claims"]
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "out": str(out),
                        "claims": [
                            {"id": c["id"], "title": c["title"], "verdict": c["verdict"]}
                            for c in claims
                        ],
                    },
                    indent=2,
                )
            )
            return
        if quiet:
            return
        t = Table(title="miglink: verdict per claim", show_lines=False)
        t.add_column("#", justify="right")
        t.add_column("claim")
        t.add_column("verdict")
        t.add_column("evidence", overflow="fold")
        for c in claims:
            t.add_row(
                str(c["id"]),
                c["title"],
                f"[{VERDICT_STYLE.get(c['verdict'], '')}]{c['verdict']}[/]",
                c["summary"][:240],
            )
        Console().print(t)
        report = out / "report.html"
        Console().print(f"results: {out / 'results.csv'}")
        if report.exists():
            Console().print(f"report: {report}")
