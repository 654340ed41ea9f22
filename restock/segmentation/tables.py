"""The daily ``customer_segments`` and ``product_classes`` tables of the warehouse.

One as-of day at a time, from the marts (``marts.customers``, ``marts.order_lines``,
``marts.customer_sku_weekly_demand``, ``marts.products``), written to
``analytics.customer_segments`` / ``analytics.product_classes`` keyed by
``as_of_date``; re-running a day replaces it in one transaction. Point in time:
every read is bounded by the day. The rules live in the pure functions of
:mod:`restock.segmentation.customers` and :mod:`restock.segmentation.product_classes`;
this module only reads, assembles and writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.calendar import last_complete_week_start
from restock.config import ProductClassesConfig, RestockConfig, SegmentationConfig
from restock.segmentation.customers import OWN_INTERVAL, lifecycle_states, rfm_scores, segment_ids, usual_intervals
from restock.segmentation.product_classes import (
    abc_classes,
    adi_cv2,
    coefficient_of_variation,
    demand_class,
    xyz_classes,
)

TABLES = ("customer_segments", "product_classes")
# Columns in table order, from restock/warehouse_tables.yml.
SEGMENT_COLUMNS = table_registry.columns("customer_segments")
PRODUCT_COLUMNS = table_registry.columns("product_classes")
# Amounts are DECIMAL in the marts and in these tables (warehouse_tables.yml): sums
# taken in floating point are rounded to the tables' scale (cents), which gives the
# exact decimal sum back, the same on every run whatever the order of the terms.
SEGMENTS_TABLE = "analytics.customer_segments"
MONETARY_DECIMALS = table_registry.decimal_scale("customer_segments", "monetary")
VALUE_DECIMALS = table_registry.decimal_scale("product_classes", "total_value")


def ensure_tables(con: DuckDBPyConnection) -> None:
    table_registry.ensure_tables(con, TABLES)


# --------------------------------------------------------------------------- customers


def build_customer_segments(
    customers: pd.DataFrame,
    daily_amounts: pd.DataFrame,
    order_bounds: pd.DataFrame,
    as_of: date,
    rules: SegmentationConfig,
    order_days: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The customer_segments rows of one day (pure).

    ``customers``: the snapshot in force (marts.customers of the day: customer_id,
    tier, tier_source, channel, region, customer_status, opened_on, closed_on).
    ``daily_amounts``: customer_id, order_date, line_amount summed per customer and
    day, for the RFM window (days of the window only). ``order_bounds``: customer_id,
    first_order_date, last_order_date over all orders on or before ``as_of``.
    ``order_days``: customer_id, order_date, at least each customer's last
    ``lifecycle.rhythm_window_orders`` order days on or before ``as_of`` (its usual
    interval, with ``lifecycle.rhythm`` own_interval; None: every customer on the
    fixed cycle).
    """
    bounds = order_bounds.set_index("customer_id")
    rfm_window_weeks, lifecycle = rules.rfm_window_weeks, rules.lifecycle
    # RFM needs the last order before the window for recency: add it as a zero-amount
    # day, which lies outside the window so frequency and monetary are unchanged.
    window_start = pd.Timestamp(as_of) - pd.Timedelta(days=7 * rfm_window_weeks - 1)
    older = bounds.loc[pd.to_datetime(bounds["last_order_date"], cache=False) < window_start, ["last_order_date"]]
    history = pd.concat(
        [
            daily_amounts[["customer_id", "order_date", "line_amount"]],
            pd.DataFrame(
                {"customer_id": older.index, "order_date": older["last_order_date"].to_numpy(), "line_amount": 0.0}
            ),
        ],
        ignore_index=True,
    )
    rfm = rfm_scores(
        history,
        as_of,
        window_weeks=rfm_window_weeks,
        n_bins=rules.rfm_bins,
        customer_ids=customers["customer_id"],
        amount_decimals=MONETARY_DECIMALS,
    )
    intervals = None
    if lifecycle.rhythm == OWN_INTERVAL and order_days is not None:
        intervals = usual_intervals(
            order_days,
            as_of,
            window_orders=lifecycle.rhythm_window_orders,
            min_orders=lifecycle.min_orders_for_rhythm,
            cycle_days=lifecycle.cycle_days,
        )
    states = lifecycle_states(
        customers,
        bounds["last_order_date"],
        as_of,
        new_max_cycles=lifecycle.new_max_cycles,
        at_risk_missed_cycles=lifecycle.at_risk_missed_cycles,
        churned_missed_cycles=lifecycle.churned_missed_cycles,
        cycle_days=lifecycle.cycle_days,
        first_order_dates=bounds["first_order_date"],
        usual_interval_days=intervals,
    )
    out = customers.merge(rfm, on="customer_id", how="left")
    out["lifecycle_state"] = out["customer_id"].map(states)
    out["segment_id"] = segment_ids(out, by=rules.segment_by, tier_bands=rules.tier_bands).to_numpy()
    out["as_of_date"] = as_of
    for column in ("tier_source", "channel", "region", "customer_status"):
        if column not in out.columns:
            out[column] = None
    return out[SEGMENT_COLUMNS].sort_values("customer_id", ignore_index=True)


