"""The one interface every design implements, and the values that cross it.

A design is a module with a ``NAME`` ("D1".."D9") and three functions:

``tasks(study) -> list[Task]``
    Pure: every estimate the study asks of the design (the hypotheses' key estimates, the
    secondary and sensitivity estimates around them, the negative controls).
``count(features, tasks) -> Counts``
    Engine side: small frames of sufficient statistics (2x2 tables per stratum, person-time per
    matched cell, interval counts). The only step that touches the data, the unit of the stage
    cache (a change in statistics re-estimates without touching the engine) and of the engine
    parity tests (DuckDB and Spark must produce the same counts).
``estimate(counts, tasks, settings) -> DesignResult``
    Pure pandas / numpy on the counts: result rows (each with its role, the key rows naming
    their hypotheses), curves, attrition and the negative-control groups to calibrate with.

No design reads another design's rows; shared estimators live in :mod:`miglink.designs.twobytwo`
and :mod:`miglink.designs.strata`. :mod:`miglink.designs.registry` lists the designs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from miglink.calibrate import ControlGroup

#: Row key (not a results column) naming the hypotheses a key row answers; the pipeline turns
#: it into the ``claim`` / ``hypothesis`` / ``verdict`` columns.
HYPOTHESES_KEY = "_hypotheses"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Task:
    """One estimate a study asks of a design.

    ``analysis`` is the results rows' analysis id. ``hypotheses`` names the hypotheses whose key
    estimate this task yields (empty for secondary, sensitivity and negative-control tasks; two
    when two hypotheses share one estimate). ``options`` holds design-specific, JSON-plain
    parameters (e.g. the D2 direction, the D8 phenome exclusions).
    """

    design: str
    analysis: str
    exposure: str
    outcome: str
    role: str = "secondary"
    hypotheses: tuple[str, ...] = ()
    contrast: str | None = None
    subgroup: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)


@dataclass
class Counts:
    """A design's sufficient statistics: named small frames and JSON-plain values.

    Written to the stage cache as Parquet / JSON (:mod:`miglink.cachefmt`), compared across
    engines by the parity tests; never person-level.
    """

    design: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def frame(self, name: str) -> pd.DataFrame:
        """The named frame (an empty frame when the design produced none)."""
        return self.frames.get(name, pd.DataFrame())


@dataclass
class DesignResult:
    """What a design's estimator returns: rows, curves, attrition and its calibration groups."""

    rows: list[dict] = field(default_factory=list)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    attrition: pd.DataFrame = field(default_factory=pd.DataFrame)
    controls: list[ControlGroup] = field(default_factory=list)
    #: further descriptive tables, name -> frame (D10's Table 1, balance ...); each is gated by
    #: its own rule in miglink.privacy before it leaves the program
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def key_row(row: dict, task: Task) -> dict:
    """Mark ``row`` as the key estimate of ``task``'s hypotheses (returns the row)."""
    if task.hypotheses:
        row[HYPOTHESES_KEY] = tuple(task.hypotheses)
    return row


def hypothesis_task(h: Any, **fields: Any) -> Task:
    """The task of hypothesis ``h``'s own key estimate: analysis id = the hypothesis id, its
    exposure, outcome, contrast and subgroup, the role its expectation implies (``fields`` add
    or override, e.g. ``options``)."""
    base = dict(
        role=hypothesis_role(h.expected),
        hypotheses=(h.id,),
        contrast=h.contrast,
        subgroup=h.subgroup,
    )
    return Task(h.design, h.id, h.exposure, h.outcome, **{**base, **fields})


def hypothesis_role(expected: str) -> str:
    """The role of a hypothesis's key row: descriptive hypotheses have descriptive rows."""
    return "descriptive" if expected == "descriptive" else "primary"
