"""The coupled diseases: migraine (with its subtypes) and the conditions planted effects link to it.

Each disease carries its code (a real ICD-10-CM billable code), its standard concept (the real
OMOP concept id where the project's concept-set files or the Eunomia vocabulary give it, a
deterministic invented id otherwise) and the parameters of its onset hazard. The numbers are
chosen for statistical power, not realism: autoimmune prevalences are inflated (see
docs/synthetic-data.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Disease:
    """A condition with an onset hazard.

    ``cum80`` is the cumulative hazard by age 80 in women (men: ``cum80 / female_ratio``);
    ``shape`` is ("bump", peak age, width) or ("rise", log-hazard slope per year).
    ``detect`` is the yearly rate at which an existing condition gets diagnosed at a visit for a
    person of average healthcare-seeking; ``resolve`` the years after onset after which an acute
    condition can no longer be recorded (None: chronic); ``repeat`` the probability that a later
    visit records a chronic condition again.
    """

    key: str
    name: str
    codes: tuple[tuple[str, str], ...]  # (ICD-10-CM code, description)
    std: tuple[int | None, str, str, str]  # (concept id or None, vocabulary, code, name)
    cum80: float
    female_ratio: float
    shape: tuple
    detect: float
    resolve: float | None = None
    repeat: float = 0.15
    autoimmune: bool = False
    kind: str = "coupled"  # coupled | negative_control | background


def _d(key, name, codes, std, cum80, fr, shape, detect, resolve=None, repeat=0.15, ai=False):
    return Disease(key, name, tuple(codes), std, cum80, fr, shape, detect, resolve, repeat, ai)


#: Diseases whose onsets may be linked by planted effects (simulated jointly).
COUPLED: tuple[Disease, ...] = (
    _d(
        "migraine",
        "Migraine",
        [("G43.909", "Migraine, unspecified, not intractable, without status migrainosus")],
        (318736, "SNOMED", "37796009", "Migraine"),
        0.30,
        2.8,
        ("bump", 28, 12),
        0.35,
        repeat=0.10,
    ),
    _d(
        "sle",
        "Systemic lupus erythematosus",
        [("M32.9", "Systemic lupus erythematosus, unspecified")],
        (None, "SNOMED", "55464009", "Systemic lupus erythematosus"),
        0.010,
        7.0,
        ("bump", 35, 14),
        1.0,
        ai=True,
    ),
    _d(
        "multiple_sclerosis",
        "Multiple sclerosis",
        [("G35", "Multiple sclerosis")],
        (374919, "SNOMED", "24700007", "Multiple sclerosis"),
        0.008,
        2.8,
        ("bump", 33, 11),
        1.2,
        ai=True,
    ),
    _d(
        "rheumatoid_arthritis",
        "Rheumatoid arthritis",
        [
            ("M06.9", "Rheumatoid arthritis, unspecified"),
            ("M05.9", "Rheumatoid arthritis with rheumatoid factor, unspecified"),
        ],
        (80809, "SNOMED", "69896004", "Rheumatoid arthritis"),
        0.030,
        2.5,
        ("bump", 55, 15),
        0.8,
        ai=True,
    ),
    _d(
        "sjogren",
        "Sjögren's syndrome",
        [("M35.00", "Sjögren syndrome, unspecified")],
        (254443, "SNOMED", "83901003", "Sjögren's syndrome"),
        0.010,
        9.0,
        ("bump", 50, 14),
        0.6,
        ai=True,
    ),
    _d(
        "antiphospholipid_syndrome",
        "Antiphospholipid syndrome",
        [("D68.61", "Antiphospholipid syndrome")],
        (None, "Miglink", "MGL-APS", "Antiphospholipid syndrome"),
        0.005,
        3.5,
        ("bump", 38, 12),
        0.8,
        ai=True,
    ),
    _d(
        "neuromyelitis_optica",
        "Neuromyelitis optica",
        [("G36.0", "Neuromyelitis optica [Devic]")],
        (None, "SNOMED", "25044007", "Neuromyelitis optica"),
        0.0015,
        6.0,
        ("bump", 40, 14),
        1.2,
        ai=True,
    ),
    _d(
        "myasthenia_gravis",
        "Myasthenia gravis",
        [("G70.00", "Myasthenia gravis without (acute) exacerbation")],
        (None, "SNOMED", "91637004", "Myasthenia gravis"),
        0.002,
        1.5,
        ("bump", 50, 20),
        1.0,
        ai=True,
    ),
    _d(
        "hashimoto",
        "Autoimmune thyroiditis",
        [("E06.3", "Autoimmune thyroiditis")],
        (None, "SNOMED", "21983002", "Autoimmune thyroiditis"),
        0.040,
        6.0,
        ("bump", 45, 15),
        0.5,
        ai=True,
    ),
    _d(
        "graves",
        "Graves' disease",
        [("E05.00", "Thyrotoxicosis with diffuse goiter without thyrotoxic crisis or storm")],
        (None, "SNOMED", "353295004", "Graves' disease"),
        0.012,
        5.0,
        ("bump", 40, 14),
        0.8,
        ai=True,
    ),
    _d(
        "coeliac",
        "Coeliac disease",
        [("K90.0", "Celiac disease")],
        (None, "SNOMED", "396331005", "Coeliac disease"),
        0.010,
        2.0,
        ("bump", 30, 18),
        0.3,
        ai=True,
    ),
    _d(
        "crohn",
        "Crohn's disease",
        [("K50.90", "Crohn's disease, unspecified, without complications")],
        (201606, "SNOMED", "34000006", "Crohn's disease"),
        0.006,
        1.1,
        ("bump", 28, 12),
        1.0,
        ai=True,
    ),
    _d(
        "ulcerative_colitis",
        "Ulcerative colitis",
        [("K51.90", "Ulcerative colitis, unspecified, without complications")],
        (81893, "SNOMED", "64766004", "Ulcerative colitis"),
        0.008,
        1.0,
        ("bump", 35, 15),
        1.0,
        ai=True,
    ),
    _d(
        "psoriasis",
        "Psoriasis",
        [("L40.0", "Psoriasis vulgaris")],
        (140168, "SNOMED", "9014002", "Psoriasis"),
        0.040,
        1.0,
        ("bump", 35, 18),
        0.4,
        ai=True,
    ),
    _d(
        "type1_diabetes",
        "Type 1 diabetes",
        [("E10.9", "Type 1 diabetes mellitus without complications")],
        (201254, "SNOMED", "46635009", "Type 1 diabetes mellitus"),
        0.008,
        0.9,
        ("bump", 14, 8),
        2.0,
        repeat=0.4,
        ai=True,
    ),
    _d(
        "ankylosing_spondylitis",
        "Ankylosing spondylitis",
        [("M45.9", "Ankylosing spondylitis of unspecified sites in spine")],
        (None, "SNOMED", "9631008", "Ankylosing spondylitis"),
        0.006,
        0.4,
        ("bump", 30, 10),
        0.5,
        ai=True,
    ),
    _d(
        "systemic_sclerosis",
        "Systemic sclerosis",
        [("M34.9", "Systemic sclerosis, unspecified")],
        (None, "SNOMED", "89155008", "Systemic sclerosis"),
        0.002,
        4.0,
        ("bump", 50, 14),
        0.8,
        ai=True,
    ),
    _d(
        "myositis",
        "Dermatopolymyositis",
        [("M33.90", "Dermatopolymyositis, unspecified, organ involvement unspecified")],
        (None, "Miglink", "MGL-MYOSITIS", "Dermatopolymyositis"),
        0.0015,
        2.0,
        ("bump", 50, 16),
        0.8,
        ai=True,
    ),
    _d(
        "vasculitis",
        "Giant cell arteritis",
        [("M31.6", "Other giant cell arteritis")],
        (None, "Miglink", "MGL-GCA", "Giant cell arteritis"),
        0.004,
        2.5,
        ("rise", 0.08),
        1.5,
        ai=True,
    ),
    _d(
        "vitiligo",
        "Vitiligo",
        [("L80", "Vitiligo")],
        (None, "Miglink", "MGL-VITILIGO", "Vitiligo"),
        0.008,
        1.0,
        ("bump", 25, 15),
        0.4,
        ai=True,
    ),
    _d(
        "alopecia_areata",
        "Alopecia areata",
        [("L63.9", "Alopecia areata, unspecified")],
        (None, "Miglink", "MGL-ALOPECIA-AREATA", "Alopecia areata"),
        0.006,
        1.1,
        ("bump", 30, 15),
        0.6,
        ai=True,
    ),
    _d(
        "ischaemic_stroke",
        "Ischaemic stroke",
        [("I63.9", "Cerebral infarction, unspecified")],
        (None, "SNOMED", "422504002", "Ischemic stroke"),
        0.040,
        0.9,
        ("rise", 0.085),
        30.0,
        resolve=0.1,
        repeat=0.0,
    ),
    _d(
        "vte",
        "Venous thromboembolism",
        [
            (
                "I82.409",
                "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity",
            ),
            ("I26.99", "Other pulmonary embolism without acute cor pulmonale"),
        ],
        (None, "Miglink", "MGL-VTE", "Venous thromboembolism"),
        0.035,
        1.1,
        ("rise", 0.06),
        30.0,
        resolve=0.1,
        repeat=0.0,
    ),
)

#: Diagnosis speed of the coupled diseases. A slow first diagnosis (years between onset and first
#: record) leaves a pool of prevalent-but-unrecorded cases whose recording after another diagnosis
#: biases incident designs in proportion to the planted effect, which no negative control can
#: correct. Real chronic diseases are mostly diagnosed within a year or two of onset at routine
#: care; the rates below (per year at average healthcare seeking) reflect that. Tuned so the matched
#: cohort recovers planted hazard ratios (tests/validity/test_study_engine.py).
DETECT_MIN_COUPLED = 1.0
DETECT_SCALE_AUTOIMMUNE = 2.0
COUPLED = tuple(
    replace(
        d,
        detect=max(
            DETECT_MIN_COUPLED, d.detect * (DETECT_SCALE_AUTOIMMUNE if d.autoimmune else 1.0)
        ),
    )
    if d.resolve is None
    else d
    for d in COUPLED
)

#: Migraine subtypes: (key, share of migraine onsets, ICD-10-CM code, description, standard concept).
#: Menstrual migraine is a share of women's migraine without aura; chronic migraine a later
#: transformation recorded alongside the subtype.
MIGRAINE_SUBTYPES = (
    (
        "migraine_unspecified",
        0.25,
        "G43.909",
        "Migraine, unspecified, not intractable, without status migrainosus",
        (318736, "SNOMED", "37796009", "Migraine"),
    ),
    (
        "migraine_with_aura",
        0.30,
        "G43.109",
        "Migraine with aura, not intractable, without status migrainosus",
        (381549, "SNOMED", "4473007", "Migraine with aura"),
    ),
    (
        "migraine_without_aura",
        0.45,
        "G43.009",
        "Migraine without aura, not intractable, without status migrainosus",
        (None, "SNOMED", "56097005", "Migraine without aura"),
    ),
)
MENSTRUAL = (
    "G43.829",
    "Menstrual migraine, not intractable, without status migrainosus",
    (None, "Miglink", "MGL-MENSTRUAL-MIGRAINE", "Menstrual migraine"),
)
CHRONIC = (
    "G43.709",
    "Chronic migraine without aura, not intractable, without status migrainosus",
    (None, "Miglink", "MGL-CHRONIC-MIGRAINE", "Chronic migraine"),
)
MOH = (
    "G44.41",
    "Drug-induced headache, not elsewhere classified, intractable",
    (None, "Miglink", "MGL-MOH", "Medication-overuse headache"),
)
MENSTRUAL_SHARE = 0.15  # of women with migraine without aura, onset before 50
CHRONIC_SHARE = 0.08  # of persons with migraine, recorded at a later encounter
MOH_SHARE = 0.04  # of persons with migraine

COUPLED_KEYS = tuple(d.key for d in COUPLED)
AUTOIMMUNE_KEYS = tuple(d.key for d in COUPLED if d.autoimmune)
FROM_KEYS = COUPLED_KEYS + ("migraine_with_aura", "migraine_without_aura")