class OrderDays:
    """Each customer's order days up to ``last_day``, with the day's summed line
    amount, read once for a run of days: each day of the run takes from it the rows
    its own queries return (:func:`customer_segments_for_day`) instead of scanning the
    order lines three times (a two-year demo backfill: 731 × 3 scans).

    The same rows and dtypes in the same order: one row per customer × order day,
    sorted by customer then day, as DuckDB's ``order by`` sorts them."""

    def __init__(self, con: DuckDBPyConnection, last_day: date) -> None:
        frame = con.execute(
            """select customer_id, order_date, sum(line_amount)::double as line_amount
               from marts.order_lines where order_date <= ? group by all order by all""",
            [last_day],
        ).df()
        self.last_day = last_day
        self.customer = frame["customer_id"].to_numpy(dtype=object)
        self.day = frame["order_date"].to_numpy()
        self.amount = frame["line_amount"].to_numpy(dtype=float)
        self._date_dtype = frame["order_date"].dtype
        starts = np.ones(len(frame), dtype=bool)
        starts[1:] = self.customer[1:] != self.customer[:-1]
        self.group = np.cumsum(starts) - 1  # the customer's number, in order

    def _upto(self, day: date) -> np.ndarray:
        return np.flatnonzero(self.day <= np.datetime64(day))

    def amounts(self, first: date, day: date) -> pd.DataFrame:
        """customer_id, order_date, line_amount of the days ``first`` .. ``day``."""
        rows = np.flatnonzero((self.day >= np.datetime64(first)) & (self.day <= np.datetime64(day)))
        return pd.DataFrame(
            {"customer_id": self.customer[rows], "order_date": self.day[rows], "line_amount": self.amount[rows]}
        ).astype({"order_date": self._date_dtype})

    def bounds(self, day: date) -> pd.DataFrame:
        """customer_id, first_order_date, last_order_date over the days up to ``day``."""
        rows = self._upto(day)
        first, last = self._group_ends(rows)
        return pd.DataFrame(
            {
                "customer_id": self.customer[rows[first]],
                "first_order_date": self.day[rows[first]],
                "last_order_date": self.day[rows[last]],
            }
        ).astype({"first_order_date": self._date_dtype, "last_order_date": self._date_dtype})

    def last_order_days(self, day: date, count: int) -> pd.DataFrame:
        """customer_id, order_date: each customer's last ``count`` order days up to ``day``."""
        rows = self._upto(day)
        _, last = self._group_ends(rows)
        group = self.group[rows]
        end_of_group = last[np.searchsorted(group[last], group)]  # position of the group's last row
        kept = rows[(end_of_group - np.arange(len(rows))) < count]
        return pd.DataFrame({"customer_id": self.customer[kept], "order_date": self.day[kept]}).astype(
            {"order_date": self._date_dtype}
        )

    def _group_ends(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``rows`` of each customer's first and last row."""
        group = self.group[rows]
        change = np.flatnonzero(group[1:] != group[:-1]) + 1
        first = np.concatenate([[0], change]) if len(rows) else np.zeros(0, dtype=int)
        last = np.concatenate([change - 1, [len(rows) - 1]]) if len(rows) else np.zeros(0, dtype=int)
        return first.astype(int), last.astype(int)


def customer_segments_for_day(
    con: DuckDBPyConnection, day: date, rules: SegmentationConfig, orders: OrderDays | None = None
) -> pd.DataFrame:
    """Read the marts for ``day`` and build its customer_segments rows. ``orders``: the
    order days of a run of days (:class:`OrderDays`, covering ``day``)."""
    window_weeks = rules.rfm_window_weeks
    window_start = day - timedelta(days=7 * window_weeks - 1)
    customers = con.execute(
        """select customer_id, tier, tier_source, channel, region, customer_status, opened_on, closed_on
           from marts.customers where as_of_date = ? order by customer_id""",
        [day],
    ).df()
    if orders is not None and day <= orders.last_day:
        order_days = None
        if rules.lifecycle.rhythm == OWN_INTERVAL:
            order_days = orders.last_order_days(day, rules.lifecycle.rhythm_window_orders)
        return build_customer_segments(
            customers, orders.amounts(window_start, day), orders.bounds(day), day, rules, order_days
        )
    # sum over DECIMAL: exact; rows in a fixed order (rfm_scores sorts them too)
    amounts = con.execute(
        """select customer_id, order_date, sum(line_amount)::double as line_amount
           from marts.order_lines where order_date between ? and ? group by all order by all""",
        [window_start, day],
    ).df()
    bounds = con.execute(
        """select customer_id, min(order_date) as first_order_date, max(order_date) as last_order_date
           from marts.order_lines where order_date <= ? group by all order by customer_id""",
        [day],
    ).df()
    order_days = None
    if rules.lifecycle.rhythm == OWN_INTERVAL:
        # each customer's last rhythm_window_orders order days on or before the day
        order_days = con.execute(
            """select customer_id, order_date from (
                   select customer_id, order_date,
                          row_number() over (partition by customer_id order by order_date desc) as k
                   from (select distinct customer_id, order_date from marts.order_lines where order_date <= ?))
               where k <= ? order by customer_id, order_date""",
            [day, rules.lifecycle.rhythm_window_orders],
        ).df()
    return build_customer_segments(customers, amounts, bounds, day, rules, order_days)


def customer_segments_builder(
    days: Sequence[date], rules: SegmentationConfig
) -> Callable[[DuckDBPyConnection, date], pd.DataFrame]:
    """:func:`customer_segments_for_day` for the days of a run; a run of several days
    reads the order days once (:class:`OrderDays`, on its first day)."""
    orders: OrderDays | None = None

    def build(con: DuckDBPyConnection, day: date) -> pd.DataFrame:
        nonlocal orders
        if orders is None and len(days) > 1:
            orders = OrderDays(con, max(days))
        return customer_segments_for_day(con, day, rules, orders)

    return build


def customer_segments_in_workers(
    open_writer: Callable[[], AbstractContextManager[DuckDBPyConnection]],
    path: Path,
    days: Sequence[date],
    config: RestockConfig,
    progress: Callable[[int, date, dict[str, int], int], None] | None = None,
    memory_limit: str | None = None,
) -> int:
    """Build and write the customer_segments rows of ``days`` (a long run: see
    :func:`restock.day_workers.uses_workers`) in ``backfill.workers`` processes, each
    block of days with its own :class:`OrderDays`: the rows of a loop of
    :func:`customer_segments_for_day`. Returns the rows written."""
    from restock.day_workers import run_in_workers

    with open_writer() as con:
        ensure_tables(con)
    totals, _ = run_in_workers(
        open_writer,
        path,
        days,
        _segments_block,
        config.segmentation,
        _write_segment_days,
        config.backfill,
        memory_limit,
        progress,
    )
    return totals.get(SEGMENTS_TABLE, 0)


def _segments_block(
    con: DuckDBPyConnection, days: list[date], rules: SegmentationConfig
) -> Iterator[tuple[date, dict[str, pd.DataFrame]]]:
    build = customer_segments_builder(days, rules)
    for day in days:
        yield day, {SEGMENTS_TABLE: build(con, day)}


def _write_segment_days(con: DuckDBPyConnection, days: list[tuple[date, dict[str, pd.DataFrame]]]) -> dict[str, int]:
    from restock.day_workers import replace_days

    return replace_days(con, {SEGMENTS_TABLE: SEGMENT_COLUMNS}, "as_of_date", days)


# --------------------------------------------------------------------------- products


def build_product_classes(
    weekly: pd.DataFrame,
    skus: Sequence[str],
    as_of: date,
    rules: ProductClassesConfig,
) -> pd.DataFrame:
    """The product_classes rows of one day (pure).

    ``weekly``: sku, week_start, qty, value for the ``window_weeks`` complete weeks
    ending with the last complete week on ``as_of``; missing weeks are zero. ``skus``:
    every SKU to classify (the product snapshot plus any SKU with demand). ABC by the
    window's value, XYZ by the coefficient of variation of weekly quantity (zeros
    included), demand class by ADI / CV² (leading and trailing zeros not counted).
    Sums are taken in a fixed order (SKU, week), whatever the row order of ``weekly``;
    ``total_value`` is rounded to cents (the table's DECIMAL scale).
    """
    window_weeks = rules.window_weeks
    last = pd.Timestamp(last_complete_week_start(as_of))
    weeks = pd.date_range(end=last, periods=window_weeks, freq="7D")
    frame = weekly.copy()
    frame["week_start"] = pd.to_datetime(frame["week_start"], cache=False)
    frame = frame[frame["week_start"].isin(weeks)]
    frame = frame.sort_values(["sku", "week_start", "qty", "value"], kind="mergesort", ignore_index=True)
    all_skus = sorted(set(skus) | set(frame["sku"]))
    qty = frame.pivot_table(index="sku", columns="week_start", values="qty", aggfunc="sum", fill_value=0.0)
    qty = qty.reindex(index=all_skus, columns=weeks, fill_value=0.0)
    value = frame.groupby("sku")["value"].sum().round(VALUE_DECIMALS).reindex(all_skus, fill_value=0.0)
    rows = []
    for sku, series in zip(all_skus, qty.to_numpy(dtype=float), strict=True):
        adi, cv2 = adi_cv2(series)
        rows.append(
            {
                "sku": sku,
                "total_qty": float(series.sum()),
                "cv": coefficient_of_variation(series),
                "adi": adi,
                "cv2": cv2,
                "demand_class": demand_class(adi, cv2, adi_cut=rules.adi_cut, cv2_cut=rules.cv2_cut),
            }
        )
    out = pd.DataFrame(rows, columns=["sku", "total_qty", "cv", "adi", "cv2", "demand_class"])
    out["weeks"] = window_weeks
    out["total_value"] = value.to_numpy(dtype=float)
    total = math.fsum(out["total_value"])  # exactly rounded: independent of the order
    out["value_share"] = out["total_value"] / total if total > 0 else 0.0
    out["abc_class"] = abc_classes(out.set_index("sku")["total_value"], rules.abc_cuts).to_numpy()
    cv = out.set_index("sku")["cv"]
    # An item without demand has no CV: it is the least forecastable, Z.
    out["xyz_class"] = np.where(cv.isna(), "Z", xyz_classes(cv.fillna(0.0), rules.xyz_cuts)).astype(object)
    out["as_of_date"] = as_of
    return out[PRODUCT_COLUMNS]


def product_classes_for_day(
    con: DuckDBPyConnection,
    day: date,
    rules: ProductClassesConfig,
    quantity: str,
    same_week: dict[tuple, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Read the marts for ``day`` and build its product_classes rows (``quantity``:
    the forecast quantity column, forecasting.quantity). ``same_week``: the rows of an
    earlier day of the run with the same last complete week and SKUs, by that key
    (filled here): the classes of the days of a week are the same but for as_of_date,
    they read the same complete weeks."""
    window_weeks = rules.window_weeks
    last = last_complete_week_start(day)
    first = last - timedelta(weeks=window_weeks - 1)
    skus = [
        row[0]
        for row in con.execute(
            "select distinct sku from marts.products where as_of_date = ? order by sku", [day]
        ).fetchall()
    ]
    key = (last, tuple(skus))
    if same_week is not None and key in same_week:
        return same_week[key].assign(as_of_date=day)
    # sums over DECIMAL (quantities and amounts in the marts): exact, whatever the order
    weekly = con.execute(
        f"""select d.sku, d.week_start, sum(d.{quantity})::double as qty, coalesce(v.value, 0)::double as value
            from marts.customer_sku_weekly_demand d
            left join (select sku, week_start, sum(line_amount) as value from marts.order_lines
                       where week_start between ? and ? group by all) v using (sku, week_start)
            where d.week_start between ? and ? group by d.sku, d.week_start, v.value
            order by d.sku, d.week_start""",
        [first, last, first, last],
    ).df()
    rows = build_product_classes(weekly, skus, day, rules)
    if same_week is not None:
        same_week.clear()  # a run goes day by day: only the current week is asked again
        same_week[key] = rows
    return rows


# --------------------------------------------------------------------------- summaries


def segments_summary(con: DuckDBPyConnection, day: date) -> dict[str, Any]:
    """What a run reports about ``day``'s customer_segments: segments and lifecycle counts."""
    states = con.execute(
        """select lifecycle_state, count(*) from analytics.customer_segments
           where as_of_date = ? group by 1 order by 1""",
        [day],
    ).fetchall()
    segments = con.execute(
        "select count(distinct segment_id) from analytics.customer_segments where as_of_date = ?", [day]
    ).fetchone()
    return {"segments": segments[0] if segments else 0, "lifecycle": dict(states)}


def demand_class_counts(con: DuckDBPyConnection, day: date) -> dict[str, int]:
    """SKUs per demand class on ``day`` (product_classes)."""
    rows = con.execute(
        "select demand_class, count(*) from analytics.product_classes where as_of_date = ? group by 1 order by 1",
        [day],
    ).fetchall()
    return dict(rows)
