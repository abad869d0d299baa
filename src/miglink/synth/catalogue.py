"""What the synthetic population can have: diseases, drugs, labs and their codes.

Each disease carries its code (a real ICD-10-CM billable code), its standard concept (the real
OMOP concept id where the project's concept-set files or the Eunomia vocabulary give it, a
deterministic invented id otherwise) and the parameters of its onset hazard. The numbers are
chosen for statistical power, not realism: autoimmune prevalences are inflated (see
docs/synthetic-data.md).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

#: Invented concept ids start here; the offset tells the kind of concept.
INVENTED_BASE = 2_100_000_000
STD_CONDITION_BASE = INVENTED_BASE  # standard condition / observation concepts
ICD10CM_BASE = INVENTED_BASE + 100_000  # ICD10CM source concepts
ATC_BASE = INVENTED_BASE + 200_000
RXNORM_BASE = INVENTED_BASE + 300_000
LOINC_BASE = INVENTED_BASE + 400_000


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

#: Negative-control outcomes (concept-set ids of negative_controls.yaml): one ICD-10-CM code each.
NEGATIVE_CONTROLS: tuple[tuple[str, str, str, float, float, tuple, float, float | None], ...] = (
    # (set id, code, description, cum80, female_ratio, shape, detect, resolve)
    ("nc_ingrown_nail", "L60.0", "Ingrowing nail", 0.08, 1.0, ("bump", 25, 20), 1.5, 0.3),
    (
        "nc_seborrhoeic_keratosis",
        "L82.1",
        "Other seborrheic keratosis",
        0.12,
        1.0,
        ("rise", 0.05),
        0.4,
        None,
    ),
    (
        "nc_impacted_cerumen",
        "H61.23",
        "Impacted cerumen, bilateral",
        0.10,
        0.9,
        ("rise", 0.03),
        2.0,
        0.2,
    ),
    (
        "nc_plantar_fasciitis",
        "M72.2",
        "Plantar fascial fibromatosis",
        0.07,
        1.2,
        ("bump", 45, 12),
        1.2,
        1.0,
    ),
    (
        "nc_lipoma",
        "D17.9",
        "Benign lipomatous neoplasm, unspecified",
        0.05,
        1.0,
        ("bump", 45, 15),
        0.3,
        None,
    ),
    ("nc_haemorrhoids", "K64.9", "Unspecified hemorrhoids", 0.12, 1.0, ("bump", 50, 18), 0.8, 1.0),
    (
        "nc_inguinal_hernia",
        "K40.90",
        "Unilateral inguinal hernia, without obstruction or gangrene, not specified as recurrent",
        0.03,
        0.15,
        ("rise", 0.03),
        1.5,
        None,
    ),
    ("nc_onychomycosis", "B35.1", "Tinea unguium", 0.08, 0.8, ("rise", 0.04), 0.4, None),
    ("nc_actinic_keratosis", "L57.0", "Actinic keratosis", 0.10, 0.8, ("rise", 0.06), 0.5, None),
    ("nc_warts", "B07.9", "Viral wart, unspecified", 0.10, 1.0, ("bump", 15, 10), 1.0, 1.0),
    (
        "nc_cataract",
        "H25.9",
        "Unspecified age-related cataract",
        0.25,
        1.2,
        ("rise", 0.09),
        0.8,
        None,
    ),
    ("nc_corns_callosities", "L84", "Corns and callosities", 0.06, 1.3, ("rise", 0.03), 0.6, 1.0),
    ("nc_ganglion", "M67.40", "Ganglion, unspecified site", 0.04, 1.5, ("bump", 35, 15), 1.0, 1.5),
    (
        "nc_dupuytren",
        "M72.0",
        "Palmar fascial fibromatosis [Dupuytren]",
        0.03,
        0.3,
        ("rise", 0.07),
        0.5,
        None,
    ),
    (
        "nc_hallux_valgus",
        "M20.10",
        "Hallux valgus (acquired), unspecified foot",
        0.08,
        2.0,
        ("rise", 0.04),
        0.4,
        None,
    ),
    (
        "nc_trigger_finger",
        "M65.30",
        "Trigger finger, unspecified finger",
        0.03,
        2.0,
        ("bump", 55, 12),
        1.0,
        1.5,
    ),
    (
        "nc_pterygium",
        "H11.009",
        "Unspecified pterygium of unspecified eye",
        0.02,
        0.8,
        ("bump", 50, 15),
        0.5,
        None,
    ),
    (
        "nc_chalazion",
        "H00.19",
        "Chalazion unspecified eye, unspecified eyelid",
        0.04,
        1.0,
        ("bump", 30, 15),
        1.5,
        0.3,
    ),
    (
        "nc_dental_caries",
        "K02.9",
        "Dental caries, unspecified",
        0.10,
        1.0,
        ("bump", 20, 15),
        0.5,
        1.0,
    ),
    ("nc_sebaceous_cyst", "L72.0", "Epidermal cyst", 0.06, 0.9, ("bump", 40, 15), 0.8, 2.0),
    ("nc_tinea_pedis", "B35.3", "Tinea pedis", 0.08, 0.7, ("bump", 35, 20), 0.8, 0.5),
    (
        "nc_pilonidal_cyst",
        "L05.91",
        "Pilonidal cyst without abscess",
        0.015,
        0.3,
        ("bump", 22, 6),
        1.5,
        1.0,
    ),
)

#: Drugs: (ingredient key, RxNorm code, name, real OMOP concept id or None, drug set id).
INGREDIENTS: tuple[tuple[str, str, str, int | None, str], ...] = (
    ("prednisone", "8640", "Prednisone", 1551099, "corticosteroids"),
    ("prednisolone", "8638", "Prednisolone", None, "corticosteroids"),
    ("methylprednisolone", "6902", "Methylprednisolone", None, "corticosteroids"),
    ("dexamethasone", "3264", "Dexamethasone", None, "corticosteroids"),
    ("hydrocortisone", "5492", "Hydrocortisone", 975125, "corticosteroids"),
    ("betamethasone", "1514", "Betamethasone", None, "corticosteroids"),
    ("triamcinolone", "10759", "Triamcinolone", None, "corticosteroids"),
    ("ibuprofen", "5640", "Ibuprofen", 1177480, "nsaids"),
    ("naproxen", "7258", "Naproxen", 1115008, "nsaids"),
    ("diclofenac", "3355", "Diclofenac", 1124300, "nsaids"),
    ("celecoxib", "140587", "celecoxib", 1118084, "nsaids"),
    ("meloxicam", "41493", "Meloxicam", None, "nsaids"),
    ("indomethacin", "5781", "Indomethacin", None, "nsaids"),
    ("ketorolac", "35827", "Ketorolac", None, "nsaids"),
    ("sumatriptan", "37418", "Sumatriptan", None, "triptans"),
    ("rizatriptan", "88014", "Rizatriptan", None, "triptans"),
    ("interferon_beta_1a", "72257", "Interferon beta-1a", None, "interferon_beta"),
    ("interferon_beta_1b", "75917", "Interferon beta-1b", None, "interferon_beta"),
    ("adalimumab", "327361", "Adalimumab", None, "tnf_inhibitors"),
    ("etanercept", "214555", "Etanercept", None, "tnf_inhibitors"),
    ("infliximab", "191831", "Infliximab", None, "tnf_inhibitors"),
    ("methotrexate", "6851", "Methotrexate", 1305058, "methotrexate"),
    ("hydroxychloroquine", "5521", "Hydroxychloroquine", None, "hydroxychloroquine"),
    ("rituximab", "121191", "Rituximab", None, "rituximab"),
)

#: ATC classes: (code, name, concept class, ingredient keys below it).
ATC_CLASSES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "H02AB",
        "Glucocorticoids",
        "ATC 4th",
        (
            "prednisone",
            "prednisolone",
            "methylprednisolone",
            "dexamethasone",
            "hydrocortisone",
            "betamethasone",
            "triamcinolone",
        ),
    ),
    (
        "M01A",
        "ANTIINFLAMMATORY AND ANTIRHEUMATIC PRODUCTS, NON-STEROIDS",
        "ATC 3rd",
        (
            "ibuprofen",
            "naproxen",
            "diclofenac",
            "celecoxib",
            "meloxicam",
            "indomethacin",
            "ketorolac",
        ),
    ),
    ("N02CC", "Selective serotonin (5HT1) agonists", "ATC 4th", ("sumatriptan", "rizatriptan")),
    ("L03AB07", "interferon beta-1a; parenteral", "ATC 5th", ("interferon_beta_1a",)),
    ("L03AB08", "interferon beta-1b; parenteral", "ATC 5th", ("interferon_beta_1b",)),
    (
        "L04AB",
        "Tumor necrosis factor alpha (TNF-alpha) inhibitors",
        "ATC 4th",
        ("adalimumab", "etanercept", "infliximab"),
    ),
    ("L04AX03", "methotrexate; oral, parenteral", "ATC 5th", ("methotrexate",)),
    ("L01BA01", "methotrexate; parenteral", "ATC 5th", ("methotrexate",)),
    ("P01BA02", "hydroxychloroquine; oral", "ATC 5th", ("hydroxychloroquine",)),
    ("L01FA01", "rituximab; parenteral", "ATC 5th", ("rituximab",)),
)

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

#: Visit types (real OMOP ids) and the EHR type concept used for every record.
VISIT_OUTPATIENT, VISIT_INPATIENT, VISIT_ER = 9202, 9201, 9203
TYPE_EHR = 32817
MALE, FEMALE = 8507, 8532


@cache
def background_diseases() -> tuple[Disease, ...]:
    """The 200 phenome-background conditions, with deterministic hazard parameters."""
    import numpy as np

    path = Path(__file__).with_name("background_conditions.csv")
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    rng = np.random.default_rng(20240611)  # fixed: the background is part of the model
    out = []
    for i, r in enumerate(rows):
        cum80 = float(np.exp(rng.uniform(np.log(0.01), np.log(0.15))))
        fr = float(np.exp(rng.normal(0, 0.3)))
        if rng.uniform() < 0.5:
            shape: tuple = ("bump", float(rng.uniform(10, 70)), float(rng.uniform(8, 20)))
        else:
            shape = ("rise", float(rng.uniform(0.02, 0.08)))
        chronic = rng.uniform() < 0.5
        detect = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
        out.append(
            Disease(
                key=f"bg_{i:03d}",
                name=r["description"],
                codes=((r["icd10cm_code"], r["description"]),),
                std=(None, "Miglink", f"MGL-BG-{i:03d}", r["description"]),
                cum80=cum80,
                female_ratio=fr,
                shape=shape,
                detect=detect,
                resolve=None if chronic else float(rng.uniform(0.2, 2.0)),
                repeat=float(rng.uniform(0.12, 0.55)) if chronic else 0.0,
                kind="background",
            )
        )
    return tuple(out)


#: Negative controls are diagnosed at least this fast, like the autoimmune exposures they stand in
#: for in the reverse-direction empirical null.
DETECT_MIN_NEGATIVE_CONTROL = 0.8


@cache
def negative_control_diseases() -> tuple[Disease, ...]:
    out = []
    for sid, code, desc, cum80, fr, shape, detect, resolve in NEGATIVE_CONTROLS:
        out.append(
            Disease(
                key=sid,
                name=desc,
                codes=((code, desc),),
                std=(None, "Miglink", "MGL-" + sid.upper().replace("_", "-"), desc),
                cum80=cum80,
                female_ratio=fr,
                shape=shape,
                detect=max(DETECT_MIN_NEGATIVE_CONTROL, detect),
                resolve=resolve,
                repeat=0.15 if resolve is None else 0.0,
                kind="negative_control",
            )
        )
    return tuple(out)


def independent_diseases() -> tuple[Disease, ...]:
    """Negative controls then background: conditions with no planted link to anything."""
    return negative_control_diseases() + background_diseases()


COUPLED_KEYS = tuple(d.key for d in COUPLED)
AUTOIMMUNE_KEYS = tuple(d.key for d in COUPLED if d.autoimmune)
FROM_KEYS = COUPLED_KEYS + ("migraine_with_aura", "migraine_without_aura")
