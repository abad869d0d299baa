# Reference for tests/reference/test_profile_pool.py (miglink issue 15, item 3): the pooled
# (fixed-effect) likelihood-ratio interval of log OR over sites' crude 2x2 tables, solved exactly.
# Each table's conditional log-likelihood is Fisher's non-central hypergeometric log-probability
# of its exposed cases a given the margins (Breslow & Day 1980, vol. I 4.2); a site that shares
# no table contributes the normal log-likelihood -(b - y)^2 / (2 se^2). The interval is where the
# summed log-likelihood falls qchisq(0.95, 1) / 2 below its maximum (uniroot, tol 1e-12).
# Run: Rscript tests/reference/r/profile_pool.R > tests/reference/r/profile_pool.out
options(digits = 15)

cond_ll <- function(b, a, n1, c, n0) {
  m <- a + c
  u <- max(0, m - n0):min(n1, m)
  lw <- lchoose(n1, u) + lchoose(n0, m - u) + u * b
  top <- max(lw)
  lchoose(n1, a) + lchoose(n0, c) + a * b - (top + log(sum(exp(lw - top))))
}

# sites: a, n1, c, n0 (exposed cases, exposed, unexposed cases, unexposed)
tables <- rbind(c(8, 30, 5, 100), c(6, 25, 5, 120))
normal <- rbind(c(log(3), 0.6))  # y, se of a site with no table

total <- function(b, with_normal) {
  s <- sum(apply(tables, 1, function(t) cond_ll(b, t[1], t[2], t[3], t[4])))
  if (with_normal) s <- s - sum((b - normal[, 1])^2 / (2 * normal[, 2]^2))
  s
}

for (with_normal in c(FALSE, TRUE)) {
  f <- function(b) total(b, with_normal)
  opt <- optimize(f, c(-3, 3), maximum = TRUE, tol = 1e-12)
  cut <- opt$objective - qchisq(0.95, 1) / 2
  lo <- uniroot(function(b) f(b) - cut, c(-3, opt$maximum), tol = 1e-12)$root
  hi <- uniroot(function(b) f(b) - cut, c(opt$maximum, 3), tol = 1e-12)$root
  name <- if (with_normal) "tables_and_normal" else "tables"
  cat(sprintf("%s estimate %.12g\n", name, exp(opt$maximum)))
  cat(sprintf("%s ci_low %.12g\n", name, exp(lo)))
  cat(sprintf("%s ci_high %.12g\n", name, exp(hi)))
}

# Cross-check of the estimate: mantelhaen.test(exact = TRUE) gives the same conditional MLE of
# the two tables; its interval inverts the exact conditional test (Fisher-type), a different and
# wider interval than the likelihood-ratio one above, so it is printed but not compared.
x <- array(0, dim = c(2, 2, nrow(tables)))
for (k in seq_len(nrow(tables))) {
  t <- tables[k, ]
  x[, , k] <- matrix(c(t[1], t[3], t[2] - t[1], t[4] - t[3]), 2)
}
ex <- mantelhaen.test(x, exact = TRUE)
cat(sprintf("mantelhaen_exact estimate %.12g\n", ex$estimate))
cat(sprintf("mantelhaen_exact ci_low %.12g\n", ex$conf.int[1]))
cat(sprintf("mantelhaen_exact ci_high %.12g\n", ex$conf.int[2]))
