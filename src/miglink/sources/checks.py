"""Data-quality checks in the spirit of OHDSI's DataQualityDashboard (`miglink check`).

Fatal findings stop the study (exit code 2): the data cannot be analysed as they are. Warnings
are counted and shown, because the data stay usable but the counts say where they are weak.
Every check is an aggregate over the engine (one or two queries per table), never a list of
records, so nothing here can carry a person id. Raw counts stay in the objects; rendering
(:meth:`CheckReport.to_dict`, :meth:`CheckReport.to_frame`) gates them with the minimum cell
count.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from miglink.errors import MiglinkError
from miglink.features.engine import cache
from miglink.privacy import DEFAULT_MIN_CELL, gate_count, is_small
from miglink.sources.schema import cdm_schema

#: Event tables: (table, date column, concept column or None).
EVENT_TABLES: tuple[tuple[str, str, str | None], ...] = (
    ("observation_period", "observation_period_start_date", None),
    ("visit_occurrence", "visit_start_date", "visit_concept_id"),
    ("condition_occurrence", "condition_start_date", "condition_concept_id"),
    ("drug_exposure", "drug_exposure_start_date", "drug_concept_id"),
    ("measurement", "measurement_date", "measurement_concept_id"),
    ("observation", "observation_date", "observation_concept_id"),
    ("death", "death_date", None),
)

#: Records up to this many days after death are tolerated (post-mortem results, billing lag).
DEATH_GRACE_DAYS = 60
#: Oldest plausible age at the end of observation.
MAX_AGE = 120
#: Tables whose emptiness is fatal.
MUST_HAVE_ROWS = ("person", "observation_period")

_NEEDED_BY = {
    "visit_occurrence": "healthcare-utilisation strata use visit counts",
    "drug_exposure": "drug analyses (claim 7, self-controlled case series) need it",
    "measurement": "CRP / ESR analyses (claim 1) need it",
    "observation": "family-history analyses (claim 2) need it",
    "death": "censoring at death and the after-death check need it",
    "concept": "concept sets fall back to source-value codes without it",
    "concept_ancestor": "concept sets are not expanded to descendant concepts without it",
    "concept_relationship": "source codes cannot be mapped to standard concepts without it",
}


@dataclass
class Finding:
    check: str
    table: str | None
    column: str | None
    n_rows: int | None
    message: str  # what is wrong, without the count (the count is gated when rendered)
    severity: str = "warning"  # "fatal" | "warning"
    share: float | None = None  # n_rows / rows of the table

    def text(self, min_cell: int = DEFAULT_MIN_CELL) -> str:
        """One line naming table, column and (gated) number of rows."""
        where = self.table or "-"
        if self.column:
            where += f".{self.column}"
        count = "" if self.n_rows is None else f"{gate_count(self.n_rows, min_cell)} rows: "
        return f"{where}: {count}{self.message}"


@dataclass
class CheckReport:
    source: str
    engine: str
    fatal: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # row counts of schema tables present

    @property
    def ok(self) -> bool:
        return not self.fatal

    def add(self, f: Finding) -> None:
        (self.fatal if f.severity == "fatal" else self.warnings).append(f)

    def findings(self) -> list[Finding]:
        return [*self.fatal, *self.warnings]

    def to_frame(self, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
        """One row per finding, counts gated (small counts become '<min_cell')."""
        rows = [_gated(f, min_cell) for f in self.findings()]
        cols = ["severity", "check", "table", "column", "n_rows", "share", "message"]
        return pd.DataFrame(rows, columns=cols, dtype=object)

    def to_dict(self, min_cell: int = DEFAULT_MIN_CELL) -> dict:
        return {
            "source": self.source,
            "engine": self.engine,
            "ok": self.ok,
            "min_cell": min_cell,
            "tables": {k: gate_count(v, min_cell) for k, v in self.tables.items()},
            "fatal": [_gated(f, min_cell) for f in self.fatal],
            "warnings": [_gated(f, min_cell) for f in self.warnings],
        }


def _gated(f: Finding, min_cell: int) -> dict:
    d = asdict(f)
    d["n_rows"] = gate_count(f.n_rows, min_cell)
    if f.n_rows is not None and is_small(f.n_rows, min_cell):
        d["share"] = None  # a share next to a known total would reveal the small count
    d["text"] = f.text(min_cell)
    return d


def _int(expr: ir.Value) -> int:
    v = expr.to_pyarrow().as_py()
    return int(v or 0)


def _row(t: ir.Table, **aggs: ir.Value) -> dict[str, int]:
    r = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    return {k: int(v or 0) for k, v in r.items()}


def run_checks(cdm, today: _dt.date | None = None) -> CheckReport:
    """Run every check on ``cdm``; never raises for a data problem (it becomes a finding)."""
    today = today or _dt.date.today()
    rep = CheckReport(source=cdm.description, engine=cdm.engine)
    schema = cdm_schema()
    usable = _check_structure(cdm, rep, schema)
    _check_nulls(cdm, rep, schema, usable)
    if "person" not in usable:
        return rep
    person = usable["person"]
    _check_person(rep, person, today)
    pl = _person_level(rep, usable, person)
    for name, date_col, concept_col in EVENT_TABLES:
        if name in usable and rep.tables.get(name, 0) != 0:
            _check_event_table(rep, usable[name], name, date_col, concept_col, pl, today)
    if pl.op is not None and rep.tables.get("observation_period"):
        _check_observation_periods(rep, person, pl.op, pl.p1)
    return rep


@dataclass
class _PersonLevel:
    """Per-person birth year, death and observation span that every event table joins once."""

    p1: ir.Table
    death: ir.Table | None
    op: ir.Table | None
    op_span: ir.Table | None
    has_op: bool
    multi: bool  # some person has several observation periods
    pp: ir.Table


def _check_structure(cdm, rep: CheckReport, schema: dict) -> dict[str, ir.Table]:
    """1. Structure: tables, columns, readability, types; returns the tables fit to query."""
    usable: dict[str, ir.Table] = {}
    for name, spec in schema.items():
        if not cdm.has(name):
            if spec.required:
                rep.add(
                    Finding("required_table", name, None, None, "required table is absent", "fatal")
                )
            else:
                rep.add(
                    Finding(
                        "absent_table",
                        name,
                        None,
                        None,
                        f"optional table is absent: {_NEEDED_BY.get(name, '')}".rstrip(": "),
                    )
                )
            continue
        try:
            missing = cdm.missing_required_columns(name)
            if missing:
                n = _int(cdm._raw_table(name).count())
                for col in missing:
                    rep.add(
                        Finding(
                            "required_column", name, col, n, "required column is absent", "fatal"
                        )
                    )
                continue
            t = cdm.table(name)
            rep.tables[name] = cdm.row_count(name)
            failures = cdm.cast_failures(name)
        except MiglinkError as e:
            rep.add(Finding("unreadable", name, e.column, e.n_rows, str(e), "fatal"))
            continue
        _type_findings(rep, name, spec, failures)
        usable[name] = t

    for name in MUST_HAVE_ROWS:
        if name in usable and rep.tables.get(name, 0) == 0:
            rep.add(Finding("empty_table", name, None, 0, "table has no rows", "fatal"))
    return usable


def _type_findings(rep: CheckReport, name: str, spec, failures: dict[str, int]) -> None:
    for col, n in failures.items():
        if n:
            # an identifier that is not a plain integer cannot be placed: never a warning
            req = spec.column(col).required or col.endswith("_id")
            rep.add(
                Finding(
                    "type",
                    name,
                    col,
                    n,
                    f"values are not valid {spec.column(col).type} and were read as missing",
                    "fatal" if req else "warning",
                    share=n / max(rep.tables[name], 1),
                )
            )


def _check_nulls(cdm, rep: CheckReport, schema: dict, usable: dict[str, ir.Table]) -> None:
    """2. Nulls in required columns (null person_id is fatal, others are warnings)."""
    for name, t in usable.items():
        spec = schema[name]
        req = [c.name for c in spec.columns if c.required]
        if not req or rep.tables.get(name, 0) == 0:
            continue
        counts = _row(t, **{c: t[c].isnull().cast("int64").sum() for c in req})
        failed = cdm.cast_failures(name)
        for col, n in counts.items():
            n -= failed.get(col, 0)  # values that failed to cast are reported once, as 'type'
            if n:
                key = col == "person_id" or (name == "person" and col == "year_of_birth")
                rep.add(
                    Finding(
                        "null_key" if key else "null_required",
                        name,
                        col,
                        n,
                        "required value is missing"
                        + (" (records cannot be attributed)" if key else ""),
                        "fatal" if key else "warning",
                        share=n / max(rep.tables[name], 1),
                    )
                )


def _check_person(rep: CheckReport, person: ir.Table, today: _dt.date) -> None:
    """3. Person table: duplicates, implausible birth years."""
    # NULL ids (missing or failed to cast) are reported above, not as one shared id
    keyed = person.filter(person.person_id.notnull())
    dup = keyed.group_by("person_id").agg(n=keyed.count()).filter(lambda d: d.n > 1)
    n_dup = _int(dup.n.sum())
    if n_dup:
        rep.add(
            Finding(
                "duplicate_person",
                "person",
                "person_id",
                n_dup,
                "rows share a person_id with another row",
                "fatal",
            )
        )
    r = _row(
        person,
        future=(person.year_of_birth > today.year).cast("int64").sum(),
        old=(person.year_of_birth < today.year - 150).cast("int64").sum(),
    )
    if r["future"]:
        rep.add(
            Finding(
                "future_date",
                "person",
                "year_of_birth",
                r["future"],
                f"birth year after {today.year} (dates shifted into the future?)",
            )
        )
    if r["old"]:
        rep.add(
            Finding(
                "implausible_birth_year",
                "person",
                "year_of_birth",
                r["old"],
                f"birth year before {today.year - 150}",
            )
        )


def _person_level(rep: CheckReport, usable: dict[str, ir.Table], person: ir.Table) -> _PersonLevel:
    """One person-level table (birth year, death, observation span) that every event table
    joins once; keyed on every person id seen in person, death or observation_period."""
    p1 = (
        person.filter(person.person_id.notnull())
        .group_by("person_id")
        .agg(p_yob=person.year_of_birth.min())
        .rename(p_person_id="person_id")
    )
    death = None
    if "death" in usable and rep.tables.get("death", 0):
        d = usable["death"]
        death = (
            d.filter(d.person_id.notnull())
            .group_by("person_id")
            .agg(d_date=d.death_date.min())
            .rename(d_person_id="person_id")
        )
    op = usable.get("observation_period")
    has_op = op is not None and bool(rep.tables.get("observation_period"))
    multi = False
    op_span = None
    if has_op:
        # per person: number of periods and their span; with one period per person (the usual
        # case) "outside every period" is a comparison in the same pass as the other checks
        opn = op.filter(op.person_id.notnull())
        op_span = (
            opn.group_by("person_id")
            .agg(
                o_n=opn.count(),
                o_start=opn.observation_period_start_date.min(),
                o_end=opn.observation_period_end_date.max(),
            )
            .rename(o_person_id="person_id")
        )
        multi = _int(op_span.o_n.max()) > 1

    parts = [p1.select(k=p1.p_person_id)]
    if death is not None:
        parts.append(death.select(k=death.d_person_id))
    if has_op:
        parts.append(op_span.select(k=op_span.o_person_id))
    pp = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0]
    pp = pp.left_join(p1, pp.k == p1.p_person_id)
    if death is not None:
        pp = pp.left_join(death, pp.k == death.d_person_id).drop("d_person_id")
    else:
        pp = pp.mutate(d_date=ibis.null("date"))
    if has_op:
        pp = pp.left_join(op_span, pp.k == op_span.o_person_id).drop("o_person_id")
    pp = cache(pp.rename(k_person_id="k"))
    return _PersonLevel(p1, death, op, op_span, has_op, multi, pp)


def _check_event_table(
    rep: CheckReport,
    t: ir.Table,
    name: str,
    date_col: str,
    concept_col: str | None,
    pl: _PersonLevel,
    today: _dt.date,
) -> None:
    """4. Event tables: orphans, before birth, after death, future, concept 0, outside
    observation."""
    total = rep.tables[name]
    e = t.select(
        e_person_id=t.person_id,
        e_date=t[date_col],
        e_concept=t[concept_col] if concept_col else ibis.null("int64"),
    )
    j = e.left_join(pl.pp, e.e_person_id == pl.pp.k_person_id).drop("k_person_id")
    check_op = pl.has_op and name != "observation_period"
    aggs = {
        "orphan": (j.e_person_id.notnull() & j.p_person_id.isnull()).cast("int64").sum(),
        "before_birth": (j.e_date.year() < j.p_yob).cast("int64").sum(),
        "future": (j.e_date > ibis.literal(today)).cast("int64").sum(),
        "zero": ((j.e_concept == 0) | j.e_concept.isnull()).cast("int64").sum(),
    }
    if pl.death is not None and name != "death":
        grace = j.d_date + ibis.interval(days=DEATH_GRACE_DAYS)
        aggs["after_death"] = (j.e_date > grace).cast("int64").sum()
    if check_op:
        single_out = j.o_n.isnull() | (
            (j.o_n == 1) & ((j.e_date < j.o_start) | (j.e_date > j.o_end))
        )
        aggs["outside"] = (j.e_date.notnull() & single_out).cast("int64").sum()
    counts = _row(j, **aggs)
    _event_findings(rep, name, date_col, concept_col, counts, total, today)
    if not check_op:
        return
    n = counts["outside"]
    if pl.multi:  # people with several periods: the exact anti-join, on their records only
        n += _outside_several_periods(e, pl)
    if n:
        rep.add(
            Finding(
                "outside_observation",
                name,
                date_col,
                n,
                "records fall outside every observation period of their person",
                share=n / total,
            )
        )


def _outside_several_periods(e: ir.Table, pl: _PersonLevel) -> int:
    op, op_span = pl.op, pl.op_span
    o = op.select(
        o_person_id=op.person_id,
        o_start=op.observation_period_start_date,
        o_end=op.observation_period_end_date,
    )
    several = op_span.filter(op_span.o_n > 1).select(s_person_id="o_person_id")
    ev = e.filter(e.e_date.notnull()).semi_join(several, e.e_person_id == several.s_person_id)
    outside = ev.anti_join(
        o,
        [ev.e_person_id == o.o_person_id, ev.e_date >= o.o_start, ev.e_date <= o.o_end],
    )
    return _int(outside.count())


def _check_observation_periods(
    rep: CheckReport, person: ir.Table, op: ir.Table, p1: ir.Table
) -> None:
    """5. Observation periods: inverted, persons without one, implausible age at the end."""
    n = _int(
        (op.observation_period_end_date < op.observation_period_start_date).cast("int64").sum()
    )
    if n:
        rep.add(
            Finding(
                "inverted_period",
                "observation_period",
                "observation_period_end_date",
                n,
                "period ends before it starts",
            )
        )
    no_op = person.anti_join(op, person.person_id == op.person_id)
    n = _int(no_op.count())
    if n:
        rep.add(
            Finding(
                "person_without_observation",
                "person",
                "person_id",
                n,
                "persons have no observation period and cannot enter any analysis",
                share=n / max(rep.tables["person"], 1),
            )
        )
    last = op.group_by("person_id").agg(o_end=op.observation_period_end_date.max())
    jj = last.join(p1, last.person_id == p1.p_person_id)
    n = _int(((jj.o_end.year() - jj.p_yob) > MAX_AGE).cast("int64").sum())
    if n:
        rep.add(
            Finding(
                "implausible_age",
                "person",
                "year_of_birth",
                n,
                f"persons older than {MAX_AGE} at the end of observation",
            )
        )


def _event_findings(rep, name, date_col, concept_col, c, total, today) -> None:
    share = lambda n: n / max(total, 1)  # noqa: E731
    if c["orphan"]:
        rep.add(
            Finding(
                "orphan_records",
                name,
                "person_id",
                c["orphan"],
                "records belong to a person_id missing from person",
                share=share(c["orphan"]),
            )
        )
    if c["before_birth"]:
        rep.add(
            Finding(
                "before_birth",
                name,
                date_col,
                c["before_birth"],
                "records dated before the person's year of birth",
                share=share(c["before_birth"]),
            )
        )
    if c.get("after_death"):
        rep.add(
            Finding(
                "after_death",
                name,
                date_col,
                c["after_death"],
                f"records dated more than {DEATH_GRACE_DAYS} days after death",
                share=share(c["after_death"]),
            )
        )
    if c["future"]:
        rep.add(
            Finding(
                "future_date",
                name,
                date_col,
                c["future"],
                f"records dated after {today.isoformat()} (dates shifted into the future?)",
                share=share(c["future"]),
            )
        )
    if concept_col and c["zero"]:
        rep.add(
            Finding(
                "concept_zero",
                name,
                concept_col,
                c["zero"],
                "records have concept_id 0 (unmapped) or none; only their source value "
                "can match a concept set",
                share=share(c["zero"]),
            )
        )
