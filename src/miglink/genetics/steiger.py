"""Steiger directionality (Hemani, Tilling & Davey Smith 2017, PLoS Genet 13:e1007081).

If the exposure causes the outcome, the instruments explain more of the exposure's variance than
of the outcome's. Each variant's r^2 is t^2 / (t^2 + n - 2) with t = beta / se (the variance a
single regressor explains); the instruments' total is their sum (they are independent after
clumping); the two correlations are compared with Fisher's z for independent samples, as
TwoSampleMR's ``directionality_test`` does. For a case-control outcome this r^2 is on the
observed 0/1 scale, a lower bound of the liability-scale r^2, so a "correct direction" verdict is
conservative there but not a "wrong direction" one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm

from miglink.errors import MiglinkError


@dataclass(frozen=True)
class Steiger:
    r2_exposure: float
    r2_outcome: float
    correct_direction: bool
    z: float
    p_value: float

    def as_dict(self) -> dict:
        return asdict(self)


def variance_explained(beta, se, n) -> np.ndarray:
    """Each variant's r^2 with its trait, from its t statistic and sample size."""
    t2 = (np.asarray(beta, float) / np.asarray(se, float)) ** 2
    return t2 / (t2 + np.asarray(n, float) - 2)


def steiger(bx, bxse, nx, by, byse, ny) -> Steiger:
    """The direction test; needs the GWAS sample sizes (column ``n``) of both files."""
    nx, ny = np.asarray(nx, float), np.asarray(ny, float)
    if not (np.isfinite(nx).all() and np.isfinite(ny).all() and (nx > 3).all() and (ny > 3).all()):
        raise MiglinkError("Steiger directionality needs the sample size n of every instrument")
    rx = float(np.sum(variance_explained(bx, bxse, nx)))
    ry = float(np.sum(variance_explained(by, byse, ny)))
    z = (np.arctanh(np.sqrt(rx)) - np.arctanh(np.sqrt(ry))) / np.sqrt(
        1 / (np.mean(nx) - 3) + 1 / (np.mean(ny) - 3)
    )
    return Steiger(rx, ry, rx > ry, float(z), float(2 * norm.sf(abs(z))))
