"""Concept ids the synthetic records carry: invented-id ranges and the real OMOP ids used."""

from __future__ import annotations

#: Invented concept ids start here; the offset tells the kind of concept.
INVENTED_BASE = 2_100_000_000
STD_CONDITION_BASE = INVENTED_BASE  # standard condition / observation concepts
ICD10CM_BASE = INVENTED_BASE + 100_000  # ICD10CM source concepts
ATC_BASE = INVENTED_BASE + 200_000
RXNORM_BASE = INVENTED_BASE + 300_000
LOINC_BASE = INVENTED_BASE + 400_000

#: Visit types (real OMOP ids) and the EHR type concept used for every record.
VISIT_OUTPATIENT, VISIT_INPATIENT, VISIT_ER = 9202, 9201, 9203
TYPE_EHR = 32817
MALE, FEMALE = 8507, 8532
