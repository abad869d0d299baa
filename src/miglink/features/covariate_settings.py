"""What the baseline covariates are: windows, domains, analysis ids and the Charlson categories.

The scheme follows OHDSI FeatureExtraction's default covariate settings so that a reader who knows
CohortMethod reads miglink's covariates the same way: a covariate id is
``concept_id * 1000 + analysis_id`` and the analysis id says the domain and the window
(docs/covariates.md lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miglink.errors import MiglinkError

#: Record domains of :func:`miglink.features.covariate_records.covariate_records`.
DOMAINS = ("condition", "drug", "procedure", "measurement", "observation")

#: Window lengths in days before index; ``None`` is any time prior.
DEFAULT_WINDOWS: tuple[int | None, ...] = (None, 365, 180, 30)

#: Analysis id of each domain and window (FeatureExtraction's numbering: x01 any time prior,
#: x02 long term 365 d, x03 medium term 180 d, x04 short term 30 d). Drug ingredients take
#: FeatureExtraction's drug-era ids (40x) as its DrugEra analyses roll exposures up to ingredients.
DOMAIN_BASE = {
    "condition": 100,
    "drug": 400,
    "procedure": 500,
    "measurement": 700,
    "observation": 800,
}
#: Vocabulary groups (FeatureExtraction's ConditionGroupEra 210-213 and DrugGroupEra 410-413).
GROUP_BASE = {"condition_group": 209, "drug_class": 409}
WINDOW_OFFSET = {None: 1, 365: 2, 180: 3, 30: 4}

SEX, AGE, AGE_GROUP, INDEX_YEAR, INDEX_MONTH = 1, 2, 3, 6, 7
CHARLSON = 901
VISIT_COUNT = 923

#: Two SNOMED roots left out of condition groups: every condition descends from them, so they are
#: constant covariates (FeatureExtraction keeps only groups 3 or more levels below Clinical finding;
#: the typed CONCEPT_ANCESTOR has no levels, so the roots are named instead).
GENERIC_CONDITION_GROUPS = frozenset({441840, 4274025})  # Clinical finding; Disease
#: Names of the organising SNOMED concepts that are not condition groups (SQL LIKE patterns, case
#: ignored; FeatureExtraction's condition groups leave out the same names).
GENERIC_GROUP_NAMES = (
    "%finding",
    "disorder of%",
    "finding of%",
    "disease of%",
    "injury of%",
    "%by site",
    "%by body site",
    "%by mechanism",
    "%of body region",
    "%of anatomical site",
    "%of specific body structure%",
)

#: Charlson (Quan / Deyo weights) categories: (category, weight, SNOMED ancestor concept ids).
#: Each category is its ancestors and all their descendants in CONCEPT_ANCESTOR (the ancestor
#: lists of FeatureExtraction's earlier CharlsonIndex analysis; see docs/covariates.md). A
#: vocabulary that lacks a concept (Eunomia's 444-concept extract lacks most) scores nothing for it.
CHARLSON_CATEGORIES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("Myocardial infarction", 1, (4329847,)),
    ("Congestive heart failure", 1, (316139,)),
    ("Peripheral vascular disease", 1, (321052,)),
    ("Cerebrovascular disease", 1, (381591, 434056)),
    ("Dementia", 1, (4182210,)),
    ("Chronic pulmonary disease", 1, (4063381,)),
    ("Rheumatologic disease", 1, (257628, 134442, 80800, 80809, 256197, 255348)),
    ("Peptic ulcer disease", 1, (4247120,)),
    ("Mild liver disease", 1, (4064161, 4212540)),
    ("Diabetes (mild to moderate)", 1, (201820,)),
    ("Diabetes with chronic complications", 2, (443767, 442793)),
    ("Hemiplegia or paraplegia", 2, (192606, 374022)),
    ("Renal disease", 2, (4030518,)),
    ("Any malignancy", 2, (443392,)),
    ("Moderate to severe liver disease", 3, (4245975, 4029488, 192680, 24966)),
    ("Metastatic solid tumor", 6, (432851,)),
    ("AIDS", 6, (439727,)),
)


@dataclass(frozen=True)
class CovariateSettings:
    """Which baseline covariates to build (FeatureExtraction's defaults, one window choice apart).

    ``end_day = -1``: windows end the day before index. FeatureExtraction's default (endDays 0)
    includes the index day, whose records are the exposure itself and what was recorded at the
    prescribing visit; in a new-user design those can be consequences of the treatment choice.
    """

    windows: tuple[int | None, ...] = DEFAULT_WINDOWS
    end_day: int = -1
    domains: tuple[str, ...] = DOMAINS
    condition_groups: bool = True
    drug_classes: bool = True
    demographics: bool = True
    visit_counts: bool = True
    visit_window: int = 365
    charlson: bool = True
    #: concept ids excluded with all their descendants (the exposures of a comparison)
    exclude_concepts: frozenset[int] = field(default_factory=frozenset)
    #: keep a covariate present in at least max(min_rows, min_fraction * rows) rows
    min_fraction: float = 0.001
    min_rows: int = 1
    charlson_categories: tuple[tuple[str, int, tuple[int, ...]], ...] = CHARLSON_CATEGORIES

    def __post_init__(self) -> None:
        problems = []
        for w in self.windows:
            if w not in WINDOW_OFFSET:
                problems.append(f"window {w!r} is not one of any time prior (None), 365, 180, 30")
        if len(set(self.windows)) != len(self.windows):
            problems.append("windows repeat")
        for d in self.domains:
            if d not in DOMAINS:
                problems.append(f"domain {d!r} is not one of {', '.join(DOMAINS)}")
        if self.end_day > 0:
            problems.append(f"end_day {self.end_day} is after index (a baseline ends by index)")
        if not 0.0 <= self.min_fraction < 1.0:
            problems.append(f"min_fraction {self.min_fraction} is not in [0, 1)")
        if self.min_rows < 1:
            problems.append(f"min_rows {self.min_rows} is below 1")
        if self.visit_window < 1:
            problems.append(f"visit_window {self.visit_window} is below 1 day")
        if problems:
            raise MiglinkError("covariate settings are invalid: " + "; ".join(problems))
        object.__setattr__(
            self, "exclude_concepts", frozenset(int(c) for c in self.exclude_concepts)
        )

    def excluding(self, concept_ids) -> CovariateSettings:
        """The same settings with more concepts excluded (a comparison's exposures)."""
        from dataclasses import replace

        return replace(self, exclude_concepts=self.exclude_concepts | {int(c) for c in concept_ids})


def window_label(w: int | None) -> str:
    return "any time prior" if w is None else f"{w} days prior"


def domain_analysis_id(kind: str, w: int | None) -> int:
    """Analysis id of a domain (or vocabulary group) in a window."""
    base = DOMAIN_BASE.get(kind, GROUP_BASE.get(kind))
    if base is None:
        raise KeyError(kind)
    return base + WINDOW_OFFSET[w]
