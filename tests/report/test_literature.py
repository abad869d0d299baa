"""Published reference estimates: mapping to concept sets, direction and measure family.

Reference numbers are those of the literature file (shared/data/literature/reference_estimates.csv),
each checked here against the study it cites.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pytest

from miglink.concepts.load import load_concept_sets
from miglink.errors import MiglinkError
from miglink.report.literature import (
    CONDITION_SETS,
    CROSS_SECTIONAL,
    FROM_MIGRAINE,
    TO_MIGRAINE,
    comparable,
    direction_classes,
    literature_path,
    load_literature,
    measure_family,
    published_for,
    short_citation,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: Composite ids the study derives from concept sets (study.yaml header).
DERIVED_IDS = {"any_autoimmune", "cns_autoimmune", "non_cns_autoimmune", "female"}


def test_packaged_copy_matches_shared_literature():
    shared = SHARED / "literature" / "reference_estimates.csv"
    if not shared.exists():
        pytest.skip(f"shared literature file not found at {shared}")
    assert filecmp.cmp(shared, literature_path(), shallow=False), (
        "src/miglink/data/literature/reference_estimates.csv differs from shared/data/literature"
    )
    assert (literature_path().parent / "SOURCE.md").exists()


def test_mapped_condition_ids_are_real_concept_sets():
    known = set(load_concept_sets()) | DERIVED_IDS
    mapped = {s for sets in CONDITION_SETS.values() for s in sets} | {"crp", "esr"}
    assert mapped - known == set()


def test_every_literature_condition_is_mapped_or_deliberately_left_out():
    lit = load_literature()
    unmapped = sorted(set(lit.loc[lit["sets"].map(len) == 0, "condition"]))
    # conditions with no counterpart among our concept sets (documented in literature.py)
    assert unmapped == [
        "(none)",
        "MACCE",
        "SLE / Sjogren / Hashimoto",
        "antiphospholipid antibodies",
        "diabetes (drug-treated, any type)",
        "major CVD",
    ]


@pytest.mark.parametrize(
    ("measure", "family"),
    [
        ("OR (pooled, random effects IV)", "OR"),
        ("adjusted HR (migraine without aura)", "HR"),
        ("HR (rate ratio)", "HR"),
        ("adjusted IRR", "IRR"),
        ("relative risk (Cox rate ratio)", "RR"),
        ("pooled RR", "RR"),
        ("crude OR [DERIVED by us from counts/percentages stated in source]", "OR"),
        ("SMD", "SMD"),
        ("prevalence % (pooled)", "prevalence"),
        ("ROR", "other"),
        ("RGM", "other"),
        ("regression coefficient (~17% higher CRP)", "other"),
    ],
)
def test_measure_family(measure, family):
    assert measure_family(measure) == family


@pytest.mark.parametrize(
    ("direction", "classes"),
    [
        ("migraine->RA", (FROM_MIGRAINE,)),
        ("RA->migraine", (TO_MIGRAINE,)),
        ("celiac->headache-related healthcare visit", (TO_MIGRAINE,)),
        ("headache disorders->hypothyroidism", (FROM_MIGRAINE,)),
        ("migraine before MS onset (prodrome)", (FROM_MIGRAINE,)),
        ("pre-existing MS->migraine diagnosis", (TO_MIGRAINE,)),
        ("cross-sectional (migraine in MS vs controls)", (CROSS_SECTIONAL,)),
        ("bidirectional MR + LDSC", (TO_MIGRAINE, FROM_MIGRAINE)),
    ],
)
def test_direction_classes(direction, classes):
    assert direction_classes(direction) == classes


def test_direction_is_respected_for_cohort_pairs():
    # Kim et al. BMJ Open 2021: migraine->RA aHR 1.48 (1.34-1.63), RA->migraine aHR 1.35;
    # Wang et al. Rheumatol Int 2017: migraine->RA aHR 1.91; Kang et al. Headache 2024:
    # RA->migraine aHR 1.2.
    forward = comparable(published_for("migraine", "rheumatoid_arthritis"), "HR")
    assert sorted(forward["estimate"]) == [1.48, 1.91]
    assert set(forward["direction_class"]) == {FROM_MIGRAINE}
    backward = comparable(published_for("rheumatoid_arthritis", "migraine"), "HR")
    assert sorted(backward["estimate"]) == [1.2, 1.35]
    both = comparable(published_for("migraine", "rheumatoid_arthritis", any_direction=True), "HR")
    assert sorted(both["estimate"]) == [1.2, 1.35, 1.48, 1.91]


def test_unlike_measures_are_never_comparable():
    ms = published_for("migraine", "multiple_sclerosis", 3)
    assert not ms.empty
    assert comparable(ms, "HR").empty  # the MS literature has ORs, an RR and prevalences
    ors = comparable(ms, "OR")
    assert set(ors["family"]) == {"OR"}
    # Pakpoor et al. PLoS One 2012, pooled OR 2.60 (1.12-6.04)
    assert 2.60 in set(ors["estimate"])
    # Mendelian-randomisation ORs (per unit genetic liability) are not observational ORs
    sle = published_for("migraine", "sle", any_direction=True)
    mr = sle[sle["design"].str.contains("Mendelian", case=False)]
    assert not mr.empty
    assert not set(mr.index) & set(comparable(sle, "OR").index)
    assert comparable(sle, "ROR").empty


def test_ibd_maps_to_crohn_and_ulcerative_colitis():
    crohn = published_for("migraine", "crohn")
    uc = published_for("migraine", "ulcerative_colitis")
    assert "IBD" in set(crohn["condition"]) and "IBD" in set(uc["condition"])
    assert "Crohn's disease" in set(crohn["condition"])
    assert "Crohn's disease" not in set(uc["condition"])
    # Sci Rep 2024;14:1157: migraine->CD aHR 1.58 (1.237-2.013)
    assert 1.58 in set(comparable(crohn, "HR")["estimate"])


def test_subtype_matches_only_that_subtype():
    # Schurks et al. BMJ 2009: migraine with aura -> ischaemic stroke pooled RR 2.16 (1.53-3.03)
    aura = published_for("migraine_with_aura", "ischaemic_stroke")
    assert list(aura["estimate"]) == [2.16]
    anym = published_for("migraine", "ischaemic_stroke")
    assert {1.73, 2.16, 1.23} <= set(anym["estimate"])


def test_claim_rows_come_first_and_unknown_pairs_are_empty():
    ms = published_for("migraine", "multiple_sclerosis", 5)
    assert ms["claim"].iloc[0].startswith("5_")
    none = published_for("migraine", "any_autoimmune")
    assert none.empty and "family" in none.columns
    assert published_for("sle", "ischaemic_stroke").empty  # neither side is migraine


def test_short_citation():
    assert (
        short_citation("Pakpoor J, Handel AE, Giovannoni G. PLoS One 2012;7:e45295")
        == "Pakpoor et al. 2012"
    )
    assert short_citation("Kister I, et al. Mult Scler 2012;18(1):90-7") == "Kister et al. 2012"
    assert short_citation("Vacca 2007 as tabulated in Pakpoor 2012") == "Vacca 2007"
    assert (
        short_citation("Semin Arthritis Rheum 2024; doi:10.1016/x") == "Semin Arthritis Rheum 2024"
    )
    assert short_citation("same as above (Lupus 2023; doi:10.1177/x)") == "Lupus 2023"


def test_bad_literature_file_names_the_column(tmp_path):
    p = tmp_path / "lit.csv"
    pd.DataFrame({"claim": ["3"], "condition": ["SLE"]}).to_csv(p, index=False)
    with pytest.raises(MiglinkError) as e:
        load_literature(p)
    assert e.value.table == "reference_estimates" and e.value.n_rows == 1
    assert e.value.column in str(e.value)
