"""What :func:`miglink.run_study` returns: a run's tables as they may leave the program.

A :class:`StudyResult` holds the tables of the artefacts, gated by the same functions the run
directory is written with (:func:`miglink.privacy.tables.gated_tables`, ``gate_claims``,
``gate_calibration``, then the file encoding of :mod:`miglink.privacy.spec` and back), so a notebook
shows exactly what ``results.parquet`` and the report would: no count below the minimum cell size,
nothing from which one can be recovered. :func:`load_result` reads a written run directory into the
same object, so any run can be opened later.

The ungated tables exist only in the process that ran the study, and only when the caller asked
for them: ``run_study(..., trusted=True)`` keeps them and ``result.ungated("results")`` returns
them. Without ``trusted=True`` they are dropped before ``run_study`` returns (docs/api.md).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from miglink.errors import MiglinkError
from miglink.privacy import gate_calibration, gate_claims
from miglink.privacy.spec import decode_table, encode_table
from miglink.privacy.tables import gated_tables
from miglink.report.render import tally_text
from miglink.schema import columns_typed

__all__ = ["StudyResult", "key_estimate_text", "load_result"]

#: the tables every run has (the designs' further tables are in ``StudyResult.tables``)
MAIN_TABLES = ("results", "curves", "prevalence", "attrition")
#: results columns read as numbers whatever the file (counts stay: they may hold "<5")
FLOAT_COLUMNS = columns_typed("float")


@dataclass(eq=False)
class StudyResult:
    """A run's gated tables: results, claims, curves, calibration, attrition, prevalence.

    Every table is in the form the report reads from the run directory: a suppressed count is
    the label ``"<min_cell>"`` (``"withheld"`` for a secondary suppression), ``database_id`` is on
    every row. ``out`` is the run directory when one was written (or loaded).
    """

    results: pd.DataFrame
    claims: list[dict[str, Any]]
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    prevalence: pd.DataFrame = field(default_factory=pd.DataFrame)
    attrition: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the designs' further gated tables (d10_table1, mr_instruments ...), only non-empty ones
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    min_cell: int = 5
    database_id: str = "unknown"
    out: Path | None = None
    study_name: str = ""
    #: the intervals' level (study settings), for the labels of summary() and the plots
    alpha: float = 0.05
    _ungated: Any = field(default=None, repr=False)

    # --- the explicit opt-in ------------------------------------------------------------
    @property
    def trusted(self) -> bool:
        """True when the ungated tables were kept (``run_study(..., trusted=True)``)."""
        return self._ungated is not None

    def ungated(self, table: str = "results") -> pd.DataFrame:
        """An UNGATED table (counts below the minimum cell size included): only for a trusted
        notebook on the machine that may see the data, never for sharing. Needs
        ``run_study(..., trusted=True)``; a loaded run directory has only gated tables."""
        if self._ungated is None:
            raise MiglinkError(
                "this result holds gated tables only; run miglink.run_study(..., trusted=True) "
                "in a trusted session to keep the ungated tables (docs/api.md)"
            )
        run = self._ungated
        if table in MAIN_TABLES:
            return getattr(run, table)
        if table in (run.tables or {}):
            return run.tables[table]
        raise MiglinkError(f"no table {table!r}: choose one of {', '.join(self.table_names())}")

    def table_names(self) -> list[str]:
        return [*MAIN_TABLES, *self.tables]

    # --- reading ------------------------------------------------------------------------
    @property
    def level(self) -> int:
        """The intervals' confidence level in percent (95 for alpha 0.05)."""
        return round(100 * (1 - self.alpha))

    def hypotheses(self) -> pd.DataFrame:
        """One row per hypothesis: claim, design, verdict and its key estimate (calibrated where
        the design calibrates it), from the gated results."""
        rows = []
        for c in self.claims:
            for h in c.get("hypotheses", []):
                row = self.key_row(h)
                rows.append(
                    {
                        "claim": c.get("id"),
                        "hypothesis": h.get("id"),
                        "design": h.get("design"),
                        "role": h.get("role"),
                        "verdict": h.get("verdict") or "descriptive",
                        "key_estimate": key_estimate_text(row, self.level),
                        "note": _note(row),
                    }
                )
        cols = ["claim", "hypothesis", "design", "role", "verdict", "key_estimate", "note"]
        return pd.DataFrame(rows, columns=cols)

    def key_row(self, hypothesis: dict) -> pd.Series | None:
        """The gated results row that decides ``hypothesis`` (None when it has none)."""
        res, analysis = self.results, hypothesis.get("analysis")
        if not analysis or res.empty or "hypothesis" not in res:
            return None
        rows = res[(res["analysis"] == analysis) & (res["hypothesis"] == hypothesis.get("id"))]
        return rows.iloc[0] if len(rows) else None

    def summary(self) -> pd.DataFrame:
        """One line per claim: its verdict, k of n voting hypotheses carrying it, and each
        hypothesis's key estimate with its (calibrated, where calibrated) interval."""
        hyps = self.hypotheses()
        rows = []
        for c in self.claims:
            mine = hyps[hyps["claim"] == c.get("id")]
            est = [f"{r.hypothesis}: {r.key_estimate}" for r in mine.itertuples() if r.key_estimate]
            rows.append(
                {
                    "claim": c.get("id"),
                    "title": c.get("title", ""),
                    "verdict": c.get("verdict", ""),
                    "k_of_n": tally_text(c),
                    "key_estimates": "; ".join(est),
                }
            )
        return pd.DataFrame(rows, columns=["claim", "title", "verdict", "k_of_n", "key_estimates"])

    def equals(self, other: StudyResult) -> bool:
        """Same gated tables, claims, calibration and parameters (dtypes aside: a file stores
        an all-empty column as it can)."""
        if not isinstance(other, StudyResult):
            return False
        same = (self.min_cell, self.database_id, self.alpha) == (
            other.min_cell,
            other.database_id,
            other.alpha,
        )
        same = same and _json(self.claims) == _json(other.claims)
        same = same and _json(self.calibration) == _json(other.calibration)
        same = same and set(self.tables) == set(other.tables)
        names = [*MAIN_TABLES, *self.tables]
        return same and all(_frames_equal(self._table(n), other._table(n)) for n in names)

    def _table(self, name: str) -> pd.DataFrame:
        return getattr(self, name) if name in MAIN_TABLES else self.tables[name]

    # --- display ------------------------------------------------------------------------
    def __repr__(self) -> str:
        verdicts = ", ".join(f"{c.get('id')}: {c.get('verdict')}" for c in self.claims)
        where = f", out={str(self.out)!r}" if self.out is not None else ""
        gate = "UNGATED tables kept (trusted)" if self.trusted else "gated"
        return (
            f"StudyResult({self.study_name!r}, database_id={self.database_id!r}, "
            f"min_cell={self.min_cell}, {len(self.claims)} claim(s) [{verdicts}], "
            f"{len(self.results)} result rows, {gate}{where})"
        )

    def _repr_html_(self) -> str:
        """A compact notebook view: the claims and every hypothesis's key estimate, escaped."""
        claims = self.summary()[["claim", "title", "verdict", "k_of_n"]]
        hyps = self.hypotheses()[["claim", "hypothesis", "design", "verdict", "key_estimate"]]
        head = (
            f"<p><b>miglink</b> {_esc(self.study_name)} &middot; database "
            f"<code>{_esc(self.database_id)}</code> &middot; min cell {self.min_cell} &middot; "
            f"{'<b>UNGATED tables kept</b>' if self.trusted else 'gated'}</p>"
        )
        return f"<div class='miglink-result'>{head}{_html_table(claims)}{_html_table(hyps)}</div>"

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_run(
        cls,
        run,
        *,
        min_cell: int,
        database_id: str,
        out: str | Path | None = None,
        study_name: str = "",
        alpha: float = 0.05,
        trusted: bool = False,
    ) -> StudyResult:
        """The gated tables of a :class:`miglink.study.StudyRun`, through the gate and the file
        encoding the run directory is written with (miglink.outputs.write_run)."""
        gated = gated_tables(run, min_cell)
        files = {k: decode_table(encode_table(v, k, database_id), k) for k, v in gated.items()}
        results = _numeric(files["results"])
        calibration = json.loads(_json(gate_calibration(run.calibration, gated["results"])))
        return cls(
            results=results,
            claims=gate_claims(run.claims, results),
            curves=files["curves"],
            prevalence=files["prevalence"],
            attrition=files["attrition"],
            calibration=calibration,
            tables={k: v for k, v in files.items() if k not in MAIN_TABLES and not v.empty},
            min_cell=min_cell,
            database_id=database_id,
            out=Path(out) if out is not None else None,
            study_name=study_name,
            alpha=alpha,
            _ungated=run if trusted else None,
        )


