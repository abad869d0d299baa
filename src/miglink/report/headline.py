"""The report's headline: persons, persons with migraine, persons with any autoimmune disease.

Every number is a sum of cells of the *gated* prevalence table (miglink.privacy.partitions):
that table is coarsened so that each published cell, and each difference of published sums, is 0
or at least the minimum cell. A total of published cells is therefore already derivable from the
artefacts and adds nothing an attacker could subtract to isolate a small cell. Where a set's
cells are not all shown (a suppressed or withheld cell), its total is not summed: it is shown as
the set's own "<N" label when the gate published the set as one suppressed total, else as
"not shown".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from miglink.privacy import suppressed_label
from miglink.report import fmt

#: the set every run describes besides its index set (miglink.concepts.derived.ANY_AUTOIMMUNE)
ANY_AUTOIMMUNE = "any_autoimmune"
NOT_SHOWN = "not shown"


def _total(values: list, min_cell: int) -> int | str:
    """The sum of a set's published cells, or a label when one of them is not a number."""
    num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if len(num) and num.notna().all():
        return int(num.sum())
    labels = [v for v in values if isinstance(v, str) and v.strip().startswith("<")]
    if len(values) == 1 and labels:
        return suppressed_label(min_cell)
    return NOT_SHOWN


def headline_counts(prev: pd.DataFrame | None, index_set: str, min_cell: int) -> dict[str, Any]:
    """``{"persons", "index_set", "persons_index", "persons_any_autoimmune"}`` from the gated
    prevalence table (ints, "<N", or "not shown")."""
    out: dict[str, Any] = {
        "index_set": index_set,
        "persons": NOT_SHOWN,
        "persons_index": NOT_SHOWN,
        "persons_any_autoimmune": NOT_SHOWN,
    }
    if prev is None or prev.empty or not {"set_id", "n_persons", "n_cases"} <= set(prev.columns):
        return out
    for key, set_id in (("persons_index", index_set), ("persons_any_autoimmune", ANY_AUTOIMMUNE)):
        sel = prev[prev["set_id"] == set_id]
        if not sel.empty:
            out[key] = _total(sel["n_cases"].tolist(), min_cell)
    # every set partitions the same population: any set whose person cells are all shown gives it
    for _, sel in prev.groupby("set_id", sort=False):
        persons = _total(sel["n_persons"].tolist(), min_cell)
        if isinstance(persons, int):
            out["persons"] = persons
            break
    return out


def headline_view(art: Any) -> dict[str, Any]:
    """The headline for the template: the run's own ``headline`` record (run.json) when it has
    one, else the same sums taken from prevalence.parquet (older run directories)."""
    run = art.run or {}
    settings = (run.get("parameters") or {}).get("settings") or {}
    index_set = str(settings.get("index_set") or "migraine")
    rec = run.get("headline")
    if not isinstance(rec, dict):
        rec = headline_counts(art.prevalence, index_set, art.min_cell)

    def shown(v: Any) -> str:
        return fmt.count(v) if isinstance(v, int) or fmt.is_num(v) else str(v or NOT_SHOWN)

    return {
        "items": [
            ("Persons", shown(rec.get("persons"))),
            (
                f"Persons with {fmt.set_label(rec.get('index_set') or index_set)}",
                shown(rec.get("persons_index")),
            ),
            ("Persons with any autoimmune disease", shown(rec.get("persons_any_autoimmune"))),
        ],
        "min_cell": art.min_cell,
    }
