"""Study designs D1-D9, each behind one interface (base.py): tasks, count (engine), estimate.

Where each claim's analysis lives (registry.py lists them in run order):
  d1_prevalence.py   D1 prevalence association (claims 3, 5, 8)
  d2_cohort.py       D2 bidirectional incident matched cohort (claims 3, 5, 8, 9);
                     d2_matching.py (matched members), d2_counts.py (person-time, KM, balance),
                     d2_estimate.py (hazard-ratio rows, KM curves)
  d3_modification.py D3 sex and reproductive-age effect modification (claim 6)
  d4_vascular.py     D4 aura subtypes and vascular outcomes (claim 4)
  d5_drugs.py        D5 drugs (claim 7): d5_sccs*.py self-controlled case series,
                     d5_new_user.py new-user cohort, d5_burden.py medication-overuse burden
  d6_biomarkers.py   D6 CRP / ESR ratio of geometric means (claim 1)
  d7_family.py       D7 family history (claim 2)
  d8_specificity.py  D8 dose-response (claim 8); d8_phenome.py the phenome background
  d9_order.py        D9 temporal order (claim 9)

Shared building blocks: strata.py (stratified count queries), twobytwo.py (rows from 2x2
tables), rows.py (the row builder), not_analysed.py (rows of designs that cannot run).
"""
