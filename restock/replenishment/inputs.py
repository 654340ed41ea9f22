"""Reading one as-of day's replenishment inputs from the warehouse (DuckDB).

Point in time: nothing dated after the day is read. :func:`require_inputs` checks
every input first, so a missing table or day fails with its name rather than as an
empty plan. The rules applied to what is read are in
:mod:`restock.replenishment.assemble`.

Reproducible to the last digit: a sum of DOUBLEs depends on the order its terms are
added in, which DuckDB leaves to its threads. Forecast quantities are therefore
summed over ``DECIMAL(38,12)`` (:data:`EXACT`: each term rounded to 1e-12 carton,
then an exact sum), and every frame is returned in the order of its key, so that the
pandas sums downstream add in a fixed order too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock.calendar import last_complete_week_start
from restock.config import RestockConfig
from restock.replenishment import cycles

log = logging.getLogger(__name__)

# The type float quantities are summed over in SQL: exact, independent of the order.
EXACT = "decimal(38, 12)"

# Besides analytics.forecast_runs and the view analytics.demand_forecasts behind it:
DAY_TABLES = (  # must hold rows for the day
    "analytics.customer_segments",
    "marts.customers",
    "analytics.product_classes",
    "marts.products",
    "marts.inventory_positions",
)
HISTORY_TABLES = (  # must exist; may be empty in the first weeks of history
    "analytics.segment_forecasts",
    "analytics.customer_forecast_shares",
    "marts.customer_sku_weekly_demand",
    "marts.order_lines",
)


def require_inputs(con: DuckDBPyConnection, day: date) -> None:
    """Raise ``ValueError`` naming the first input table missing, or without a row for ``day``."""
    _require_day(con, "analytics.forecast_runs", day, " (the forecasts were not run for this day)")
    _require_table(con, "analytics.demand_forecasts", day)
    for table in DAY_TABLES:
        _require_day(con, table, day)
    for table in HISTORY_TABLES:
        _require_table(con, table, day)


def _relation_exists(con: DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


def _require_day(con: DuckDBPyConnection, table: str, day: date, hint: str = "") -> None:
    if not _relation_exists(con, table):
        raise ValueError(f"{table} does not exist: it is needed for the replenishment of {day}{hint}")
    if not con.execute(f"select count(*) from {table} where as_of_date = ?", [day]).fetchall()[0][0]:
        raise ValueError(f"{table} has no row with as_of_date = {day}{hint}")


def _require_table(con: DuckDBPyConnection, table: str, day: date) -> None:
    if not _relation_exists(con, table):
        raise ValueError(f"{table} does not exist: it is needed for the replenishment of {day}")


@contextmanager
def _registered_customers(con: DuckDBPyConnection, customers: pd.DataFrame) -> Iterator[None]:
    """The day's customer → warehouse map as the view ``_rep_customers`` for the queries."""
    con.register("_rep_customers", customers)
    try:
        yield
    finally:
        con.unregister("_rep_customers")


