"""Adversarial privacy tests: run the whole study, then attack ONLY the written artefacts.

Each attack is what a reader of the published files could do with a spreadsheet and scipy:
difference curves, subtract partitions (prevalence margins, persons across concept sets, attrition
steps, strata against 'all', exposed + unexposed against totals), invert estimates with their SE,
compare summaries with the table, read free text and look for person ids. Every attack returns
the values it recovered that lie in (0, min_cell); each test asserts there are none.

Populations: synthetic 300 persons (seed 7) and 3,000 persons (seed 2024) — seeds fixed before
looking at any output — and the real demo data in ../shared/data (MIMIC-IV on FHIR, MIMIC-IV
OMOP), each at minimum cell 5 and 11. The study is executed once per population (cached per
module) and its artefacts are written at each minimum cell by ``write_run``, the writer
``run_study`` calls.
"""

from __future__ import annotations

import gzip
import html
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miglink.privacy.spec import decode_table

MIN_CELLS = (5, 11)
SYNTH = {"synth300": (300, 7), "synth3k": (3_000, 2024)}
REAL = {"mimic_fhir": "mimic-iv-fhir-demo", "mimic_omop": "mimic-iv-demo-omop"}
SOURCES = [*SYNTH, *REAL]
COUNTS = ("n_exposed", "n_unexposed", "events_exposed", "events_unexposed")


# --- the runs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("adversarial")


def _data(source: str, shared: Path, ws: Path) -> Path:
    if source in REAL:
        return shared / REAL[source]
    from miglink.synth import generate

    out = ws / f"data_{source}"
    if not out.exists():
        persons, seed = SYNTH[source]
        generate(persons=persons, seed=seed, out=out)
    return out


@pytest.fixture(scope="module")
def executed(workspace, shared_data):
    """One study execution per population (cached): the two min_cell runs below write from it."""
    cache: dict = {}

    def get(source: str):
        if source not in cache:
            from miglink.claims.model import load_study
            from miglink.sources import open_cdm
            from miglink.study import execute

            data = _data(source, shared_data, workspace)
            study, study_hash = load_study(None)
            cdm = open_cdm(data)
            cache[source] = (data, study, study_hash, cdm.description, execute(cdm, study))
        return cache[source]

    return get


@pytest.fixture(
    scope="module",
    params=[(s, m) for s in SOURCES for m in MIN_CELLS],
    ids=[f"{s}-min{m}" for s in SOURCES for m in MIN_CELLS],
)
def run(request, workspace, executed) -> dict:
    """The artefacts of one (population, min_cell), written by the writer run_study uses
    (miglink.outputs.write_run: the one gate), from one execution of the whole study."""
    from miglink.outputs import write_run

    source, min_cell = request.param
    data, study, study_hash, description, result = executed(source)
    out = workspace / f"run_{source}_{min_cell}"
    if not out.exists():
        write_run(
            result, out, study=study, study_hash=study_hash, data_description=description,
            engine="duckdb", min_cell=min_cell,
        )  # fmt: skip
    return {"dir": out, "min_cell": min_cell, "source": source, "data": data}


# --- reading the artefacts (and nothing else) ------------------------------------------------


def _num(v) -> float:
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _hidden(v) -> bool:
    return isinstance(v, str) and v.strip().startswith("<")


def _small(v: float, m: int) -> bool:
    return 0 < v < m and abs(v - round(v)) < 1e-6


def _table(d: Path, name: str) -> pd.DataFrame:
    """A table with the gate's labels in its count cells (files write "<5" as -5 and name a
    withheld count in count_labels: docs/results-files.md), so the attacks see what a reader sees."""
    p = d / f"{name}.parquet"
    return decode_table(pd.read_parquet(p), name) if p.exists() else pd.DataFrame()


def _results(d: Path) -> list[dict]:
    rows = json.loads((d / "results.json").read_text(encoding="utf-8"))
    df = decode_table(pd.DataFrame(rows), "results").astype(object)
    return df.where(df.notna(), None).to_dict("records")


def _site(d: Path) -> dict:
    return json.loads((d / "site_results.json").read_text(encoding="utf-8"))


def _report_text(d: Path) -> str:
    raw = (d / "report.html").read_text(encoding="utf-8")
    raw = re.sub(r"(?s)<(script|style|svg)\b.*?</\1>", " ", raw)
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


