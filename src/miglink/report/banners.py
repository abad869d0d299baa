"""A plain banner per claim when the data cannot answer it, and why.

A reader scanning nine claims should see at once which ones this source could not test, in
words ("no new migraine diagnosis with prior observation ...", "too few outcome events"), not
infer it from a column of "inconclusive" badges and machine tokens. The reasons come from the
key rows' own notes and diagnostics: the report never re-derives them from data.
"""

from __future__ import annotations

from typing import Any

from miglink.report import fmt

#: verdicts that answer a claim's hypothesis one way or the other
ANSWERED = {"supported", "contradicted", "no evidence", "mixed"}
#: how many hypothesis ids a reason lists before "and k more"
MAX_IDS = 6
#: how many distinct reasons a banner lists before summarising the rest
MAX_REASONS = 5


def _clause(text: Any) -> str:
    """The first clause of a row note, without the "not estimable:" prefix."""
    t = str(text or "").strip()
    for prefix in ("not estimable:", "not analysed:"):
        if t.lower().startswith(prefix):
            t = t[len(prefix) :].strip()
    return t.split("; ")[0].strip().rstrip(".")


def hypothesis_reason(h: dict[str, Any]) -> str:
    """Why a hypothesis got no answer: its row's not-analysed reason, note or diagnostics."""
    row = h.get("row")
    if row is None:
        return "no estimate in the results (the design did not run on this source)"

    def get(col: str) -> Any:
        v = row.get(col) if hasattr(row, "get") else None
        return None if v is None or v != v else v

    reasons = [_clause(get("note")) or _clause(get("not_analysed_reason"))]
    diag = fmt.diagnostics_text(get("diagnostics"))
    extra = [d for d in diag.split("; ") if d and d != fmt.DIAGNOSTIC_WORDS["not_estimable"]]
    reasons += extra[:2]
    text = "; ".join(r for r in reasons if r)
    return text or "no estimate in the results"


def claim_banner(hyps: list[dict[str, Any]], verdict: str) -> dict[str, Any] | None:
    """``{"kind": "cannot" | "partial", "text", "reasons": [(reason, ids)]}`` or None.

    "cannot": no voting hypothesis of the claim got an answer (the claim is not analysed or
    every hypothesis is inconclusive); "partial": some did, the rest are listed with reasons.
    Descriptive hypotheses and positive controls neither need nor give an answer.
    """
    voting = [
        h
        for h in hyps
        if h.get("verdict") != "descriptive" and h.get("role") not in ("positive_control",)
    ]
    if not voting:
        return None
    unanswered = [h for h in voting if h.get("verdict") not in ANSWERED]
    if not unanswered:
        return None
    grouped: dict[str, list[str]] = {}
    for h in unanswered:
        grouped.setdefault(hypothesis_reason(h), []).append(str(h.get("id")))
    reasons = []
    if len(grouped) > MAX_REASONS:  # many pair-specific reasons: the first ones, then a count
        rest = list(grouped.items())[MAX_REASONS - 1 :]
        grouped = dict(list(grouped.items())[: MAX_REASONS - 1])
        grouped[f"{len(rest)} other reasons (see each hypothesis's diagnostics)"] = [
            i for _, ids in rest for i in ids
        ]
    for reason, ids in grouped.items():
        shown = ", ".join(ids[:MAX_IDS]) + (
            f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else ""
        )
        reasons.append({"reason": reason, "ids": shown, "n": len(ids)})
    if len(unanswered) == len(voting):
        text = (
            "This source cannot answer this claim: none of its "
            f"{len(voting)} hypotheses could be estimated with usable diagnostics."
            if verdict in ("not analysed", "inconclusive")
            else f"None of the claim's {len(voting)} hypotheses got an answer."
        )
        kind = "cannot"
    else:
        text = (
            f"{len(unanswered)} of {len(voting)} hypotheses could not be answered on this source."
        )
        kind = "partial"
    return {"kind": kind, "text": text, "reasons": reasons}
