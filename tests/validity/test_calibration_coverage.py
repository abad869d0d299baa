"""Frequentist coverage of the calibrated CI when the null itself is estimated (issue 15 item 2).

Simulated negative controls with the standard errors of a D2 reverse group (22 controls, SE
0.15-0.53, systematic error sd 0.2: the configuration where the plug-in null's sd is poorly
identified) and one target with SE 0.075 and no true effect. The target's calibrated CI should
hold 1 in 95% of repetitions.

Bars and seed, stated before this test was first run: seed 12, 800 repetitions; the posterior
calibration (``miglink.stats.null_posterior``) covers >= 93%; the plug-in calibration
(``miglink.stats.calibration.calibrate`` on ``fit_null``) covers < 90% (why the change was
needed). An exploratory run at seed 11 (1500 repetitions) gave 94.9% and 83.3%.
"""

from __future__ import annotations

import warnings

import numpy as np

from miglink.stats.calibration import calibrate, fit_null
from miglink.stats.null_posterior import calibrate_posterior, fit_null_posterior

SEED, REPS, SIGMA, MU = 12, 800, 0.2, 0.05
SE_CONTROLS = np.array(
    [0.17, 0.52, 0.35, 0.2, 0.47, 0.16, 0.18, 0.18, 0.41, 0.15, 0.46, 0.3, 0.21, 0.35, 0.32,
     0.37, 0.49, 0.53, 0.25, 0.3, 0.2, 0.4]
)  # fmt: skip
SE_TARGET = 0.075


def test_posterior_calibration_covers_where_the_plug_in_does_not():
    rng = np.random.default_rng(SEED)
    new = old = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(REPS):
            s = SE_CONTROLS
            y = rng.normal(MU, np.sqrt(SIGMA**2 + s**2))
            b = rng.normal(MU, np.sqrt(SIGMA**2 + SE_TARGET**2))
            _, lo, hi, _ = calibrate_posterior(fit_null_posterior(y, s), [b], [SE_TARGET], 0.95)
            _, lo0, hi0, _ = calibrate([b], [SE_TARGET], fit_null(y, s))
            new += int(lo[0] <= 1 <= hi[0])
            old += int(lo0[0] <= 1 <= hi0[0])
    assert new / REPS >= 0.93, f"posterior calibration covers {new}/{REPS}"
    assert old / REPS < 0.90, f"plug-in calibration covers {old}/{REPS}"
