"""The study file: claims, hypotheses, designs, settings and verdict rules, as validated data."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from miglink.claims.crosscheck import named_sets, study_problems
from miglink.claims.validation import (
    Problem,
    StudyProblems,
    located_summary,
    problems_of,
    validation_summary,  # noqa: F401  (federate/pool.py)
)
from miglink.designs.d10_settings import Comparison
from miglink.errors import MiglinkError
from miglink.safeyaml import MAX_SET_FILE_BYTES, read_bytes, read_text, safe_yaml_nodes

Design = Literal["D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10", "MR"]
#: Designs whose exposure and outcome are not concept sets of the records (D10 names its
#: comparison's cohorts; MR names GWAS summary statistics of the study's ``genetics`` map).
NOT_RECORD_SETS = ("D10", "MR")
Expected = Literal["increase", "decrease", "descriptive"]
Rule = Literal["all", "any", "majority"]
#: ``test``: the hypothesis votes in its claim; ``positive_control``: a known effect the design
#: must find (it checks the method), with its own verdict shown beside the claim but no vote.
HypothesisRole = Literal["test", "positive_control"]

#: The claim rules in words (a claim's ``rule_text`` replaces it when the study file gives one).
RULE_TEXT = {
    "all": "supported if every voting hypothesis is supported; contradicted if one or more is "
    "contradicted and none supported",
    "any": "supported if at least one voting hypothesis is supported and none contradicted; "
    "contradicted if at least one is contradicted and none supported",
    "majority": "supported if more than half of the voting hypotheses are supported and none "
    "contradicted; contradicted if more than half are contradicted and none supported",
}


class Settings(BaseModel):
    """Analysis choices with their protocol defaults (PROTOCOL.md, 'Designs')."""

    model_config = ConfigDict(extra="forbid")

    index_set: str = "migraine"
    min_prior_observation_days: int = Field(365, ge=0)
    phenotype_min_dates: int = Field(1, ge=1, le=2)
    age_band_years: int = Field(5, ge=1)
    age_band_top: int = Field(85, ge=20)
    utilisation_quantiles: int = Field(5, ge=1, le=10)
    observation_bands_years: list[float] = [2.0, 5.0, 10.0]
    matching_ratio: int = Field(4, ge=1, le=10)
    birth_year_band: int = Field(5, ge=1)
    matching_seed: int = 20260101
    phenome_min_persons: int = Field(50, ge=5)
    min_events_for_estimate: int = Field(5, ge=1)
    mdrr_threshold: float = Field(2.0, gt=1.0)
    max_smd: float = Field(0.1, gt=0)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    reproductive_age: tuple[int, int] = (15, 49)
    km_horizon_years: float = Field(10.0, gt=0)
    min_negative_controls: int = Field(5, ge=3)
    #: a calibrated verdict needs this leave-one-out coverage of its negative controls
    min_loo_coverage: float = Field(0.8, ge=0, le=1)
    #: a D10 verdict needs its negative controls' expected absolute systematic error at most this
    #: (OHDSI's study diagnostics threshold)
    max_ease: float = Field(0.25, ge=0)


class _Hypothesis(BaseModel):
    """One pre-specified, testable statement: a design applied to an exposure and an outcome.

    Each design has its own model (below) saying which contrasts and subgroups it takes, so a
    misspelt contrast, subgroup or key fails when the study file is loaded, with every problem
    listed at once (pydantic validates the whole file before it reports).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: str
    exposure: str = Field(min_length=1)
    outcome: str = Field(min_length=1)
    expected: Expected = "increase"
    role: HypothesisRole = "test"
    family: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    subgroup: None = None
    contrast: None = None

    @model_validator(mode="after")
    def _votes_or_describes(self) -> _Hypothesis:
        if self.expected == "descriptive" and self.role == "positive_control":
            raise ValueError("a positive control needs a predicted direction, not 'descriptive'")
        if self.expected == "descriptive" and self.family is not None:
            raise ValueError("a descriptive hypothesis has no p-value to adjust: drop 'family'")
        return self


class D1Hypothesis(_Hypothesis):
    """Prevalence OR (MH, stratified); ``cns_vs_non_cns``: ratio of the CNS and non-CNS ORs."""

    design: Literal["D1"]
    contrast: Literal["cns_vs_non_cns"] | None = None


class D2Hypothesis(_Hypothesis):
    """Incident matched cohort HR of a new exposure diagnosis on the outcome."""

    design: Literal["D2"]


