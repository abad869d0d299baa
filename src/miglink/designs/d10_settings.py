"""Validated settings of one comparative new-user cohort comparison (design D10).

The names and defaults follow OHDSI CohortMethod so that a CohortMethod analysis can be restated
here line by line: ``createStudyPopulation`` (CohortMethod v3.1.0, R/StudyPopulation.R, lines
84-100), ``matchOnPs`` (maxRatio 1, caliper 0.2 on the standardised logit), ``stratifyByPs``
(5 strata, base 'all') and ``createPs`` (at most 250,000 persons per arm in the fit). Every model
forbids unknown keys, so a misspelt option fails when the file is loaded (as the study file
does, ``claims/model.py``).

Prior observation appears twice on purpose, as in OHDSI practice: ``prior_observation_days`` of
an exposure cohort is part of the cohort definition (ATLAS's "continuous observation before
index"), applied before the attrition starts; ``washout_days`` of the study population is
CohortMethod's ``washoutPeriod`` (the Book of OHDSI's "180-day washout"), an attrition step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from miglink.claims.validation import validation_summary
from miglink.errors import MiglinkError
from miglink.safeyaml import read_text, safe_yaml

Anchor = Literal["cohort start", "cohort end"]
Duplicates = Literal["keep all", "keep first", "remove all"]
Method = Literal["match", "stratify", "iptw", "none"]
CaliperScale = Literal["standardized logit", "standardized", "propensity score"]
StratificationBase = Literal["all", "target", "comparator"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Concepts(_Strict):
    """Concepts named by a concept-set id of the study or listed explicitly (or both)."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    concept_set: str | None = Field(None, min_length=1)
    concept_ids: tuple[int, ...] = ()
    include_descendants: bool = True

    @model_validator(mode="after")
    def _named(self) -> _Concepts:
        if self.concept_set is None and not self.concept_ids:
            raise ValueError("give 'concept_set' or 'concept_ids'")
        return self


class ExposureCohort(_Concepts):
    """Eras of a drug (ingredients and, by default, their descendants) from DRUG_EXPOSURE.

    Exposures of the cohort's concepts are merged into eras when the next one starts at most
    ``persistence_gap_days`` after the running end (30 days: the OHDSI drug-era convention, which
    Eunomia's DRUG_ERA table and its celecoxib / diclofenac cohorts use). Every era is a cohort
    entry unless ``first_era_only``; an entry must start inside an observation period with at
    least ``prior_observation_days`` of it before the start (CohortMethod's own extraction keeps
    only entries inside an observation period).
    """

    persistence_gap_days: int = Field(30, ge=0)
    first_era_only: bool = False
    prior_observation_days: int = Field(0, ge=0)


class OutcomeCohort(_Concepts):
    """Condition occurrences of the concepts; each record date is an outcome event.

    Eunomia's GiBleed cohort (v1.0.0, inst/sql/sql_server/GiBleed.sql) takes every
    CONDITION_OCCURRENCE of 192671 'Gastrointestinal hemorrhage' and its descendants.
    """


class PopulationSettings(_Strict):
    """CohortMethod's ``createStudyPopulation`` options, with its defaults (v3.1.0)."""

    first_exposure_only: bool = False
    restrict_to_common_period: bool = False
    washout_days: int = Field(0, ge=0)
    remove_duplicate_subjects: Duplicates = "keep all"
    remove_subjects_with_prior_outcome: bool = True
    prior_outcome_lookback: int = Field(99999, ge=1)
    min_days_at_risk: int = Field(1, ge=0)
    risk_window_start: int = 0
    start_anchor: Anchor = "cohort start"
    risk_window_end: int = 0
    end_anchor: Anchor = "cohort end"

    @model_validator(mode="after")
    def _window(self) -> PopulationSettings:
        if self.start_anchor == self.end_anchor and self.risk_window_end < self.risk_window_start:
            raise ValueError("risk_window_end is before risk_window_start on the same anchor")
        return self


class AdjustmentSettings(_Strict):
    """Propensity-score adjustment (CohortMethod's ``createPs``, ``matchOnPs``, ``stratifyByPs``).

    ``excluded_concept_ids`` (with descendants when ``exclude_descendants``) are left out of the
    covariates in addition to the exposure concepts, which are always excluded.

    ``covariate_windows`` are the look-back windows of the concept covariates (days before index;
    "any time prior"). The default is issue 16's four; FeatureExtraction's
    ``createDefaultCovariateSettings`` uses long term 365 and short term 30, which the Eunomia
    example restates to reproduce CohortMethod's PS (docs/covariates.md).
    """

    method: Method = "match"
    max_ratio: int = Field(1, ge=0)  # 0: as many comparators as the caliper allows
    caliper: float = Field(0.2, ge=0)
    caliper_scale: CaliperScale = "standardized logit"
    n_strata: int = Field(5, ge=2)
    stratification_base: StratificationBase = "all"
    max_persons_per_arm_in_fit: int = Field(250_000, ge=1000)
    excluded_concept_ids: tuple[int, ...] = ()
    exclude_descendants: bool = True
    excluded_covariate_ids: tuple[int, ...] = ()
    covariate_windows: tuple[Literal["any time prior", 365, 180, 30], ...] = Field(
        ("any time prior", 365, 180, 30), min_length=1
    )

    @model_validator(mode="after")
    def _windows(self) -> AdjustmentSettings:
        if len(set(self.covariate_windows)) != len(self.covariate_windows):
            raise ValueError("covariate_windows repeat")
        return self

    def windows(self) -> tuple[int | None, ...]:
        """The windows as the covariate builder takes them (None: any time prior)."""
        return tuple(None if w == "any time prior" else int(w) for w in self.covariate_windows)


class Comparison(_Strict):
    """Target vs comparator new users, their outcomes, study population and adjustment."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    text: str = ""
    target: ExposureCohort
    comparator: ExposureCohort
    outcomes: tuple[OutcomeCohort, ...] = Field(min_length=1)
    negative_control_outcomes: tuple[OutcomeCohort, ...] = ()
    population: PopulationSettings = PopulationSettings()
    adjustment: AdjustmentSettings = AdjustmentSettings()
    #: a condition concept-set id recorded on or before index in both arms (the disease the
    #: drugs treat, e.g. multiple sclerosis); an attrition step right after the original cohorts
    indication: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Comparison:
        if self.target.id == self.comparator.id:
            raise ValueError("target and comparator need different ids")
        ids = [o.id for o in (*self.outcomes, *self.negative_control_outcomes)]
        if len(set(ids)) != len(ids):
            raise ValueError("outcome ids must be unique")
        return self


_COMPARISONS = TypeAdapter(tuple[Comparison, ...])


def load_comparisons(path: str | Path) -> tuple[Comparison, ...]:
    """The validated ``comparisons`` list of a YAML file; every problem at once.

    Other top-level keys (a study file's claims, settings ...) are left to their own models.
    """
    p = Path(path)
    raw = safe_yaml(read_text(p, "comparison file"), p, "comparison file")
    if not isinstance(raw, dict) or not raw.get("comparisons"):
        raise MiglinkError(f"file {p} has no 'comparisons' list")
    try:
        return _COMPARISONS.validate_python(raw["comparisons"])
    except ValidationError as e:
        summary = validation_summary(e)
        raise MiglinkError(f"comparisons in {p} are invalid: {summary}") from None
