"""miglink: test the claimed links between migraine and autoimmune disease on health-record data.

The public API is small: :func:`run_study` runs the whole pre-specified study and returns the
results table; :func:`open_cdm` opens a data source; :func:`load_concept_sets` reads concept sets.
"""

from __future__ import annotations

__version__ = "0.1.0"

from miglink.errors import MiglinkError

__all__ = ["MiglinkError", "__version__", "open_cdm", "run_study", "load_concept_sets"]


def __getattr__(name: str):  # lazy: keep `import miglink` cheap
    if name == "open_cdm":
        from miglink.sources import open_cdm

        return open_cdm
    if name == "run_study":
        from miglink.study import run_study

        return run_study
    if name == "load_concept_sets":
        from miglink.concepts import load_concept_sets

        return load_concept_sets
    raise AttributeError(name)