class D3Hypothesis(_Hypothesis):
    """Effect modification by ``subgroup``, or a ``female_excess`` OR, or a descriptive ``count``."""

    design: Literal["D3"]
    subgroup: Literal["sex", "women_reproductive_age"] | None = None
    contrast: Literal["female_excess", "count"] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> D3Hypothesis:
        if (self.subgroup is None) == (self.contrast is None):
            raise ValueError("a D3 hypothesis takes exactly one of 'subgroup' or 'contrast'")
        return self


class D4Hypothesis(_Hypothesis):
    """``aura_vs_no_aura`` ratio of ORs, or ``incident``: the whole-population incident matched
    cohort HR of a new exposure diagnosis on the outcome (with migraine and aura at index as
    modifiers in secondary rows when the exposure is not migraine)."""

    design: Literal["D4"]
    contrast: Literal["aura_vs_no_aura", "incident"]


class D5Hypothesis(_Hypothesis):
    """SCCS (no contrast), the ``new_user`` cohort, or the descriptive ``burden``."""

    design: Literal["D5"]
    contrast: Literal["new_user", "burden"] | None = None


class D6Hypothesis(_Hypothesis):
    """Ratio of geometric means of a marker; ``no_autoimmune`` restricts to people without."""

    design: Literal["D6"]
    subgroup: Literal["no_autoimmune"] | None = None


class D7Hypothesis(_Hypothesis):
    """Family-history OR (MH, stratified)."""

    design: Literal["D7"]


class D8Hypothesis(_Hypothesis):
    """``dose_response`` trend OR, or the ``phenome_percentile`` of the D1 OR.

    ``percentile_criterion`` (phenome percentile only, default 90): the OR must lie above this
    percentile of the phenome background's ORs to be "supported" (it stands out), besides its
    calibrated CI excluding 1.
    """

    design: Literal["D8"]
    contrast: Literal["dose_response", "phenome_percentile"]
    percentile_criterion: float | None = Field(None, ge=50, lt=100)

    @model_validator(mode="after")
    def _criterion_on_percentile(self) -> D8Hypothesis:
        # None when not given, so a dumped study (a site file's definition) validates again
        if self.contrast != "phenome_percentile" and self.percentile_criterion is not None:
            raise ValueError("'percentile_criterion' applies only to contrast phenome_percentile")
        return self

    @property
    def criterion(self) -> float | None:
        """The percentile the OR must exceed (phenome percentile only; 90 unless stated)."""
        if self.contrast != "phenome_percentile":
            return None
        return 90.0 if self.percentile_criterion is None else self.percentile_criterion


class D9Hypothesis(_Hypothesis):
    """Share with the exposure recorded first (temporal order)."""

    design: Literal["D9"]


class D10Hypothesis(_Hypothesis):
    """Comparative new-user cohort: the PS-adjusted HR of target vs comparator new users.

    ``comparison`` names an entry of the study's ``comparisons`` list, ``outcome_cohort`` one of
    its outcomes (its first when not given); ``exposure`` / ``outcome`` label the row.
    """

    design: Literal["D10"]
    comparison: str = Field(min_length=1)
    outcome_cohort: str | None = Field(None, min_length=1)


class MRHypothesisSettings(BaseModel):
    """Instrument selection and harmonisation of one MR hypothesis (the usual defaults)."""

    model_config = ConfigDict(extra="forbid")

    p_threshold: float = Field(5e-8, gt=0, lt=1)
    window_kb: float = Field(10_000, ge=0)
    maf_tolerance: float = Field(0.08, ge=0, lt=0.5)


class MRHypothesis(_Hypothesis):
    """Two-sample Mendelian randomisation of ``exposure``'s genetic liability on ``outcome``.

    Both are trait ids of the study's ``genetics`` map (usually the concept-set ids); one of
    them must be the index set (migraine), so the direction is migraine -> disease (forward) or
    disease -> migraine (reverse). Without both files the hypothesis is not analysed.
    """

    design: Literal["MR"]
    settings: MRHypothesisSettings = MRHypothesisSettings()

    def direction(self, index_set: str) -> str:
        """``forward`` when the index set is the exposure, else ``reverse`` (as D2's rows)."""
        return "forward" if self.exposure == index_set else "reverse"


