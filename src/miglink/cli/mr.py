"""``miglink mr``: two-sample Mendelian randomisation from two GWAS summary-statistic files."""

from __future__ import annotations

from pathlib import Path

import typer

from miglink.cli.options import OneLineCommand


def register(app: typer.Typer) -> None:
    @app.command("mr", cls=OneLineCommand)
    def mr(
        exposure: Path = typer.Option(..., "--exposure", help="Exposure GWAS summary statistics."),
        outcome: Path = typer.Option(..., "--outcome", help="Outcome GWAS summary statistics."),
        out: Path = typer.Option(Path("mr_out"), "--out", help="Output folder."),
        p_threshold: float = typer.Option(
            5e-8, "--p-threshold", help="Instrument p-value threshold."
        ),
        window_kb: float = typer.Option(10_000, "--window-kb", help="Clumping window (kb)."),
        ld: Path | None = typer.Option(None, "--ld", help="LD reference: r2 pairs or matrix."),
        r2: float = typer.Option(0.001, "--r2", help="Clumping r2 threshold (with --ld)."),
        exposure_columns: Path | None = typer.Option(
            None, "--exposure-columns", help="YAML mapping miglink's column names to the file's."
        ),
        outcome_columns: Path | None = typer.Option(
            None, "--outcome-columns", help="YAML mapping for the outcome file."
        ),
        maf_tolerance: float = typer.Option(
            0.08, "--maf-tolerance", help="Palindromes with MAF within this of 0.5 are dropped."
        ),
        iterations: int = typer.Option(
            10_000, "--bootstrap", help="Bootstrap draws (median, mode)."
        ),
        seed: int = typer.Option(314159265, "--seed", help="Bootstrap seed."),
    ) -> None:
        """Select instruments, harmonise, and write every MR estimator's results."""
        from miglink.errors import MiglinkError
        from miglink.genetics.analysis import MRSettings, run_mr
        from miglink.genetics.instruments import read_ld_reference
        from miglink.genetics.sumstats import read_sumstats
        from miglink.genetics.write import write_mr

        if not 0 < p_threshold <= 1:
            raise MiglinkError(f"--p-threshold must lie in (0, 1], got {p_threshold:g}")
        if not 0 <= maf_tolerance < 0.5 or window_kb < 0 or not 0 <= r2 <= 1 or iterations < 10:
            raise MiglinkError(
                "--maf-tolerance must lie in [0, 0.5), --window-kb be >= 0, --r2 in [0, 1] "
                "and --bootstrap >= 10"
            )
        settings = MRSettings(p_threshold=p_threshold, window_kb=window_kb, r2=r2,
                              maf_tolerance=maf_tolerance, iterations=iterations, seed=seed)  # fmt: skip
        # only what the analysis uses is checked: the exposure's significant rows, and the
        # outcome's rows for those variants
        x = read_sumstats(exposure, exposure_columns, max_p=p_threshold)
        y = read_sumstats(outcome, outcome_columns, rsids=set(x["rsid"]))
        result = run_mr(x, y, settings, read_ld_reference(ld) if ld else None)
        inputs = {
            "exposure": str(exposure), "outcome": str(outcome), "ld": str(ld) if ld else None,
            "exposure_rows_read": x.attrs["rows_read"],
            "outcome_rows_read": y.attrs["rows_read"],
            "exposure_rows_missing_required": x.attrs["rows_missing_required"],
            "outcome_rows_missing_required": y.attrs["rows_missing_required"],
            "exposure_rows_repeated_rsid": x.attrs["rows_repeated_rsid"],
            "outcome_rows_repeated_rsid": y.attrs["rows_repeated_rsid"],
        }  # fmt: skip
        write_mr(result, out, settings, inputs)
        key = result.table.iloc[0]
        typer.echo(
            f"{result.selection.instruments} instrument(s), {result.harmonisation.kept} harmonised; "
            f"{key['method']}: {key['estimate']:.4g} ({key['ci_lower']:.4g} to {key['ci_upper']:.4g}); "
            f"wrote {out / 'mr_results.csv'}"
        )
