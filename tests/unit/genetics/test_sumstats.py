"""Reading summary statistics: GWAS-SSF names, a column mapping, gzip, one-line errors."""

import gzip

import pytest

from miglink.errors import MiglinkError
from miglink.genetics.sumstats import read_sumstats

SSF = (
    "variant_id\tchromosome\tbase_pair_location\teffect_allele\tother_allele\tbeta\t"
    "standard_error\teffect_allele_frequency\tp_value\tn\n"
    "rs1\t1\t1000\ta\tg\t0.1\t0.01\t0.3\t1e-20\t1000\n"
    "rs2\t2\t2000\tC\tT\t-0.2\t0.02\tNA\t1e-10\t1000\n"
)


def test_gwas_ssf_names_and_gzip(tmp_path):
    p = tmp_path / "x.tsv.gz"
    p.write_bytes(gzip.compress(SSF.encode()))
    x = read_sumstats(p)
    assert list(x["rsid"]) == ["rs1", "rs2"]
    assert list(x["effect_allele"]) == ["A", "C"]  # upper-cased
    assert x["eaf"].isna().tolist() == [False, True]
    assert x.loc[0, "position"] == 1000 and x.loc[1, "beta"] == -0.2


def test_generic_file_by_mapping(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("marker,A1x,A2x,EFF,SE_EFF\nrs9,A,C,0.5,0.1\n")
    m = tmp_path / "map.yaml"
    m.write_text("rsid: marker\neffect_allele: A1x\nother_allele: A2x\nbeta: EFF\nse: SE_EFF\n")
    x = read_sumstats(p, m)
    assert x.loc[0, "beta"] == 0.5
    assert x.loc[0, "p"] == pytest.approx(5.733e-7, rel=1e-3)  # Wald p of z = 5 (scipy norm.sf)


@pytest.mark.parametrize(
    "edit, words",
    [
        (
            lambda t: t.replace("0.01\t0.3", "0.01\tx").replace("\tNA\t", "\ty\t"),
            ["eaf", "2 non-numeric"],
        ),
        (lambda t: t.replace("\t0.02\t", "\t-1\t"), ["column se", "1 row"]),
        (lambda t: t.replace("\tC\tT\t", "\tC\tZ\t"), ["other_allele", "1 row"]),
        (lambda t: t.replace("standard_error", "stderr_x"), ["no column for se"]),
    ],
)
def test_bad_input_is_one_line_naming_file_column_rows(tmp_path, edit, words):
    p = tmp_path / "bad.tsv"
    p.write_text(edit(SSF))
    with pytest.raises(MiglinkError) as e:
        read_sumstats(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    for w in words:
        assert w in msg


def test_rows_missing_a_required_value_are_dropped_and_counted(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text(SSF.replace("\t-0.2\t", "\tNA\t"))
    x = read_sumstats(p)
    assert list(x["rsid"]) == ["rs1"] and x.attrs["rows_missing_required"] == 1


def test_repeated_rsids_are_dropped_and_counted(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text(SSF + "rs2\t2\t2000\tC\tG\t0.1\t0.02\t0.4\t1e-3\t1000\n")
    x = read_sumstats(p)
    assert list(x["rsid"]) == ["rs1"] and x.attrs["rows_repeated_rsid"] == 2


def test_harmonised_hm_columns_win_over_submitted_ones(tmp_path):
    p = tmp_path / "h.tsv"
    p.write_text(
        "hm_rsid\thm_effect_allele\thm_other_allele\thm_beta\tstandard_error\t"
        "effect_allele\tother_allele\tbeta\n"
        "rs1\tA\tG\t0.1\t0.01\tG\tA\t-0.1\n"
    )
    x = read_sumstats(p)
    assert (x.loc[0, "effect_allele"], x.loc[0, "beta"]) == ("A", 0.1)


def test_unknown_mapping_key_and_missing_file(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text(SSF)
    with pytest.raises(MiglinkError, match="unknown column"):
        read_sumstats(p, {"betta": "beta"})
    with pytest.raises(MiglinkError, match="not in the file"):
        read_sumstats(p, {"beta": "BETA"})
    with pytest.raises(MiglinkError, match="no such file"):
        read_sumstats(tmp_path / "nope.tsv")


def test_filters_keep_only_the_rows_used(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text(SSF.replace("0.01\t0.3", "0.01\tx"))  # rs1's eaf is garbage, p 1e-20
    with pytest.raises(MiglinkError, match="eaf"):
        read_sumstats(p, max_p=1e-15)  # rs1 is kept, so checked
    x = read_sumstats(p, rsids={"rs2"})  # rs1 is not used: not checked
    assert list(x["rsid"]) == ["rs2"] and x.attrs["rows_read"] == 2
    assert read_sumstats(p, rsids={"rs9"}).empty
