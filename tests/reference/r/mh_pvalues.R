# Reference p-values for tests/reference/test_stats_exact_p.py (miglink issue 15, item 3).
# Run: Rscript tests/reference/r/mh_pvalues.R > tests/reference/r/mh_pvalues.out
# Every tail probability uses lower.tail = FALSE (R's own mantelhaen.test does too).
options(digits = 15)

# Strata of a, b, c, d (exposed cases, exposed non-cases, unexposed cases, unexposed non-cases).
huge <- rbind(c(200, 50, 40, 210), c(150, 60, 30, 160), c(90, 40, 20, 120))
hetero <- rbind(c(300, 100, 100, 300), c(100, 300, 300, 100), c(200, 200, 150, 250))
# pooled MH OR exactly 1: Breslow-Day's quadratic for the expected cell becomes linear
hetero_null <- rbind(c(300, 100, 100, 300), c(100, 300, 300, 100), c(200, 200, 200, 200))

as_array <- function(m) {
  x <- array(0, dim = c(2, 2, nrow(m)))
  for (k in seq_len(nrow(m))) x[, , k] <- matrix(m[k, c(1, 3, 2, 4)], 2)
  x
}

# Breslow-Day with Tarone's adjustment (Breslow & Day 1980 4.30; Tarone 1985), by hand:
# base R has no Breslow-Day test.
breslow_day <- function(m, or) {
  a <- m[, 1]; n1 <- m[, 1] + m[, 2]; m1 <- m[, 1] + m[, 3]; n <- rowSums(m)
  e <- sapply(seq_along(a), function(k) {
    lo <- max(0, m1[k] - (n[k] - n1[k])); hi <- min(n1[k], m1[k])
    f <- function(x) x * (n[k] - n1[k] - m1[k] + x) - or * (n1[k] - x) * (m1[k] - x)
    uniroot(f, c(lo, hi), tol = 1e-14)$root
  })
  v <- 1 / (1 / e + 1 / (n1 - e) + 1 / (m1 - e) + 1 / (n - n1 - m1 + e))
  stat <- sum((a - e)^2 / v) - (sum(a) - sum(e))^2 / sum(v)
  c(stat = stat, p = pchisq(stat, length(a) - 1, lower.tail = FALSE))
}

for (name in c("huge", "hetero", "hetero_null")) {
  m <- get(name)
  t <- mantelhaen.test(as_array(m), correct = FALSE)
  se <- log(t$conf.int[2] / t$conf.int[1]) / (2 * qnorm(0.975))
  wald_p <- 2 * pnorm(-abs(log(t$estimate) / se))
  bd <- breslow_day(m, t$estimate)
  cat(sprintf("%s mh_or %.15g\n", name, t$estimate))
  cat(sprintf("%s rbg_se %.15g\n", name, se))
  cat(sprintf("%s wald_p %.15g\n", name, wald_p))
  cat(sprintf("%s cmh_stat %.15g\n", name, t$statistic))
  cat(sprintf("%s cmh_p %.15g\n", name, t$p.value))
  cat(sprintf("%s bd_stat %.15g\n", name, bd[["stat"]]))
  cat(sprintf("%s bd_p %.15g\n", name, bd[["p"]]))
}

# Cochran-Armitage trend test (no continuity correction): prop.trend.test's chi-square is z^2.
# Agresti (2002) Table 3.7 (alcohol and malformation), and a steep trend with a tiny p.
for (name in c("alcohol", "steep")) {
  if (name == "alcohol") {
    score <- c(0, 0.5, 1.5, 4, 7); events <- c(48, 38, 5, 1, 1)
    total <- c(17114, 14502, 793, 127, 38)
  } else {
    score <- c(0, 1, 2, 3); events <- c(20, 80, 200, 400); total <- c(1000, 1000, 1000, 1000)
  }
  t <- prop.trend.test(events, total, score)
  cat(sprintf("%s ca_chisq %.15g\n", name, t$statistic))
  cat(sprintf("%s ca_p %.15g\n", name, t$p.value))
}
