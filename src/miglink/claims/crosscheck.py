"""Cross-checks of a whole study that no single field can make (unique ids, names that must match
another part of the file), each problem with its place so the user is sent to its line.

Duck-typed on ``design`` so that the model module can call it without an import cycle.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from miglink.claims.validation import Problem

#: Designs whose two sides are the index set and another condition, in either direction.
BIDIRECTIONAL = ("D2", "MR")


def _where(ci: int, hi: int, key: str) -> tuple:
    return ("claims", ci, "hypotheses", hi, key)


def study_problems(study: Any) -> list[Problem]:
    """Every cross-field problem of ``study`` (a validated :class:`~miglink.claims.model.Study`)."""
    out: list[Problem] = []
    cids = Counter(c.id for c in study.claims)
    out += [
        (("claims", i, "id"), f"claim id {c.id} is used {cids[c.id]} times (claim ids are unique)")
        for i, c in enumerate(study.claims)
        if cids[c.id] > 1
    ]
    hids = Counter(h.id for _c, h in study.hypotheses())
    for ci, c in enumerate(study.claims):
        for hi, h in enumerate(c.hypotheses):
            if hids[h.id] > 1:
                out.append(
                    (
                        _where(ci, hi, "id"),
                        f"hypothesis id {h.id!r} is used more than once (ids are unique)",
                    )
                )
            out += [(_where(ci, hi, k), m) for k, m in _hypothesis_problems(study, h)]
    out += _comparison_id_problems(study)
    out += _list_problems(study)
    out += _family_problems(study)
    return out


def _hypothesis_problems(study: Any, h: Any) -> list[tuple[str, str]]:
    idx = study.settings.index_set
    if h.design in BIDIRECTIONAL and (h.exposure == idx) == (h.outcome == idx):
        return [
            (
                "exposure",
                f"a {h.design} hypothesis has {idx!r} as exactly one of its exposure and outcome "
                f"({idx} -> condition or condition -> {idx})",
            )
        ]
    if h.design != "D10":
        return []
    comp = {c.id: c for c in study.comparisons}.get(h.comparison)
    if comp is None:
        return [("comparison", f"no comparison {h.comparison!r} in 'comparisons'")]
    if h.outcome_cohort is not None and h.outcome_cohort not in {o.id for o in comp.outcomes}:
        return [("outcome_cohort", f"comparison {comp.id} has no outcome {h.outcome_cohort!r}")]
    return []


def _comparison_id_problems(study: Any) -> list[Problem]:
    n = Counter(c.id for c in study.comparisons)
    return [
        (
            ("comparisons", i, "id"),
            f"comparison id {c.id!r} is used more than once (comparison ids are unique)",
        )
        for i, c in enumerate(study.comparisons)
        if n[c.id] > 1
    ]


def _list_problems(study: Any) -> list[Problem]:
    if study.autoimmune and not study.negative_controls:
        return [(("negative_controls",), "the autoimmune designs need at least one")]
    if not study.autoimmune:
        other = sorted({h.design for _c, h in study.hypotheses() if h.design not in ("D10", "MR")})
        if other:
            return [(("autoimmune",), f"designs {', '.join(other)} need the 'autoimmune' list")]
    return []


def _family_problems(study: Any) -> list[Problem]:
    fams = study.families()
    return [
        (
            _where(ci, hi, "family"),
            f"a family needs at least two hypotheses (a misspelt family name?): only one names "
            f"{h.family!r} ({h.id})",
        )
        for ci, c in enumerate(study.claims)
        for hi, h in enumerate(c.hypotheses)
        if h.family is not None and len(fams[h.family]) < 2
    ]


def named_sets(study: Any, record_designs_only: tuple[str, ...]) -> list[tuple[tuple, str]]:
    """(place, concept-set id) of every concept set the study names outside its comparisons
    (``record_designs_only``: the designs whose exposure and outcome are not concept sets)."""
    st = [(("settings", "index_set"), study.settings.index_set)]
    for key in ("negative_controls", "autoimmune", "nervous_system_autoimmune", "d1_outcomes"):
        st += [((key, i), s) for i, s in enumerate(getattr(study, key))]
    for ci, c in enumerate(study.claims):
        for hi, h in enumerate(c.hypotheses):
            if h.design not in record_designs_only:
                st += [(_where(ci, hi, k), getattr(h, k)) for k in ("exposure", "outcome")]
    return [(loc, name) for loc, name in st if isinstance(name, str)]  # a raw file's gaps
