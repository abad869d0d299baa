"""The generative model, vectorised over the persons of one chunk.

Time runs in years of age for hazards and in days since 1970-01-01 for records. One call of
:meth:`ChunkSimulator.run` draws persons, latent traits, true onsets, visits and every record,
and returns Arrow-ready column arrays plus the sufficient statistics that truth.json is built
from. Each part of the world lives in its own module; ``run`` calls them in a fixed order, which
is the order of the random draws, so a (seed, scenario) always gives the same population.
See docs/synthetic-data.md for the model in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from miglink.synth.diagnoses import diagnose_coupled, diagnose_independent, migraine_patients
from miglink.synth.encounters import ENCOUNTER_RATE, RISK_WINDOW_DAYS, record_encounters
from miglink.synth.family_history import FH_BASE, record_family_history
from miglink.synth.indication import simulate as indication_cohorts
from miglink.synth.markers import measure_markers
from miglink.synth.onsets import IMMUNE_BETA, coupled_onsets, independent_onsets
from miglink.synth.persons import SEEK_SD, draw_persons, observation_years
from miglink.synth.prescriptions import prescribe
from miglink.synth.records import VISIT_RATE, ConditionRows, routine_visits
from miglink.synth.stats import NB, S_STRATA, Stats, band_count, person_time_by_band
from miglink.synth.tallies import hazard_pair_stats, recorded_stats
from miglink.synth.timescale import AGES, DAY_2000, DAY_2025, KEY, YEAR, ranges
from miglink.synth.world import World

# the model's constants and helpers under the names they had when they lived here
_g, _band_count, _ranges = person_time_by_band, band_count, ranges

__all__ = [
    "AGES",
    "DAY_2000",
    "DAY_2025",
    "ENCOUNTER_RATE",
    "FH_BASE",
    "IMMUNE_BETA",
    "KEY",
    "NB",
    "RISK_WINDOW_DAYS",
    "SEEK_SD",
    "S_STRATA",
    "VISIT_RATE",
    "YEAR",
    "ChunkSimulator",
    "Stats",
    "Tables",
]


@dataclass
class Tables:
    """Column arrays of one chunk (persons indexed locally 0..n-1)."""

    cols: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


class ChunkSimulator(World):
    """Simulates chunks of one world (scenario and vocabulary fixed)."""

    def run(self, rng: np.random.Generator, n: int) -> tuple[dict, Stats, dict]:
        """Simulate one chunk; return table columns, truth statistics and chunk internals."""
        p = draw_persons(rng, n)
        onset, subtype = coupled_onsets(self, rng, p)
        independent = independent_onsets(self, rng, p)
        stats = Stats()
        years = observation_years(p)
        visits = routine_visits(rng, p, years)
        rows = ConditionRows()
        dx_day, dx_code = diagnose_coupled(self, rng, p, onset, subtype, visits, rows)
        rec_i = diagnose_independent(self, rng, p, independent, visits, rows)
        mig = migraine_patients(p, dx_day)
        drugs = prescribe(self, rng, p, dx_day, mig)
        drugs = record_encounters(self, rng, p, mig, drugs, dx_code, visits, rows, stats)
        ai_on = np.min(onset[:, self.ai_idx], axis=1)
        meas = measure_markers(self, rng, p, onset, ai_on, dx_day, years, visits, stats)
        mig_true, ai_true = np.isfinite(onset[:, 0]), np.isfinite(ai_on)
        obs = record_family_history(self, rng, p, mig_true, ai_true, visits, stats)
        hazard_pair_stats(self, p, onset, subtype, dx_day, stats)
        recorded_stats(self, p, onset, subtype, dx_day, rec_i, mig.recorded, years, stats)
        if self.scenario.confounding_by_indication is not None:  # last: other draws unchanged
            drugs = indication_cohorts(self, rng, p, dx_day, drugs, visits, rows, stats)
        cols = dict(
            persons=p,
            visits=visits.columns(),
            conditions=rows.columns(),
            drugs=drugs.columns(),
            measurements=meas,
            observations=obs,
        )
        return cols, stats, {"onset": onset, "subtype": subtype, "dx_day": dx_day}
