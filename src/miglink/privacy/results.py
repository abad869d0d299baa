"""The disclosure policy for the results table, driven by the column kinds of the schema.

1. Primary suppression: a count with 0 < n < min_cell is shown as ``"<min_cell"``. So is a count
   whose complement within its arm (persons without the outcome, ``n - events``) is that small:
   its events are withheld instead.
2. Secondary suppression: cells that may add up to a published total form a *partition group*
   (the persons, and the cases, of the strata and arms of one analysis; each arm's column of
   one analysis on its own, since an arm's strata may add up to a total row; the two arms of one row
   where other artefacts publish their sum, declared per design in ROW_TOTALS). While the suppressed cells of a group add up to less than min_cell, the
   smallest shown positive cell of the group (a zero when no positive one is left) is withheld
   too (``"withheld"``), so no suppressed value is the difference of published ones. A withheld cell also hides every cell of the same
   column and outcome that holds the same value (the same quantity published by another analysis).
   A subgroup row of another analysis on the same population is nested in its 'all' row: a
   subgroup cell whose difference from the 'all' cell is small is withheld.
3. Derived values: when any count of a row is suppressed, every value computed from its counts
   (kinds person_time, estimate, interval, p_value, rate, statistic) is withheld, and so is every
   such value of the other rows of its analysis (ratios of stratum estimates, trend fits over
   strata). Negative-control rows neither spread nor receive this.
4. Text: integers in text columns that equal a suppressed count of the analysis are redacted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from miglink.privacy.schema import DERIVED_KINDS, column_kinds, columns_of
from miglink.privacy.text import scan_text

log = logging.getLogger("miglink")

SECONDARY_LABEL = "withheld"

PERSONS = ("n_exposed", "n_unexposed")
CASES = ("events_exposed", "events_unexposed")
#: Count pairs of one row whose sum another artefact publishes, declared per design: whole-
#: population designs (D1, D7) have both totals in the prevalence table; matched cohorts have
#: their size in the attrition table. Subgroup contrasts (D3, D4 strata, D6, D8, D9, SCCS) have
#: no published row total; their strata are partition groups of their analysis instead. A design
#: not declared here gets both pairs (fail safe).
ROW_TOTALS: dict[str, tuple[tuple[str, str], ...]] = {
    "D1": (PERSONS, CASES),
    "D7": (PERSONS, CASES),
    "D2": (PERSONS,),
    "D3": (),
    "D4": (),
    "D5": (),
    "D6": (),
    "D8": (),
    "D9": (),
}
MATCHED_COHORT_METHODS = ("poisson_matched", "new_user_poisson")


def row_totals(design: object, method: object) -> tuple[tuple[str, str], ...]:
    """The count pairs of a row whose sum is published elsewhere (see ROW_TOTALS)."""
    if str(method).startswith(MATCHED_COHORT_METHODS):
        return (PERSONS,)
    return ROW_TOTALS.get(str(design), (PERSONS, CASES))


#: Arms whose complement (persons without the outcome) is a count of persons too.
ARMS = (("n_exposed", "events_exposed"), ("n_unexposed", "events_unexposed"))

Pos = tuple[int, str]  # (row position, column)


@dataclass
class _Cells:
    """True values and suppression state of every count cell of the table."""

    min_cell: int
    value: dict[Pos, float | None] = field(default_factory=dict)  # None: already gated, unknown
    state: dict[Pos, str] = field(default_factory=dict)  # "primary" | "secondary"

    def hidden(self, p: Pos) -> bool:
        return p in self.state

    def weight(self, p: Pos) -> float:
        """A suppressed cell's value for the group sum. On gated input the value is unknown: a
        primary counts as min_cell - 1 (one alone still needs a partner), a secondary as min_cell."""
        v = self.value.get(p)
        if v is not None:
            return v
        return self.min_cell - 1.0 if self.state.get(p) == "primary" else float(self.min_cell)


def _number(v: object) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def _read_cells(df: pd.DataFrame, counts: tuple[str, ...], min_cell: int) -> _Cells:
    cells = _Cells(min_cell)
    for c in counts:
        for i, v in enumerate(df[c].tolist()):
            if isinstance(v, str) and v.strip().startswith("<"):
                cells.value[(i, c)], cells.state[(i, c)] = None, "primary"
            elif isinstance(v, str) and v.strip() == SECONDARY_LABEL:
                cells.value[(i, c)], cells.state[(i, c)] = None, "secondary"
            else:
                f = _number(v)
                if f is None:
                    continue
                cells.value[(i, c)] = f
                if 0 < f < min_cell:
                    cells.state[(i, c)] = "primary"
    for i in range(len(df)):
        for n_col, e_col in ARMS:
            n, e = cells.value.get((i, n_col)), cells.value.get((i, e_col))
            if (
                n is not None
                and e is not None
                and n >= min_cell
                and e <= n
                and 0 < n - e < min_cell
            ):
                cells.state.setdefault((i, e_col), "secondary")
    return cells


def _groups(df: pd.DataFrame, counts: tuple[str, ...], cells: _Cells) -> list[list[list[Pos]]]:
    """Partition groups: lists of cells, each cell the positions that hold one quantity."""
    analysis = df["analysis"].astype(str).tolist()
    stratum = df["stratum"].fillna("all").astype(str).tolist()
    nc = (df["role"].astype(str) == "negative_control").tolist()
    by_col: dict[tuple, dict[tuple, list[Pos]]] = defaultdict(lambda: defaultdict(list))
    by_row: dict[tuple, dict[str, list[Pos]]] = defaultdict(lambda: defaultdict(list))
    pairs: dict[tuple, tuple[tuple[str, str], ...]] = {}
    design, method = df["design"].tolist(), df["method"].tolist()
    for i in range(len(df)):
        for c in counts:
            p = (i, c)
            if p not in cells.value:
                continue
            # one group per analysis and type of count (persons, cases), across both arms: the
            # strata and arms of an analysis partition its persons and its cases. Rows of one
            # stratum (other methods on the same counts) share a cell.
            kind = "persons" if c in PERSONS else "cases" if c in CASES else c
            by_col[(analysis[i], nc[i], kind)][(stratum[i], c, cells.value[p])].append(p)
            # and one per analysis and column: one arm's strata add up to that arm's total row
            # (a D3 "women vs men" row holds the sum of its two subgroups), so a suppressed
            # stratum of one arm must not be the difference of that arm's shown cells
            by_col[(analysis[i], nc[i], "column", c)][(stratum[i], c, cells.value[p])].append(p)
            by_row[(analysis[i], stratum[i])][c].append(p)
        pairs[(analysis[i], stratum[i])] = row_totals(design[i], method[i])
    groups = [list(g.values()) for g in by_col.values()]
    for key, g in by_row.items():
        for a, b in pairs[key]:
            if a in g and b in g:
                groups.append([g[a], g[b]])
    return groups


def _nested(df: pd.DataFrame, counts: tuple[str, ...], cells: _Cells) -> None:
    """A subgroup row of another analysis on the same population (same design, exposure, outcome
    and method) is nested in the 'all' row: their difference is an unpublished count, so a
    subgroup cell that leaves a small difference is withheld."""
    keys = list(zip(df["design"], df["exposure"], df["outcome"], df["method"], strict=True))
    stratum = df["stratum"].fillna("all").astype(str).tolist()
    alls: dict[tuple, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if stratum[i] == "all":
            alls[k].append(i)
    for i, k in enumerate(keys):
        if stratum[i] == "all":
            continue
        for j in alls.get(k, ()):
            for c in counts:
                a, b = cells.value.get((j, c)), cells.value.get((i, c))
                if a is None or b is None or cells.hidden((j, c)) or cells.hidden((i, c)):
                    continue
                if 0 < a - b < cells.min_cell:
                    cells.state[(i, c)] = "secondary"


def _secondary(df: pd.DataFrame, counts: tuple[str, ...], cells: _Cells) -> None:
    """Withhold the smallest shown cells until no group's suppressed cells sum below min_cell."""
    groups = _groups(df, counts, cells)
    outcome = df["outcome"].astype(str).tolist()
    same: dict[tuple, list[Pos]] = defaultdict(list)
    for (i, c), v in cells.value.items():
        if v is not None:
            same[(c, outcome[i], v)].append((i, c))
    changed = True
    while changed:
        changed = False
        for g in groups:
            for cell in g:  # one quantity: hidden everywhere once hidden anywhere
                if any(cells.hidden(p) for p in cell) and not all(cells.hidden(p) for p in cell):
                    for p in cell:
                        cells.state.setdefault(p, "secondary")
                    changed = True
            hidden = [cell for cell in g if cells.hidden(cell[0])]
            total = sum(cells.weight(cell[0]) for cell in hidden)
            if not hidden or total >= cells.min_cell:
                continue
            # smallest shown positive cell first; a shown zero only when none is left (else a
            # zero beside a suppressed cell gives it back from the total)
            shown = [cell for cell in g if not cells.hidden(cell[0])]
            if not shown:
                continue
            pick = min(shown, key=lambda cell: (cells.value[cell[0]] == 0, cells.value[cell[0]]))
            for p in pick:
                cells.state[p] = "secondary"
            changed = True
        for p, s in list(cells.state.items()):
            v = cells.value.get(p)
            if s == "secondary" and v is not None:
                for q in same[(p[1], outcome[p[0]], v)]:
                    if not cells.hidden(q):
                        cells.state[q] = "secondary"
                        changed = True


