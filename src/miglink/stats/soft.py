"""The one place where a numerical fit failure becomes a "not estimable" reason.

Thin or degenerate data (a singular information matrix, overflow, separation, a fit that does
not converge) is a property of the population, not a bug: the study must report it as a row
with NaNs and a reason and carry on. Every estimator runs its numerical core through
:func:`attempt`, so the list of failures treated this way is written once. Anything else
(a KeyError or TypeError from our own code) still raises.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from lifelines.exceptions import ConvergenceError as LifelinesConvergenceError
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

T = TypeVar("T")

#: Exceptions that mean "these data cannot be fitted", never "the code is wrong".
FIT_FAILURES: tuple[type[BaseException], ...] = (
    np.linalg.LinAlgError,
    OverflowError,
    FloatingPointError,
    PerfectSeparationError,
    PerfectSeparationWarning,
    ConvergenceWarning,
    LifelinesConvergenceError,
)


class FitDiverged(FloatingPointError):
    """Raised by our own Newton fits when the iterates or their information become non-finite."""


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """The value of a fit, or the reason it is not estimable (then ``value`` is None)."""

    value: T | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def reason_for(exc: BaseException, singular: str | None = None) -> str:
    """A short "not estimable: ..." text for a fit failure."""
    if isinstance(exc, np.linalg.LinAlgError):
        why = singular or "singular information matrix (a term is not identified)"
    elif isinstance(exc, PerfectSeparationError | PerfectSeparationWarning):
        why = "perfect separation (an arm has only events or no events)"
    elif isinstance(exc, ConvergenceWarning | LifelinesConvergenceError):
        why = "the fit did not converge"
    elif isinstance(exc, FitDiverged):
        why = f"the fit diverged ({exc})" if str(exc) else "the fit diverged"
    else:  # OverflowError, FloatingPointError
        why = "numerical overflow: the estimate diverges (sparse or separated data)"
    return f"not estimable: {why}"


def attempt(
    fit: Callable[[], T],
    *,
    singular: str | None = None,
    converged: Callable[[T], bool] | None = None,
) -> Attempt[T]:
    """Run ``fit``; numerical failures become an :class:`Attempt` with a reason.

    statsmodels' ConvergenceWarning and PerfectSeparationWarning count as failures (an
    estimate from a fit that did not converge is not reported). ``singular`` words the reason
    for a singular matrix in the caller's terms; ``converged`` reads a convergence flag from
    the result, and a false flag is a failure too.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("error", PerfectSeparationWarning)
            value = fit()
    except FIT_FAILURES as exc:
        return Attempt(None, reason_for(exc, singular))
    if converged is not None and not converged(value):
        return Attempt(None, "not estimable: the fit did not converge")
    return Attempt(value)
