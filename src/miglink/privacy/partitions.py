"""Disclosure control for tables whose numbers add up: chains of nested counts and partitions.

Primary suppression alone is not enough where published numbers are related by sums: a total
minus the shown cells gives back the hidden one. Two rules make every number an attacker can form
by subtracting published numbers either 0 or at least the minimum cell count:

* :func:`chain_keep` — for a sequence of (cumulative or nested) count vectors, such as attrition
  steps or Kaplan-Meier event / censoring totals, keep a point only if its values and its change
  from the last kept point are all safe. Any difference of kept points is then a sum of safe
  changes.
* :func:`merge_runs` — for the cells of an ordered 1-D partition (age bands), merge neighbouring
  cells until every merged cell is safe. Every published number is then a sum of safe cells, and
  every difference of published sums (margins, totals, other partitions built on the same cells)
  is again such a sum. Zeros are published as zeros: they are cells too, so they can never be the
  complement that reveals a hidden one.

Coarsening (not cell suppression with complementary cells) is used because its audit is trivial:
no linear combination of published numbers can isolate a part of a merged cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def is_safe(value: float, min_cell: int) -> bool:
    """A count may be shown (or derived) if it is 0 or at least ``min_cell``."""
    return value == 0 or abs(value) >= min_cell


def vector_safe(values: Sequence[float], min_cell: int) -> bool:
    return all(is_safe(v, min_cell) for v in values)


def chain_keep(
    points: Sequence[Sequence[float]],
    min_cell: int,
    anchors: Sequence[Sequence[float]] = (),
) -> list[bool]:
    """Which points of an ordered chain may be published.

    A point is kept if each of its values is safe and each value differs from the same value of the
    last kept point by 0 or at least ``min_cell``. The first point is kept only if it is safe; a
    point that is not kept is compared no further (the next one is measured from the last kept).
    ``anchors`` are numbers published elsewhere that every kept point must also differ from by 0
    or at least ``min_cell``.
    """

    def apart(p: Sequence[float], q: Sequence[float]) -> bool:
        return vector_safe([a - b for a, b in zip(p, q, strict=True)], min_cell)

    keep: list[bool] = []
    last: Sequence[float] | None = None
    for p in points:
        ok = (
            vector_safe(p, min_cell)
            and (last is None or apart(p, last))
            and all(apart(p, q) for q in anchors)
        )
        keep.append(ok)
        if ok:
            last = p
    return keep


def merge_runs(
    cells: Sequence[Sequence[float]],
    min_cell: int,
    starts: Sequence[int] | None = None,
) -> list[list[int]] | None:
    """Group consecutive cells so that every group's summed vector is safe.

    ``starts`` restricts where a group may begin (indices into ``cells``; 0 is always allowed), so a
    partition can be built as a coarsening of another. Groups are formed greedily from the left; a
    last group that is not safe is merged into the one before it. Returns the groups (lists of cell
    indices) or None when even the single group of all cells is not safe.
    """
    n = len(cells)
    if n == 0:
        return []
    allowed = set(range(n)) if starts is None else set(starts) | {0}
    width = len(cells[0])
    groups: list[list[int]] = []
    cur: list[int] = []
    acc = [0.0] * width
    for i, c in enumerate(cells):
        if cur and i in allowed and vector_safe(acc, min_cell):
            groups.append(cur)
            cur, acc = [], [0.0] * width
        cur.append(i)
        acc = [a + b for a, b in zip(acc, c, strict=True)]
    groups.append(cur)
    # an unsafe last group is merged backwards: a safe group with a zero component plus an
    # unsafe tail can still be unsafe, so this may take more than one merge
    while len(groups) > 1 and not vector_safe(_sum(cells, groups[-1]), min_cell):
        tail = groups.pop()
        groups[-1].extend(tail)
    if not vector_safe(_sum(cells, groups[-1]), min_cell):
        return None
    return groups


def _sum(cells: Sequence[Sequence[float]], idx: Sequence[int]) -> list[float]:
    width = len(cells[0])
    return [sum(cells[i][k] for i in idx) for k in range(width)]


# --- attrition: nested counts of cohort building ------------------------------------------------


def gate_attrition(att, min_cell: int, results=None):
    """Attrition steps per analysis with no count, and no difference of consecutive shown
    counts, in (0, min_cell); a step that cannot be shown gets ``None`` and the reason.

    ``results`` (the gated results table) adds the cohort sizes it shows for the analyses built
    on the same index set (``d2__<index>__<outcome>``: cases without the outcome before index):
    a step may not differ from any of them by a small count either.
    """
    import pandas as pd

    from miglink.privacy import suppressed_label

    if att is None or att.empty:
        return pd.DataFrame() if att is None else att.copy()
    out = []
    for a, g in att.sort_values(["analysis", "step"]).groupby("analysis", sort=False):
        g = g.copy()
        vals = [float(v) for v in g["n"]]
        anchors = [[x] for x in _cohort_sizes(results, str(a))]
        keep = chain_keep([[v] for v in vals], min_cell, anchors)
        shown: list[object] = []
        why: list[str] = []
        for v, k in zip(vals, keep, strict=True):
            if k:
                shown.append(int(v))
                why.append("")
            elif 0 < v < min_cell:
                shown.append(suppressed_label(min_cell))
                why.append("")
            else:
                shown.append(None)
                why.append(
                    f"withheld: it differs from the previous shown step or from a shown cohort"
                    f" size by fewer than {min_cell}"
                )
        g["n"] = pd.Series(shown, index=g.index, dtype=object)
        g["withheld"] = why
        out.append(g)
    return pd.concat(out, ignore_index=True)


def _cohort_sizes(results, analysis: str) -> list[float]:
    import pandas as pd

    if results is None or len(results) == 0 or "analysis" not in results:
        return []
    rows = results[results["analysis"].astype(str).str.startswith(analysis + "__")]
    vals = pd.to_numeric(rows.get("n_exposed", pd.Series(dtype=float)), errors="coerce")
    return sorted(set(vals.dropna().tolist()))


# --- prevalence: persons and cases by sex x age band, per concept set ---------------------------

ALL = "all"


def band_bounds(band: str) -> tuple[int, int | None]:
    """(first age, last age or None when open-ended) of an age-band label such as "15-19" or "85+"."""
    b = str(band).strip()
    if b == ALL:
        return 0, None
    if b.endswith("+"):
        return int(b[:-1]), None
    lo, hi = b.split("-")
    return int(lo), int(hi)


def _band_label(bands: Sequence[str]) -> str:
    if len(bands) == 1 or ALL in bands:
        return str(bands[0])
    lo = band_bounds(bands[0])[0]
    hi = band_bounds(bands[-1])[1]
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def gate_prevalence(prev, min_cell: int):
    """The prevalence table coarsened so that no count or difference of counts is small.

    1. The population (persons per sex and age band, the same for every set) is coarsened once by
       merging neighbouring age bands within each sex (all sexes pooled if one sex is too small).
    2. Each concept set's cells are coarsenings of that population partition, merged until
       persons, cases and non-cases are each 0 or >= ``min_cell``; if a sex cannot be shown, the
       set is shown for both sexes together (on band boundaries common to every sex), and if even
       that fails, as one total with its cases suppressed.

    Because every published person count is a union of the step-1 cells, numbers from different
    sets cannot be subtracted to isolate a band either.
    """
    import pandas as pd

    from miglink.privacy import suppressed_label

    cols = ["set_id", "sex", "age_band", "n_persons", "n_cases", "prevalence"]
    if prev is None or prev.empty:
        return pd.DataFrame(columns=cols)
    num = prev[["n_persons", "n_cases"]].apply(pd.to_numeric, errors="coerce")
    keys = prev.assign(sex=prev["sex"].astype(str), age_band=prev["age_band"].astype(str))
    per_set = keys.groupby("set_id")[["sex", "age_band"]].apply(
        lambda g: frozenset(map(tuple, g.to_numpy().tolist()))
    )
    if num.isna().any().any() or per_set.nunique() > 1:
        return _gate_assembled(prev[cols], num, min_cell)
    df, popn = _population(prev)
    layout = _population_layout(popn, min_cell)
    rows: list[dict] = []
    for set_id, sdf in df.groupby("set_id", sort=False):
        cases = sdf.set_index(["sex", "age_band"])["n_cases"].astype(float)
        out = _set_cells(popn, layout, cases, min_cell)
        if out:
            for s, idx, (n, c, _) in out:
                rows.append(
                    {
                        "set_id": set_id,
                        "sex": s,
                        "age_band": _band_label([popn.bands[i] for i in idx]),
                        "n_persons": int(n),
                        "n_cases": int(c),
                        "prevalence": c / n if n > 0 else float("nan"),
                    }
                )
            continue
        n, c, _ = popn.cell(popn.sexes, range(len(popn.bands)), cases)
        rows.append(
            {
                "set_id": set_id,
                "sex": ALL,
                "age_band": ALL,
                "n_persons": int(n) if layout else suppressed_label(min_cell),
                "n_cases": suppressed_label(min_cell) if 0 < c < min_cell else None,
                "prevalence": float("nan"),
            }
        )
    out_df = pd.DataFrame(rows, columns=cols)
    for c in ("n_persons", "n_cases"):
        out_df[c] = out_df[c].astype(object)
    return out_df


@dataclass(frozen=True)
class _Population:
    """Persons per (sex, age band), the same for every concept set, on ordered bands."""

    bands: list[str]
    sexes: list[str]
    pop: Any  # pd.Series indexed by (sex, age_band)

    def persons(self, sex: str, band: str) -> float:
        return float(self.pop.get((sex, band), 0.0))

    def cell(self, sx: Sequence[str], idx: Sequence[int], cases: Any) -> list[float]:
        """[persons, cases, non-cases] of the sexes ``sx`` over the bands ``idx``."""
        n = sum(self.persons(s, self.bands[i]) for s in sx for i in idx)
        c = sum(float(cases.get((s, self.bands[i]), 0.0)) for s in sx for i in idx)
        return [n, c, n - c]


def _population(prev) -> tuple[Any, _Population]:
    """The table with text keys (bands not labelled "a-b" / "a+" cannot be merged in order, so
    they become one total per set) and its population."""
    df = prev.copy()
    df["sex"] = df["sex"].astype(str)
    df["age_band"] = df["age_band"].astype(str)
    try:
        bands = sorted(set(df["age_band"]), key=lambda b: band_bounds(b)[0])
    except ValueError:
        df["age_band"] = ALL
        df = df.groupby(["set_id", "sex", "age_band"], as_index=False)[
            ["n_persons", "n_cases"]
        ].sum()
        bands = [ALL]
    sexes = sorted(set(df["sex"]))
    pop = (
        df.drop_duplicates(["sex", "age_band"])
        .set_index(["sex", "age_band"])["n_persons"]
        .astype(float)
    )
    return df, _Population(bands, sexes, pop)


def _population_layout(popn: _Population, min_cell: int) -> dict[str, list[list[int]]]:
    """Step 1, the population partition: groups of band indices per sex, or pooled over sexes
    ({ALL: ...}) if one sex is too small; empty if even the pooled population is."""
    bands, sexes = popn.bands, popn.sexes
    layout: dict[str, list[list[int]]] = {}
    for s in sexes:
        g = merge_runs([[popn.persons(s, b)] for b in bands], min_cell)
        if g is None:
            layout = {}
            break
        layout[s] = g
    if not layout:
        g = merge_runs([[sum(popn.persons(s, b) for s in sexes)] for b in bands], min_cell)
        layout = {ALL: g} if g is not None else {}
    return layout


def _set_cells(
    popn: _Population, layout: dict[str, list[list[int]]], cases: Any, min_cell: int
) -> list[tuple[str, list[int], list[float]]]:
    """Step 2 for one set: (sex, band indices, [persons, cases, non-cases]) per shown cell,
    per sex if possible, else for both sexes together; empty if neither is safe."""
    out: list[tuple[str, list[int], list[float]]] = []
    per_sex_ok = ALL not in layout and bool(layout)
    if per_sex_ok:
        for s, groups in layout.items():
            merged = merge_runs([popn.cell([s], g, cases) for g in groups], min_cell)
            if merged is None:
                per_sex_ok = False
                break
            for m in merged:
                idx = [i for gi in m for i in groups[gi]]
                out.append((s, idx, popn.cell([s], idx, cases)))
    if per_sex_ok:
        return out
    out = []
    if not layout:
        return out
    common = set.intersection(*({g[0] for g in gs} for gs in layout.values()))
    starts = sorted(common | {0})
    pieces = [
        list(range(a, b)) for a, b in zip(starts, starts[1:] + [len(popn.bands)], strict=True)
    ]
    merged = merge_runs([popn.cell(popn.sexes, p, cases) for p in pieces], min_cell)
    if merged is not None:
        for m in merged:
            idx = [i for pi in m for i in pieces[pi]]
            out.append((ALL, idx, popn.cell(popn.sexes, idx, cases)))
    return out


def _gate_assembled(prev, num, min_cell: int):
    """A prevalence table assembled from gated inputs (a pooled network: sums of the sites'
    coarsened cells, on bands common to every site) is not one raw partition and may hold unknown
    cells. Its shown cells are sums of safe site cells; any cell that is not safe anyway (persons,
    cases or non-cases in (0, min_cell)) loses its counts and prevalence."""
    from miglink.privacy import gate_frame

    out = prev.copy()
    n, c = num["n_persons"], num["n_cases"]
    bad = n.isna() | c.isna()
    for a in (n, c, n - c):
        bad |= (a > 0) & (a < min_cell)
    out = gate_frame(out, min_cell, ("n_persons", "n_cases"))
    out.loc[bad, "prevalence"] = float("nan")
    unsafe = ((n - c) > 0) & ((n - c) < min_cell)
    out.loc[unsafe, "n_cases"] = None
    return out
