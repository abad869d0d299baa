"""Number and label formatting shared by the report's tables and charts.

Counts arrive already gated (ints or the label "<5"); they are shown as given, never re-derived.
"""

from __future__ import annotations

import math
import re
from typing import Any

DESIGN_NAMES = {
    "D1": "prevalence association",
    "D2": "bidirectional incident matched cohort",
    "D3": "effect modification",
    "D4": "subtypes and vascular outcomes",
    "D5": "self-controlled case series / new users",
    "D6": "biomarkers",
    "D7": "family history",
    "D8": "composite and specificity",
    "D9": "temporal order",
    "D10": "comparative new-user cohort (propensity score)",
}

MEASURE_NAMES = {
    "OR": "odds ratio",
    "HR": "hazard ratio",
    "IRR": "incidence rate ratio",
    "RR": "risk ratio",
    "RGM": "ratio of geometric means",
    "ROR": "ratio of odds ratios",
    "RHR": "ratio of hazard ratios",
    "share": "share",
}

#: Short display names of concept sets whose id does not read well with "_" -> " ".
SET_LABELS = {
    "sle": "SLE",
    "vte": "VTE",
    "crp": "CRP",
    "esr": "ESR",
    "sjogren": "Sjögren's syndrome",
    "crohn": "Crohn's disease",
    "coeliac": "coeliac disease",
    "type1_diabetes": "type 1 diabetes",
    "cns_autoimmune": "CNS autoimmune disease",
    "non_cns_autoimmune": "non-CNS autoimmune disease",
    "any_autoimmune": "any autoimmune disease",
    "nsaids": "NSAIDs",
    "tnf_inhibitors": "TNF inhibitors",
    "antiphospholipid_syndrome": "antiphospholipid syndrome (APS)",
}

VERDICTS = (
    "supported",
    "contradicted",
    "mixed",
    "no evidence",
    "inconclusive",
    "not analysed",
)


def is_num(x: Any) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x: Any, digits: int = 2) -> str:
    """A float with ``digits`` decimals, or an en dash when missing."""
    if not is_num(x):
        return "–"
    v = float(x)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ci(est: Any, lo: Any, hi: Any, digits: int = 2) -> str:
    """ "1.45 (1.10–1.91)"; the interval is left out when not available."""
    if not is_num(est):
        return "–"
    if is_num(lo) and is_num(hi):
        return f"{num(est, digits)} ({num(lo, digits)}–{num(hi, digits)})"
    return num(est, digits)


def interval(lo: Any, hi: Any, digits: int = 2) -> str:
    if is_num(lo) and is_num(hi):
        return f"{num(lo, digits)}–{num(hi, digits)}"
    return "–"


def pval(p: Any) -> str:
    if not is_num(p):
        return "–"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def count(v: Any) -> str:
    """A gated count: "<5" stays, integers get thousands separators, missing is an en dash."""
    if v is None:
        return "–"
    if isinstance(v, str):
        t = v.strip()
        try:
            v = float(t)
        except ValueError:
            return t or "–"
    if not is_num(v):
        return "–"
    f = float(v)
    return f"{int(f):,}" if f == int(f) else f"{f:,.1f}"


def set_label(set_id: Any) -> str:
    """Readable name of a concept-set id ("multiple_sclerosis" -> "multiple sclerosis")."""
    if set_id is None or set_id != set_id:
        return ""
    return SET_LABELS.get(str(set_id), str(set_id).replace("_", " "))


def slug(text: Any) -> str:
    """CSS-safe class fragment ("no evidence" -> "no-evidence")."""
    return "".join(c if c.isalnum() else "-" for c in str(text).strip().lower()) or "none"


def verdict_of(v: Any) -> str:
    text = str(v).strip().lower() if v is not None and v == v else ""
    return text if text in VERDICTS else "not analysed"


#: Plain words for the diagnostics' machine tokens (claims/verdicts.py, federate/pool.py).
DIAGNOSTIC_WORDS = {
    "not_estimable": "no estimate could be computed",
    "no_empirical_null": "no empirical null to calibrate against",
    "pre_exposure_irr": "rate already raised before exposure (pre-exposure window)",
}

_SMD_NAMES = {"smd_age": "age", "smd_female": "sex", "smd_visits": "number of visits"}


def _diagnostic_word(token: str) -> str:
    t = token.strip()
    if t in DIAGNOSTIC_WORDS:
        return DIAGNOSTIC_WORDS[t]
    if m := re.fullmatch(r"events<(\d+)", t):
        return f"too few outcome events (minimum {m.group(1)})"
    if m := re.fullmatch(r"balance\((.*)\)", t):
        names = [
            _SMD_NAMES.get(c.strip(), c.strip().replace("_", " ")) for c in m.group(1).split(";")
        ]
        return "covariates unbalanced after matching: " + ", ".join(n for n in names if n)
    if m := re.fullmatch(r"ease>([\d.]+)", t):
        return f"expected absolute systematic error above {m.group(1)}"
    if m := re.fullmatch(r"loo_coverage<([\d.]+%?)", t):
        return f"leave-one-out coverage of the negative controls below {m.group(1)}"
    if m := re.fullmatch(r"sites_not_estimable\((\d+)/(\d+)\)", t):
        return f"{m.group(1)} of {m.group(2)} sites could not estimate it"
    return t.replace("_", " ")


def diagnostics_text(v: Any) -> str:
    """ "not_estimable;events<5" -> "no estimate could be computed; fewer than 5 outcome events"
    (semicolons inside a balance(...) list do not split it)."""
    if v is None or v != v or not str(v).strip():
        return ""
    tokens = re.findall(r"[^;()]+\([^)]*\)|[^;]+", str(v))
    return "; ".join(_diagnostic_word(t) for t in tokens if t.strip())
