"""The replenishment inputs summed in DuckDB are the same to the last digit whatever
the physical order of the rows and the number of DuckDB threads (issue 12, point 11):
a sum of DOUBLEs follows the order its terms are added in; these are taken over
DECIMAL(38,12), exact."""

from __future__ import annotations

import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.replenishment import inputs

D = date(2025, 3, 9)  # a Sunday, a forecast origin
CUSTOMERS = 400


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(CUSTOMERS)],
            "warehouse_id": ["WH1" if i % 3 else "WH2" for i in range(CUSTOMERS)],
            "order_weekday": [float(1 + i % 2) for i in range(CUSTOMERS)],
        }
    )


def _tables(seed: int) -> dict[str, pd.DataFrame]:
    """Forecasts of a few hundred customers per group (segment forecast × share), with
    values whose float sum depends on the order of its terms."""
    rng = np.random.default_rng(seed)
    # the 4 weeks complete on D (errors) and the 3 after it (forecasts, horizons 1..3)
    weeks = [D - timedelta(days=6) + timedelta(weeks=w) for w in range(-3, 4)]
    segment_rows, share_rows, demand_rows = [], [], []
    for i in range(CUSTOMERS):
        customer = f"c{i:03d}"
        for sku in ("K1", "K2"):
            share = rng.random() / 50
            share_rows += [(week - timedelta(days=1), "S1", sku, customer, share) for week in weeks[:4]]
            share_rows.append((D, "S1", sku, customer, rng.random() / 50))
            for week in weeks[:4]:
                demand_rows.append((customer, sku, week, round(rng.random() * 30, 3)))
    for sku in ("K1", "K2"):
        for w, week in enumerate(weeks[:4]):
            qty = 1000 + 7.1 * w
            segment_rows.append((week - timedelta(days=1), "S1", sku, week, 1, qty, 0.8 * qty, 1.3 * qty))
        for h, week in enumerate(weeks[4:], 1):
            qty = 3000 * rng.random()
            segment_rows.append((D, "S1", sku, week, h, qty, 0.8 * qty, 1.3 * qty))
    return {
        "forecast_runs": pd.DataFrame({"as_of_date": [D], "forecast_origin": [D]}),
        "segment_forecasts": pd.DataFrame(
            segment_rows,
            columns=[
                "forecast_origin",
                "segment_id",
                "sku",
                "period_start",
                "horizon",
                "forecast_qty",
                "lower_qty",
                "upper_qty",
            ],
        ),
        "customer_forecast_shares": pd.DataFrame(
            share_rows, columns=["forecast_origin", "segment_id", "sku", "customer_id", "share"]
        ),
        "customer_sku_weekly_demand": pd.DataFrame(demand_rows, columns=["customer_id", "sku", "week_start", "qty"]),
    }


def _warehouse(tables: dict[str, pd.DataFrame], order_seed: int | None, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"set threads = {threads}")
    con.execute("create schema analytics")
    con.execute("create schema marts")
    for name, frame in tables.items():
        if order_seed is not None:
            frame = frame.sample(frac=1.0, random_state=np.random.RandomState(order_seed))
        schema = "marts" if name == "customer_sku_weekly_demand" else "analytics"
        con.register("_rows", frame.reset_index(drop=True))
        qty = ", qty::decimal(18,3) as requested_qty" if schema == "marts" else ""
        con.execute(f"create table {schema}.{name} as select *{qty} from _rows")
        con.unregister("_rows")
    return con


def _read(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two sums, rows in the order of their key (the order read is checked apart)."""
    customers = _customers()
    forecasts = inputs.read_customer_forecasts(con, D, customers, 8)
    errors, weeks = inputs.read_horizon1_errors(con, D, customers, 4, "requested_qty")
    assert weeks == 4
    keys = ["warehouse_id", "sku", "horizon", "period_start", "order_weekday"]
    return (
        forecasts.sort_values(keys, ignore_index=True),
        errors.sort_values(["warehouse_id", "sku"], ignore_index=True),
    )


def test_sums_do_not_depend_on_row_order_or_threads():
    tables = _tables(5)
    first_forecasts, first_errors = _read(_warehouse(tables, None, 1))
    for order_seed, threads in ((1, 1), (2, 4), (3, 2)):
        forecasts, errors = _read(_warehouse(tables, order_seed, threads))
        pd.testing.assert_frame_equal(forecasts, first_forecasts, check_exact=True)
        pd.testing.assert_frame_equal(errors, first_errors, check_exact=True)
    # The sums are the exact sums of the terms (to 1e-12 a term), not approximations.
    segments = tables["segment_forecasts"]
    shares = tables["customer_forecast_shares"]
    rows = segments[segments["forecast_origin"] == D].merge(shares[shares["forecast_origin"] == D])
    rows["forecast_qty"] = rows["forecast_qty"] * rows["share"]
    customers = _customers().set_index("customer_id")
    rows = rows.assign(
        warehouse_id=rows["customer_id"].map(customers["warehouse_id"]),
        order_weekday=rows["customer_id"].map(customers["order_weekday"]),
        period_start=pd.to_datetime(rows["period_start"]),
    )
    keys = ["warehouse_id", "sku", "horizon", "period_start", "order_weekday"]
    exact = rows.groupby(keys)["forecast_qty"].agg(math.fsum)
    got = first_forecasts.set_index(keys)["forecast_qty"]
    assert len(got) == len(exact) == 2 * 2 * 3 * 2  # warehouses x SKUs x horizons x order weekdays
    for key, value in exact.items():
        assert got[key] == pytest.approx(value, rel=0, abs=1e-9)
    # and returned in the order of their key, so that the pandas sums after them add in a fixed order too
    read = inputs.read_customer_forecasts(_warehouse(tables, 4, 2), D, _customers(), 8)
    pd.testing.assert_frame_equal(read, first_forecasts, check_exact=True)