def _conform(results: pd.DataFrame) -> pd.DataFrame:
    """Schema columns in schema order; a column the schema does not declare is not published."""
    kinds = column_kinds()
    df = results.copy().reset_index(drop=True)
    extra = [c for c in df.columns if c not in kinds]
    if extra:
        log.warning("results columns not in results_schema.csv are not published: %s", extra)
    for c in kinds:
        if c not in df.columns:
            df[c] = None
    return df[list(kinds)]


#: How every withheld row's note begins (site files and pooling recognise a gate-withheld row by it).
WITHHELD_PREFIX = "estimate withheld"


def withheld_reason(min_cell: int) -> str:
    return f"{WITHHELD_PREFIX}: a count of this analysis is below {min_cell} or would reveal one"


def gate_results(results: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The results table as it may leave the program (idempotent: gated input stays as it is).

    Every count below ``min_cell`` is suppressed, every count that would give one back by
    subtraction is withheld, every value derived from such counts is withheld, and text carries
    none of them.
    """
    from miglink.privacy import gate_frame, suppressed_label

    df = _conform(results)
    counts = columns_of("count")
    for c in ("analysis", "stratum", "role", "outcome"):
        df[c] = df[c].astype(object)
    cells = _read_cells(df, counts, min_cell)
    _nested(df, counts, cells)
    _secondary(df, counts, cells)

    hidden_rows = {i for (i, _c) in cells.state}
    nc = (df["role"].astype(str) == "negative_control").tolist()
    analysis = df["analysis"].astype(str).tolist()
    spread = {analysis[i] for i in hidden_rows if not nc[i]}
    hide = [i in hidden_rows or (analysis[i] in spread and not nc[i]) for i in range(len(df))]
    hide_s = pd.Series(hide, index=df.index)
    in_family = _in_family(df)
    for c in columns_of(*DERIVED_KINDS):
        df[c] = df[c].astype(object).where(~hide_s, None)
    if any(f and h for f, h in zip(in_family, hide, strict=True)):
        # a Holm p is a function of every family member's p: with one member's p withheld, a
        # shown Holm p (e.g. (m - j + 1) times it) could give it back. Rows do not carry their
        # family, so every Holm p is withheld (conservative across families)
        df["holm_p_value"] = None
    suppressed_by_analysis: dict[str, set[float]] = defaultdict(set)
    for p in cells.state:
        v = cells.value.get(p)
        if v is not None:
            suppressed_by_analysis[analysis[p[0]]].add(v)
    for c in columns_of("text"):
        df[c] = pd.Series(
            [
                scan_text(v, suppressed_by_analysis.get(analysis[i], ())) if _text(v) else v
                for i, v in enumerate(df[c].tolist())
            ],
            index=df.index,
            dtype=object,
        )

    reason = withheld_reason(min_cell)
    notes = df["note"].astype(object).tolist()
    for i in range(len(df)):
        if hide[i] and reason not in str(notes[i] or ""):
            notes[i] = f"{notes[i]}; {reason}" if _text(notes[i]) else reason
    df["note"] = pd.Series(notes, index=df.index, dtype=object)

    label = suppressed_label(min_cell)
    for c in counts:
        vals = df[c].astype(object).tolist()
        for i in range(len(vals)):
            s = cells.state.get((i, c))
            if s == "primary":
                vals[i] = label
            elif s == "secondary":
                vals[i] = SECONDARY_LABEL
        df[c] = pd.Series(vals, index=df.index, dtype=object)
    return gate_frame(df, min_cell, counts)


def _in_family(df: pd.DataFrame) -> list[bool]:
    """Rows carrying a Holm-adjusted p (key rows of hypotheses in a declared family)."""
    if "holm_p_value" not in df.columns:
        return [False] * len(df)
    return pd.to_numeric(df["holm_p_value"], errors="coerce").notna().tolist()


def _text(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and str(v) != ""
