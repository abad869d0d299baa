"""What the synthetic population can have: diseases, drugs, labs and their codes.

One name space over the catalogue's parts, so the model, the vocabulary and the scenario read
``cat.X`` without knowing which part holds it:

- :mod:`~miglink.synth.diseases`: the coupled diseases (migraine, its subtypes, the autoimmune
  and clotting conditions planted effects link), with their onset hazards;
- :mod:`~miglink.synth.controls`: the negative-control outcomes and the phenome background;
- :mod:`~miglink.synth.medicines`: RxNorm ingredients and ATC classes;
- :mod:`~miglink.synth.findings`: lab tests and family-history codes;
- :mod:`~miglink.synth.concept_ids`: invented-id ranges, visit, type and gender concepts.

The numbers are chosen for statistical power, not realism: autoimmune prevalences are inflated
(see docs/synthetic-data.md).
"""

from __future__ import annotations

from miglink.synth.concept_ids import (
    ATC_BASE,
    FEMALE,
    ICD10CM_BASE,
    INVENTED_BASE,
    LOINC_BASE,
    MALE,
    RXNORM_BASE,
    STD_CONDITION_BASE,
    TYPE_EHR,
    VISIT_ER,
    VISIT_INPATIENT,
    VISIT_OUTPATIENT,
)
from miglink.synth.controls import (
    DETECT_MIN_NEGATIVE_CONTROL,
    NEGATIVE_CONTROLS,
    background_diseases,
    independent_diseases,
    negative_control_diseases,
)
from miglink.synth.diseases import (
    AUTOIMMUNE_KEYS,
    CHRONIC,
    CHRONIC_SHARE,
    COUPLED,
    COUPLED_KEYS,
    DETECT_MIN_COUPLED,
    DETECT_SCALE_AUTOIMMUNE,
    FROM_KEYS,
    MENSTRUAL,
    MENSTRUAL_SHARE,
    MIGRAINE_SUBTYPES,
    MOH,
    MOH_SHARE,
    Disease,
)
from miglink.synth.findings import FAMILY_HISTORY, LABS, UNITS
from miglink.synth.medicines import ATC_CLASSES, INGREDIENTS

__all__ = [
    "ATC_BASE",
    "ATC_CLASSES",
    "AUTOIMMUNE_KEYS",
    "CHRONIC",
    "CHRONIC_SHARE",
    "COUPLED",
    "COUPLED_KEYS",
    "DETECT_MIN_COUPLED",
    "DETECT_MIN_NEGATIVE_CONTROL",
    "DETECT_SCALE_AUTOIMMUNE",
    "FAMILY_HISTORY",
    "FEMALE",
    "FROM_KEYS",
    "ICD10CM_BASE",
    "INGREDIENTS",
    "INVENTED_BASE",
    "LABS",
    "LOINC_BASE",
    "MALE",
    "MENSTRUAL",
    "MENSTRUAL_SHARE",
    "MIGRAINE_SUBTYPES",
    "MOH",
    "MOH_SHARE",
    "NEGATIVE_CONTROLS",
    "RXNORM_BASE",
    "STD_CONDITION_BASE",
    "TYPE_EHR",
    "UNITS",
    "VISIT_ER",
    "VISIT_INPATIENT",
    "VISIT_OUTPATIENT",
    "Disease",
    "background_diseases",
    "independent_diseases",
    "negative_control_diseases",
]
