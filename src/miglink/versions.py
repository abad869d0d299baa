"""Software versions recorded in a run's manifest and in a site file, so a result can be traced
to the code and libraries that produced it. Its own module so both writers import it one way."""

from __future__ import annotations

import platform
from importlib import metadata

from miglink import __version__

VERSION_PACKAGES = (
    "ibis-framework",
    "duckdb",
    "pyspark",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "lifelines",
    "empyricalcalibration",
    "pydantic",
    "pyarrow",
)


def versions() -> dict[str, str]:
    """Python, miglink and each package in VERSION_PACKAGES ("not installed" when absent)."""
    out = {"python": platform.python_version(), "miglink": __version__}
    for p in VERSION_PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out
