"""Two-sample Mendelian randomisation from GWAS summary statistics (claim 2's genetic half).

One module per step: ``sumstats`` reads the files, ``harmonise`` aligns the outcome to the
exposure's effect allele, ``instruments`` selects independent genome-wide significant variants,
``estimators`` and ``robust`` estimate the causal effect, ``steiger`` checks its direction,
``analysis`` runs them all into one results table and ``synth`` plants known effects to test them.
Summary statistics are aggregates of whole GWAS samples: no person-level data enter here.
"""
