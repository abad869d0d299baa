"""The drugs a synthetic record can carry: RxNorm ingredients and the ATC classes above them."""

from __future__ import annotations

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
