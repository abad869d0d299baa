"""Methods text generated from the study file (rendered in the report)."""

from __future__ import annotations

from miglink.claims.model import Study

DESIGN_TEXT = {
    "D1": "prevalence association: stratified 2x2 tables (sex x 5-year age band x utilisation quintile x "
    "observation band), Mantel-Haenszel OR with Robins-Breslow-Greenland variance (primary), crude OR "
    "(Woolf) and logistic regression on grouped counts (sensitivity); Breslow-Day homogeneity",
    "D2": "incident matched cohort in both directions: new diagnoses with >= {prior} days of prior "
    "observation matched 1:{k} exactly on sex, {byb}-year birth band, index year and prior-year "
    "utilisation band; comparators censored at their own index diagnosis; hazard ratio as a Poisson "
    "rate ratio stratified on the matching cells; Kaplan-Meier curves; balance by standardised mean "
    "difference (< {smd})",
    "D3": "effect modification by sex and by reproductive age in women ({lo}-{hi} vs older): ratio of "
    "Mantel-Haenszel ORs with a z test for interaction",
    "D4": "aura subtypes and vascular outcomes",
    "D5": "self-controlled case series and new-user cohort",
    "D6": "ratio of geometric means of CRP / ESR from stratum sufficient statistics",
    "D7": "family history odds ratios",
    "D8": "composite 'any autoimmune disease'; dose-response over 0/1/2/3+ diseases (logistic trend); "
    "specificity against the phenome background (ORs of every condition concept with >= {pmin} persons, "
    "used as an empirical null)",
    "D9": "temporal order among people with both conditions (share with migraine first, Clopper-Pearson CI)",
    "D10": "comparative new-user cohort: target vs comparator new users (CohortMethod's study population), "
    "a large-scale propensity score (L1 logistic regression on the baseline covariates, prior by "
    "cross-validation), matching, stratification or IPTW on it, Cox hazard ratio; balance on every "
    "covariate (max |SMD| < {smd}), equipoise >= 0.2, negative-control outcomes for calibration",
    "MR": "two-sample Mendelian randomisation from GWAS summary statistics (claim 2's genetic half): "
    "genome-wide significant exposure variants clumped by distance, harmonised to the outcome "
    "(palindromes by allele frequency), random-effects IVW OR per unit of exposure liability (key), "
    "MR-Egger, weighted median and mode; Egger intercept, Steiger direction and mean F < 10 gate the "
    "verdict; not analysed without summary statistics",
}


def methods_text(study: Study) -> str:
    st = study.settings
    fmt = dict(
        prior=st.min_prior_observation_days,
        k=st.matching_ratio,
        byb=st.birth_year_band,
        smd=st.max_smd,
        lo=st.reproductive_age[0],
        hi=st.reproductive_age[1],
        pmin=st.phenome_min_persons,
    )
    used = sorted({h.design for _, h in study.hypotheses()})
    lines = [
        f"Study: {study.name}. Index condition: {st.index_set}; a phenotype is >= {st.phenotype_min_dates} "
        f"record(s) of its concept set, dated at the first (or second) distinct date.",
        "Designs:",
    ]
    lines += [f"- {d}: {DESIGN_TEXT[d].format(**fmt)}." for d in used]
    lines.append(
        f"Systematic error: every D1 and D2 analysis is repeated for {len(study.negative_controls)} "
        "negative-control outcomes (and, for the reverse direction, negative-control exposures); the "
        "empirical null fitted to them (EmpiricalCalibration) calibrates CIs and p-values; the expected "
        "absolute systematic error (EASE) is reported."
    )
    lines.append(
        f"Verdicts: from the calibrated 95% CI; 'no evidence' requires MDRR <= {st.mdrr_threshold:g}; "
        "estimates failing diagnostics (events, MDRR, balance, calibration) cannot support a claim. "
        "Associations are not causal effects."
    )
    return "\n".join(lines)
