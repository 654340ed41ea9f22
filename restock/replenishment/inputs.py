"""Reading one as-of day's replenishment inputs from the warehouse (DuckDB).

Point in time: nothing dated after the day is read. :func:`require_inputs` checks
every input first, so a missing table or day fails with its name rather than as an
empty plan. The rules applied to what is read are in
:mod:`restock.replenishment.assemble`.

Reuse across days (:class:`DayCache`): a backfill builds many consecutive days, and
some inputs are the same for all the days that share a forecast origin or a review
window. ``run_days`` passes one :class:`DayCache` to every day; a reader given one
returns its previous result when the key of the new day is equal, where the key is
everything the query reads that depends on the day (the origin, the window and its
origins ≤ the day, and the customer → warehouse rows of the customers the query can
join), so a cached frame is the frame the query would return, to the last digit.
Two readers keep a temporary table of the run's connection instead: the customer
forecast rows of the day's origin, and the order-line dates up to a base day (see
:func:`read_next_cycle_forecasts`, :func:`read_demand_dates`); :meth:`DayCache.close`
drops them. Without a cache (the default, a single day) every query runs as before.

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


# The temporary tables (of the run's connection) of a DayCache: the customer forecast
# rows of one origin; the last demand date per customer × SKU and the first order date
# per customer up to the run's base day.
CYCLE_ROWS = "_rep_cycle_rows"
LAST_DEMAND = "_rep_last_demand"
FIRST_ORDER = "_rep_first_order"
# Days after which LAST_DEMAND and FIRST_ORDER are rebuilt (a long backfill does not
# re-read an ever longer tail of order lines every day).
BASE_REFRESH_DAYS = 28


class DayCache:
    """The last result of each cached reader with its key, for the days of one run
    (see the module docstring). One entry per reader: consecutive days hit, memory
    stays that of one day. Only for a run that writes none of the inputs (the
    replenishment writes only its own three tables). ``hits`` / ``misses`` count per
    reader (for tests and benchmarks)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, pd.DataFrame, object]] = {}
        self.relations: set[str] = set()  # input relations seen to exist (they are not dropped during a run)
        self.hits: dict[str, int] = {}
        self.misses: dict[str, int] = {}
        self.origins_day: date | None = None
        self.origins: tuple[date, ...] = ()
        self.cycle_origins: tuple[date, ...] | None = None  # the origins CYCLE_ROWS holds
        self.demand_base: tuple[date, str] | None = None  # (B, quantity) of LAST_DEMAND and FIRST_ORDER
        self.tables_ensured = False  # the output tables checked (restock.replenishment.tables.run_day)

    def close(self, con: DuckDBPyConnection) -> None:
        """Drop the temporary tables of the run (``con``: the run's connection)."""
        for table in (CYCLE_ROWS, LAST_DEMAND, FIRST_ORDER):
            con.execute(f"drop table if exists temp.{table}")
        self.cycle_origins = self.demand_base = None

    def get(self, reader: str, key: object, customers: pd.DataFrame) -> object | None:
        """The value stored for ``reader`` if its key equals ``key`` and its customers
        frame equals ``customers`` (same rows, values, dtypes), else None."""
        entry = self._entries.get(reader)
        if entry is not None and entry[0] == key and entry[1].equals(customers):
            self.hits[reader] = self.hits.get(reader, 0) + 1
            return entry[2]
        self.misses[reader] = self.misses.get(reader, 0) + 1
        return None

    def put(self, reader: str, key: object, customers: pd.DataFrame, value: object) -> None:
        self._entries[reader] = (key, customers, value)


