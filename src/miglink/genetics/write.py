"""Writing one MR analysis to a folder: the results table (csv and json), the instruments'
harmonised associations (for scatter and funnel plots) and the leave-one-out table.

Every number here is a GWAS summary statistic or a function of them: aggregates over whole GWAS
samples, with no person-level value and no small count, so no cell is withheld.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from miglink import __version__
from miglink.genetics.analysis import MRResult, MRSettings
from miglink.io import atomic_dir, write_csv, write_json

FILES = ("mr_results.csv", "mr_results.json", "mr_instruments.csv", "mr_leave_one_out.csv")


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def summary(result: MRResult, settings: MRSettings, inputs: dict) -> dict:
    """The json document: inputs, settings, the counts of each step, estimates, diagnostics."""
    return _clean(
        {
            "miglink_version": __version__,
            "inputs": inputs,
            "settings": asdict(settings),
            "selection": asdict(result.selection),
            "harmonisation": result.harmonisation.as_dict(),
            "estimates": result.table.to_dict(orient="records"),
            "diagnostics": result.diagnostics,
            "steiger": result.steiger.as_dict() if result.steiger else None,
        }
    )


def write_mr(result: MRResult, out: str | Path, settings: MRSettings, inputs: dict) -> Path:
    """Write the analysis into ``out`` (created, or a previous miglink output replaced)."""
    with atomic_dir(out, kind="mr") as tmp:
        write_csv(tmp / "mr_results.csv", result.table)
        write_json(tmp / "mr_results.json", summary(result, settings, inputs))
        write_csv(tmp / "mr_instruments.csv", result.variants)
        write_csv(tmp / "mr_leave_one_out.csv", result.leave_one_out)
    return Path(out)
