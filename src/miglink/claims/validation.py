"""Validation problems a user can act on: every one listed, each with its claim, hypothesis and
1-based line in the YAML file (``study.yaml:42: claim 3 / hypothesis h3_sle: unknown key
'outcom'``), rather than pydantic's 0-based dotted paths."""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from pydantic import ValidationError

#: A problem's place in the validated data (a pydantic ``loc``) and its message.
Problem = tuple[tuple, str]


class StudyProblems(ValueError):
    """Several located problems found by one cross-check of the study (unique ids, names that
    must match); pydantic keeps the exception in the error's ``ctx``, so each keeps its place."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, m in problems))
        self.problems = problems


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


def problems_of(e: ValidationError) -> list[Problem]:
    """Every problem of a validation error, a cross-check's several problems expanded."""
    out: list[Problem] = []
    for err in e.errors():
        exc = (err.get("ctx") or {}).get("error")
        loc = tuple(err["loc"])
        if isinstance(exc, StudyProblems):
            out += [(loc + tuple(sub), msg) for sub, msg in exc.problems]
        elif err["type"] == "extra_forbidden":
            out.append((loc, f"unknown key {loc[-1]!r}" if loc else "unknown key"))
        else:
            out.append((loc, err["msg"].removeprefix("Value error, ")))
    return out


@dataclass(frozen=True)
class Where:
    """Where a problem is: the 1-based line, the claim and hypothesis ids, the key path below."""

    line: int | None
    claim: str | None
    hypothesis: str | None
    field: str
    #: the union's tag the loc passed through (the hypothesis's design)
    design: str | None = None


def _scalar(node: yaml.Node | None, key: str) -> str | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.ScalarNode):
            return v.value
    return None


def _child(node: yaml.Node | None, seg: object) -> tuple[yaml.Node, int] | None:
    """The node under ``seg`` (a key of a mapping, an index of a list) and its line."""
    if isinstance(node, yaml.MappingNode) and isinstance(seg, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == seg:
                return v, k.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(seg, int) and 0 <= seg < len(node.value):
        return node.value[seg], node.value[seg].start_mark.line + 1
    return None


def locate(root: yaml.Node | None, loc: tuple, unknown_key: bool = False) -> Where:
    """Map a pydantic ``loc`` onto the YAML nodes. A union's tag (the hypothesis's ``design``)
    is skipped; a missing key points at its mapping; an unknown key at its own line but is not
    repeated in the key path (the message names it)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    claim = hyp = design = None
    field: list[str] = []
    segs = loc[:-1] if unknown_key and loc else loc
    for seg in segs:
        if isinstance(seg, str) and seg == _scalar(node, "design") and _child(node, seg) is None:
            design = seg  # the discriminated union's tag, not a key of the file
            continue
        hit = _child(node, seg)
        if isinstance(seg, int) and field == ["claims"] and claim is None:
            claim, field = _scalar(hit[0] if hit else None, "id") or f"#{seg + 1}", []
        elif isinstance(seg, int) and field == ["hypotheses"] and claim is not None and hyp is None:
            hyp, field = _scalar(hit[0] if hit else None, "id") or f"#{seg + 1}", []
            design = design or _scalar(hit[0] if hit else None, "design")
        elif isinstance(seg, int):
            field.append(f"[{seg + 1}]")
        else:
            field.append(str(seg))
        node, line = hit if hit is not None else (None, line)
    if unknown_key and loc:
        hit = _child(node, loc[-1])
        line = hit[1] if hit is not None else line
    return Where(line, claim, hyp, ".".join(field).replace(".[", "["), design)


def _where(root: yaml.Node | None, problem: Problem) -> Where:
    return locate(root, problem[0], unknown_key=problem[1].startswith("unknown key"))


def format_problem(name: str, root: yaml.Node | None, problem: Problem) -> str:
    """``study.yaml:42: claim 3 / hypothesis h3_sle (D1): contrast: Input should be ...``."""
    w, msg = _where(root, problem), problem[1]
    where = [f"claim {w.claim}"] if w.claim is not None else []
    if w.hypothesis is not None:
        where.append(f"hypothesis {w.hypothesis}" + (f" ({w.design})" if w.design else ""))
    if msg == "Input should be None" and w.design and w.field:
        msg = f"design {w.design} takes no {w.field!r}"
    head = f"{name}:{w.line}" if w.line is not None else name
    parts = [head, " / ".join(where), w.field, " ".join(msg.split())]
    return ": ".join(p for p in parts if p)


def located_summary(name: str, root: yaml.Node | None, problems: list[Problem]) -> str:
    """Every problem, in line order, on one line (the CLI prints errors as one line)."""
    order = sorted(range(len(problems)), key=lambda i: (_where(root, problems[i]).line or 0, i))
    lines = [format_problem(name, root, problems[i]) for i in order]
    return f"{len(lines)} problem(s): " + "; ".join(lines)
