# Full-precision reference values for tests/unit/genetics/test_reference_mr.py, in base R (stats::lm),
# following the conventions the MendelianRandomization package documents (Yavorska & Burgess 2017;
# its vignette): IVW = weighted regression of by on bx through the origin, weights byse^-2; the
# random-effects SE is the regression SE divided by min(1, residual SE); MR-Egger orients every variant
# to a positive bx and divides SEs by min(1, residual SE); I^2_GX after Bowden et al. 2016.
# Written for miglink; no package code is copied. Run: Rscript reference_mr.R (from this folder).
one <- function(bx, bxse, by, byse, label) {
  w <- byse^-2
  k <- length(bx)
  ivw <- summary(lm(by ~ bx - 1, weights = w))
  s_ivw <- ivw$sigma
  b_ivw <- ivw$coefficients[1, 1]
  se_fixed <- ivw$coefficients[1, 2] / s_ivw
  se_random <- ivw$coefficients[1, 2] / min(1, s_ivw)
  q_ivw <- s_ivw^2 * (k - 1)
  sx <- sign(bx)
  eg <- summary(lm(I(by * sx) ~ abs(bx), weights = w))
  s_eg <- eg$sigma
  co <- eg$coefficients
  # I^2_GX on the scale of the Egger regression (bx / byse, its SE bxse / byse), as the
  # MendelianRandomization package reports it (its vignette: 91.9% on the lipid data)
  wx <- (bxse / byse)^-2
  ax <- abs(bx) / byse
  mu <- sum(ax * wx) / sum(wx)
  qx <- sum(wx * (ax - mu)^2)
  isq <- max(0, (qx - (k - 1)) / qx)
  data.frame(
    data = label,
    quantity = c("ivw_estimate", "ivw_se_fixed", "ivw_se_random", "ivw_residual_se", "ivw_q",
                 "egger_estimate", "egger_se", "egger_intercept", "egger_intercept_se",
                 "egger_residual_se", "egger_q", "i2_gx", "mean_f"),
    value = c(b_ivw, se_fixed, se_random, s_ivw, q_ivw, co[2, 1], co[2, 2] / min(1, s_eg),
              co[1, 1], co[1, 2] / min(1, s_eg), s_eg, s_eg^2 * (k - 2), isq, mean((bx / bxse)^2))
  )
}
lip <- read.csv("lipid_ldlc_chd.csv")
bmi <- read.csv("bmi_chd_harmonised_twosamplemr.csv")
bmi <- bmi[bmi$mr_keep, ]
# Weighted mode (Hartwig et al. 2017) with delta ("second-order") SEs as both packages' defaults,
# read off stats::density on its default 512-point grid and on a 65536-point grid: the first is
# what the packages print, the second is the density's actual maximum to within 1e-2.
mode <- function(bx, bxse, by, byse, label) {
  b <- by / bx
  se <- sqrt(byse^2 / bx^2 + by^2 * bxse^2 / bx^4)
  s <- 0.9 * min(sd(b), mad(b)) / length(b)^(1 / 5)
  w <- se^-2 / sum(se^-2)
  at <- function(n) { d <- density(b, weights = w, bw = s, n = n); d$x[which.max(d$y)] }
  span <- diff(range(b)) + 6 * s
  data.frame(data = label, quantity = c("mode_grid512", "mode_grid512_step", "mode_grid65536", "mode_grid65536_step"),
             value = c(at(512), span / 511, at(65536), span / 65535))
}
res <- rbind(one(lip$ldlc, lip$ldlcse, lip$chdlodds, lip$chdloddsse, "lipid"),
             one(bmi$beta.exposure, bmi$se.exposure, bmi$beta.outcome, bmi$se.outcome, "bmi_chd"),
             mode(lip$ldlc, lip$ldlcse, lip$chdlodds, lip$chdloddsse, "lipid"),
             mode(bmi$beta.exposure, bmi$se.exposure, bmi$beta.outcome, bmi$se.outcome, "bmi_chd"))
res$value <- sprintf("%.15g", res$value)
write.csv(res, "reference_mr_r_output.csv", row.names = FALSE, quote = FALSE)
print(res)
cat(R.version.string, "\n")
