"""Instrument selection: the p threshold, distance clumping and an LD reference."""

import pandas as pd
import pytest

from miglink.errors import MiglinkError
from miglink.genetics.instruments import read_ld_reference, select_instruments

EXP = pd.DataFrame(
    {
        "rsid": ["a", "b", "c", "d", "e"],
        "chromosome": ["1", "1", "1", "2", "1"],
        "position": [1_000_000, 5_000_000, 30_000_000, 1_000_000, 2_000_000],
        "p": [1e-10, 1e-20, 1e-9, 1e-12, 1e-3],
    }
)


def test_threshold_and_distance_clumping_keep_the_smallest_p():
    chosen, sel = select_instruments(EXP)
    # b (p 1e-20) is kept; a is 4 Mb from b, inside the 10 000 kb window: clumped away
    assert sorted(chosen["rsid"]) == ["b", "c", "d"]
    assert (sel.candidates, sel.significant, sel.clumped_away, sel.instruments) == (5, 4, 1, 3)
    chosen, _ = select_instruments(EXP, window_kb=1000)
    assert sorted(chosen["rsid"]) == ["a", "b", "c", "d"]
    chosen, _ = select_instruments(EXP, p_threshold=1e-11)
    assert sorted(chosen["rsid"]) == ["b", "d"]


def test_ld_reference_pairs_and_matrix(tmp_path):
    pairs = tmp_path / "ld.tsv"
    pairs.write_text("snp_a\tsnp_b\tr2\nb\ta\t0.0001\nb\tc\t0.5\nd\tb\t0\n")
    ld = read_ld_reference(pairs)
    chosen, sel = select_instruments(EXP, ld=ld, window_kb=0)
    # a is near b but r^2 0.0001 <= 0.001: kept; c is linked to b (0.5): dropped
    assert sorted(chosen["rsid"]) == ["a", "b", "d"] and sel.not_in_ld_reference == 0
    matrix = tmp_path / "ld.csv"
    matrix.write_text(",a,b\na,1,0.9\nb,0.9,1\n")
    chosen, sel = select_instruments(EXP, ld=read_ld_reference(matrix))
    assert list(chosen["rsid"]) == ["b"] and sel.not_in_ld_reference == 2  # c, d unknown


def test_bad_ld_reference(tmp_path):
    bad = tmp_path / "ld.tsv"
    bad.write_text("snp_a\tsnp_b\tr2\na\tb\t1.5\n")
    with pytest.raises(MiglinkError, match="outside 0-1"):
        read_ld_reference(bad)
