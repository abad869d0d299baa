"""The stage cache's file format: JSON for values, Parquet for DataFrames; no pickle.

Reading a cache file can only ever build plain data (numbers, strings, lists, dicts, tuples,
DataFrames and the few miglink dataclasses in :data:`DATACLASSES`); a planted or damaged file
fails to decode (:class:`CacheFormatError`) and the stage is recomputed. Floats round-trip
exactly (``repr``), NaN / ±inf / None / numpy scalars keep their kind, so a resumed run equals a
fresh one.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The only classes a cache file may name (module, class): the stages' own result types.
DATACLASSES = frozenset(
    {
        ("miglink.sources.checks", "CheckReport"),
        ("miglink.sources.checks", "Finding"),
        ("miglink.designs.base", "Counts"),
    }
)

FORMAT = "miglink-stage-cache/1"
_T = "__t"


class CacheFormatError(ValueError):
    """A cache file that is not one miglink wrote (or not of this format)."""


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {_T: "float", "v": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


class _Encoder:
    def __init__(self, folder: Path, stem: str) -> None:
        self.folder, self.stem, self.frames = folder, stem, 0

    def enc(self, o: Any) -> Any:
        if o is None or isinstance(o, (bool, str)):
            return o
        if isinstance(o, int):
            return o
        if isinstance(o, float):
            return _float(o)
        if isinstance(o, np.generic):
            if isinstance(o, np.bool_):
                return {_T: "np", "dtype": "bool", "v": bool(o)}
            if isinstance(o, np.integer):
                return {_T: "np", "dtype": o.dtype.str, "v": int(o)}
            if isinstance(o, np.floating):
                return {_T: "np", "dtype": o.dtype.str, "v": _float(float(o))}
            raise TypeError(f"numpy {o.dtype} is not cacheable")
        if isinstance(o, list):
            return [self.enc(v) for v in o]
        if isinstance(o, tuple):
            return {_T: "tuple", "v": [self.enc(v) for v in o]}
        if isinstance(o, dict):
            return {_T: "dict", "v": [[self.enc(k), self.enc(v)] for k, v in o.items()]}
        if isinstance(o, pd.DataFrame):
            return self.frame(o)
        if o is pd.NaT:
            return {_T: "nat"}
        if isinstance(o, pd.Timestamp):
            return {_T: "ts", "v": o.isoformat()}
        if isinstance(o, _dt.datetime):
            return {_T: "datetime", "v": o.isoformat()}
        if isinstance(o, _dt.date):
            return {_T: "date", "v": o.isoformat()}
        if isinstance(o, np.ndarray):
            return {_T: "array", "dtype": o.dtype.str, "v": self.enc(o.tolist())}
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            key = (type(o).__module__, type(o).__qualname__)
            if key not in DATACLASSES:
                raise TypeError(f"{key[0]}.{key[1]} is not cacheable")
            fields = {f.name: self.enc(getattr(o, f.name)) for f in dataclasses.fields(o)}
            return {_T: "dc", "module": key[0], "cls": key[1], "v": fields}
        raise TypeError(f"{type(o).__name__} is not cacheable")

    def frame(self, df: pd.DataFrame) -> dict:
        """Parquet when pyarrow keeps every column's values and dtype, else JSON per column."""
        name = f"{self.stem}.{self.frames}.parquet"
        self.frames += 1
        plain = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
        if plain and df.columns.map(type).isin([str]).all():
            try:
                from miglink.io import write_parquet

                write_parquet(self.folder / name, df)
                back = pd.read_parquet(self.folder / name)
                pd.testing.assert_frame_equal(back, df, check_exact=True)
                return {_T: "df", "file": name}
            except Exception:  # noqa: BLE001 - mixed object columns: the JSON form below
                (self.folder / name).unlink(missing_ok=True)
        return {
            _T: "dfj",
            "columns": [self.enc(c) for c in df.columns],
            "dtypes": [str(t) for t in df.dtypes],
            "index": self.enc(df.index.tolist()),
            "data": [self.enc(df[c].tolist()) for c in df.columns]
            if df.columns.is_unique
            else [self.enc(df.iloc[:, i].tolist()) for i in range(df.shape[1])],
        }


class _Decoder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def dec(self, o: Any) -> Any:
        if isinstance(o, list):
            return [self.dec(v) for v in o]
        if not isinstance(o, dict):
            return o
        t = o.get(_T)
        if t == "float":
            return float(o["v"])
        if t == "np":
            v = self.dec(o["v"])
            return np.bool_(v) if o["dtype"] == "bool" else np.dtype(o["dtype"]).type(v)
        if t == "tuple":
            return tuple(self.dec(v) for v in o["v"])
        if t == "dict":
            return {_hashable(self.dec(k)): self.dec(v) for k, v in o["v"]}
        if t == "nat":
            return pd.NaT
        if t == "ts":
            return pd.Timestamp(o["v"])
        if t == "datetime":
            return _dt.datetime.fromisoformat(o["v"])
        if t == "date":
            return _dt.date.fromisoformat(o["v"])
        if t == "array":
            return np.array(self.dec(o["v"]), dtype=np.dtype(o["dtype"]))
        if t == "dc":
            if (o["module"], o["cls"]) not in DATACLASSES:
                raise CacheFormatError(f"class {o['module']}.{o['cls']} is not allowed")
            cls = getattr(importlib.import_module(o["module"]), o["cls"])
            return cls(**{k: self.dec(v) for k, v in o["v"].items()})
        if t == "df":
            name = o["file"]
            if "/" in name or "\\" in name or name.startswith("."):
                raise CacheFormatError(f"bad frame file name {name!r}")
            return pd.read_parquet(self.folder / name)
        if t == "dfj":
            cols = [self.dec(c) for c in o["columns"]]
            df = pd.DataFrame(
                {i: pd.Series(self.dec(v), dtype="object") for i, v in enumerate(o["data"])}
            )
            if not cols:
                df = pd.DataFrame(index=range(len(self.dec(o["index"]))))
            for i, dt in enumerate(o["dtypes"]):
                if i in df.columns and dt != "object":
                    df[i] = df[i].astype(dt)
            df.columns = cols
            df.index = pd.Index(self.dec(o["index"]))
            return df
        raise CacheFormatError(f"unknown tag {t!r}")


def _hashable(k: Any) -> Any:
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


def dump(value: Any, folder: Path, stem: str, key: str) -> Path:
    """Write ``value`` as ``folder/stem.json`` (plus ``stem.N.parquet`` for DataFrames).

    Raises TypeError for a value this format does not cover (the caller then skips caching).
    """
    from miglink.io import write_text

    enc = _Encoder(folder, stem)
    doc = {"format": FORMAT, "key": key, "value": enc.enc(value)}
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
    return write_text(folder / f"{stem}.json", text)


def load(folder: Path, stem: str, key: str) -> Any:
    """Read what :func:`dump` wrote; :class:`CacheFormatError` for anything else."""
    try:
        doc = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CacheFormatError(str(e)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
        raise CacheFormatError("not a stage-cache file of this run")
    try:
        return _Decoder(folder).dec(doc["value"])
    except CacheFormatError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed content: recompute the stage
        raise CacheFormatError(f"{type(e).__name__}: {e}") from None