# --- attacks ---------------------------------------------------------------------------------


def attack_curves(curves: pd.DataFrame, m: int) -> list[str]:
    """Per-step events and censorings by differencing, and d = n (1 - S_k / S_k-1)."""
    found = []
    if curves.empty:
        return found
    c = curves.copy()
    for col in ("time", "survival", "at_risk", "events"):
        c[col] = pd.to_numeric(c[col], errors="coerce")
    c = c.dropna(subset=["time"])
    for (a, g), cur in c.groupby(["analysis", "group"]):
        cur = cur.sort_values("time")
        n, e, s = cur["at_risk"].to_numpy(), cur["events"].to_numpy(), cur["survival"].to_numpy()
        for v in [*n, *e]:
            if _small(v, m):
                found.append(f"{a}/{g}: shown count {v}")
        n0 = n[0]
        for i, j in itertools.combinations(range(len(n)), 2):
            d = e[j] - e[i]
            left = n[i] - n[j]  # events + censorings between the two times
            for what, v in (("events", d), ("departures", left), ("censorings", left - d)):
                if _small(v, m):
                    found.append(
                        f"{a}/{g}: {what} between t={cur.time.iloc[i]} and {cur.time.iloc[j]} = {v}"
                    )
        for k in range(1, len(n)):
            if s[k - 1] > 0 and n[k - 1] > 0:
                for n_at in (n[k - 1], n[k - 1] - (n[k - 1] - n[k] - (e[k] - e[k - 1])) / 2):
                    d_hat = n_at * (1 - s[k] / s[k - 1])
                    if _small(round(d_hat, 6), m) and abs(d_hat - round(d_hat)) < 1e-6:
                        found.append(f"{a}/{g}: 1 - d/n gives d = {d_hat:.6f} at step {k}")
        if _small(n0 - n[-1], m):
            found.append(f"{a}/{g}: persons leaving over the curve = {n0 - n[-1]}")
    return found


def _band(b: str) -> tuple[int, float]:
    b = str(b)
    if b == "all":
        return (0, math.inf)
    if b.endswith("+"):
        return (int(b[:-1]), math.inf)
    lo, hi = b.split("-")
    return (int(lo), int(hi))


def set_totals(results: list[dict]) -> dict[str, float]:
    """Persons with each concept set as the results table publishes them (D1, stratum 'all'):
    n_exposed of the exposure, events_exposed + events_unexposed of the outcome."""
    out: dict[str, float] = {}
    for r in results:
        if r.get("design") != "D1" or r.get("stratum") != "all":
            continue
        n = _num(r.get("n_exposed"))
        if math.isfinite(n):
            out[str(r.get("exposure"))] = n
        e = _num(r.get("events_exposed")) + _num(r.get("events_unexposed"))
        if math.isfinite(e):
            out[str(r.get("outcome"))] = e
    return out


