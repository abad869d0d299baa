"""Relative links from the report to the artefacts beside it in the run directory.

Only files that exist when the report is rendered are listed, so a link never points at nothing;
they are plain relative hrefs (a click navigates, nothing is fetched while the page loads, and
the Content-Security-Policy stays ``default-src 'none'``).
"""

from __future__ import annotations

from pathlib import Path

#: the artefacts a run or a pooling writes, with what each holds (docs/report.md)
ARTEFACTS = (
    ("results.csv", "results table (CSV)"),
    ("results.parquet", "results table (Parquet)"),
    ("results.json", "results table (JSON records)"),
    ("claims.json", "claims, hypotheses and verdicts"),
    ("calibration.json", "empirical nulls of the negative controls"),
    ("run.json", "versions, parameters, data quality, headline counts"),
    ("resultsDataModelSpecification.csv", "results specification (OHDSI shape)"),
    ("curves.parquet", "Kaplan–Meier curves"),
    ("prevalence.parquet", "age–sex prevalence"),
    ("attrition.parquet", "attrition"),
    ("d10_table1.parquet", "comparative cohorts: Table 1"),
    ("d10_balance.parquet", "comparative cohorts: covariate balance"),
    ("d10_preference.parquet", "comparative cohorts: preference score"),
    ("d10_diagnostics.parquet", "comparative cohorts: diagnostics"),
    ("mr_instruments.parquet", "Mendelian randomisation: instruments"),
    ("mr_leave_one_out.parquet", "Mendelian randomisation: leave-one-out"),
    ("site_results.json", "site file to share for pooling"),
    ("pooled.json", "pooled estimates per site and heterogeneity"),
    ("run.log", "run log"),
)


def artefact_links(run_dir: Path) -> list[dict[str, str]]:
    """``[{"href", "description"}]`` for the artefacts present in ``run_dir``."""
    run_dir = Path(run_dir)
    return [
        {"href": name, "description": what}
        for name, what in ARTEFACTS
        if (run_dir / name).is_file()
    ]
