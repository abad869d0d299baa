"""Scenario files: the planted effects, validated with pydantic.

A scenario lists effects; ``baseline: default`` fills every pair it does not list from the
built-in default scenario (src/miglink/data/scenarios/default.yaml), ``baseline: null`` leaves
them without effect. A bad entry is a MiglinkError naming the entry and the field.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from miglink.errors import MiglinkError
from miglink.synth import catalogue as cat

DRUG_SETS = (
    "corticosteroids",
    "nsaids",
    "triptans",
    "interferon_beta",
    "tnf_inhibitors",
    "methotrexate",
    "hydroxychloroquine",
    "rituximab",
)
TO_KEYS = cat.COUPLED_KEYS


def _check_in(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of: {', '.join(allowed)}")
    return value


class HazardEffect(BaseModel):
    """Onset of ``from`` multiplies the onset hazard of ``to`` from that day on."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    from_: str = Field(alias="from")
    to: str
    hazard_ratio: float = Field(gt=0)
    hazard_ratio_men: float | None = Field(default=None, gt=0)

    @field_validator("from_")
    @classmethod
    def _from(cls, v: str) -> str:
        return _check_in(v, cat.FROM_KEYS, "'from'")

    @field_validator("to")
    @classmethod
    def _to(cls, v: str) -> str:
        return _check_in(v, TO_KEYS, "'to'")

    @model_validator(mode="after")
    def _not_self(self) -> HazardEffect:
        base = "migraine" if self.from_.startswith("migraine") else self.from_
        if base == self.to:
            raise ValueError(f"'from' {self.from_!r} and 'to' {self.to!r} are the same condition")
        return self

    @property
    def key(self) -> tuple:
        return ("hazard", self.from_, self.to)

    def hr(self, female: bool) -> float:
        if female or self.hazard_ratio_men is None:
            return self.hazard_ratio
        return self.hazard_ratio_men


class DrugEffect(BaseModel):
    """Exposure to ``drug`` multiplies the migraine-encounter rate in its risk window."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    drug: str
    to: Literal["migraine_encounter"]
    incidence_rate_ratio: float = Field(gt=0)

    @field_validator("drug")
    @classmethod
    def _drug(cls, v: str) -> str:
        return _check_in(v, DRUG_SETS, "'drug'")

    @property
    def key(self) -> tuple:
        return ("drug", self.drug, self.to)


class MarkerEffect(BaseModel):
    """After ``from`` onset, marker values are multiplied by the ratio of geometric means."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    from_: Literal["migraine"] = Field(alias="from")
    marker: Literal["crp", "esr"]
    ratio_of_geometric_means: float = Field(gt=0)

    @property
    def key(self) -> tuple:
        return ("marker", self.from_, self.marker)


class FamilyHistoryEffect(BaseModel):
    """A recorded family history is more common (odds ratio) among persons with ``to``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    family_history: Literal["autoimmune", "migraine"]
    to: Literal["migraine", "any_autoimmune"]
    odds_ratio: float = Field(gt=0)

    @property
    def key(self) -> tuple:
        return ("family_history", self.family_history, self.to)


class EventDependentExposure(BaseModel):
    """A migraine encounter starts a course of ``drug``: exposure that depends on the outcome.

    Not an effect of the drug (encounters are unchanged): with ``start_probability`` an encounter
    is followed, 0..``delay_days`` days later (uniform), by a new course of the drug lasting
    ``course_days`` (a treatment prescribed at, or soon after, an attack). It breaks the SCCS
    assumption that exposure does not depend on past events (docs/synthetic-data.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    event_dependent_drug: str
    after: Literal["migraine_encounter"] = "migraine_encounter"
    start_probability: float = Field(gt=0, le=1)
    delay_days: int = Field(default=0, ge=0, le=365)
    course_days: tuple[int, int] = (7, 30)

    @field_validator("event_dependent_drug")
    @classmethod
    def _drug(cls, v: str) -> str:
        return _check_in(v, DRUG_SETS, "'event_dependent_drug'")

    @model_validator(mode="after")
    def _course(self) -> EventDependentExposure:
        lo, hi = self.course_days
        if not 1 <= lo <= hi:
            raise ValueError(f"'course_days' must be [lo, hi] with 1 <= lo <= hi, got {lo, hi}")
        return self

    @property
    def key(self) -> tuple:
        return ("event_dependent", self.event_dependent_drug, self.after)


class ComparisonSpec(BaseModel):
    """One active-comparator comparison of ``confounding_by_indication`` (synth/indication.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: planted hazard ratio of the target vs the comparator drug on incident migraine
    hr: float = Field(default=1.0, gt=0)
    #: share of eligible persons (observation, age, no migraine record) made patients
    share: float = Field(default=0.05, gt=0, le=0.5)


class IndicationSpec(BaseModel):
    """Confounding by indication: the comparisons switched on (absent: off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ms_ifn_vs_ga: ComparisonSpec | None = None
    ra_tnf_vs_mtx: ComparisonSpec | None = None

    def comparisons(self) -> dict[str, ComparisonSpec]:
        return {
            k: v
            for k, v in (("ms_ifn_vs_ga", self.ms_ifn_vs_ga), ("ra_tnf_vs_mtx", self.ra_tnf_vs_mtx))
            if v is not None
        }


Effect = HazardEffect | DrugEffect | MarkerEffect | FamilyHistoryEffect | EventDependentExposure
_KINDS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("event_dependent_drug", EventDependentExposure),
    ("drug", DrugEffect),
    ("marker", MarkerEffect),
    ("family_history", FamilyHistoryEffect),
    ("hazard_ratio", HazardEffect),
)


class Scenario(BaseModel):
    """The effective scenario: every planted effect, after merging with the baseline."""

    model_config = ConfigDict(frozen=True)
    effects: tuple[Effect, ...] = ()
    baseline: str | None = "default"
    #: off (None) unless the scenario has the key; then the generator draws the cohorts
    confounding_by_indication: IndicationSpec | None = None

    def hazard_effects(self) -> list[HazardEffect]:
        return [e for e in self.effects if isinstance(e, HazardEffect)]

    def drug_irr(self, drug: str) -> float:
        for e in self.effects:
            if isinstance(e, DrugEffect) and e.drug == drug:
                return e.incidence_rate_ratio
        return 1.0

    def event_dependent(self) -> list[EventDependentExposure]:
        """The outcome-dependent drug starts (not causal effects; see EventDependentExposure)."""
        return [e for e in self.effects if isinstance(e, EventDependentExposure)]

    def marker_rgm(self, marker: str) -> float:
        for e in self.effects:
            if isinstance(e, MarkerEffect) and e.marker == marker:
                return e.ratio_of_geometric_means
        return 1.0

    def family_or(self, fh: str, to: str) -> float:
        for e in self.effects:
            if isinstance(e, FamilyHistoryEffect) and e.family_history == fh and e.to == to:
                return e.odds_ratio
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "baseline": self.baseline,
            "effects": [e.model_dump(by_alias=True, exclude_none=True) for e in self.effects],
        }
        if self.confounding_by_indication is not None:  # absent when off: old truth unchanged
            out["confounding_by_indication"] = self.confounding_by_indication.model_dump(
                exclude_none=True
            )
        return out


