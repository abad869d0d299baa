"""Study designs D1-D9: each an engine-side query returning counts, then an estimator on counts.

Where each claim's analysis lives:
  d1_prevalence.py  D1 prevalence association (claims 3, 5, 8)
  d2_cohort.py      D2 bidirectional incident matched cohort (claims 3, 5, 8, 9)
  d3_modification.py D3 sex and reproductive-age effect modification (claim 6)
  d4_vascular.py    D4 aura subtypes and vascular outcomes (claim 4)
  d5_drugs.py       D5 self-controlled case series and new-user cohort (claim 7)
  d6_biomarkers.py  D6 CRP / ESR ratio of geometric means (claim 1)
  d7_family.py      D7 family history (claim 2)
  d8_specificity.py D8 composite, dose-response, phenome background (claim 8)
  d9_order.py       D9 temporal order (claim 9)
"""