class SumstatsFile(BaseModel):
    """One trait's GWAS summary statistics: a path (relative to the study file) and an optional
    column mapping {miglink name: file column} (miglink.genetics.sumstats)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    columns: dict[str, str] = {}


#: A hypothesis of any design; the ``design`` key picks the model.
Hypothesis = Annotated[
    D1Hypothesis
    | D2Hypothesis
    | D3Hypothesis
    | D4Hypothesis
    | D5Hypothesis
    | D6Hypothesis
    | D7Hypothesis
    | D8Hypothesis
    | D9Hypothesis
    | D10Hypothesis
    | MRHypothesis,
    Field(discriminator="design"),
]


class Claim(BaseModel):
    """A claim: a statement, its hypotheses and the rule that turns their verdicts into one.

    Any number of claims; ids are positive whole numbers, unique, in any order (the results
    table's ``claim`` column is an integer identifier)."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)
    title: str
    statement: str
    rule: Rule = "majority"
    rule_text: str = Field("", max_length=2000)
    hypotheses: list[Hypothesis] = []

    def rule_description(self) -> str:
        """The rule in words: the study file's ``rule_text``, else the standard text of ``rule``."""
        return self.rule_text.strip() or RULE_TEXT[self.rule]


class Study(BaseModel):
    """A whole study: what is tested, how, and how verdicts are reached."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = 1
    settings: Settings = Settings()
    concept_set_files: list[str] = []  # extra files, relative to the study file
    #: both required by designs D1-D9; a comparisons-only study (design D10) may leave them out
    negative_controls: list[str] = []
    autoimmune: list[str] = []
    nervous_system_autoimmune: list[str] = []
    d1_outcomes: list[str] = []  # extra D1 outcomes (beyond autoimmune + composite)
    #: comparative new-user cohorts (design D10; designs/d10_settings.py)
    comparisons: list[Comparison] = []
    #: GWAS summary statistics per trait id, for the MR hypotheses (docs/genetics.md)
    genetics: dict[str, SumstatsFile] = {}
    claims: list[Claim] = []
    #: concept-set files given beside the study file (``run --concept-sets``); not part of the
    #: study's definition (a site file never carries a local path)
    _extra_set_files: tuple[Path, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _check(self) -> Study:
        # every cross-field problem at once, each at its place (claims/crosscheck.py)
        problems = study_problems(self)
        if problems:
            raise StudyProblems(problems)
        return self

    def set_file_paths(self, study_path: str | Path | None) -> list[Path]:
        """The study's concept-set files (relative to the study file), then the extra ones."""
        base = Path(study_path).parent if study_path is not None else default_study_path().parent
        return [base / f for f in self.concept_set_files] + list(self._extra_set_files)

    def hypotheses(self) -> list[tuple[Claim, Hypothesis]]:
        return [(c, h) for c in self.claims for h in c.hypotheses]

    def families(self) -> dict[str, list[str]]:
        """Multiplicity families: family name -> its hypothesis ids, in study-file order."""
        out: dict[str, list[str]] = {}
        for _c, h in self.hypotheses():
            if h.family is not None:
                out.setdefault(h.family, []).append(h.id)
        return out


def comparison_sets(study: Study) -> set[str]:
    """The concept-set ids the study's comparisons name (cohorts and indications)."""
    out: set[str] = set()
    for c in study.comparisons:
        cohorts = (c.target, c.comparator, *c.outcomes, *c.negative_control_outcomes)
        out |= {x.concept_set for x in cohorts if x.concept_set is not None}
        if c.indication is not None:
            out.add(c.indication)
    return out


def default_study_path() -> Path:
    return Path(str(resources.files("miglink") / "data" / "study.yaml"))


def load_study(
    path: str | Path | None = None, extra_sets: list[str | Path] | None = None
) -> tuple[Study, str]:
    """Read and validate a study file; return it with its content hash (sha256, first 16 hex).

    The hash covers the study file, the concept-set files it names (``concept_set_files``,
    relative to it) and ``extra_sets`` (``run --concept-sets``), so two studies with the same
    file but edited sets never share a hash. Every problem is a one-line :class:`MiglinkError`
    naming the path: unreadable, too large, not UTF-8, not YAML, an alias bomb, duplicate keys,
    not a mapping; or every schema and cross-check problem at once, each with its line, claim and
    hypothesis (a claim without hypotheses, a concept set the study names but nothing defines).
    """
    p = Path(path) if path is not None else default_study_path()
    text = read_text(p, "study file")
    raw, root = safe_yaml_nodes(text, p, "study file")
    if not isinstance(raw, dict):
        what = "empty" if raw is None else f"a YAML {type(raw).__name__}"
        raise MiglinkError(
            f"study file {p} is {what}; it must be a mapping with 'name', 'claims', "
            "'negative_controls' and 'autoimmune'"
        )
    try:
        study = Study.model_validate(raw)
    except ValidationError as e:
        _refuse(p, root, problems_of(e) + _raw_set_problems(raw, p, extra_sets))
    # newlines normalised as read_text does, so a CRLF checkout of the same study shares the hash
    h = hashlib.sha256(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8"))
    study._extra_set_files = tuple(Path(f) for f in extra_sets or ())
    for q in study.set_file_paths(p):
        h.update(read_bytes(q, "concept-set file", MAX_SET_FILE_BYTES))
    _refuse(p, root, _empty_claims(study) + _set_problems(study, study.set_file_paths(p)))
    return study, h.hexdigest()[:16]


def _refuse(path: Path, root, problems: list[Problem]) -> None:
    if problems:
        summary = located_summary(path.name, root, problems)
        raise MiglinkError(f"study file {path} is invalid: {summary}")


def _empty_claims(study: Study) -> list[Problem]:
    return [
        (("claims", i, "hypotheses"), f"claim {c.id} has no hypotheses")
        for i, c in enumerate(study.claims)
        if not c.hypotheses
    ]


def _set_problems(study: Study, extra: list[Path]) -> list[Problem]:
    """Every concept set the study names is defined (bundled sets or its own files), and the
    two sides of a D2 hypothesis are conditions (its cohorts are new diagnoses)."""
    from miglink.concepts.derived import DERIVED
    from miglink.concepts.load import load_concept_sets

    sets = load_concept_sets()
    if extra:
        sets.update(load_concept_sets(extra))
    out: list[Problem] = []
    for loc, name in named_sets(study, NOT_RECORD_SETS):
        if name not in sets and name not in DERIVED:
            out.append(
                (loc, f"concept set {name!r} is not defined (bundled sets or concept_set_files)")
            )
        elif loc[-1] in ("exposure", "outcome") and name in sets and _design(study, loc) == "D2":
            if sets[name].domain != "condition":
                out.append(
                    (loc, f"a D2 {loc[-1]} is a condition set; {name!r} is {sets[name].domain}")
                )
    missing = sorted(n for n in comparison_sets(study) if n not in sets and n not in DERIVED)
    if missing:
        out.append((("comparisons",), f"concept sets not defined: {', '.join(missing)}"))
    return out


def _raw_set_problems(raw: dict, path: Path, extra_sets) -> list[Problem]:
    """The unknown-set problems of a file whose schema failed, so that they are listed with the
    schema's (best effort: the parts that are not well-formed are skipped)."""
    from types import SimpleNamespace as NS

    def names(v: object) -> list:
        return [x if isinstance(x, str) else None for x in v] if isinstance(v, list) else []

    def hyp(h: object) -> NS:
        h = h if isinstance(h, dict) else {}
        return NS(**{k: h.get(k) if isinstance(h.get(k), str) else None for k in _HYP_KEYS})

    settings = raw.get("settings") if isinstance(raw.get("settings"), dict) else {}
    claims = [c for c in raw.get("claims") or []] if isinstance(raw.get("claims"), list) else []
    view = NS(
        settings=NS(index_set=settings.get("index_set", Settings().index_set)),
        claims=[NS(hypotheses=[hyp(h) for h in _list(c, "hypotheses")]) for c in claims],
        comparisons=[],
        **{k: names(raw.get(k)) for k in _SET_LISTS},
    )
    files = raw.get("concept_set_files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return []
    extra = [path.parent / f for f in files] + [Path(f) for f in extra_sets or ()]
    try:
        out = _set_problems(view, extra)
    except MiglinkError:  # a concept-set file's own problem: reported once the schema holds
        return []
    return out


_HYP_KEYS = ("design", "exposure", "outcome")
_SET_LISTS = ("negative_controls", "autoimmune", "nervous_system_autoimmune", "d1_outcomes")


def _list(d: object, key: str) -> list:
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, list) else []


def _design(study: Study, loc: tuple) -> str | None:
    return study.claims[loc[1]].hypotheses[loc[3]].design if loc[0] == "claims" else None
