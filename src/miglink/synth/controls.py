"""Conditions with no planted link to anything: the negative-control outcomes and the background."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from miglink.synth.diseases import Disease

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
