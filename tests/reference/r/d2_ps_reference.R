# Reference for tests/unit/designs/test_d2_ps.py (hand example of D2's PS-stratified row):
# Cox model stratified on the two PS strata, Efron ties, R survival.
# Run: Rscript tests/reference/r/d2_ps_reference.R > tests/reference/r/d2_ps_reference.out
library(survival)
d <- data.frame(
  time = c(10, 20, 15, 30, 5, 25, 12, 40),
  ev = c(1, 0, 1, 0, 1, 0, 1, 0),
  t = c(1, 1, 0, 0, 0, 0, 1, 0),
  s = c(1, 1, 1, 0, 0, 0, 0, 1)  # PS > 0.5
)
f <- coxph(Surv(time, ev) ~ t + strata(s), data = d, ties = "efron",
           control = coxph.control(eps = 1e-12, iter.max = 100))
cat(sprintf("log_hr %.15f\nse %.15f\n", coef(f), sqrt(vcov(f)[1, 1])))
