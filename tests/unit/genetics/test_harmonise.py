"""Harmonisation: aligned, swapped, strand-flipped, palindromic (by frequency) and dropped
variants, each counted. The expected actions follow TwoSampleMR's harmonise_data (action 2)."""

import pandas as pd
import pytest

from miglink.genetics.harmonise import harmonise


def _frame(rows):
    cols = ["rsid", "effect_allele", "other_allele", "beta", "se", "eaf"]
    return pd.DataFrame(rows, columns=cols)


EXPOSURE = _frame([
    ("aligned", "A", "G", 0.1, 0.01, 0.2),
    ("swapped", "A", "G", 0.1, 0.01, 0.2),
    ("strand", "A", "G", 0.1, 0.01, 0.2),
    ("strand_swap", "A", "G", 0.1, 0.01, 0.2),
    ("pal_same", "A", "T", 0.1, 0.01, 0.2),
    ("pal_reverse", "A", "T", 0.1, 0.01, 0.2),
    ("pal_swap", "A", "T", 0.1, 0.01, 0.2),
    ("pal_near_half", "C", "G", 0.1, 0.01, 0.45),
    ("pal_no_freq", "C", "G", 0.1, 0.01, None),
    ("wrong", "A", "G", 0.1, 0.01, 0.2),
    ("exposure_only", "A", "G", 0.1, 0.01, 0.2),
])  # fmt: skip
OUTCOME = _frame([
    ("aligned", "A", "G", 0.5, 0.1, 0.21),
    ("swapped", "G", "A", 0.5, 0.1, 0.79),
    ("strand", "T", "C", 0.5, 0.1, 0.21),
    ("strand_swap", "C", "T", 0.5, 0.1, 0.79),
    ("pal_same", "A", "T", 0.5, 0.1, 0.22),  # same side of 0.5: as written
    ("pal_reverse", "A", "T", 0.5, 0.1, 0.78),  # other side: the reverse strand, flip
    ("pal_swap", "T", "A", 0.5, 0.1, 0.78),  # written swapped, freq of T 0.78: flip
    ("pal_near_half", "C", "G", 0.5, 0.1, 0.45),  # MAF 0.45 > 0.42: ambiguous, dropped
    ("pal_no_freq", "C", "G", 0.5, 0.1, 0.3),  # no exposure frequency: dropped
    ("wrong", "A", "C", 0.5, 0.1, 0.2),  # irreconcilable
])  # fmt: skip

EXPECTED_BETA = {
    "aligned": 0.5, "swapped": -0.5, "strand": 0.5, "strand_swap": -0.5,
    "pal_same": 0.5, "pal_reverse": -0.5, "pal_swap": -0.5,
}  # fmt: skip


def test_each_case_gets_its_action_and_count():
    out, n = harmonise(EXPOSURE, OUTCOME)
    got = dict(zip(out["rsid"], out["beta_outcome"], strict=True))
    assert got == pytest.approx(EXPECTED_BETA)
    assert dict(zip(out["rsid"], out["eaf_outcome"], strict=True))["swapped"] == pytest.approx(0.21)
    assert (out["effect_allele_outcome"] == out["effect_allele_exposure"]).all()
    assert n.as_dict() == {
        "exposure_variants": 11, "outcome_variants": 10, "shared": 10, "aligned": 1,
        "swapped": 1, "strand_flipped": 2, "palindromic_kept": 1, "palindromic_flipped": 2,
        "palindromic_dropped": 2, "irreconcilable_dropped": 1, "kept": 7,
    }  # fmt: skip


def test_action_1_keeps_palindromes_as_written():
    out, n = harmonise(EXPOSURE, OUTCOME, action=1)
    got = dict(zip(out["rsid"], out["beta_outcome"], strict=True))
    assert got["pal_reverse"] == 0.5 and got["pal_swap"] == -0.5 and "pal_near_half" in got
    assert n.palindromic_dropped == 0 and n.kept == 9
