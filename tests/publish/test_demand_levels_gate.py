"""The published_demand_forecasts gate checks every level (issue 11, item 4): each
level fills its own key columns, and the levels add up (a real GE validation)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from restock.publish import gated_publish
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
            zip(
                checked["level"],
                checked["sku"].astype(object).fillna("-"),  # categoricals: "-" is no category
                checked["segment_id"].astype(object).fillna("-"),
                strict=True,
            ),
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


def _string_level_checks(frame: pd.DataFrame) -> pd.DataFrame:
    """gated_publish._with_level_checks as it was before it grouped on integer codes
    (issue 13): the reference of the test below."""
    import numpy as np

    key_columns = ("warehouse_id", "segment_id", "customer_id", "sku")
    ok = np.zeros(len(frame), dtype=bool)
    for level, filled in gated_publish.LEVEL_KEYS.items():
        rows = (frame["level"] == level).to_numpy()
        good = rows.copy()
        for column in key_columns:
            present = frame[column].notna().to_numpy()
            if column in filled:
                good &= present
            elif not (level == "customer" and column == "warehouse_id"):
                good &= ~present
        if level != "warehouse":
            good &= frame["model"].notna().to_numpy()
        ok |= good
    frame["_level_columns_ok"] = ok
    gap = np.full(len(frame), np.nan)
    week = ["horizon"]
    for parent, child, on in (
        ("total", "sku", []),
        ("sku", "segment", ["sku"]),
        ("segment", "customer", ["segment_id", "sku"]),
    ):
        sums = frame[frame["level"] == child].groupby([*on, *week], dropna=False)["forecast_qty"].sum()
        parents = frame[frame["level"] == parent]
        joined = parents[[*on, *week, "forecast_qty"]].merge(
            sums.rename("_children").reset_index(), on=[*on, *week], how="left"
        )
        scale = np.maximum(1.0, joined["forecast_qty"].to_numpy(dtype=float))
        gap[parents.index.to_numpy()] = (
            np.abs(joined["forecast_qty"].to_numpy(dtype=float) - joined["_children"].to_numpy(dtype=float)) / scale
        )
    # Warehouse rows: their sum may fall short of the SKU (customers without a warehouse), never exceed it.
    warehouses = frame[frame["level"] == "warehouse"].groupby(["sku", "horizon"])["forecast_qty"].sum()
    skus = frame[frame["level"] == "sku"]
    joined = skus[["sku", "horizon", "forecast_qty"]].merge(
        warehouses.rename("_warehouses").reset_index(), on=["sku", "horizon"], how="left"
    )
    over = np.maximum(0.0, joined["_warehouses"].to_numpy(dtype=float) - joined["forecast_qty"].to_numpy(dtype=float))
    over = over / np.maximum(1.0, joined["forecast_qty"].to_numpy(dtype=float))
    sku_rows = skus.index.to_numpy()
    gap[sku_rows] = np.fmax(gap[sku_rows], over)  # fmax: a NaN (no segment rows) yields the other
    frame["_children_gap"] = gap
    return frame


@pytest.mark.parametrize("seed", range(4))
def test_level_checks_on_codes_equal_the_string_version(seed):
    """_with_level_checks (grouped on factorized codes) gives the same two columns,
    bit for bit, as the string version it replaced, on a random day of ~3,000 rows
    with wrong sums, missing keys (NaN groups), extra keys and unknown levels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 3000
    levels = rng.choice(
        ["total", "sku", "segment", "customer", "warehouse", "other"], n, p=[0.01, 0.05, 0.14, 0.7, 0.08, 0.02]
    )

    def maybe(values: np.ndarray, missing: float) -> np.ndarray:
        out = values.astype(object)
        out[rng.random(n) < missing] = None
        return out

    frame = pd.DataFrame(
        {
            "level": levels,
            "warehouse_id": maybe(rng.choice(["WH01", "WH02"], n), 0.4),
            "segment_id": maybe(rng.choice(["S1", "S2", "S3"], n), 0.3),
            "customer_id": maybe(rng.choice([f"c{i}" for i in range(50)], n), 0.3),
            "sku": maybe(rng.choice([f"K{i}" for i in range(12)], n), 0.1),
            "model": maybe(rng.choice(["combination", "croston"], n), 0.1),
            "horizon": rng.integers(1, 4, n),
            "forecast_qty": rng.gamma(2.0, 10.0, n).round(4),
        }
    )
    got = gated_publish._with_level_checks(frame.copy())
    expected = _string_level_checks(frame.copy())
    assert np.array_equal(got["_level_columns_ok"].to_numpy(), expected["_level_columns_ok"].to_numpy())
    assert np.array_equal(got["_children_gap"].to_numpy(), expected["_children_gap"].to_numpy(), equal_nan=True)
    assert np.isfinite(got["_children_gap"]).sum() > 50 and got["_level_columns_ok"].sum() > 50


def test_a_duplicated_key_or_an_unknown_level_fails_on_the_categorical_frame():
    """The gate frame holds the string columns as categoricals (issue 13, speed): a
    duplicated row and a level outside the set are still caught, and reported by value."""
    frame = _rows()
    checked, result = _validate(pd.concat([frame, frame.iloc[[6]]], ignore_index=True))
    assert isinstance(checked["customer_id"].dtype, pd.CategoricalDtype)
    assert not result.passed and "expect_compound_columns_to_be_unique" in result.message()
    frame.loc[6, "level"] = "region"
    _, result = _validate(frame)
    assert not result.passed and "region" in result.message()
