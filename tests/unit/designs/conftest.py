"""Shared fixture of the per-design tests: one small generated CDM's features."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(study, features) of a generated 400-person CDM (about 3 s), built once per worker."""
    from miglink.claims.model import load_study
    from miglink.concepts import load_concept_sets
    from miglink.features.build import build_features
    from miglink.sources import open_cdm
    from miglink.synth import generate

    out = tmp_path_factory.mktemp("tiny") / "cdm"
    generate(persons=400, seed=1, out=out)
    study, _ = load_study(None)
    return study, build_features(open_cdm(out), study, load_concept_sets())
