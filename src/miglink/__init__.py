"""miglink: test the claimed links between migraine and autoimmune disease on health-record data.

The public API is small: :func:`run_study` runs the whole pre-specified study and returns a
:class:`~miglink.result.StudyResult` (its gated tables, ``summary()``, a notebook display);
:func:`load_result` opens a written run directory as the same object; :mod:`miglink.plots` draws
forest, Kaplan-Meier and calibration figures from it; :func:`open_cdm` opens a data source;
:func:`load_concept_sets` reads concept sets (docs/api.md).
"""

from __future__ import annotations

import os as _os

# Multi-threaded BLAS on the small matrices miglink fits (grouped counts) is up to 80x slower on
# small shared machines than one thread (measured: 0.14 s vs 0.002 s per 1400x28 least squares).
# Engines (DuckDB, Spark) do the parallel work; estimators run single-threaded.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_v, "1")
try:  # numpy may already be loaded (e.g. imported before miglink): limit its pools at run time
    from threadpoolctl import threadpool_limits as _limits

    _limits(1, user_api="blas")
except Exception:  # noqa: BLE001 - an optimisation only
    pass

__version__ = "0.1.0"

# ibis 12.0 calls a DuckDB method that duckdb 2.0 removed; restore it before any backend is used.
import miglink.sources._compat  # noqa: E402,F401
from miglink.errors import MiglinkError  # noqa: E402

__all__ = [
    "MiglinkError",
    "StudyResult",
    "__version__",
    "load_concept_sets",
    "load_result",
    "open_cdm",
    "run_study",
]


def __getattr__(name: str):  # lazy: keep `import miglink` cheap
    if name == "open_cdm":
        from miglink.sources import open_cdm

        return open_cdm
    if name == "run_study":
        from miglink.study import run_study

        return run_study
    if name in ("StudyResult", "load_result"):
        from miglink import result

        return getattr(result, name)
    if name == "load_concept_sets":
        from miglink.concepts import load_concept_sets

        return load_concept_sets
    raise AttributeError(name)
