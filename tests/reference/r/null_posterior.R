# Reference for miglink.stats.null_posterior (tests/reference/test_null_posterior.py).
# Base R only, and independent of the Python code's algebra: the posterior of the empirical
# null (mu, sigma) under a flat prior on mu and a uniform prior on sigma in [0, 2] is
# integrated numerically in two dimensions (nested integrate() over mu and sigma on the raw
# likelihood prod dnorm(y_i, mu, sqrt(sigma^2 + s_i^2))), not through the Gaussian-in-mu
# shortcut the Python code uses. The calibrated p, CI (uniroot) and estimate are the posterior
# predictive's tails / quantiles for a target estimate (b, s).
# Run: Rscript null_posterior.R > null_posterior.out
options(digits = 15)
SIGMA_MAX <- 2

posterior_fns <- function(y, s) {
  m0 <- sum(y / s^2) / sum(1 / s^2)
  loglik <- function(mu, sigma) sum(dnorm(y, mu, sqrt(sigma^2 + s^2), log = TRUE))
  c0 <- loglik(m0, 0)
  lik <- function(mu, sigma) exp(sapply(mu, function(m) loglik(m, sigma)) - c0)
  # expectation of g(mu, sigma) over the posterior, as a ratio of two 2-d integrals
  expect <- function(g) {
    inner <- function(sigma, h) {
      sapply(sigma, function(sg) {
        integrate(function(mu) lik(mu, sg) * h(mu, sg), m0 - 3, m0 + 3,
                  rel.tol = 1e-11, subdivisions = 500L)$value
      })
    }
    num <- integrate(function(sg) inner(sg, g), 0, SIGMA_MAX, rel.tol = 1e-10,
                     subdivisions = 500L)$value
    den <- integrate(function(sg) inner(sg, function(mu, sg) 1), 0, SIGMA_MAX,
                     rel.tol = 1e-10, subdivisions = 500L)$value
    num / den
  }
  cdf <- function(x, se) expect(function(mu, sg) pnorm((x - mu) / sqrt(sg^2 + se^2)))
  list(cdf = cdf, expect = expect)
}

calibrated <- function(y, s, b, se, width = 0.95) {
  f <- posterior_fns(y, s)
  lower <- f$cdf(b, se)
  p <- 2 * min(lower, 1 - lower)
  q <- function(u) uniroot(function(x) f$cdf(x, se) - u, c(-5, 5), tol = 1e-10)$root
  a <- (1 - width) / 2
  c(p = p, ci_low = exp(b - q(1 - a)), ci_high = exp(b - q(a)), estimate = exp(b - q(0.5)),
    mu_mean = f$expect(function(mu, sg) mu))
}

# five controls: the null's mean and sd are both uncertain
y5 <- c(0.10, 0.25, -0.05, 0.18, 0.02)
s5 <- c(0.10, 0.15, 0.12, 0.20, 0.08)
r5 <- calibrated(y5, s5, b = 0.40, se = 0.10)
cat("five", r5, "\n")

# eight controls with real spread
y8 <- c(0.31, -0.12, 0.05, 0.44, -0.20, 0.15, 0.02, 0.27)
s8 <- c(0.08, 0.10, 0.06, 0.12, 0.09, 0.07, 0.05, 0.11)
r8 <- calibrated(y8, s8, b = -0.30, se = 0.15)
cat("eight", r8, "\n")
