"""The published_demand_forecasts gate checks every level (issue 11, item 4): each
level fills its own key columns, and the levels add up (a real GE validation)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from restock.publish.gated_publish import gate_frame
from restock.quality.validate import validate_frame

DAY = date(2025, 3, 3)
ORIGIN = date(2025, 3, 2)


def _rows() -> pd.DataFrame:
    """One horizon of a coherent day, by hand: customers c1 (WH01) + c2 (WH02) in
    segment S1, c3 (WH01) in S2; SKU K1 = S1 10 + S2 5; K2 = S1 4; total 19."""
    rows = [
        # level, warehouse, segment, customer, sku, qty, model
        ("total", None, None, None, None, 19.0, "combination"),
        ("sku", None, None, None, "K1", 15.0, "combination"),
        ("sku", None, None, None, "K2", 4.0, "ses_fixed"),
        ("segment", None, "S1", None, "K1", 10.0, "combination"),
        ("segment", None, "S2", None, "K1", 5.0, "combination"),
        ("segment", None, "S1", None, "K2", 4.0, "croston"),
        ("customer", "WH01", "S1", "c1", "K1", 6.0, "combination"),
        ("customer", "WH02", "S1", "c2", "K1", 4.0, "combination"),
        ("customer", "WH01", "S2", "c3", "K1", 5.0, "combination"),
        ("customer", None, "S1", "c4", "K2", 4.0, "croston"),  # a region no warehouse serves
        ("warehouse", "WH01", None, None, "K1", 11.0, None),
        ("warehouse", "WH02", None, None, "K1", 4.0, None),
    ]
    frame = pd.DataFrame(
        rows, columns=["level", "warehouse_id", "segment_id", "customer_id", "sku", "forecast_qty", "model"]
    )
    frame.insert(0, "as_of_date", DAY)
    frame["forecast_origin"] = ORIGIN
    frame["period_start"] = date(2025, 3, 3)
    frame["horizon"] = 1
    frame["lower_qty"] = frame["forecast_qty"] * 0.8
    frame["upper_qty"] = frame["forecast_qty"] * 1.2
    return frame


def _validate(frame: pd.DataFrame):
    checked = gate_frame("demand_forecasts", pa.Table.from_pandas(frame, preserve_index=False), None, None, DAY)  # type: ignore[arg-type]
    return checked, validate_frame(
        "published_demand_forecasts", checked, {"partition_date": DAY, "horizon": 8, "min_row_count": 0}
    )


def test_a_coherent_day_passes_and_the_gaps_are_computed_by_hand():
    checked, result = _validate(_rows())
    assert result.passed, result.message()
    assert checked["_level_columns_ok"].all()
    gaps = dict(
        zip(
            zip(checked["level"], checked["sku"].fillna("-"), checked["segment_id"].fillna("-"), strict=True),
            checked["_children_gap"],
            strict=True,
        )
    )
    assert gaps[("total", "-", "-")] == 0.0
    assert gaps[("sku", "K1", "-")] == 0.0
    assert gaps[("segment", "K1", "S1")] == 0.0
    assert pd.isna(gaps[("customer", "K1", "S1")])  # nothing below customers


@pytest.mark.parametrize(
    ("where", "column", "value", "expectation"),
    [
        ({"level": "total"}, "forecast_qty", 20.0, "_children_gap"),
        ({"level": "sku", "sku": "K1"}, "forecast_qty", 14.0, "_children_gap"),
        ({"level": "warehouse", "warehouse_id": "WH01"}, "forecast_qty", 12.5, "_children_gap"),
        ({"level": "total"}, "sku", "K1", "_level_columns_ok"),
        ({"level": "segment", "sku": "K2"}, "segment_id", None, "_level_columns_ok"),
        ({"level": "sku", "sku": "K2"}, "model", None, "_level_columns_ok"),
    ],
    ids=["total-off", "sku-off", "warehouses-above-sku", "total-with-sku", "segment-without-id", "no-model"],
)
def test_a_day_whose_levels_do_not_add_up_or_mix_keys_fails(where, column, value, expectation):
    frame = _rows()
    mask = pd.Series(True, index=frame.index)
    for key, wanted in where.items():
        mask &= frame[key] == wanted
    assert mask.sum() == 1
    frame.loc[mask, column] = value
    _, result = _validate(frame)
    assert not result.passed
    assert expectation in result.message()
