"""The self-contained HTML report: a rendering of a run's (or a pooling's) result artefacts."""

from __future__ import annotations

from miglink.report.render import render_report

__all__ = ["render_report"]
