"""Published reference estimates, matched to the study's concept sets and direction.

The literature file (``data/literature/reference_estimates.csv``, a copy of
shared/data/literature) names conditions and directions in prose ("RA->migraine",
"cross-sectional (migraine in MS vs controls)"). This module maps each row to our concept-set ids,
to a direction class and to a measure family, so that the report can place published estimates
beside ours. Unlike measures are never compared: :func:`comparable` keeps only rows whose measure
family equals ours, and the report labels the rest with their own measure.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from miglink.errors import MiglinkError

#: Direction classes. "to_migraine": the other condition comes first (X -> migraine);
#: "from_migraine": migraine comes first (migraine -> X); "cross_sectional": no time order.
TO_MIGRAINE = "to_migraine"
FROM_MIGRAINE = "from_migraine"
CROSS_SECTIONAL = "cross_sectional"

DIRECTION_LABELS = {
    TO_MIGRAINE: "condition → migraine",
    FROM_MIGRAINE: "migraine → condition",
    CROSS_SECTIONAL: "cross-sectional",
}

#: Concept-set ids that stand for migraine (any or a subtype) on our side of a pair.
MIGRAINE_SETS = (
    "migraine",
    "migraine_with_aura",
    "migraine_without_aura",
    "chronic_migraine",
    "menstrual_migraine",
)

#: Published condition (lower-cased, exact) -> our concept-set ids. Conditions not listed here
#: (MACCE, "major CVD", drug-treated diabetes of any type, antithrombotic response in aPL carriers,
#: the tertiary female:male ratio of "SLE / Sjogren / Hashimoto") have no counterpart among our
#: pair estimates and are never shown beside one.
CONDITION_SETS: dict[str, tuple[str, ...]] = {
    "sle": ("sle",),
    "ms": ("multiple_sclerosis",),
    "ms (ifn-beta)": ("interferon_beta",),
    "ra": ("rheumatoid_arthritis",),
    "sjogren": ("sjogren",),
    "antiphospholipid (acl)": ("antiphospholipid_syndrome",),
    "antiphospholipid (any apl)": ("antiphospholipid_syndrome",),
    "hashimoto": ("hashimoto",),
    "hashimoto/hypothyroidism": ("hashimoto",),
    "autoimmune hyperthyroidism": ("graves",),
    "celiac": ("coeliac",),
    "celiac (inflammation without villous atrophy)": ("coeliac",),
    "ibd": ("crohn", "ulcerative_colitis"),
    "crohn's disease": ("crohn",),
    "ulcerative colitis": ("ulcerative_colitis",),
    "psoriasis (mild)": ("psoriasis",),
    "psoriasis (severe)": ("psoriasis",),
    "psoriatic arthritis": ("psoriasis",),
    "ankylosing spondylitis / axspa": ("ankylosing_spondylitis",),
    "type 1 diabetes": ("type1_diabetes",),
    "ischaemic stroke": ("ischaemic_stroke",),
    "ischaemic stroke (premature)": ("ischaemic_stroke",),
    "ra, sle, t1d, psoriasis, asthma, allergic rhinitis": (
        "rheumatoid_arthritis",
        "sle",
        "type1_diabetes",
        "psoriasis",
    ),
}

#: Rows whose condition is "(none)" are about migraine itself or a marker; the marker is read from
#: the direction text.
_MARKER_SETS = (
    (re.compile(r"\bcrp\b", re.I), "crp"),
    (re.compile(r"\besr\b", re.I), "esr"),
)

_MEASURE_FAMILIES = (
    (re.compile(r"\bHR\b"), "HR"),
    (re.compile(r"\bIRR\b"), "IRR"),
    (re.compile(r"\bRR\b|relative risk", re.I), "RR"),
    (re.compile(r"\bOR\b"), "OR"),
    (re.compile(r"\bSMD\b"), "SMD"),
    (re.compile(r"prevalence|response %", re.I), "prevalence"),
)


def literature_path() -> Path:
    return Path(str(resources.files("miglink") / "data" / "literature" / "reference_estimates.csv"))


def measure_family(measure: str) -> str:
    """The comparable family of a published measure text ("adjusted HR ..." -> "HR")."""
    text = str(measure)
    for pattern, family in _MEASURE_FAMILIES:
        if pattern.search(text):
            return family
    return "other"


def direction_classes(direction: str) -> tuple[str, ...]:
    """Direction classes of a published direction text.

    "X->migraine" and "X->headache" are condition-first; "migraine->X" and "migraine before X
    onset" are migraine-first; "cross-sectional", "prevalence" and "within-migraine" are
    cross-sectional; "bidirectional" is both time orders.
    """
    t = str(direction).strip().lower()
    if "bidirectional" in t:
        return (TO_MIGRAINE, FROM_MIGRAINE)
    if t.startswith(("cross-sectional", "prevalence", "within-migraine")):
        return (CROSS_SECTIONAL,)
    if re.match(r"^(migraine|headache disorders|genetic migraine)\b.*(->|before|onset)", t):
        return (FROM_MIGRAINE,)
    if re.search(r"->\s*(incident\s+)?(migraine|headache)", t):
        return (TO_MIGRAINE,)
    if "migraine" in t and "->" in t:
        return (FROM_MIGRAINE,)
    return ()


def migraine_phenotype(direction: str, measure: str) -> str:
    """Which migraine phenotype the published row is about (our set id, or "headache")."""
    t = f"{direction} {measure}".lower()
    if "without aura" in t or re.search(r"\bmo in\b", t):
        return "migraine_without_aura"
    if "with aura" in t:
        return "migraine_with_aura"
    if "migraine" in t or "migrainous" in t:
        return "migraine"
    if "headache" in t:
        return "headache"
    return "migraine"


def _condition_sets(condition: str, direction: str) -> tuple[str, ...]:
    c = str(condition).strip().lower()
    if c == "(none)":
        for pattern, set_id in _MARKER_SETS:
            if pattern.search(str(direction)):
                return (set_id,)
        return ()
    return CONDITION_SETS.get(c, ())


def short_citation(citation: str) -> str:
    """A short label ("Pakpoor et al. 2012", "Lupus 2023") for plots and tables."""
    text = str(citation).strip()
    m = re.match(r"^same as above \((.*)\)$", text, re.I)
    if m:
        text = m.group(1)
    if text.startswith("'"):  # a quoted title: its first words
        words = text.strip("'").split()
        return " ".join(words[:4]) + " …"
    year_m = re.search(r"\b(19|20)\d{2}\b", text)
    year = year_m.group(0) if year_m else ""
    # "Surname AB, ..." or "Surname AB. Journal" or "Surname et al."
    m = re.match(r"^([A-Z][A-Za-z'\-]+)(?: [A-Z]{1,3}\b| et al\b)", text)
    if m and not text.lower().startswith(("authors", "same")):
        return f"{m.group(1)} et al. {year}".strip()
    m = re.match(r"^([A-Z][A-Za-z'\-]+) \d{4}", text)  # "Vacca 2007 as tabulated ..."
    if m:
        return f"{m.group(1)} {year}".strip()
    # Journal name before the year ("Lupus 2023", "Semin Arthritis Rheum 2024").
    m = re.search(r"([A-Z][A-Za-z .]+?)\s+(?:\d{4})", text)
    if m and len(m.group(1)) <= 40:
        return f"{m.group(1).strip()} {year}".strip()
    return text[:40]


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise MiglinkError(f"literature file not found: {p}", table="reference_estimates")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    required = {"claim", "condition", "direction", "measure", "estimate", "design", "citation"}
    missing = sorted(required - set(df.columns))
    if missing:
        raise MiglinkError(
            f"literature file {p} lacks column(s) {missing} ({len(df)} rows)",
            table="reference_estimates",
            column=missing[0],
            n_rows=len(df),
        )
    for col in ("estimate", "ci_low", "ci_high"):
        df[col] = pd.to_numeric(df.get(col, ""), errors="coerce")
    df["claim_number"] = pd.to_numeric(df["claim"].str.extract(r"^(\d+)")[0], errors="coerce")
    df["sets"] = [
        _condition_sets(c, d) for c, d in zip(df["condition"], df["direction"], strict=True)
    ]
    df["directions"] = [direction_classes(d) for d in df["direction"]]
    # Mendelian-randomisation ORs are per unit of genetic liability: not comparable with an
    # observational OR, so they get a family of their own.
    mr = (df["design"] + " " + df["direction"]).str.contains(r"mendelian|\bMR\b", case=False)
    df["family"] = [
        f"MR {measure_family(m)}" if is_mr else measure_family(m)
        for m, is_mr in zip(df["measure"], mr, strict=True)
    ]
    df["derived"] = df["measure"].str.contains("DERIVED", case=False)
    df["phenotype"] = [
        migraine_phenotype(d, m) for d, m in zip(df["direction"], df["measure"], strict=True)
    ]
    df["short"] = [short_citation(c) for c in df["citation"]]
    return df


def load_literature(path: str | Path | None = None) -> pd.DataFrame:
    """All literature rows with the derived columns sets, directions, family, derived, short."""
    return _load(str(path or literature_path())).copy()


def _pair(exposure: str, outcome: str) -> tuple[str | None, str | None]:
    """(other condition, wanted direction) for an exposure/outcome pair, or (None, None)."""
    if exposure in MIGRAINE_SETS and outcome not in MIGRAINE_SETS:
        return outcome, FROM_MIGRAINE
    if outcome in MIGRAINE_SETS and exposure not in MIGRAINE_SETS:
        return exposure, TO_MIGRAINE
    return None, None


def published_for(
    exposure: str,
    outcome: str,
    claim: int | None = None,
    *,
    any_direction: bool = False,
    path: str | Path | None = None,
) -> pd.DataFrame:
    """Published estimates for the pair (exposure, outcome), in either compatible direction.

    A pair matches a literature row when the non-migraine side is one of the row's concept sets
    and the row's direction is the same time order or cross-sectional (an association without
    time order is symmetric). ``any_direction=True`` (for our own cross-sectional designs, which
    have no time order either) accepts every direction. When our migraine side is a subtype, only rows about that subtype
    match; "migraine" (any) matches every phenotype, which the ``phenotype`` column shows. Rows
    of the given claim come first. Returned columns: those of the file plus ``family`` (OR, HR,
    RR, IRR, SMD, prevalence, other), ``direction_class``, ``derived``, ``phenotype``, ``short``.
    """
    lit = load_literature(path)
    other, wanted = _pair(exposure, outcome)
    empty = lit.iloc[0:0].assign(direction_class=pd.Series(dtype=str))
    if other is None:
        return empty.drop(columns=["sets", "directions"])
    migraine_side = exposure if wanted == FROM_MIGRAINE else outcome
    keep = []
    for i, row in lit.iterrows():
        if other not in row["sets"]:
            continue
        dirs = row["directions"]
        if not (any_direction or wanted in dirs or CROSS_SECTIONAL in dirs):
            continue
        if migraine_side != "migraine" and row["phenotype"] != migraine_side:
            continue
        keep.append(i)
    out = lit.loc[keep].copy()
    if out.empty:
        return empty.drop(columns=["sets", "directions"])
    out["direction_class"] = [
        wanted if wanted in d else (CROSS_SECTIONAL if CROSS_SECTIONAL in d else d[0])
        for d in out["directions"]
    ]
    if claim is not None:
        out["_own"] = (out["claim_number"] != claim).astype(int)
        out = out.sort_values(["_own"], kind="stable").drop(columns="_own")
    return out.drop(columns=["sets", "directions"]).reset_index(drop=True)


def comparable(published: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Rows of ``published`` with our measure's family and a numeric estimate.

    Only these may be drawn on the same axis as our estimate; the rest are listed with their
    own measure label.
    """
    if published.empty:
        return published
    fam = measure_family(measure)
    if fam == "other":
        return published.iloc[0:0]
    mask = (published["family"] == fam) & published["estimate"].notna()
    return published[mask]