def read_customers(con: DuckDBPyConnection, day: date, config: RestockConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers of ``day`` with their warehouse (decision 1); and those left out
    (customer_id, region), also logged."""
    frame = con.execute(
        """select s.customer_id, s.region, s.tier, s.customer_status, s.lifecycle_state,
                  m.order_weekday::double as order_weekday
           from analytics.customer_segments s
           left join marts.customers m on m.customer_id = s.customer_id and m.as_of_date = s.as_of_date
           where s.as_of_date = ? order by s.customer_id""",
        [day],
    ).df()
    frame["warehouse_id"] = pd.Series(
        [config.replenishment.warehouse_of(region) for region in frame["region"]], index=frame.index, dtype=object
    )
    unmapped = frame[frame["warehouse_id"].isna()][["customer_id", "region"]].reset_index(drop=True)
    if len(unmapped):
        log.warning(
            "%s: %d customers in regions without a warehouse (%s) left out of the replenishment",
            day,
            len(unmapped),
            sorted(unmapped["region"].fillna("<null>").unique())[:10],
        )
    return frame[frame["warehouse_id"].notna()].reset_index(drop=True), unmapped


def read_customer_forecasts(
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, horizon_weeks: int
) -> pd.DataFrame:
    """The day's customer forecasts summed per warehouse × SKU × week × order weekday
    (all the plan needs: the window share depends on nothing else), with the summed
    width of the segment intervals × share (``spread_qty``, upper − lower, floored at 0)."""
    with _registered_customers(con, customers[["customer_id", "warehouse_id", "order_weekday"]]):
        return con.execute(
            # The spread is the segment interval × share (not the customers' own bounds:
            # summed over a warehouse's customers those are far wider than its interval).
            f"""select c.warehouse_id, f.sku, f.horizon, f.period_start, c.order_weekday,
                       sum((f.forecast_qty * s.share)::{EXACT})::double as forecast_qty,
                       sum(greatest((f.upper_qty - f.lower_qty) * s.share, 0)::{EXACT})::double as spread_qty
                from analytics.forecast_runs r
                join analytics.segment_forecasts f using (forecast_origin)
                join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)
                join _rep_customers c using (customer_id)
                where r.as_of_date = ? and f.horizon <= ?
                group by all order by c.warehouse_id, f.sku, f.horizon, f.period_start, c.order_weekday""",
            [day, horizon_weeks],
        ).df()


def read_next_cycle_forecasts(
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, horizon_weeks: int
) -> pd.DataFrame:
    """Each customer's forecast rows (``forecast_qty > 0``) for its next order cycle after
    ``day`` (decision 5), with ``cycle_start``: the customer's next cycle date, or,
    without an order weekday, the start of the first week starting after ``day``."""
    frame = customers[["customer_id", "warehouse_id"]].assign(
        next_cycle=cycles.next_cycle_dates(day, customers["order_weekday"].to_numpy(dtype=float))
    )
    with _registered_customers(con, frame):
        return con.execute(
            """select c.warehouse_id, f.customer_id, f.sku,
                      coalesce(c.next_cycle::date, f.period_start) as cycle_start, f.forecast_qty
               from analytics.demand_forecasts f join _rep_customers c using (customer_id)
               where f.as_of_date = ? and f.level = 'customer' and f.horizon <= ? and f.forecast_qty > 0
                 and case when c.next_cycle is null then f.period_start > ?::date and f.period_start <= ?::date + 7
                          else c.next_cycle::date between f.period_start and f.period_start + 6 end
               order by c.warehouse_id, f.customer_id, f.sku, f.period_start""",
            [day, horizon_weeks, day, day],
        ).df()


def read_inventory(con: DuckDBPyConnection, day: date) -> pd.DataFrame:
    """Warehouse × SKU stock figures of ``day`` (quantities as doubles)."""
    return con.execute(
        """select warehouse_id, sku, on_hand_qty::double as on_hand_qty, in_transit_qty::double as in_transit_qty,
                  allocated_qty::double as allocated_qty, oldest_batch_date
           from marts.inventory_positions where as_of_date = ? order by warehouse_id, sku""",
        [day],
    ).df()


def read_products(con: DuckDBPyConnection, day: date) -> pd.DataFrame:
    """Products of ``day`` with their ABC class of the day (null when unclassified)."""
    return con.execute(
        """select p.sku, p.lead_time_days::double as lead_time_days, p.lead_time_std_days::double as lead_time_std_days,
                  p.units_per_case::double as units_per_case, p.moq_cases::double as moq_cases,
                  p.unit_cost_amount::double as unit_cost, p.shelf_life_days::double as shelf_life_days,
                  p.launched_on, p.is_active, c.abc_class
           from marts.products p
           left join (select sku, abc_class from analytics.product_classes where as_of_date = ?) c using (sku)
           where p.as_of_date = ? order by p.sku""",
        [day, day],
    ).df()


def read_horizon1_errors(
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, window_weeks: int, quantity: str
) -> tuple[pd.DataFrame, int]:
    """Weekly RMSE of horizon-1 errors per warehouse × SKU (decision 3) over the
    ``window_weeks`` complete weeks ending with the last one on ``day``, and the number
    of weeks with a horizon-1 forecast (``quantity``: the demand column forecast)."""
    last = last_complete_week_start(day)
    first = last - timedelta(weeks=window_weeks - 1)
    with _registered_customers(con, customers[["customer_id", "warehouse_id"]]):
        frame = con.execute(
            f"""
            with fc as (
                select c.warehouse_id, f.sku, f.period_start, sum((f.forecast_qty * s.share)::{EXACT}) as forecast_qty
                from analytics.segment_forecasts f
                join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)
                join _rep_customers c on c.customer_id = s.customer_id
                where f.horizon = 1 and f.period_start between ? and ? and f.forecast_origin <= ?
                group by all
            ),
            weeks as (
                select distinct period_start from analytics.segment_forecasts
                where horizon = 1 and period_start between ? and ? and forecast_origin <= ?
            ),
            actual as (
                select c.warehouse_id, w.sku, w.week_start as period_start, sum(w.{quantity})::double as actual_qty
                from marts.customer_sku_weekly_demand w join _rep_customers c using (customer_id)
                where w.week_start in (select period_start from weeks)
                group by all
            )
            select warehouse_id, sku,
                   sum(power(coalesce(fc.forecast_qty::double, 0) - coalesce(a.actual_qty, 0), 2)::{EXACT})::double as sse
            from fc full outer join actual a using (warehouse_id, sku, period_start)
            group by all order by warehouse_id, sku
            """,
            [first, last, day, first, last, day],
        ).df()
        n_weeks = con.execute(
            """select count(distinct period_start) from analytics.segment_forecasts
               where horizon = 1 and period_start between ? and ? and forecast_origin <= ?""",
            [first, last, day],
        ).fetchall()[0][0]  # fetchall: a pending fetchone result blocks unregister
    frame["weekly_error_std"] = np.sqrt(frame["sse"] / n_weeks) if n_weeks else np.nan
    return frame[["warehouse_id", "sku", "weekly_error_std"]], int(n_weeks)


def read_demand_dates(
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, quantity: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per warehouse × SKU the last order date ≤ ``day`` with ``quantity`` > 0
    (``last_demand_date``); per warehouse its first order date (``first_order_date``)."""
    with _registered_customers(con, customers[["customer_id", "warehouse_id"]]):
        last = con.execute(
            f"""select c.warehouse_id, o.sku, max(o.order_date) as last_demand_date
                from marts.order_lines o join _rep_customers c using (customer_id)
                where o.order_date <= ? and o.{quantity} > 0 group by all order by all""",
            [day],
        ).df()
        first = con.execute(
            """select c.warehouse_id, min(o.order_date) as first_order_date
               from marts.order_lines o join _rep_customers c using (customer_id)
               where o.order_date <= ? group by all order by all""",
            [day],
        ).df()
    return last, first