def _parse_effect(i: int, raw: Any, source: str) -> Effect:
    if not isinstance(raw, dict):
        raise MiglinkError(f"scenario {source}: effects[{i}] must be a mapping, got {raw!r}")
    label = ", ".join(f"{k}: {v}" for k, v in raw.items())
    model: type[BaseModel] | None = None
    for field_name, m in _KINDS:
        if field_name in raw:
            model = m
            break
    if model is None:
        raise MiglinkError(
            f"scenario {source}: effects[{i}] ({label}) needs one of the fields "
            "'hazard_ratio', 'incidence_rate_ratio' (with 'drug'), 'ratio_of_geometric_means' "
            "(with 'marker'), 'odds_ratio' (with 'family_history') or 'event_dependent_drug'"
        )
    try:
        return model.model_validate(raw)  # type: ignore[return-value]
    except ValidationError as e:
        err = e.errors()[0]
        fld = ".".join(str(x) for x in err["loc"]) or "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise MiglinkError(
            f"scenario {source}: effects[{i}] ({label}), field '{fld}': {msg}"
        ) from None


def _read(source: str | Path | dict) -> tuple[dict, str]:
    if isinstance(source, dict):
        return source, "<dict>"
    path = Path(source)
    if not path.exists():
        raise MiglinkError(f"scenario file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise MiglinkError(f"scenario {path} is not valid YAML: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise MiglinkError(f"scenario {path}: the top level must be a mapping with 'effects'")
    return raw, str(path)


def _indication(raw: dict, name: str) -> IndicationSpec | None:
    """The ``confounding_by_indication`` key, validated (None: absent, the mechanism is off)."""
    value = raw.get("confounding_by_indication")
    if value is None:
        return None
    try:
        return IndicationSpec.model_validate(value)
    except ValidationError as e:
        err = e.errors()[0]
        fld = ".".join(str(x) for x in err["loc"]) or "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise MiglinkError(
            f"scenario {name}: confounding_by_indication, field '{fld}': {msg}"
        ) from None


def parse(source: str | Path | dict) -> tuple[list[Effect], str | None]:
    """Validate a scenario file or dict; return its own effects and its baseline."""
    raw, name = _read(source)
    unknown = set(raw) - {"effects", "baseline", "description", "confounding_by_indication"}
    if unknown:
        raise MiglinkError(f"scenario {name}: unknown top-level field(s) {sorted(unknown)}")
    baseline = raw.get("baseline", "default")
    if baseline not in ("default", None):
        raise MiglinkError(
            f"scenario {name}: field 'baseline' must be 'default' or null, got {baseline!r}"
        )
    effects_raw = raw.get("effects") or []
    if not isinstance(effects_raw, list):
        raise MiglinkError(f"scenario {name}: field 'effects' must be a list")
    effects = [_parse_effect(i, e, name) for i, e in enumerate(effects_raw)]
    seen: dict[tuple, int] = {}
    for i, e in enumerate(effects):
        if e.key in seen:
            raise MiglinkError(
                f"scenario {name}: effects[{i}] repeats effects[{seen[e.key]}] ({e.key[1]} -> {e.key[2]})"
            )
        seen[e.key] = i
    return effects, baseline


def default_path() -> Path:
    return Path(str(resources.files("miglink") / "data" / "scenarios" / "default.yaml"))


def load_scenario(source: str | Path | dict | None = None) -> Scenario:
    """The effective scenario: the file's effects, plus the default's for unlisted pairs."""
    default_effects, _ = parse(default_path())
    if source is None:
        return Scenario(effects=tuple(default_effects), baseline="default")
    effects, baseline = parse(source)
    raw, name = _read(source)
    if baseline == "default":
        mine = {e.key for e in effects}
        effects = effects + [e for e in default_effects if e.key not in mine]
    return Scenario(
        effects=tuple(effects), baseline=baseline, confounding_by_indication=_indication(raw, name)
    )
