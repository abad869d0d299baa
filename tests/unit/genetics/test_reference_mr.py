"""Published reference values (tests/reference/mr/SOURCE.md names every source in full):

- MR: the MendelianRandomization package's lipid example (cran/MendelianRandomization @ 2e6f8aa,
  vignettes/Vignette_MR.html, 3 decimals) and base R on the same data (reference_mr.R ->
  reference_mr_r_output.csv, 15 digits);
- TS: TwoSampleMR's BMI -> CHD example (MRCIEU/TwoSampleMR @ c14776b, tests/testthat/test_mr.R).
"""

from pathlib import Path

import pandas as pd
import pytest

from miglink.genetics.estimators import egger, ivw, leave_one_out, mean_f
from miglink.genetics.harmonise import harmonise
from miglink.genetics.robust import weighted_median, weighted_mode
from miglink.genetics.sumstats import read_sumstats

REF = Path(__file__).parents[2] / "reference" / "mr"
LIPID = pd.read_csv(REF / "lipid_ldlc_chd.csv")
L = (LIPID.ldlc, LIPID.ldlcse, LIPID.chdlodds, LIPID.chdloddsse)
R = pd.read_csv(REF / "reference_mr_r_output.csv").set_index(["data", "quantity"])["value"]


def r(data, quantity):
    return float(R[(data, quantity)])


@pytest.mark.parametrize("data", ["lipid", "bmi_chd"])
def test_ivw_and_egger_to_1e6_against_base_r(data):
    if data == "lipid":
        a = L
    else:
        h = pd.read_csv(REF / "bmi_chd_harmonised_twosamplemr.csv")
        a = (h["beta.exposure"], h["se.exposure"], h["beta.outcome"], h["se.outcome"])
    re, fe, eg = ivw(*a), ivw(*a, random_effects=False), egger(*a)
    got = {
        "ivw_estimate": re.estimate, "ivw_se_random": re.se, "ivw_se_fixed": fe.se,
        "ivw_q": re.q, "egger_estimate": eg.slope.estimate, "egger_se": eg.slope.se,
        "egger_intercept": eg.intercept.estimate, "egger_intercept_se": eg.intercept.se,
        "egger_residual_se": eg.residual_se, "egger_q": eg.slope.q, "i2_gx": eg.i2_gx,
        "mean_f": mean_f(a[0], a[1]),
    }  # fmt: skip
    for q, v in got.items():
        assert v == pytest.approx(r(data, q), abs=1e-6, rel=1e-9), q  # R: reference_mr_r_output.csv


def test_lipid_example_matches_the_vignette_to_its_3_decimals():
    re, eg = ivw(*L), egger(*L)
    half = 5e-4  # MR: values printed to 3 decimals (4 for Q)
    assert re.estimate == pytest.approx(2.834, abs=half)  # MR: IVW estimate
    assert re.se == pytest.approx(0.530, abs=half)  # MR: IVW std error
    assert (re.ci_lower, re.ci_upper) == pytest.approx((1.796, 3.873), abs=half)  # MR: 95% CI
    assert re.q == pytest.approx(99.5304, abs=5e-5)  # MR: Cochran's Q on 27 df
    assert eg.slope.estimate == pytest.approx(3.253, abs=half)  # MR: MR-Egger estimate
    assert eg.slope.se == pytest.approx(0.770, abs=half)  # MR: MR-Egger std error
    assert (eg.slope.ci_lower, eg.slope.ci_upper) == pytest.approx((1.743, 4.762), abs=half)  # MR
    assert eg.intercept.estimate == pytest.approx(-0.011, abs=half)  # MR: intercept
    assert eg.intercept.se == pytest.approx(0.015, abs=half)  # MR: intercept std error
    assert eg.intercept.p_value == pytest.approx(0.451, abs=half)  # MR: intercept p
    assert eg.residual_se == pytest.approx(1.935, abs=half)  # MR: residual standard error
    assert eg.i2_gx == pytest.approx(0.919, abs=half)  # MR: I^2_GX 91.9%
    assert mean_f(L[0], L[1]) == pytest.approx(28.0, abs=0.05)  # MR: F statistic 28.0


def test_lipid_weighted_median_and_mode():
    wm = weighted_median(*L, iterations=4000, seed=1)
    assert wm.estimate == pytest.approx(2.683, abs=5e-4)  # MR: weighted median 2.683
    assert wm.se == pytest.approx(0.419, abs=0.02)  # MR: bootstrap SE 0.419 (R's own draws)
    mode = weighted_mode(*L, second_order=True, iterations=300, seed=1)
    # R: the density's maximum on a 65536-point grid, to within that grid's step
    assert mode.estimate == pytest.approx(
        r("lipid", "mode_grid65536"), abs=r("lipid", "mode_grid65536_step")
    )
    # MR prints 2.946, the maximum on R's default 512-point grid: within one step of that grid
    assert abs(mode.estimate - 2.946) < r("lipid", "mode_grid512_step")


def test_bmi_example_from_files_through_harmonisation():
    """TwoSampleMR's BMI -> CHD: the raw exposure and outcome files, read and harmonised here
    (action 1, as TwoSampleMR's dat was made), give its published estimates."""
    exp = read_sumstats(REF / "bmi_ieu-a-2.tsv")
    out = read_sumstats(REF / "chd_ieu-a-7.tsv")
    h, counts = harmonise(exp, out, action=1)
    assert counts.kept == 79 and counts.irreconcilable_dropped == 0
    ref = pd.read_csv(REF / "bmi_chd_harmonised_twosamplemr.csv").set_index("SNP")
    ours = h.set_index("rsid").loc[ref.index]
    assert ours["beta_outcome"].to_numpy() == pytest.approx(
        ref["beta.outcome"].to_numpy(), abs=1e-12
    )
    a = (ours["beta_exposure"], ours["se_exposure"], ours["beta_outcome"], ours["se_outcome"])
    assert egger(*a).slope.estimate == pytest.approx(0.5025, rel=1e-3)  # TS: MR Egger
    assert ivw(*a).estimate == pytest.approx(0.4459, rel=1e-3)  # TS: IVW
    wm = weighted_median(*a, second_order=True, iterations=200)
    assert wm.estimate == pytest.approx(0.3870, rel=1e-3)  # TS: weighted median (2nd order)
    wmode = weighted_mode(*a, second_order=True, iterations=50)
    assert wmode.estimate == pytest.approx(0.3791, rel=1e-1)  # TS: weighted mode (tolerance 1e-1)
    assert wmode.estimate == pytest.approx(r("bmi_chd", "mode_grid65536"), abs=1e-4)  # R: fine grid
    loo = leave_one_out(*a, names=list(ours.index))
    assert len(loo) == 79 and all(abs(x.estimate - 0.4459) < 0.05 for x in loo)


def test_distance_clumping_is_conservative_on_ld_clumped_instruments():
    """TwoSampleMR's 79 BMI instruments were LD-clumped (r^2 < 0.001, OpenGWAS); distance alone
    (10 000 kb) takes every pair within the window as linked and keeps 66 (docs/genetics.md)."""
    from miglink.genetics.instruments import select_instruments

    chosen, sel = select_instruments(read_sumstats(REF / "bmi_ieu-a-2.tsv"))
    assert (sel.significant, sel.clumped_away, sel.instruments) == (79, 13, 66)
    assert (
        select_instruments(read_sumstats(REF / "bmi_ieu-a-2.tsv"), window_kb=0)[1].instruments == 79
    )
