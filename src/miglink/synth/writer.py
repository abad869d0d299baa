"""Turn a simulated chunk into OMOP CDM v5.4 Arrow tables and write them chunk by chunk.

Parquet is written with fixed settings (zstd, dictionary encoding, statistics, no pandas
metadata, no timestamps), so the same seed and scenario give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from miglink.synth import catalogue as cat
from miglink.synth.timescale import KEY

I64, F64, STR, DATE = pa.int64(), pa.float64(), pa.string(), pa.date32()

SCHEMAS: dict[str, pa.Schema] = {
    "person": pa.schema(
        [
            ("person_id", I64),
            ("gender_concept_id", I64),
            ("year_of_birth", I64),
            ("month_of_birth", I64),
            ("day_of_birth", I64),
            ("birth_datetime", pa.timestamp("us")),
            ("race_concept_id", I64),
            ("ethnicity_concept_id", I64),
            ("gender_source_value", STR),
        ]
    ),
    "observation_period": pa.schema(
        [
            ("observation_period_id", I64),
            ("person_id", I64),
            ("observation_period_start_date", DATE),
            ("observation_period_end_date", DATE),
            ("period_type_concept_id", I64),
        ]
    ),
    "visit_occurrence": pa.schema(
        [
            ("visit_occurrence_id", I64),
            ("person_id", I64),
            ("visit_concept_id", I64),
            ("visit_start_date", DATE),
            ("visit_end_date", DATE),
            ("visit_type_concept_id", I64),
        ]
    ),
    "condition_occurrence": pa.schema(
        [
            ("condition_occurrence_id", I64),
            ("person_id", I64),
            ("condition_concept_id", I64),
            ("condition_start_date", DATE),
            ("condition_type_concept_id", I64),
            ("visit_occurrence_id", I64),
            ("condition_source_value", STR),
            ("condition_source_concept_id", I64),
        ]
    ),
    "drug_exposure": pa.schema(
        [
            ("drug_exposure_id", I64),
            ("person_id", I64),
            ("drug_concept_id", I64),
            ("drug_exposure_start_date", DATE),
            ("drug_exposure_end_date", DATE),
            ("drug_type_concept_id", I64),
            ("days_supply", I64),
            ("drug_source_value", STR),
            ("drug_source_concept_id", I64),
        ]
    ),
    "measurement": pa.schema(
        [
            ("measurement_id", I64),
            ("person_id", I64),
            ("measurement_concept_id", I64),
            ("measurement_date", DATE),
            ("measurement_type_concept_id", I64),
            ("value_as_number", F64),
            ("unit_concept_id", I64),
            ("visit_occurrence_id", I64),
            ("measurement_source_value", STR),
            ("measurement_source_concept_id", I64),
        ]
    ),
    "observation": pa.schema(
        [
            ("observation_id", I64),
            ("person_id", I64),
            ("observation_concept_id", I64),
            ("observation_date", DATE),
            ("observation_type_concept_id", I64),
            ("observation_source_value", STR),
            ("observation_source_concept_id", I64),
        ]
    ),
    "death": pa.schema([("person_id", I64), ("death_date", DATE), ("death_type_concept_id", I64)]),
}
CDM_TABLES = tuple(SCHEMAS)
VOCAB_TABLES = ("concept", "concept_ancestor", "concept_relationship")


def _date(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), pa.int32()).cast(DATE)


def _lookup(values: list, idx: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, typ).take(pa.array(np.asarray(idx, dtype=np.int64)))


class ChunkTables:
    """Builds the Arrow tables of one chunk, keeping row ids running across chunks."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.next_id = {t: 1 for t in CDM_TABLES}
        cc = sim.cond_codes
        self.cond_concept = np.array([c.concept_id for c in cc], dtype=np.int64)
        self.cond_source = np.array([c.source_concept_id for c in cc], dtype=np.int64)
        self.cond_value = [c.source_value for c in cc]
        ing = [sim.vocab.ingredient[k] for k in sim.ingr]
        self.drug_concept = np.array([c.concept_id for c in ing], dtype=np.int64)
        self.drug_value = [c.source_value for c in ing]
        labs = [x for m in ("crp", "esr") for x in sim.vocab.labs[m]]
        self.lab_concept = np.array([c.concept_id for c, _, _ in labs], dtype=np.int64)
        self.lab_unit = np.array([u for _, u, _ in labs], dtype=np.int64)
        self.lab_value = [c.source_value for c, _, _ in labs]
        fh = [x for k in ("autoimmune", "migraine") for x in sim.vocab.family_history[k]]
        self.obs_concept = np.array([c.concept_id for c, _ in fh], dtype=np.int64)
        self.obs_source = np.array([c.source_concept_id for c, _ in fh], dtype=np.int64)
        self.obs_value = [c.source_value for c, _ in fh]

    def _ids(self, table: str, n: int) -> pa.Array:
        start = self.next_id[table]
        self.next_id[table] = start + n
        return pa.array(np.arange(start, start + n, dtype=np.int64))

    def build(self, cols: dict, pid0: int) -> dict[str, pa.Table]:
        """The CDM tables of one chunk whose first person gets id ``pid0``."""
        p = cols["persons"]
        pid = np.arange(p["female"].size, dtype=np.int64) + pid0
        out: dict[str, pa.Table] = {}
        out["person"] = _person(p, pid)
        out["observation_period"] = self._observation_period(p, pid)
        out["visit_occurrence"], vis_id = self._visits(cols["visits"], pid0)
        out["condition_occurrence"] = self._conditions(cols["conditions"], pid0, vis_id)
        out["drug_exposure"] = self._drugs(cols["drugs"], pid0)
        out["measurement"] = self._measurements(cols["measurements"], pid0, vis_id)
        out["observation"] = self._observations(cols["observations"], pid0)
        out["death"] = _death(p, pid)
        return out

    def _observation_period(self, p: dict, pid: np.ndarray) -> pa.Table:
        n = pid.size
        return pa.table(
            [
                self._ids("observation_period", n),
                pa.array(pid),
                _date(p["start_day"]),
                _date(p["end_day"]),
                pa.array(np.full(n, cat.TYPE_EHR, np.int64)),
            ],
            schema=SCHEMAS["observation_period"],
        )

    def _visits(self, visits: tuple, pid0: int) -> tuple[pa.Table, np.ndarray]:
        """Visits sorted by person and day; also the row id of every visit by chunk index."""
        vp, vd, vc = visits
        order = np.argsort(vp * KEY + vd.astype(np.int64), kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        vid0 = self.next_id["visit_occurrence"]
        table = pa.table(
            [
                self._ids("visit_occurrence", order.size),
                pa.array(vp[order] + pid0),
                pa.array(vc[order].astype(np.int64)),
                _date(vd[order]),
                _date(vd[order]),
                pa.array(np.full(order.size, cat.TYPE_EHR, np.int64)),
            ],
            schema=SCHEMAS["visit_occurrence"],
        )
        return table, rank + vid0

    def _conditions(self, conditions: tuple, pid0: int, vis_id: np.ndarray) -> pa.Table:
        cp, ccode, cday, cvis = conditions
        o = np.argsort(cp * KEY + cday.astype(np.int64), kind="stable")
        cp, ccode, cday, cvis = cp[o], ccode[o], cday[o], cvis[o]
        return pa.table(
            [
                self._ids("condition_occurrence", cp.size),
                pa.array(cp + pid0),
                pa.array(self.cond_concept[ccode]),
                _date(cday),
                pa.array(np.full(cp.size, cat.TYPE_EHR, np.int64)),
                pa.array(vis_id[cvis]),
                _lookup(self.cond_value, ccode, STR),
                pa.array(self.cond_source[ccode]),
            ],
            schema=SCHEMAS["condition_occurrence"],
        )

    def _drugs(self, drugs: tuple, pid0: int) -> pa.Table:
        dp, di, ds, de = drugs
        o = np.argsort(dp * KEY + ds.astype(np.int64), kind="stable")
        dp, di, ds, de = dp[o], di[o], ds[o], de[o]
        return pa.table(
            [
                self._ids("drug_exposure", dp.size),
                pa.array(dp + pid0),
                pa.array(self.drug_concept[di]),
                _date(ds),
                _date(de),
                pa.array(np.full(dp.size, cat.TYPE_EHR, np.int64)),
                pa.array((de - ds + 1).astype(np.int64)),
                _lookup(self.drug_value, di, STR),
                pa.array(self.drug_concept[di]),
            ],
            schema=SCHEMAS["drug_exposure"],
        )

    def _measurements(self, m: dict, pid0: int, vis_id: np.ndarray) -> pa.Table:
        o = np.argsort(m["p"] * KEY + m["day"].astype(np.int64), kind="stable")
        mp, lab, mday, mvis, val = m["p"][o], m["lab"][o], m["day"][o], m["visit"][o], m["value"][o]
        return pa.table(
            [
                self._ids("measurement", mp.size),
                pa.array(mp + pid0),
                pa.array(self.lab_concept[lab]),
                _date(mday),
                pa.array(np.full(mp.size, cat.TYPE_EHR, np.int64)),
                pa.array(val.astype(np.float64)),
                pa.array(self.lab_unit[lab]),
                pa.array(vis_id[mvis]),
                _lookup(self.lab_value, lab, STR),
                pa.array(self.lab_concept[lab]),
            ],
            schema=SCHEMAS["measurement"],
        )

    def _observations(self, observations: tuple, pid0: int) -> pa.Table:
        op, ocode, oday = observations
        o = np.argsort(op * KEY + oday.astype(np.int64), kind="stable")
        op, ocode, oday = op[o], ocode[o], oday[o]
        return pa.table(
            [
                self._ids("observation", op.size),
                pa.array(op + pid0),
                pa.array(self.obs_concept[ocode]),
                _date(oday),
                pa.array(np.full(op.size, cat.TYPE_EHR, np.int64)),
                _lookup(self.obs_value, ocode, STR),
                pa.array(self.obs_source[ocode]),
            ],
            schema=SCHEMAS["observation"],
        )


def _person(p: dict, pid: np.ndarray) -> pa.Table:
    n = pid.size
    birth = p["birth_day"].astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    gender = np.where(p["female"] == 1, cat.FEMALE, cat.MALE)
    return pa.table(
        [
            pa.array(pid),
            pa.array(gender),
            pa.array(year),
            pa.array(month),
            pa.array(day),
            pa.array(birth.astype("datetime64[us]")),
            pa.array(np.zeros(n, np.int64)),
            pa.array(np.zeros(n, np.int64)),
            pa.array(np.where(p["female"] == 1, "F", "M")),
        ],
        schema=SCHEMAS["person"],
    )


def _death(p: dict, pid: np.ndarray) -> pa.Table:
    dead = np.flatnonzero(p["died"])
    return pa.table(
        [
            pa.array(pid[dead]),
            _date(p["end_day"][dead]),
            pa.array(np.full(dead.size, cat.TYPE_EHR, np.int64)),
        ],
        schema=SCHEMAS["death"],
    )


class ParquetSink:
    """One ParquetWriter per table, fed chunk by chunk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, table: pa.Table) -> None:
        w = self.writers.get(name)
        if w is None:
            w = pq.ParquetWriter(
                self.folder / f"{name}.parquet",
                table.schema,
                compression="zstd",
                compression_level=1,
                use_dictionary=[f.name for f in table.schema if f.type == STR],
                write_statistics=True,
                store_schema=True,
            )
            self.writers[name] = w
        w.write_table(table, row_group_size=1_048_576)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