def attack_prevalence(prev: pd.DataFrame, m: int, totals: dict | None = None) -> list[str]:
    """Small shown cells, non-cases, hidden cells against a published set total (their sum, and
    each one exactly where the bounds 1..m-1 pin it: zeros beside suppressed cells), and persons
    of one age range recovered by subtracting nested ranges published for different sets."""
    found = []
    if prev.empty:
        return found
    p = prev.copy()
    p["n"] = p["n_persons"].map(_num)
    p["c"] = p["n_cases"].map(_num)
    for r in p.itertuples():
        for what, v in (("persons", r.n), ("cases", r.c), ("non-cases", r.n - r.c)):
            if _small(v, m):
                found.append(f"{r.set_id} {r.sex} {r.age_band}: {what} = {v}")
        prev_v = _num(getattr(r, "prevalence", None))
        if math.isfinite(prev_v) and math.isfinite(r.n) and not math.isfinite(r.c):
            if _small(round(prev_v * r.n, 6), m):
                found.append(f"{r.set_id} {r.sex} {r.age_band}: prevalence x persons")
    for set_id, g in p.groupby("set_id"):
        tot = (totals or {}).get(str(set_id), math.nan)
        k = int(g["c"].isna().sum())
        if not (k and math.isfinite(tot)):
            continue
        hid = tot - g["c"].sum()
        lo, hi = max(1, hid - (k - 1) * (m - 1)), min(m - 1, hid - (k - 1))
        if _small(hid, m) or lo == hi:
            found.append(f"{set_id}: {k} hidden case cells hold {hid} (each in [{lo}, {hi}])")
    # persons of every sex x band range published by any set (sums of consecutive cells too)
    ranges: dict[tuple, float] = {}
    for (_set_id, sex), g in p.groupby(["set_id", "sex"]):
        g = g.assign(lo=[_band(b)[0] for b in g.age_band], hi=[_band(b)[1] for b in g.age_band])
        g = g.sort_values("lo")
        vals = g["n"].tolist()
        for i in range(len(g)):
            tot = 0.0
            for j in range(i, len(g)):
                tot += vals[j]
                if math.isfinite(tot):
                    ranges[(sex, g.lo.iloc[i], g.hi.iloc[j])] = tot
    for (s1, lo1, hi1), v1 in ranges.items():
        for (s2, lo2, hi2), v2 in ranges.items():
            nested = s1 == s2 and lo1 <= lo2 and hi2 <= hi1 and (lo1, hi1) != (lo2, hi2)
            if nested and (lo1 == lo2 or hi1 == hi2) and _small(v1 - v2, m):
                found.append(f"persons {s1} [{lo1},{hi1}] - [{lo2},{hi2}] = {v1 - v2}")
    # a hidden cell against its set's total (sum of all cells when the rest are shown, with the
    # population total from the sets that are fully shown)
    totals = [g["n"].sum() for _, g in p.groupby("set_id") if g["n"].notna().all()]
    population = totals[0] if totals else math.nan
    for set_id, g in p.groupby("set_id"):
        hid_n = g["n"].isna().sum()
        if hid_n == 1 and math.isfinite(population) and _small(population - g["n"].sum(), m):
            found.append(f"{set_id}: hidden persons cell = population - shown")
    return found


def attack_attrition(att: pd.DataFrame, m: int) -> list[str]:
    found = []
    if att.empty:
        return found
    for a, g in att.groupby("analysis"):
        vals = [v for v in g.sort_values("step")["n"].map(_num).tolist() if math.isfinite(v)]
        for v in vals:
            if _small(v, m):
                found.append(f"{a}: step count {v}")
        for x, y in itertools.combinations(vals, 2):
            if _small(abs(x - y), m):
                found.append(f"{a}: steps differ by {abs(x - y)}")
    return found


def attack_site_file(site: dict, results: list[dict], prev: pd.DataFrame, m: int) -> list[str]:
    """The site file may carry nothing the gated tables withhold."""
    found = []
    key = (
        "analysis",
        "hypothesis",
        "exposure",
        "outcome",
        "stratum",
        "method",
        "measure",
        "direction",
        "role",
    )
    table = {tuple(r.get(k) for k in key): r for r in results}
    for e in site["estimates"]:
        r = table.get(tuple(e.get(k) for k in key))
        if r is None:
            found.append(f"site row {e['analysis']} not in results")
            continue
        for k in COUNTS:
            if k in e and e[k] is not None and str(e[k]) != str(r.get(k)):
                found.append(f"{e['analysis']}: site {k} {e[k]} vs table {r.get(k)}")
        if e.get("log_estimate") is not None and r.get("estimate") is None:
            found.append(
                f"{e['analysis']} {e['method']}: site shares an estimate the table withholds"
            )
        prof = e.get("profile") or {}
        if prof.get("kind") == "conditional_2x2":
            n1, n0, a, c = (_num(e.get(k)) for k in COUNTS)
            for v in (a, n1 - a, c, n0 - c):
                if not math.isfinite(v) or _small(v, m):
                    found.append(f"{e['analysis']}: exact 2x2 profile of a table with cell {v}")
    totals = set_totals(results)
    site_prev = pd.DataFrame(site["prevalence"])
    found += [f"site file: {f}" for f in attack_prevalence(site_prev, m, totals)]
    if site["prevalence"]:
        sp = pd.DataFrame(site["prevalence"]).astype(str)
        tp = prev[["set_id", "sex", "age_band", "n_persons", "n_cases"]].astype(str)
        tp = tp.replace({"None": "None", "nan": "None", "<NA>": "None"})
        sp = sp.replace({"nan": "None"})
        if sorted(map(tuple, sp.to_numpy().tolist())) != sorted(map(tuple, tp.to_numpy().tolist())):
            found.append("site prevalence differs from prevalence.parquet")
    return found


