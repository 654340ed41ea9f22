"""restock.forecasting.panel.build_series by hand: one task per series from its first
non-zero week to the last complete week, gaps filled with 0, rows of a week summed,
weeks after the origin and series without demand left out."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from restock.forecasting.panel import build_series


def test_build_series_by_hand():
    origin = date(2025, 3, 16)  # a Sunday: the last complete week starts 2025-03-10
    rows = [
        ("S1", "K2", "2025-02-24", 3.0),
        ("S1", "K2", "2025-03-10", 1.0),
        ("S1", "K2", "2025-03-10", 2.0),  # same week: summed
        ("S1", "K2", "2025-03-17", 9.0),  # after the origin: ignored
        ("S1", "K1", "2025-03-03", 5.0),
        ("S2", "K1", "2025-02-17", 0.0),  # zeros before the first demand: not part of the series
        ("S2", "K1", "2025-03-03", 4.0),
        ("S3", "K1", "2025-03-03", 0.0),  # no demand at all: no series
    ]
    history = pd.DataFrame(rows, columns=["segment_id", "sku", "week_start", "qty"])
    tasks = build_series(history.sample(frac=1.0, random_state=3), origin)  # any row order
    assert [t["key"] for t in tasks] == [("S1", "K1"), ("S1", "K2"), ("S2", "K1")]
    assert [t["first_week"] for t in tasks] == [date(2025, 3, 3), date(2025, 2, 24), date(2025, 3, 3)]
    np.testing.assert_array_equal(tasks[0]["y"], [5.0, 0.0])
    np.testing.assert_array_equal(tasks[1]["y"], [3.0, 0.0, 3.0])  # weeks of 02-24, 03-03, 03-10
    np.testing.assert_array_equal(tasks[2]["y"], [4.0, 0.0])
    assert build_series(history[history["segment_id"] == "S3"], origin) == []
    by_sku = build_series(history.drop(columns="segment_id"), origin, ("sku",))
    assert [t["key"] for t in by_sku] == [("K1",), ("K2",)]
    np.testing.assert_array_equal(by_sku[0]["y"], [9.0, 0.0])
