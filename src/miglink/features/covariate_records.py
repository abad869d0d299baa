"""Each person's dated concept records, read once per study for every covariate analysis.

One scan per fact table gives (person_id, domain, concept_id, day): distinct, day in epoch days.
Drug records are rolled up to their ingredients through CONCEPT_ANCESTOR (a clinical drug with no
ingredient ancestor keeps its own id), as FeatureExtraction's drug eras are. Every comparison's
baseline windows are joins of this one table to that comparison's index dates, so many
comparisons cost one scan of the CDM. Nothing is read until a comparative analysis asks.
"""

from __future__ import annotations

import weakref

import ibis
import ibis.expr.types as ir

from miglink.features.engine import cache
from miglink.sources.schema import ColumnSpec, TableSpec
from miglink.sources.typed import typed_table

#: domain -> (table, concept column, date column)
FACT_COLUMNS = {
    "condition": ("condition_occurrence", "condition_concept_id", "condition_start_date"),
    "drug": ("drug_exposure", "drug_concept_id", "drug_exposure_start_date"),
    "procedure": ("procedure_occurrence", "procedure_concept_id", "procedure_date"),
    "measurement": ("measurement", "measurement_concept_id", "measurement_date"),
    "observation": ("observation", "observation_concept_id", "observation_date"),
    "visit": ("visit_occurrence", "visit_concept_id", "visit_start_date"),
}

#: procedure_occurrence is outside cdm_schema.csv (no design read it before): typed here.
_PROCEDURE = TableSpec(
    "procedure_occurrence",
    False,
    (
        ColumnSpec("person_id", "int64", True, "person key"),
        ColumnSpec("procedure_concept_id", "int64", True, "standard concept"),
        ColumnSpec("procedure_date", "date", True, "procedure date"),
    ),
)

_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def covariate_records(cdm) -> ir.Table:
    """person_id, domain, concept_id, day of every record the covariates read (cached in the
    engine on first use, once per ``cdm``)."""
    try:
        return _MEMO[cdm]
    except (KeyError, TypeError):
        pass
    parts = [_domain_records(cdm, d) for d in FACT_COLUMNS]
    parts = [p for p in parts if p is not None]
    if not parts:
        from miglink.errors import MiglinkError

        raise MiglinkError("no fact table to build covariates from", table="condition_occurrence")
    records = parts[0]
    for p in parts[1:]:
        records = records.union(p)
    records = cache(records)
    try:
        _MEMO[cdm] = records
    except TypeError:  # an object that takes no weak reference: no memo
        pass
    return records


def has_ancestors(cdm) -> bool:
    """Whether the vocabulary has the tables vocabulary groups and descendants need."""
    return cdm.has("concept_ancestor") and cdm.has("concept")


def _fact_table(cdm, table: str) -> ir.Table | None:
    if not cdm.has(table):
        return None
    if table == "procedure_occurrence":
        if cdm.missing_required_columns(table):  # schema-less table: check the columns here
            return None
        raw = cdm.table(table)
        if any(c.name not in raw.columns for c in _PROCEDURE.columns):
            return None
        return typed_table(raw, _PROCEDURE)
    return cdm.table(table)


def _domain_records(cdm, domain: str) -> ir.Table | None:
    table, concept_col, date_col = FACT_COLUMNS[domain]
    t = _fact_table(cdm, table)
    if t is None:
        return None
    t = t.filter(t[concept_col].notnull() & (t[concept_col] != 0) & t[date_col].notnull())
    t = t.select(
        person_id=t.person_id,
        concept_id=t[concept_col].cast("int64"),
        day=t[date_col].epoch_days().cast("int64"),
    )
    if domain == "drug" and has_ancestors(cdm):
        t = _to_ingredients(cdm, t)
    # distinct per domain (the domains differ, so their union stays distinct): one pass per table
    t = t.select("person_id", "concept_id", "day").distinct()
    return t.select("person_id", domain=ibis.literal(domain), concept_id="concept_id", day="day")


def _to_ingredients(cdm, drugs: ir.Table) -> ir.Table:
    """Each drug record once per ingredient of its drug (itself when it has none)."""
    ca = cdm.table("concept_ancestor")
    c = cdm.table("concept")
    ing = c.filter(c.concept_class_id == "Ingredient").select(ing_id=c.concept_id)
    m = ca.join(ing, ca.ancestor_concept_id == ing.ing_id).select(
        drug_id=ca.descendant_concept_id, ing_id=ing.ing_id
    )
    m = m.distinct()
    j = drugs.left_join(m, drugs.concept_id == m.drug_id)
    return j.select(person_id=j.person_id, concept_id=j.ing_id.fill_null(j.concept_id), day=j.day)