def attack_se_inversion(results: list[dict], m: int) -> list[str]:
    """Solve a hidden 2x2 / Poisson cell from the estimate, its SE and the shown counts: try every
    value 1..m-1 and keep those that reproduce both the estimate and the SE (Woolf: se^2 = sum of
    1/cell; Poisson: se^2 = 1/e1 + 1/e0)."""
    found = []
    for r in results:
        y, se = _num(r.get("log_estimate")), _num(r.get("se_log"))
        hidden = [k for k in COUNTS if _hidden(r.get(k))]
        if not hidden or not (math.isfinite(y) and math.isfinite(se)):
            continue
        shown = {k: _num(r.get(k)) for k in COUNTS}
        ratio = r.get("measure") == "OR"
        if not ratio:  # a Poisson SE depends on the events only
            hidden = [k for k in hidden if k.startswith("events")]
            if not hidden or r.get("measure") not in ("IRR", "HR"):
                continue
        sols = []
        for combo in itertools.product(range(1, m), repeat=len(hidden)):
            v = dict(shown) | dict(zip(hidden, combo, strict=True))
            n1, n0, a, c = (v[k] for k in COUNTS)
            if ratio:
                if not all(map(math.isfinite, (n1, n0, a, c))) or min(a, n1 - a, c, n0 - c) <= 0:
                    continue
                b, d = n1 - a, n0 - c
                cy, cse = math.log(a * d / (b * c)), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
                if abs(cy - y) > 1e-4 * max(1, abs(y)):
                    continue
            else:
                if not (math.isfinite(a) and math.isfinite(c)):
                    continue
                cse = math.sqrt(1 / a + 1 / c)
            if abs(cse - se) < 1e-4 * se:
                sols.append(combo)
        # recovered: one solution, or several that agree on the hidden cells' total
        if sols and (len(sols) == 1 or len({sum(x) for x in sols}) == 1):
            found.append(f"{r['analysis']} {r['method']}: {hidden} = {sols}")
    return found


def attack_subtraction(results: list[dict], prev: pd.DataFrame, m: int) -> list[str]:
    """Strata against 'all' and exposed + unexposed against the population and set totals."""
    found = []
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(
            (r.get("design"), r.get("exposure"), r.get("outcome"), r.get("method")), []
        ).append(r)
    for g, rows in groups.items():
        alls = [r for r in rows if r.get("stratum") == "all"]
        for a in alls:
            for r in rows:
                if r is a:
                    continue
                for k in COUNTS:
                    x, y = _num(a.get(k)), _num(r.get(k))
                    if math.isfinite(x) and math.isfinite(y) and x >= y and _small(x - y, m):
                        found.append(f"{g}: {k} all - {r.get('stratum')} = {x - y}")
    if not prev.empty:
        n = prev["n_persons"].map(_num)
        if prev.groupby("set_id")["n_persons"].apply(lambda s: s.map(_num).notna().all()).any():
            population = n[prev.set_id == prev.set_id.iloc[0]].sum()
            for r in results:
                if r.get("design") != "D1":
                    continue
                e, u = _num(r.get("n_exposed")), _num(r.get("n_unexposed"))
                if _hidden(r.get("n_exposed")) and math.isfinite(u) and _small(population - u, m):
                    found.append(f"{r['analysis']}: n_exposed = population - n_unexposed")
                if _hidden(r.get("n_unexposed")) and math.isfinite(e) and _small(population - e, m):
                    found.append(f"{r['analysis']}: n_unexposed = population - n_exposed")
    return found


_NUM = r"\b([1-9]\d?)\b"
_COUNT_WORDS = r"(?:persons?|patients?|people|cases?|events?|exposed|unexposed|records?|users?|diagnos\w*|women|men|controls?)(?![-\w])"


