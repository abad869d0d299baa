# Reference values for tests/unit/test_propensity_reference.py (issue 16).
# R 4.x, MatchIt 4.5.1, survival 3.5-3 (Debian). Run: Rscript ps_reference.R > ps_reference.out
suppressMessages({library(MatchIt); library(survival)})
options(digits = 15)

# 1. Greedy nearest-neighbour matching, MatchIt method="nearest", treated visited by
# descending logit PS (MatchIt's m.order="largest"). The distance is given as a treated x
# control matrix |logit_t - logit_c|, which runs MatchIt's exact greedy search: with a
# distance VECTOR, Debian's MatchIt 4.5.1 uses its new neighbour heuristic
# (kosukeimai/MatchIt#180), which here takes the farther neighbour (three-unit check below).
t <- c(1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0)
lp <- c(-1.1899,1.0332,0.3374,0.9257,-0.9532,-0.1057,-0.5167,0.4173,1.4393,0.2010,-1.1315,
        -1.0589,-0.5969,-0.7756,0.0123,0.1960,-0.8919,-1.3334,-0.4414,-0.8034,-0.0422,-1.0531,
        0.5598,0.7030,1.2028,-0.4874,-0.3860,0.4517,-1.3265,-1.7133,0.1458,-0.0029,-1.9444,
        -0.6542,-0.7703)
show <- function(tag, t, lp, ratio, width) {
  ord <- c(which(t == 1)[order(-lp[t == 1])], which(t == 0))  # treated by descending PS
  d <- data.frame(t = t[ord], x = lp[ord], row = ord - 1)
  D <- abs(outer(d$x[d$t == 1], d$x[d$t == 0], "-"))
  m <- matchit(t ~ x, data = d, method = "nearest", distance = D, m.order = "data",
               ratio = ratio, caliper = width, std.caliper = FALSE, replace = FALSE)
  mm <- m$match.matrix  # row: treated unit, columns: its comparators (NA: none); 0-based
  for (i in seq_len(nrow(mm))) {
    cat(tag, ratio, d$row[as.integer(rownames(mm)[i])], d$row[as.integer(mm[i, ])], "\n")
  }
  cat(tag, "matched_units", ratio, sum(m$weights > 0), "\n")
}
width <- 0.2 * sd(lp)  # CohortMethod: caliper 0.2 x SD of the logit PS over everyone
cat("random_width", width, "\n")
for (ratio in c(1, 2)) show("random", t, lp, ratio, width)
d3 <- data.frame(t = c(1, 0, 0), x = c(0.5, 0.56, 0.4))
m3 <- matchit(t ~ x, data = d3, method = "nearest", distance = d3$x)
cat("vector_distance_three_unit_match_of_0.5", d3$x[as.integer(m3$match.matrix[1, 1])], "\n")
# a case with a unique answer: one comparator within the caliper 0.1 per treated unit
tu <- c(1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)
lu <- c(0, 1, 2, 3, 4, 5.5, 0.03, 1.05, 2.02, 3.04, 4.01, 6.5, 7, 8, 10)
for (ratio in c(1, 2)) show("unique", tu, lu, ratio, 0.1)

# 2. Cox with treatment only, Efron ties, stratified; and IPTW-weighted with robust SE.
i <- 0:199
cd <- data.frame(treatment = as.integer((i * 7) %% 3 == 0),
                 time = 1 + (i * 37) %% 23,
                 event = as.integer((i * 11) %% 5 != 0),
                 stratum = i %% 4,
                 w = 0.5 + (i %% 7) / 4)
cd$time <- cd$time + cd$treatment * ((i * 13) %% 5)  # make the HR differ from 1
f <- coxph(Surv(time, event) ~ treatment + strata(stratum), data = cd, ties = "efron")
cat("cox_strata_efron", coef(f), sqrt(vcov(f)), "\n")
f <- coxph(Surv(time, event) ~ treatment + strata(stratum), data = cd, ties = "breslow")
cat("cox_strata_breslow", coef(f), sqrt(vcov(f)), "\n")
f <- coxph(Surv(time, event) ~ treatment, data = cd, ties = "efron", weights = w, robust = TRUE)
cat("cox_weighted_robust", coef(f), sqrt(diag(f$var)), "\n")
