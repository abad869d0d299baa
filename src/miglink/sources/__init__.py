"""Sources: open an OMOP CDM from any supported input as typed Ibis tables."""

from miglink.sources.cdm import Cdm, open_cdm

__all__ = ["Cdm", "open_cdm"]
