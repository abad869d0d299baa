"""SCCS intervals from person-level rows: drug eras, windows, age bands and event counts.

Input is the narrow person-level pull of the people who enter the SCCS (cases with an exposure):
their observation window, birth year, drug records and event days. Output is one row per person x
window x age band with its length in days and its number of events, the input of
``stats.sccs.sccs_fit``. Everything is vectorised (sorted change points and cumulative sums), so
cost grows with the number of records, not with days of follow-up.

Windows (day 0 = era start): risk = days ``RISK_START_DAYS`` (1) .. era end + ``RISK_DAYS``;
pre-exposure = days -``PRE_DAYS`` .. 0. The start day is not risk time: a drug prescribed at a
migraine encounter starts on the encounter's day, and that encounter is the prescription's reason,
not its effect (event-dependent exposure; counting it as risk is the naive SCCS's bias).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RISK_DAYS = 30  # risk window ends 30 days after the era
RISK_START_DAYS = 1  # risk window starts the day after era start (day 0 is pre-exposure)
PRE_DAYS = 30  # pre-exposure window = -30..0 days from era start
ERA_GAP_DAYS = 30  # records of one drug set closer than this merge into one era
_BIG = 1 << 20  # day offset per person in packed keys (days < 2**20 ~ year 4840)
WINDOWS = ("baseline", "pre_exposure", "risk")  # window codes 0, 1, 2 (alphabetical order)


def drug_eras(records: pd.DataFrame, gap: int = ERA_GAP_DAYS) -> pd.DataFrame:
    """Merge a person's records (person, start_day, end_day) into eras with a persistence gap.

    A record without an end day lasts one day. Records whose start is within ``gap`` days of
    the running end of the current era extend it (as OHDSI drug eras with a 30-day gap).
    """
    if records.empty:
        return pd.DataFrame(columns=["person", "start", "end"])
    r = records[["person", "start_day", "end_day"]].copy()
    r["end_day"] = r["end_day"].fillna(r["start_day"])
    r["end_day"] = np.maximum(r["end_day"].to_numpy(), r["start_day"].to_numpy())
    r = r.sort_values(["person", "start_day", "end_day"]).reset_index(drop=True)
    run_end = r.groupby("person")["end_day"].cummax()
    prev_end = run_end.groupby(r["person"]).shift(1)
    new = prev_end.isna() | (r["start_day"] > prev_end + gap)
    era_id = new.cumsum()
    eras = r.groupby(era_id).agg(
        person=("person", "first"), start=("start_day", "min"), end=("end_day", "max")
    )
    return eras.reset_index(drop=True).astype({"person": "int64", "start": "int64", "end": "int64"})


def _age_cut_days(birth_year: np.ndarray, start: np.ndarray, end: np.ndarray, width: int):
    """Days on which a person enters a new ``width``-year age band inside [start, end].

    Birth date is unknown beyond the year: people are taken as born on 1 July of it.
    """
    born = _july_first(birth_year)
    a0 = np.floor((start - born) / 365.25 / width).astype(np.int64) + 1
    a1 = np.floor((end - born) / 365.25 / width).astype(np.int64)
    n = np.maximum(a1 - a0 + 1, 0)
    owner = np.repeat(np.arange(len(start)), n)
    k = np.arange(owner.size) - np.repeat(np.cumsum(n) - n, n) + a0[owner]
    days = _july_first(birth_year[owner] + k * width)
    return born, owner.astype(np.int64), days


def _july_first(years: np.ndarray) -> np.ndarray:
    """Epoch day of 1 July of each year (vectorised calendar arithmetic)."""
    months = (np.asarray(years, np.int64) - 1970) * 12 + 6
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def sccs_intervals(
    persons: pd.DataFrame,
    eras: pd.DataFrame,
    events: pd.DataFrame,
    *,
    age_width: int = 5,
    risk_days: int = RISK_DAYS,
    pre_days: int = PRE_DAYS,
    risk_start: int = RISK_START_DAYS,
) -> pd.DataFrame:
    """Rows person, window (baseline / pre_exposure / risk), age_band, length, events.

    ``persons``: person, start, end (observation window, inclusive days), birth_year.
    ``eras``: person, start, end (exposure eras). ``events``: person, day.
    Risk = [era start + risk_start, era end + risk_days]; pre-exposure = [era start - pre_days,
    era start + risk_start - 1]; risk wins where windows overlap. Only days inside [start, end]
    count.
    """
    p = persons.sort_values("person").reset_index(drop=True)
    pid = p["person"].to_numpy(np.int64)
    pos = {int(x): i for i, x in enumerate(pid)}
    ps, pe = p["start"].to_numpy(np.int64), p["end"].to_numpy(np.int64)
    e = eras[eras["person"].isin(pos)]
    ei = e["person"].map(pos).to_numpy(np.int64)
    es, ee = e["start"].to_numpy(np.int64), e["end"].to_numpy(np.int64)
    born, ap, ad = _age_cut_days(p["birth_year"].to_numpy(np.int64), ps, pe, age_width)
    # change points: (person index, day, d_risk, d_pre)
    pts = [
        (np.arange(len(p)), ps, 0, 0),
        (np.arange(len(p)), pe + 1, 0, 0),
        (ap, ad, 0, 0),
        (ei, es + risk_start, 1, 0),
        (ei, np.maximum(ee + risk_days + 1, es + risk_start), -1, 0),
        (ei, es - pre_days, 0, 1),
        (ei, es + risk_start, 0, -1),
    ]
    i, lo, length, win = _window_segments(pts, ps, pe)
    age = np.floor((lo - born[i]) / 365.25 / age_width).astype(np.int64)
    df = pd.DataFrame(
        {"i": i, "day": lo, "length": length, "win": win, "age": np.maximum(age, 0) * age_width}
    )
    df["events"] = _events_per_segment(df, events, pos, ps, pe)
    out = df.groupby(["i", "win", "age"], as_index=False)[["length", "events"]].sum()
    out["window"] = np.array(WINDOWS, dtype=object)[out["win"].to_numpy()]
    out["age_band"] = out["age"].astype(str)
    # the order of a groupby on the labels (person, window name, age band as text)
    out = out.sort_values(["i", "win", "age_band"], kind="stable").reset_index(drop=True)
    out["person"] = pid[out["i"].to_numpy()]
    return out[["person", "window", "age_band", "length", "events"]]


def _window_segments(pts: list, ps: np.ndarray, pe: np.ndarray):
    """Segments between consecutive change points of a person, clipped to observation.

    Returns person index, first day, length and window code (0 baseline, 1 pre, 2 risk).
    """
    who = np.concatenate([np.asarray(a, np.int64) for a, *_ in pts])
    day = np.concatenate([np.asarray(b, np.int64) for _, b, *_ in pts])
    dr = np.concatenate([np.full(len(a), c, np.int64) for a, _, c, _ in pts])
    dp = np.concatenate([np.full(len(a), d, np.int64) for a, _, _, d in pts])
    # sum the changes per (person, day) in sorted order, then running totals within person
    order = np.lexsort((day, who))
    who, day, dr, dp = who[order], day[order], dr[order], dp[order]
    first = np.r_[True, (who[1:] != who[:-1]) | (day[1:] != day[:-1])] if len(who) else who
    at = np.flatnonzero(first)
    who, day = who[at], day[at]
    dr, dp = np.add.reduceat(dr, at), np.add.reduceat(dp, at)
    new_person = np.r_[True, who[1:] != who[:-1]] if len(who) else who.astype(bool)
    person_start = np.maximum.accumulate(np.where(new_person, np.arange(len(who)), 0))
    cr, cp = np.cumsum(dr), np.cumsum(dp)
    risk = cr - (cr - dr)[person_start]
    pre = cp - (cp - dp)[person_start]
    # each change point opens a segment that runs to the next change point of the same person
    has_next = np.r_[~new_person[1:], False] if len(who) else who.astype(bool)
    seg = np.flatnonzero(has_next)
    i, d0, d1 = who[seg], day[seg], day[seg + 1]
    lo = np.maximum(d0, ps[i])  # clip to observation
    hi = np.minimum(d1, pe[i] + 1)
    keep = hi - lo > 0
    win = np.where(risk[seg][keep] > 0, 2, np.where(pre[seg][keep] > 0, 1, 0))
    return i[keep], lo[keep], (hi - lo)[keep], win


def _events_per_segment(
    df: pd.DataFrame, events: pd.DataFrame, pos: dict, ps: np.ndarray, pe: np.ndarray
) -> np.ndarray:
    """Number of event days in each segment (``df``: i, day sorted by person then day)."""
    ev = events[events["person"].isin(pos)]
    evi = ev["person"].map(pos).to_numpy(np.int64)
    evd = ev["day"].to_numpy(np.int64)
    inside = (evd >= ps[evi]) & (evd <= pe[evi])
    evi, evd = evi[inside], evd[inside]
    seg_key = df["i"].to_numpy(np.int64) * _BIG + (
        df["day"].to_numpy(np.int64) - ps[df["i"].to_numpy()]
    )
    ev_key = evi * _BIG + (evd - ps[evi])
    order = np.argsort(seg_key, kind="stable")
    j = np.searchsorted(seg_key[order], ev_key, side="right") - 1
    return np.bincount(order[j], minlength=len(df)) if len(ev_key) else np.zeros(len(df), np.int64)
