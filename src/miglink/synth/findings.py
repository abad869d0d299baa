"""What a visit records besides diagnoses: lab tests (CRP, ESR) and family-history codes."""

from __future__ import annotations

#: Labs: (marker, LOINC code, name, unit concept id, share of that marker's tests).
LABS = (
    ("crp", "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", 8751, 0.8),
    (
        "crp",
        "30522-7",
        "C reactive protein [Mass/volume] in Serum or Plasma by High sensitivity method",
        8751,
        0.2,
    ),
    ("esr", "4537-7", "Erythrocyte sedimentation rate by Westergren method", 8752, 0.7),
    ("esr", "30341-2", "Erythrocyte sedimentation rate", 8752, 0.3),
)
UNITS = ((8751, "milligram per liter", "mg/L"), (8752, "millimeter per hour", "mm/h"))

#: Family history: (kind, ICD-10-CM code, description, standard (id, vocab, code, name), share).
FAMILY_HISTORY = (
    (
        "autoimmune",
        "Z83.2",
        "Family history of diseases of the blood and blood-forming organs and certain disorders involving the immune mechanism",
        (None, "SNOMED", "160315005", "Family history: autoimmune disease"),
        0.7,
    ),
    (
        "autoimmune",
        "Z82.61",
        "Family history of arthritis",
        (None, "Miglink", "MGL-FH-ARTHRITIS", "Family history of arthritis"),
        0.3,
    ),
    (
        "migraine",
        "Z82.0",
        "Family history of epilepsy and other diseases of the nervous system",
        (None, "SNOMED", "160354006", "Family history: migraine"),
        1.0,
    ),
)
