"""``miglink run``: the whole study, with progress per stage and a verdict summary."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from miglink.cli.options import OneLineCommand, min_cell_option


def _stages() -> tuple[str, ...]:
    """The progress stages of a run (study.execute): one per design in the registry (imported
    here, not at module level: ``miglink --help`` and user errors need no estimator)."""
    from miglink.designs.registry import DESIGNS

    designs = tuple(f"{code} estimated" for code in DESIGNS)
    return ("check", "features", *designs, "MR estimated", "calibration", "verdicts")


VERDICT_STYLE = {
    "supported": "bold green",
    "contradicted": "bold red",
    "no evidence": "yellow",
    "inconclusive": "magenta",
    "not analysed": "dim",
}


def register(app: typer.Typer) -> None:
    @app.command("run", cls=OneLineCommand)
    def run_cmd(
        data: str = typer.Option(
            ..., "--data", help="OMOP CDM folder / DuckDB file / FHIR / MEDS folder."
        ),
        out: Path = typer.Option(..., "--out", help="Output directory (written atomically)."),
        study: Path | None = typer.Option(
            None, "--study", help="Study file (YAML); default: the protocol."
        ),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
        min_cell: int = min_cell_option(),
        quiet: bool = typer.Option(False, "--quiet", help="No progress or summary."),
        as_json: bool = typer.Option(False, "--json", help="Print the claim verdicts as JSON."),
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
        database_id: str | None = typer.Option(
            None,
            "--database-id",
            help="database_id on every results row (default: the data folder's name).",
        ),
        no_resume: bool = typer.Option(
            False,
            "--no-resume",
            help="Recompute every stage (ignore finished stages kept from an interrupted run).",
        ),
        sumstats: list[str] = typer.Option(
            [],
            "--sumstats",
            help="GWAS summary statistics of a trait for the MR hypotheses: ID=PATH "
            "(repeatable; adds to the study's genetics map).",
        ),
        concept_sets: list[Path] = typer.Option(
            [],
            "--concept-sets",
            help="Concept-set files (YAML or ATLAS JSON) added to the study's own: "
            "--concept-sets A.yaml B.json (one flag, several files; may repeat).",
        ),
    ) -> None:
        """Run the whole study and write results, claims, report."""
        # engine, study file and min-cell are validated by run_study (one place for every caller)
        console = Console(stderr=True, quiet=quiet or as_json)
        _run_with_progress(
            console,
            # the bar is for people: off when quiet, machine output, or stderr is not a terminal
            quiet or as_json or not console.is_terminal,
            data,
            out,
            study=study,
            engine=engine,
            min_cell=min_cell,
            report=not no_report,
            resume=not no_resume,
            database_id=database_id,
            sumstats=parse_sumstats(sumstats),
            concept_sets=list(concept_sets) or None,
        )
        claims = json.loads((out / "claims.json").read_text())["claims"]
        if as_json:
            _print_json(out, claims)
        elif not quiet:
            _print_summary(out, claims)


def parse_sumstats(items: list[str]) -> dict[str, str]:
    """``--sumstats ID=PATH`` options as {trait id: path} (a malformed one is a one-line error)."""
    from miglink.errors import MiglinkError

    out = {}
    for item in items:
        trait, sep, path = item.partition("=")
        if not sep or not trait.strip() or not path.strip():
            raise MiglinkError(f"--sumstats {item!r}: expected ID=PATH, e.g. migraine=gwas.tsv.gz")
        out[trait.strip()] = path.strip()
    return out


def _run_with_progress(console: Console, disable: bool, data: str, out: Path, **kwargs) -> None:
    """run_study with a progress bar that logs each stage's time."""
    from miglink.study import run_study

    t0 = time.perf_counter()
    last = [t0]
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=disable,
    ) as bar:
        task = bar.add_task("opening the data", total=len(_stages()) + 1)

        def progress(stage: str) -> None:
            now = time.perf_counter()
            bar.console.log(f"{stage}: {now - last[0]:.1f} s")
            last[0] = now
            bar.update(task, advance=1, description=f"{stage} done")

        run_study(data, out, progress=progress, **kwargs)
        bar.update(task, completed=len(_stages()) + 1, description="artefacts written")


def _print_json(out: Path, claims: list[dict]) -> None:
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "claims": [
                    {"id": c["id"], "title": c["title"], "verdict": c["verdict"]} for c in claims
                ],
            },
            indent=2,
        )
    )


def _print_summary(out: Path, claims: list[dict]) -> None:
    """The verdict per claim with its hypotheses' tally, and where the artefacts are."""
    t = Table(title="miglink: verdict per claim", show_lines=False)
    t.add_column("#", justify="right")
    t.add_column("claim")
    t.add_column("verdict")
    t.add_column("hypotheses")
    for c in claims:
        votes: dict[str, int] = {}
        for h in c["hypotheses"]:
            v = h["verdict"] or "descriptive"
            votes[v] = votes.get(v, 0) + 1
        tally = ", ".join(f"{n} {v}" for v, n in votes.items())
        style = VERDICT_STYLE.get(c["verdict"], "")
        t.add_row(str(c["id"]), c["title"], f"[{style}]{c['verdict']}[/]", tally)
    Console().print(t)
    report = out / "report.html"
    Console().print(f"results: {out / 'results.csv'}")
    if report.exists():
        Console().print(f"report: {report}")
