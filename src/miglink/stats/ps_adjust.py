"""Adjustment on the propensity score: greedy caliper matching, quantile strata, IPTW weights.

CohortMethod's defaults: 1:k nearest-neighbour matching on the logit of the PS with a caliper of
0.2 SD of that logit (Austin 2011), five strata at PS quintiles, and stabilised IPTW weights
truncated at 10. All functions take person-level arrays and return person-level arrays; the
design keeps only aggregates of them.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import pandas as pd

CALIPER_SCALES = ("standardized logit", "standardized", "propensity score", "logit")


def logit(ps: np.ndarray) -> np.ndarray:
    ps = np.clip(np.asarray(ps, float), 1e-15, 1 - 1e-15)
    return np.log(ps / (1 - ps))


def match_on_ps(
    ps: np.ndarray,
    treatment: np.ndarray,
    max_ratio: int = 1,
    caliper: float = 0.2,
    caliper_scale: str = "standardized logit",
    order: str = "largest",
    seed: int = 16,
) -> np.ndarray:
    """Greedy nearest-neighbour 1:k matching; returns a matched-set id per row (-1: unmatched).

    Set ids are 0.. in the order the treated were visited. Distances are on the logit PS
    ("standardized logit": caliper x SD of logit(ps) over all rows, CohortMethod), on the PS in
    its SD units ("standardized"), on the PS itself ("propensity score") or on the logit with an
    absolute width ("logit"; SD with ddof=1, as R's sd). Treated persons
    are visited by descending PS ("largest", MatchIt's default), ascending, or in a seeded random
    order; in round r = 1..max_ratio each still-eligible treated person takes the nearest
    unmatched comparator within the caliper (MatchIt's ratio passes). ``caliper=0`` or None
    means no caliper.
    """
    t = np.asarray(treatment).astype(bool)
    if caliper_scale not in CALIPER_SCALES:
        raise ValueError(f"caliper_scale must be one of {CALIPER_SCALES}")
    on_logit = caliper_scale in ("standardized logit", "logit")
    d = logit(ps) if on_logit else np.asarray(ps, float)
    width = np.inf if not caliper else caliper
    if caliper and caliper_scale.startswith("standardized"):
        width = caliper * float(np.std(d, ddof=1))
    treated = np.flatnonzero(t)
    comps = np.flatnonzero(~t)
    c_sorted = np.argsort(d[comps], kind="stable")
    c_idx, c_d = comps[c_sorted], d[comps][c_sorted]
    visit = _visit_order(treated, d, order, seed)
    free = _Available(len(c_idx))
    set_id = np.full(len(t), -1, dtype=np.int64)
    set_id[visit] = np.arange(len(visit))
    eligible = np.ones(len(visit), bool)
    c_list, d_visit = c_d.tolist(), d[visit].tolist()
    for _ in range(max_ratio):
        for k in range(len(visit)):
            if not eligible[k]:
                continue
            j = _nearest(free, c_list, d_visit[k], width)
            if j < 0:
                eligible[k] = False
                continue
            free.take(j)
            set_id[c_idx[j]] = k
    matched_sets = np.unique(set_id[c_idx][set_id[c_idx] >= 0])
    lonely = np.setdiff1d(np.arange(len(visit)), matched_sets)
    set_id[visit[lonely]] = -1
    return _renumber(set_id)


def _visit_order(treated: np.ndarray, d: np.ndarray, order: str, seed: int) -> np.ndarray:
    if order == "largest":
        return treated[np.argsort(-d[treated], kind="stable")]
    if order == "smallest":
        return treated[np.argsort(d[treated], kind="stable")]
    if order == "random":
        return np.random.default_rng(seed).permutation(treated)
    raise ValueError("order must be largest, smallest or random")


class _Available:
    """Unmatched comparators in sorted order: union-find "nearest free to the left / right".

    Right slot j is comparator j (slot n: none); left slot j+1 is comparator j (slot 0: none).
    Taking j links its slots to the neighbour's, so each lookup is near O(1) amortised.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.right = list(range(n + 1))
        self.left = list(range(n + 1))

    def take(self, j: int) -> None:
        self.right[j] = j + 1
        self.left[j + 1] = j

    def find_left(self, j: int) -> int:
        """Largest free comparator <= j, or -1."""
        return _find(self.left, j + 1) - 1

    def find_right(self, j: int) -> int:
        """Smallest free comparator >= j, or n."""
        return _find(self.right, j)


def _find(parent: list[int], s: int) -> int:
    root = s
    while parent[root] != root:
        root = parent[root]
    while parent[s] != root:  # path compression
        parent[s], s = root, parent[s]
    return root


def _nearest(free: _Available, c_d: list[float], x: float, width: float) -> int:
    """Index of the nearest free comparator within ``width`` of ``x`` (ties go left), or -1."""
    pos = bisect_left(c_d, x)
    lo = free.find_left(pos - 1) if pos > 0 else -1
    hi = free.find_right(pos) if pos < free.n else free.n
    best, dist = -1, np.inf
    if lo >= 0:
        best, dist = lo, x - c_d[lo]
    if hi < free.n and c_d[hi] - x < dist:
        best, dist = hi, c_d[hi] - x
    return best if dist <= width else -1


def _renumber(set_id: np.ndarray) -> np.ndarray:
    out = np.full(len(set_id), -1, dtype=np.int64)
    m = set_id >= 0
    out[m] = pd.factorize(set_id[m], sort=True)[0]
    return out


def stratify_by_ps(
    ps: np.ndarray, treatment: np.ndarray, n_strata: int = 5, base: str = "all"
) -> np.ndarray:
    """Stratum id 0..n_strata-1 per row, cut at PS quantiles of the ``base`` population.

    base "all" (CohortMethod's default), "target" (the treated: ATT-like) or "comparator".
    Intervals are closed on the right, as R's cut / CohortMethod's stratifyByPs.
    """
    ps = np.asarray(ps, float)
    t = np.asarray(treatment).astype(bool)
    pool = {"all": ps, "target": ps[t], "comparator": ps[~t]}.get(base)
    if pool is None:
        raise ValueError("base must be all, target or comparator")
    breaks = np.unique(np.quantile(pool, np.arange(1, n_strata) / n_strata))
    return np.searchsorted(breaks, ps, side="left").astype(np.int64)


def iptw_weights(
    ps: np.ndarray, treatment: np.ndarray, estimand: str = "ate", max_weight: float | None = 10.0
) -> np.ndarray:
    """Stabilised inverse-probability-of-treatment weights, truncated at ``max_weight``.

    ATE: P/ps for the treated, (1-P)/(1-ps) for comparators (P the treated share: stabilising
    keeps the weighted arm sizes near the real ones). ATT: 1 for the treated, ps/(1-ps) x
    (1-P)/P for comparators. Truncation (CohortMethod's maxWeight, default 10) caps the
    influence of persons with extreme PS at the cost of some residual confounding.
    """
    ps = np.clip(np.asarray(ps, float), 1e-15, 1 - 1e-15)
    t = np.asarray(treatment).astype(bool)
    p = float(t.mean())
    if estimand == "ate":
        w = np.where(t, p / ps, (1 - p) / (1 - ps))
    elif estimand == "att":
        w = np.where(t, 1.0, ps / (1 - ps) * (1 - p) / p)
    else:
        raise ValueError("estimand must be ate or att")
    return np.minimum(w, max_weight) if max_weight else w


def adjustment_weights(
    strata: np.ndarray, treatment: np.ndarray, base: str = "target"
) -> np.ndarray:
    """Person weights that turn matched sets or PS strata into a re-weighting (for balance).

    base "target": each arm in a stratum re-weighted to the stratum's treated count (treated
    weight 1; in a 1:k matched set each comparator 1/k, CohortMethod's variable-ratio weights);
    "all": to the stratum's size. Rows with stratum -1 (unmatched) get weight 0.
    """
    s = np.asarray(strata)
    t = np.asarray(treatment).astype(int)
    frame = pd.DataFrame({"s": s, "t": t})
    in_set = s >= 0
    n_arm = frame.groupby(["s", "t"])["t"].transform("size").to_numpy(float)
    n_t = frame.assign(one=t).groupby("s")["one"].transform("sum").to_numpy(float)
    n_all = frame.groupby("s")["t"].transform("size").to_numpy(float)
    top = {"target": n_t, "all": n_all}.get(base)
    if top is None:
        raise ValueError("base must be target or all")
    w = top / n_arm
    both = frame.groupby("s")["t"].transform("nunique").to_numpy() == 2
    return np.where(in_set & both, w, 0.0)
