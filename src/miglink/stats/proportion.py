"""A share with an exact CI: D9 asks which diagnosis comes first among people with both."""

from __future__ import annotations

from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from miglink.stats import level
from miglink.stats.estimate import NAN, Estimate


def binomial_share(k: int, n: int, null: float = 0.5) -> Estimate:
    """Share k/n with the Clopper–Pearson CI (95% by default) and the exact binomial test against ``null``.

    ``log_estimate`` and ``se_log`` are NaN (a share is not a ratio); ``extra["se"]`` is the
    binomial SE of the share.
    """
    method = "binomial_exact"
    if n <= 0 or k < 0 or k > n:
        return Estimate.missing(
            method, "not estimable: need 0 <= k <= n and n > 0", {"k": k, "n": n}
        )
    lo, hi = proportion_confint(k, n, alpha=level.alpha(), method="beta")
    p = k / n
    return Estimate(
        estimate=p,
        log_estimate=NAN,
        se_log=NAN,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=float(binomtest(int(k), int(n), null).pvalue),
        method=method,
        extra={"k": k, "n": n, "null": null, "se": (p * (1 - p) / n) ** 0.5},
    )