def _relevant(customers: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The rows of ``customers`` whose customer_id is in ``ids``, index reset (a cache key)."""
    return customers[customers["customer_id"].isin(ids)].reset_index(drop=True)


def require_inputs(con: DuckDBPyConnection, day: date, cache: DayCache | None = None) -> None:
    """Raise ``ValueError`` naming the first input table missing, or without a row for ``day``."""
    _require_day(con, "analytics.forecast_runs", day, " (the forecasts were not run for this day)", cache)
    _require_table(con, "analytics.demand_forecasts", day, cache)
    for table in DAY_TABLES:
        _require_day(con, table, day, cache=cache)
    for table in HISTORY_TABLES:
        _require_table(con, table, day, cache)


def _relation_exists(con: DuckDBPyConnection, qualified: str, cache: DayCache | None = None) -> bool:
    if cache is not None and qualified in cache.relations:
        return True
    schema, name = qualified.split(".")
    found = bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )
    if found and cache is not None:
        cache.relations.add(qualified)
    return found


def _require_day(con: DuckDBPyConnection, table: str, day: date, hint: str = "", cache: DayCache | None = None) -> None:
    if not _relation_exists(con, table, cache):
        raise ValueError(f"{table} does not exist: it is needed for the replenishment of {day}{hint}")
    if not con.execute(f"select count(*) from {table} where as_of_date = ?", [day]).fetchall()[0][0]:
        raise ValueError(f"{table} has no row with as_of_date = {day}{hint}")


def _require_table(con: DuckDBPyConnection, table: str, day: date, cache: DayCache | None = None) -> None:
    if not _relation_exists(con, table, cache):
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
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, horizon_weeks: int, cache: DayCache | None = None
) -> pd.DataFrame:
    """The day's customer forecasts summed per warehouse × SKU × week × order weekday
    (all the plan needs: the window share depends on nothing else), with the summed
    width of the segment intervals × share (``spread_qty``, upper − lower, floored at 0).

    Depends on ``day`` only through its forecast origin(s) in ``forecast_runs``, and on
    the customers with a share at them: the cache key."""
    mapping = customers[["customer_id", "warehouse_id", "order_weekday"]]
    if cache is None:
        return _customer_forecasts(con, day, mapping, horizon_weeks)
    origins = _day_origins(con, day, cache)
    key = (origins, horizon_weeks)
    ids = cache.get("share_customers", origins, _NO_CUSTOMERS)
    if ids is None:
        ids = con.execute(
            """select distinct customer_id from analytics.customer_forecast_shares
               where forecast_origin in (select forecast_origin from analytics.forecast_runs where as_of_date = ?)""",
            [day],
        ).df()["customer_id"]
        cache.put("share_customers", origins, _NO_CUSTOMERS, ids)
    relevant = _relevant(mapping, ids)
    found = cache.get("customer_forecasts", key, relevant)
    if found is None:
        found = _customer_forecasts(con, day, mapping, horizon_weeks)
        cache.put("customer_forecasts", key, relevant, found)
    assert isinstance(found, pd.DataFrame)
    return found.copy()


_NO_CUSTOMERS = pd.DataFrame()  # the customers part of a key that depends on none


def _day_origins(con: DuckDBPyConnection, day: date, cache: DayCache) -> tuple[date, ...]:
    """The forecast origin(s) ``analytics.forecast_runs`` maps ``day`` to (read once a day)."""
    if cache.origins_day != day:
        cache.origins = tuple(
            row[0]
            for row in con.execute(
                "select distinct forecast_origin from analytics.forecast_runs where as_of_date = ? order by 1", [day]
            ).fetchall()
        )
        cache.origins_day = day
    return cache.origins


def _customer_forecasts(con: DuckDBPyConnection, day: date, mapping: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    with _registered_customers(con, mapping):
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
    con: DuckDBPyConnection,
    day: date,
    customers: pd.DataFrame,
    horizon_weeks: int,
    cache: DayCache | None = None,
) -> pd.DataFrame:
    """Each customer's forecast rows (``forecast_qty > 0``) for its next order cycle after
    ``day`` (decision 5), with ``cycle_start``: the customer's next cycle date, or,
    without an order weekday, the start of the first week starting after ``day``.

    With a cache, the customer rows of ``analytics.demand_forecasts`` of the day's
    forecast origin(s) are copied once per origin into the temporary table
    :data:`CYCLE_ROWS` (they depend on ``day`` only through the origin) and each day
    selects from it."""
    frame = customers[["customer_id", "warehouse_id"]].assign(
        next_cycle=cycles.next_cycle_dates(day, customers["order_weekday"].to_numpy(dtype=float))
    )
    if cache is None:
        source, params = "(select * from analytics.demand_forecasts where as_of_date = ? and level = 'customer')", [day]
    else:
        origins = _day_origins(con, day, cache)
        if cache.cycle_origins != origins:
            con.execute(
                f"""create or replace temp table {CYCLE_ROWS} as
                    select customer_id, sku, period_start, horizon, forecast_qty from analytics.demand_forecasts
                    where as_of_date = ? and level = 'customer' and forecast_qty > 0""",
                [day],
            )
            cache.cycle_origins = origins
        source, params = CYCLE_ROWS, []
    with _registered_customers(con, frame):
        return con.execute(
            f"""select c.warehouse_id, f.customer_id, f.sku,
                      coalesce(c.next_cycle::date, f.period_start) as cycle_start, f.forecast_qty
               from {source} f join _rep_customers c using (customer_id)
               where f.horizon <= ? and f.forecast_qty > 0
                 and case when c.next_cycle is null then f.period_start > ?::date and f.period_start <= ?::date + 7
                          else c.next_cycle::date between f.period_start and f.period_start + 6 end
               order by c.warehouse_id, f.customer_id, f.sku, f.period_start""",
            [*params, horizon_weeks, day, day],
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
    con: DuckDBPyConnection,
    day: date,
    customers: pd.DataFrame,
    window_weeks: int,
    quantity: str,
    cache: DayCache | None = None,
) -> tuple[pd.DataFrame, int]:
    """Weekly RMSE of horizon-1 errors per warehouse × SKU (decision 3) over the
    ``window_weeks`` complete weeks ending with the last one on ``day``, and the number
    of weeks with a horizon-1 forecast (``quantity``: the demand column forecast).

    Depends on ``day`` only through the window and the forecast origins ≤ ``day`` of
    its horizon-1 rows, and on the customers with a share at those origins or demand in
    those weeks: the cache key."""
    last = last_complete_week_start(day)
    first = last - timedelta(weeks=window_weeks - 1)
    mapping = customers[["customer_id", "warehouse_id"]]
    if cache is None:
        return _horizon1_errors(con, day, mapping, first, last, quantity)
    origins = tuple(
        row[0]
        for row in con.execute(
            """select distinct forecast_origin from analytics.segment_forecasts
               where horizon = 1 and period_start between ? and ? and forecast_origin <= ? order by 1""",
            [first, last, day],
        ).fetchall()
    )
    key = (first, last, origins, quantity)
    ids = cache.get("window_customers", key, _NO_CUSTOMERS)
    if ids is None:
        # Every customer the query can join: a share at a window origin, or demand in a window week.
        ids = con.execute(
            """with rows as (
                   select distinct forecast_origin, period_start from analytics.segment_forecasts
                   where horizon = 1 and period_start between ? and ? and forecast_origin <= ?)
               select customer_id from analytics.customer_forecast_shares
               where forecast_origin in (select forecast_origin from rows)
               union
               select customer_id from marts.customer_sku_weekly_demand
               where week_start in (select period_start from rows)""",
            [first, last, day],
        ).df()["customer_id"]
        cache.put("window_customers", key, _NO_CUSTOMERS, ids)
    relevant = _relevant(mapping, ids)
    found = cache.get("horizon1_errors", key, relevant)
    if found is None:
        found = _horizon1_errors(con, day, mapping, first, last, quantity)
        cache.put("horizon1_errors", key, relevant, found)
    assert isinstance(found, tuple)
    return found[0].copy(), found[1]


def _horizon1_errors(
    con: DuckDBPyConnection, day: date, mapping: pd.DataFrame, first: date, last: date, quantity: str
) -> tuple[pd.DataFrame, int]:
    with _registered_customers(con, mapping):
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
    con: DuckDBPyConnection, day: date, customers: pd.DataFrame, quantity: str, cache: DayCache | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per warehouse × SKU the last order date ≤ ``day`` with ``quantity`` > 0
    (``last_demand_date``); per warehouse its first order date (``first_order_date``).

    With a cache, the order lines up to a base day ``B`` ≤ ``day`` (the first day of the
    run, again after :data:`BASE_REFRESH_DAYS` days or for an earlier day) are reduced to
    the temporary tables :data:`LAST_DEMAND` (per customer × SKU, the last date) and
    :data:`FIRST_ORDER` (per customer, the first date); a day reads those plus its lines
    dated in ``(B, day]``. A max (min) of maxima (minima) is the max (min) of the lines:
    the same dates."""
    mapping = customers[["customer_id", "warehouse_id"]]
    if cache is None:
        lines = f"select customer_id, sku, order_date from marts.order_lines where order_date <= ? and {quantity} > 0"
        all_lines = "select customer_id, order_date from marts.order_lines where order_date <= ?"
        last_params: list[object] = [day]
        first_params: list[object] = [day]
    else:
        base = cache.demand_base
        if base is None or base[1] != quantity or not 0 <= (day - base[0]).days <= BASE_REFRESH_DAYS:
            con.execute(
                f"""create or replace temp table {LAST_DEMAND} as
                    select customer_id, sku, max(order_date) as order_date from marts.order_lines
                    where order_date <= ? and {quantity} > 0 group by all""",
                [day],
            )
            con.execute(
                f"""create or replace temp table {FIRST_ORDER} as
                    select customer_id, min(order_date) as order_date from marts.order_lines
                    where order_date <= ? group by all""",
                [day],
            )
            base = cache.demand_base = (day, quantity)
        lines = f"""select customer_id, sku, order_date from {LAST_DEMAND} union all
                    select customer_id, sku, order_date from marts.order_lines
                    where order_date > ? and order_date <= ? and {quantity} > 0"""
        all_lines = f"""select customer_id, order_date from {FIRST_ORDER} union all
                        select customer_id, order_date from marts.order_lines where order_date > ? and order_date <= ?"""
        last_params = first_params = [base[0], day]
    with _registered_customers(con, mapping):
        last = con.execute(
            f"""select c.warehouse_id, o.sku, max(o.order_date) as last_demand_date
                from ({lines}) o join _rep_customers c using (customer_id) group by all order by all""",
            last_params,
        ).df()
        first = con.execute(
            f"""select c.warehouse_id, min(o.order_date) as first_order_date
               from ({all_lines}) o join _rep_customers c using (customer_id) group by all order by all""",
            first_params,
        ).df()
    return last, first
