"""The comparison the engine tests rest on: it ignores row order and engine integer widths, and
fails on any changed cell, column, frame or value."""

from __future__ import annotations

import pandas as pd
import pytest

from miglink.designs.base import Counts


def _counts() -> dict[str, Counts]:
    tables = pd.DataFrame(
        {
            "outcome": ["sle", "sle", "ra"],
            "age_band": [40, 50, 40],
            "a": [1, 2, 3],
            "sum": [0.1, 0.2, 1 / 3],
        }
    )
    return {"D1": Counts("D1", frames={"tables": tables}, values={"ok": True, "ids": [1, 2]})}


def _changed(edit) -> dict[str, Counts]:
    c = _counts()
    edit(c["D1"])
    return c


def test_equal_counts_pass_in_any_row_order_and_integer_width(assert_counts_equal):
    other = _counts()
    t = other["D1"].frames["tables"]
    t = t.iloc[::-1].reset_index(drop=True).astype({"a": "int32"})
    t["sum"] = t["sum"] * (1 + 1e-12)  # within rtol 1e-9
    other["D1"].frames["tables"] = t
    assert_counts_equal(_counts(), other)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.frames["tables"].loc.__setitem__((1, "a"), 5),  # an integer cell
        lambda c: c.frames["tables"].loc.__setitem__((0, "outcome"), "ms"),  # a key cell
        lambda c: c.frames["tables"].loc.__setitem__((2, "sum"), 1 / 3 * (1 + 1e-7)),  # a float
        lambda c: c.frames.__setitem__("tables", c.frames["tables"].drop(columns="sum")),
        lambda c: c.frames.__setitem__("tables", c.frames["tables"].iloc[:2]),  # a row lost
        lambda c: c.frames.__setitem__("extra", pd.DataFrame()),  # a frame more
        lambda c: c.values.__setitem__("ok", False),  # a value
        lambda c: c.values.__setitem__("ids", [1, 3]),
    ],
    ids=["int", "key", "float", "column", "row", "frame", "value", "list"],
)
def test_a_changed_cell_fails(assert_counts_equal, edit):
    with pytest.raises(AssertionError):
        assert_counts_equal(_counts(), _changed(edit))


def test_a_missing_design_fails(assert_counts_equal):
    with pytest.raises(AssertionError):
        assert_counts_equal(_counts(), {})