def attack_free_text(texts: dict[str, str], m: int) -> list[str]:
    """Small integers next to count words ("2 exposed cases", "n = 3")."""
    found = []
    # on one line; a threshold in a definition (">= 1 record(s)") is not a count
    pats = [
        re.compile(
            r"(?<!>= )" + _NUM + r"[ \t]+(?:\w+[ \t]+)?" + _COUNT_WORDS + r"\b(?!\(s\))", re.I
        ),
        re.compile(r"\bn\s*=\s*" + _NUM),
    ]
    for where, text in texts.items():
        for pat in pats:
            for mt in pat.finditer(text):
                if 0 < int(mt.group(1)) < m:
                    found.append(f"{where}: {mt.group(0)!r}")
    return found


def attack_summaries(claims: dict, results: list[dict]) -> list[str]:
    """Every estimate printed in a claim summary must be shown in the gated table."""
    found = []
    by_h: dict[str, list[dict]] = {}
    for r in results:
        by_h.setdefault(str(r.get("hypothesis")), []).append(r)
    pat = re.compile(
        r"(\w+): (\w+) (-?\d+\.\d+) \((?:calibrated )?95% CI (-?\d+\.\d+)-(-?\d+\.\d+)\)"
    )
    for c in claims.get("claims", []):
        for mt in pat.finditer(c.get("summary") or ""):
            hid, est = mt.group(1), float(mt.group(3))
            shown = [
                _num(r.get(k)) for r in by_h.get(hid, []) for k in ("estimate", "cal_estimate")
            ]
            if not any(math.isfinite(v) and abs(v - est) < 0.006 for v in shown):
                found.append(f"claim {c.get('id')}: {mt.group(0)!r} is not in the gated table")
    return found


def _person_ids(source: str, data: Path) -> set[str]:
    if source == "mimic_omop":
        p = pd.read_csv(
            data / "1_omop_data_csv" / "person.csv",
            dtype=str,
            usecols=["person_id", "person_source_value"],
        )
        return set(p.person_id) | set(p.person_source_value.dropna())
    if source == "mimic_fhir":
        ids = set()
        with gzip.open(data / "fhir" / "MimicPatient.ndjson.gz", "rt", encoding="utf-8") as f:
            for line in f:
                pt = json.loads(line)
                ids.add(pt["id"])
                ids |= {str(i.get("value")) for i in pt.get("identifier", [])}
        return ids
    return set()


# --- the tests -------------------------------------------------------------------------------


def test_curves_give_back_no_small_count(run):
    assert attack_curves(_table(run["dir"], "curves"), run["min_cell"]) == []


def test_curves_agree_with_the_results_table(run):
    """The curve's arm size and events against the table's counts for the same analysis (the
    table's events minus the curve's last events = events after the curve's end)."""
    m, found = run["min_cell"], []
    curves = _table(run["dir"], "curves")
    if curves.empty:
        return
    res = pd.DataFrame(_results(run["dir"]))
    for (a, g), cur in curves.dropna(subset=["time"]).groupby(["analysis", "group"]):
        cur = cur.sort_values("time")
        n0, e_last = _num(cur["at_risk"].iloc[0]), _num(cur["events"].iloc[-1])
        arm = "exposed" if g == "exposed" else "unexposed"
        for col, ref in ((f"n_{arm}", n0), (f"events_{arm}", e_last)):
            for v in res.loc[res.analysis == a, col].map(_num):
                if math.isfinite(v) and _small(abs(v - ref), m):
                    found.append(f"{a}/{g}: table {col} {v} vs curve {ref}")
    assert found == []


def test_prevalence_gives_back_no_small_count(run):
    d = run["dir"]
    totals = set_totals(_results(d))
    assert attack_prevalence(_table(d, "prevalence"), run["min_cell"], totals) == []


def test_attrition_gives_back_no_small_count(run):
    att = _table(run["dir"], "attrition")
    assert attack_attrition(att, run["min_cell"]) == []
    # each step against the cohort sizes the table shows for the same index set
    m, found = run["min_cell"], []
    res = pd.DataFrame(_results(run["dir"]))
    for s in att.itertuples():
        v = _num(s.n)
        sizes = res.loc[res.analysis.str.startswith(f"{s.analysis}__"), "n_exposed"].map(_num)
        found += [f"{s.analysis} step {s.step}: {v} vs {x}" for x in sizes if _small(abs(v - x), m)]
    assert found == []