def load_result(out_dir: str | Path) -> StudyResult:
    """A written run directory (``miglink run --out DIR`` or ``run_study(data, DIR)``) as a
    :class:`StudyResult`: the report's reader (miglink.report.artefacts.load_run), which
    decodes the files back to the gate's labels and gates once more (a no-op)."""
    from miglink.report.artefacts import load_run

    a = load_run(out_dir)
    params = a.run.get("parameters") or {}
    settings = params.get("settings") or {}
    return StudyResult(
        results=_numeric(a.results),
        claims=a.claims,
        curves=a.curves,
        prevalence=a.prevalence,
        attrition=a.attrition,
        calibration=a.calibration,
        tables={k: v for k, v in a.tables.items() if not v.empty},
        min_cell=a.min_cell,
        database_id=str(params.get("database_id") or "unknown"),
        out=Path(out_dir),
        study_name=str((a.run.get("study") or {}).get("name") or ""),
        alpha=float(settings.get("alpha") or 0.05),
    )


def key_estimate_text(row: pd.Series | None, level: int = 95) -> str:
    """'OR 1.35 (calibrated 95% CI 1.09-1.67)' from a gated row; the raw estimate with its own
    interval where the row is not calibrated; '' where nothing is published. A calibrated
    interval is never printed beside a raw estimate (issue 18)."""
    if row is None or not _finite(row.get("estimate")):
        return ""
    m = row.get("measure") or ""
    if _finite(row.get("cal_estimate")) and _finite(row.get("cal_ci_low")):
        lo, hi = float(row["cal_ci_low"]), float(row["cal_ci_high"])
        return f"{m} {float(row['cal_estimate']):.2f} (calibrated {level}% CI {lo:.2f}-{hi:.2f})"
    est = float(row["estimate"])
    if _finite(row.get("ci_low")) and _finite(row.get("ci_high")):
        lo, hi = float(row["ci_low"]), float(row["ci_high"])
        return f"{m} {est:.2f} ({level}% CI {lo:.2f}-{hi:.2f}, not calibrated)"
    return f"{m} {est:.2f}"


def _note(row: pd.Series | None) -> str:
    """Why a key row has no estimate (its gated note or not-analysed reason), else ''."""
    if row is None:
        return "no results row"
    parts = [row.get("not_analysed_reason"), row.get("note")]
    return "; ".join(str(p) for p in parts if isinstance(p, str) and p)


def _numeric(results: pd.DataFrame) -> pd.DataFrame:
    out = results.copy()
    for col in FLOAT_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def _finite(x: object) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, default=_plain)


def _plain(o: object) -> object:
    item = getattr(o, "item", None)  # numpy scalars
    return item() if callable(item) else str(o)


def _cell(v: object) -> object:
    """One cell in a comparable form: every kind of missing is None, numbers are floats."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return v
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if a.empty and b.empty:
        return True
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    rows_a = [[_cell(v) for v in r] for r in a.itertuples(index=False)]
    rows_b = [[_cell(v) for v in r] for r in b.itertuples(index=False)]
    return rows_a == rows_b


def _esc(v: object) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in r) + "</tr>"
        for r in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
