"""``miglink pool``: pool site result files, or a table of published estimates."""

from __future__ import annotations

from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand
from miglink.errors import MiglinkError


def register(app: typer.Typer) -> None:
    @app.command("pool", cls=OneLineCommand)
    def pool_cmd(
        sites: list[Path] = typer.Argument(
            None, help="site_results.json files (or run directories holding one)."
        ),
        out: Path = typer.Option(..., "--out", help="Output directory (written atomically)."),
        table: Path | None = typer.Option(
            None, "--table", help="CSV of estimates or 2x2 counts to pool instead."
        ),
        measure: str | None = typer.Option(None, "--measure", help="With --table: OR, RR or HR."),
        method: str = typer.Option(
            "REML", "--method", help="Random-effects tau² estimator: REML, DL, PM, or FE."
        ),
        hksj: bool = typer.Option(
            False, "--hksj", help="Hartung-Knapp-Sidik-Jonkman CI (t on k-1 df)."
        ),
        study: Path | None = typer.Option(
            None, "--study", help="Study file to check against the sites' hash."
        ),
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
    ) -> None:
        """Pool sites' aggregate results (or a published-estimates table) by meta-analysis."""
        from miglink.outdir import check_out

        method = method.upper()
        for source in [
            table,
            *(sites or []),
        ]:  # before pooling: never over a user's folder or an input
            check_out(out, source, source="a pooled")
        if table is not None:
            if sites:
                raise MiglinkError("give either site files or --table, not both")
            if measure is None:
                raise MiglinkError("--table needs --measure OR, RR or HR")
            from miglink.federate.table import pool_table
            from miglink.outdir import write_marker

            s = pool_table(table, measure, out, method=method, hksj=hksj)
            write_marker(out, "pool")  # a later --out here is recognised as miglink's
            ci = f"{s['ci_low']:.3g}-{s['ci_high']:.3g}"
            typer.echo(
                f"pooled {s['measure']} {s['estimate']:.3g} (95% CI {ci}), k={s['k']}, tau2={s['tau2']:.3g}, "
                f"I2={s['i2']:.1f}% [{s['method']}]"
                if s["i2"] is not None
                else f"pooled {s['measure']} {s['estimate']:.3g} (95% CI {ci}), k={s['k']} [{s['method']}]"
            )
            typer.echo(f"wrote {out / 'pooled.json'} and {out / 'forest.svg'}")
            return
        if measure is not None:
            raise MiglinkError("--measure applies to --table only")
        if not sites:
            raise MiglinkError(
                "give site_results.json files to pool, or --table FILE.csv --measure OR|RR|HR"
            )
        from miglink.federate.pool import pool_sites

        pool_sites(list(sites), out, method=method, hksj=hksj, study=study, report=not no_report)
        import json

        claims = json.loads((out / "claims.json").read_text(encoding="utf-8"))["claims"]
        typer.echo(f"pooled {len(sites)} sites into {out}")
        for c in claims:
            typer.echo(f"  claim {c['id']}: {c['title']}: {c['verdict']}")
