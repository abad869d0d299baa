"""Estimators on small tables of sufficient statistics (ARCHITECTURE.md §2).

Every estimator takes counts (or a narrow person-level frame where a design needs one) and
returns an :class:`~miglink.stats.estimate.Estimate`; none sees a whole patient table.
"""

from miglink.stats.estimate import Estimate

__all__ = ["Estimate"]
