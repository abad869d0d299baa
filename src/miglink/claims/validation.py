"""One-line summaries of pydantic validation errors (the study file, comparison files)."""

from __future__ import annotations

from pydantic import ValidationError


def validation_summary(e: ValidationError, limit: int = 10) -> str:
    """Every pydantic problem on one line: ``loc: message; ...`` (the first ``limit``)."""
    errs = e.errors()
    parts = []
    for err in errs[:limit]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"] if err["type"] != "extra_forbidden" else "unknown key"
        parts.append(f"{loc}: {msg}")
    more = f"; and {len(errs) - limit} more" if len(errs) > limit else ""
    return f"{len(errs)} problem(s): " + "; ".join(parts) + more
