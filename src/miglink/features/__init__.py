"""The person-level feature table, built in one pass over the fact tables (ARCHITECTURE.md §3)."""

from miglink.features.build import FeatureTables, build_features

__all__ = ["FeatureTables", "build_features"]
