"""Concept sets: data files, validation, resolution to concept ids and source-code patterns."""

from miglink.concepts.load import load_concept_sets
from miglink.concepts.model import ConceptSet, ConceptSetItem

__all__ = ["ConceptSet", "ConceptSetItem", "load_concept_sets"]
