"""The study file: claims, hypotheses, designs, settings and verdict rules, as validated data."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from miglink.errors import MiglinkError

Design = Literal["D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9"]
Expected = Literal["increase", "decrease", "descriptive"]
Rule = Literal["all", "any", "majority"]


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


class Hypothesis(BaseModel):
    """One pre-specified, testable statement: a design applied to an exposure and an outcome."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    design: Design
    exposure: str
    outcome: str
    expected: Expected = "increase"
    subgroup: str | None = None  # D3: e.g. "sex", "women_reproductive_age"
    contrast: str | None = None  # e.g. D4 "aura_vs_no_aura", D8 "phenome_percentile"


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=9)
    title: str
    statement: str
    rule: Rule = "majority"
    rule_text: str = ""
    hypotheses: list[Hypothesis] = []


class Study(BaseModel):
    """A whole study: what is tested, how, and how verdicts are reached."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = 1
    settings: Settings = Settings()
    concept_set_files: list[str] = []  # extra files, relative to the study file
    negative_controls: list[str] = Field(min_length=1)
    autoimmune: list[str] = Field(min_length=1)
    nervous_system_autoimmune: list[str] = []
    d1_outcomes: list[str] = []  # extra D1 outcomes (beyond autoimmune + composite)
    claims: list[Claim]

    @model_validator(mode="after")
    def _check(self) -> Study:
        ids = [c.id for c in self.claims]
        if sorted(ids) != sorted(set(ids)):
            raise ValueError("claim ids must be unique")
        hids = [h.id for c in self.claims for h in c.hypotheses]
        dup = {h for h in hids if hids.count(h) > 1}
        if dup:
            raise ValueError(f"hypothesis ids must be unique; repeated: {sorted(dup)}")
        return self

    def hypotheses(self) -> list[tuple[Claim, Hypothesis]]:
        return [(c, h) for c in self.claims for h in c.hypotheses]


def default_study_path() -> Path:
    return Path(str(resources.files("miglink") / "data" / "study.yaml"))


def load_study(path: str | Path | None = None) -> tuple[Study, str]:
    """Read and validate a study file; return it with its content hash (sha256, first 16 hex).

    The hash covers the study file and the concept-set files it names (``concept_set_files``,
    relative to it), so two studies with the same file but edited sets never share a hash.
    """
    p = Path(path) if path is not None else default_study_path()
    if not p.exists():
        raise MiglinkError(f"study file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MiglinkError(f"study file {p} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise MiglinkError(f"cannot read study file {p}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise MiglinkError(f"study file {p} is not valid YAML: {msg}") from None
    if not isinstance(raw, dict):
        raise MiglinkError(f"study file {p} must be a mapping with 'name', 'claims', ...")
    try:
        study = Study.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise MiglinkError(
            f"study file {p} is invalid at {loc}: {err['msg']} ({len(e.errors())} problem(s))"
        ) from None
    h = hashlib.sha256(text.encode("utf-8"))
    for f in study.concept_set_files:
        extra = p.parent / f
        h.update(extra.read_bytes() if extra.exists() else b"")
    return study, h.hexdigest()[:16]