def test_site_file_carries_nothing_the_tables_withhold(run):
    d = run["dir"]
    found = attack_site_file(_site(d), _results(d), _table(d, "prevalence"), run["min_cell"])
    assert found == []


def test_no_suppressed_cell_from_an_estimate_and_its_se(run):
    """Results-table route (another branch fixes it): may fail here."""
    d = run["dir"]
    assert attack_se_inversion(_results(d), run["min_cell"]) == []
    assert attack_se_inversion(_site(d)["estimates"], run["min_cell"]) == []


def test_no_small_cell_by_subtracting_published_counts(run):
    """Results-table route (another branch fixes it): may fail here."""
    d = run["dir"]
    assert attack_subtraction(_results(d), _table(d, "prevalence"), run["min_cell"]) == []


def test_no_small_count_in_free_text(run):
    """Notes, log, run.json, claims and report text (results notes: another branch)."""
    d = run["dir"]
    texts = {
        "results notes": "\n".join(str(r.get("note") or "") for r in _results(d)),
        "run.log": (d / "run.log").read_text(encoding="utf-8"),
        "run.json": "\n".join(
            json.loads((d / "run.json").read_text(encoding="utf-8")).get("notes") or []
        ),
        "claims.json": (d / "claims.json").read_text(encoding="utf-8"),
        "report": _report_text(d),
    }
    assert attack_free_text(texts, run["min_cell"]) == []


def test_claim_summaries_print_only_what_the_table_shows(run):
    """Results-table route (another branch fixes it): may fail here."""
    d = run["dir"]
    claims = json.loads((d / "claims.json").read_text(encoding="utf-8"))
    assert attack_summaries(claims, _results(d)) == []


def test_no_person_id_in_any_artefact(run):
    d, ids = run["dir"], _person_ids(run["source"], run["data"])
    for p in sorted(d.iterdir()):
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
            assert not [c for c in df.columns if "person_id" in str(c)], p.name
            text = df.to_csv(index=False)
        else:
            text = p.read_text(encoding="utf-8", errors="replace")
        if ids:
            tokens = set(re.findall(r"[-\w]{6,}", text))
            assert not (tokens & ids), f"{p.name}: {sorted(tokens & ids)[:3]}"


def test_the_attacks_can_find_what_they_look_for():
    """Each attack recovers the small cells of artefacts gated the old way (primary only)."""
    m = 5
    curve = pd.DataFrame(
        {"analysis": "x", "group": "exposed", "time": [0.0, 0.5, 1.0],
         "survival": [1.0, 0.98, 0.95], "at_risk": [100, 96, 90], "events": [0, 2, 5]}
    )  # fmt: skip
    assert attack_curves(curve, m)
    prev = pd.DataFrame(
        {"set_id": ["s", "s", "t", "t", "t"], "sex": "F",
         "age_band": ["0-9", "10-14", "0-4", "5-9", "10-14"],
         "n_persons": [40, 30, 37, 3 + 0, 30], "n_cases": [0, 6, 0, 0, 6], "prevalence": 0.1}
    )  # fmt: skip
    assert attack_prevalence(prev, m)
    nested = prev.assign(n_persons=[40, 30, 37, "<5", 30])
    assert attack_prevalence(nested, m)  # 40 - 37 across the two sets
    assert attack_attrition(pd.DataFrame({"analysis": "a", "step": [1, 2], "n": [40, 38]}), m)
    a, n1, c, n0 = 3, 200, 40, 2000
    y = math.log(a * (n0 - c) / ((n1 - a) * c))
    se = math.sqrt(1 / a + 1 / (n1 - a) + 1 / c + 1 / (n0 - c))
    row = dict(analysis="x", method="mantel_haenszel", measure="OR", n_exposed=n1,
               n_unexposed=n0, events_exposed="<5", events_unexposed=c, log_estimate=y, se_log=se)  # fmt: skip
    assert attack_se_inversion([row], m)
    assert attack_free_text({"note": "2 exposed cases"}, m)
    claims = {"claims": [{"id": 1, "summary": "h1: OR 2.10 (95% CI 1.00-4.00) supported"}]}
    assert attack_summaries(claims, [{"hypothesis": "h1", "estimate": None}])
    assert np.isfinite(se)