_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s;,()\"']+)", re.I)
#: PubMed ids in the URLs of PubMed itself and of mirrors that carry one (db=pubmed&id=, /paper/)
_PMID = re.compile(
    r"(?:pubmed(?:\.ncbi\.nlm\.nih\.gov)?/|/pubmed/|db=pubmed&id=|scicurve\.com/paper/)(\d{6,9})"
)
_PMC = re.compile(r"\b(PMC\d{5,9})\b")


def scholarly_link(citation: object, url: object) -> str:
    """A link to the record of the paper: its DOI, else its PubMed (or PMC) record, else a PubMed
    search for the citation. Aggregator and mirror pages in the literature file are not linked:
    a reader should land on the publisher's or the library's record."""
    text = f"{citation or ''} {url or ''}"
    if m := _DOI.search(text):
        return "https://doi.org/" + m.group(1).rstrip(".")
    if m := _PMID.search(str(url or "")):
        return f"https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/"
    if m := _PMC.search(text):
        return f"https://pmc.ncbi.nlm.nih.gov/articles/{m.group(1)}/"
    term = re.sub(r"\s+", " ", re.sub(r"[^\w\s.;:-]", " ", str(citation or ""))).strip()
    if not term:
        return ""
    from urllib.parse import quote_plus

    return "https://pubmed.ncbi.nlm.nih.gov/?term=" + quote_plus(term[:200])
