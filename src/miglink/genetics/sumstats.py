"""Reading GWAS summary statistics into one frame with miglink's column names.

GWAS-SSF / GWAS Catalog harmonised files are read by their own column names; any other file
by a small mapping from miglink's names to the file's (a dict, or a YAML file of one). Problems
are one line naming the file, the column and how many rows, because a researcher fixing a
50-million-row file needs to know which column to look at.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from miglink.errors import MiglinkError
from miglink.safeyaml import read_text, safe_yaml

#: miglink's columns; the first five are required (rsid, alleles, beta, se).
COLUMNS = (
    "rsid", "effect_allele", "other_allele", "beta", "se",
    "chromosome", "position", "eaf", "p", "n",
)  # fmt: skip
REQUIRED = COLUMNS[:5]
NUMERIC = ("beta", "se", "position", "eaf", "p", "n")

#: Names each column goes by: the GWAS Catalog harmonised ``hm_`` names first (a harmonised file
#: also keeps the submitted columns; the ``hm_`` ones are on the forward strand of one build), then
#: GWAS-SSF, then common generic spellings. The first present in a file wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "rsid": ("hm_rsid", "rsid", "variant_id", "snp", "markername", "id"),
    "chromosome": ("hm_chrom", "chromosome", "chr", "chrom"),
    "position": ("hm_pos", "base_pair_location", "pos", "bp", "position"),
    "effect_allele": ("hm_effect_allele", "effect_allele", "a1", "ea", "alt"),
    "other_allele": ("hm_other_allele", "other_allele", "a2", "oa", "nea", "ref"),
    "beta": ("hm_beta", "beta", "b", "effect"),
    "se": ("standard_error", "se", "stderr"),
    "eaf": ("hm_effect_allele_frequency", "effect_allele_frequency", "eaf", "freq", "af"),
    "p": ("p_value", "pval", "p", "pvalue"),
    "n": ("n", "sample_size", "samplesize", "neff"),
}


def read_sumstats(
    path: str | Path,
    mapping: dict[str, str] | str | Path | None = None,
    *,
    max_p: float | None = None,
    rsids: set[str] | None = None,
) -> pd.DataFrame:
    """The file at ``path`` (tab, comma or whitespace separated; ``.gz`` allowed) as a frame of
    :data:`COLUMNS` (missing optional ones are NaN), one row per variant, alleles upper case.

    ``mapping`` maps miglink's names to the file's (``{"beta": "BETA_EUR"}``) and overrides the
    aliases; a path is read as a YAML file holding that dict. ``max_p`` keeps only rows with a
    p-value below it, ``rsids`` only those variants, before the rows are checked: a 10-million-row
    GWAS is then checked only where it is used. ``attrs["rows_read"]`` is the file's row count.
    """
    path = Path(path)
    sep, header = _header(path)
    names = _resolve_names(path, header, _mapping(mapping))
    raw = _read_table(path, sep, sorted(set(names.values())))  # only the columns used
    rows_read = len(raw)
    if rsids is not None:
        raw = raw[raw[names["rsid"]].str.strip().isin(rsids)]
    if max_p is not None and "p" in names:
        raw = raw[pd.to_numeric(raw[names["p"]], errors="coerce") < max_p]
    out = pd.DataFrame({c: raw[names[c]] if c in names else np.nan for c in COLUMNS})
    if out.empty:  # nothing passed the filters: the caller says what that means
        return _with_attrs(out, rows_read, 0, 0)
    return _clean(path, out).pipe(_with_attrs, rows_read)


def _with_attrs(frame: pd.DataFrame, rows_read: int, *counts: int) -> pd.DataFrame:
    frame.attrs["rows_read"] = rows_read
    if counts:
        frame.attrs["rows_missing_required"], frame.attrs["rows_repeated_rsid"] = counts
    return frame


def _mapping(mapping: dict[str, str] | str | Path | None) -> dict[str, str]:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        loaded = safe_yaml(
            read_text(Path(mapping), "column mapping"), Path(mapping), "column mapping"
        )
        if not isinstance(loaded, dict):
            raise MiglinkError(f"column mapping {mapping} must be a mapping of column names")
        mapping = loaded
    unknown = sorted(set(mapping) - set(COLUMNS))
    if unknown:
        raise MiglinkError(
            f"column mapping names unknown column(s) {unknown}; known: {', '.join(COLUMNS)}"
        )
    return {k: str(v) for k, v in mapping.items()}


_READ_ERRORS = (
    pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError,
    gzip.BadGzipFile, ValueError,
)  # fmt: skip


def _header(path: Path) -> tuple[str, list[str]]:
    """The separator and column names, from the first line."""
    if not path.is_file():
        raise MiglinkError(f"summary statistics {path}: no such file", table=str(path))
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            line = fh.readline().rstrip("\r\n")
    except _READ_ERRORS as e:
        first = " ".join(str(e).split())[:200]
        raise MiglinkError(f"summary statistics {path} cannot be read as a table: {first}") from e
    sep = "\t" if "\t" in line else ("," if "," in line else r"\s+")
    cols = line.split() if sep == r"\s+" else line.split(sep)
    return sep, [c.strip().strip('"') for c in cols]


def _read_table(path: Path, sep: str, usecols: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, compression="infer",
                            na_values=["NA", "."], usecols=usecols)  # fmt: skip
    except _READ_ERRORS as e:
        first = " ".join(str(e).split())[:200]
        raise MiglinkError(f"summary statistics {path} cannot be read as a table: {first}") from e
    if frame.empty:
        raise MiglinkError(
            f"summary statistics {path} has no variant rows", table=str(path), n_rows=0
        )
    return frame


def _resolve_names(path: Path, columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    lower = {c.strip().lower(): c for c in columns}
    names: dict[str, str] = {}
    for col in COLUMNS:
        if col in mapping:
            if mapping[col] not in columns:
                raise MiglinkError(
                    f"summary statistics {path}: mapped column {mapping[col]!r} (for {col}) "
                    "is not in the file",
                    table=str(path),
                    column=mapping[col],
                )
            names[col] = mapping[col]
            continue
        found = next((lower[a] for a in ALIASES[col] if a in lower), None)
        if found is not None:
            names[col] = found
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise MiglinkError(
            f"summary statistics {path}: no column for {', '.join(missing)} (looked for "
            f"{', '.join(ALIASES[missing[0]])}; name it in a column mapping)",
            table=str(path),
            column=missing[0],
        )
    return names


def _clean(path: Path, out: pd.DataFrame) -> pd.DataFrame:
    for col in NUMERIC:
        text = out[col]
        num = pd.to_numeric(text, errors="coerce")
        odd = text[num.isna() & text.notna()]  # usually none: only these are looked at as text
        bad = int((~odd.astype(str).str.strip().str.upper().isin(["NA", "NAN", ""])).sum())
        if bad:
            raise MiglinkError(
                f"summary statistics {path}: column {col} has {bad} non-numeric row(s)",
                table=str(path), column=col, n_rows=bad,
            )  # fmt: skip
        out[col] = num.astype(float)
    # a variant without an rsid, alleles, beta or SE cannot be used (a harmonised file leaves
    # hm_beta empty where harmonisation failed): dropped and counted, not an error
    missing = out[list(REQUIRED)].isna().any(axis=1)
    out = out[~missing].copy()
    if out.empty:
        raise MiglinkError(
            f"summary statistics {path}: every one of {int(missing.sum())} row(s) lacks one of "
            f"{', '.join(REQUIRED)}", table=str(path), n_rows=int(missing.sum()),
        )  # fmt: skip
    for col in ("effect_allele", "other_allele"):
        out[col] = out[col].astype(str).str.strip().str.upper()
    out["rsid"] = out["rsid"].astype(str).str.strip()
    out["chromosome"] = out["chromosome"].astype("string").str.upper().str.removeprefix("CHR")
    _check(path, out)
    if out["p"].isna().all():  # a Wald p-value when the file has none
        out["p"] = 2 * norm.sf(np.abs(out["beta"] / out["se"]))
    # an rsid on several rows (a multi-allelic site, a duplicated line) cannot be matched to one
    # allele pair: every copy is dropped and counted, as ambiguous
    dup = out["rsid"].duplicated(keep=False)
    out = out[~dup].reset_index(drop=True)
    if out.empty:
        raise MiglinkError(f"summary statistics {path}: every rsid is repeated", table=str(path))
    out.attrs["rows_missing_required"] = int(missing.sum())
    out.attrs["rows_repeated_rsid"] = int(dup.sum())
    return out


def _check(path: Path, out: pd.DataFrame) -> None:
    problems = [
        ("beta", ~np.isfinite(out["beta"]), "infinite"),
        ("se", ~(out["se"] > 0) | ~np.isfinite(out["se"]), "not positive or infinite"),
        ("eaf", out["eaf"].notna() & ~out["eaf"].between(0, 1), "outside 0-1"),
        ("p", out["p"].notna() & ~out["p"].between(0, 1), "outside 0-1"),
    ]
    for col in ("effect_allele", "other_allele"):
        bad = ~out[col].str.fullmatch("[ACGT]+")
        problems.append((col, bad, "not made of A, C, G, T"))
    for col, bad, what in problems:
        n = int(bad.sum())
        if n:
            raise MiglinkError(
                f"summary statistics {path}: column {col} is {what} in {n} row(s)",
                table=str(path), column=col, n_rows=n,
            )  # fmt: skip
