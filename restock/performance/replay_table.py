"""``analytics.replenishment_replay``: per ``as_of_date`` D, the last ``kpis.replay_weeks``
weeks ending on D replayed as if the plan's purchase orders had been placed
(:mod:`restock.performance.replay`: the day order, lost sales, the arrival day and the
start stock are stated there), beside what actually happened. Per warehouse × SKU, per
warehouse and in total.

What is read (nothing dated after D): the daily plan (``analytics.replenishment_plan``:
policy, reorder point, order-up-to, lead time, case and MOQ; ``is_active``, so a
delisted SKU orders nothing unless ``replenishment.order_inactive_products``), the
demand = the quantity requested on the order lines of the warehouse's customers (the
customer's region on the order date, as in :mod:`restock.performance.kpis`), the actual
end-of-day stock (``marts.inventory_positions``: a SKU missing from a day's snapshot
holds 0, a day without a snapshot of the warehouse is unknown) and the actual on hand
and in transit at the end of the day before the window (the replay's start). Actual
supplied = the quantity confirmed on the same order lines. Values at the SKU's unit
cost on D.

A key takes part when it had a plan row or a request in the window. A plan younger
than the window (the first weeks of a history) is replayed from its first day:
``window_start`` says where the replay began.

Only the days a run can publish are replayed: the last ``publishing.retain_days`` of
the run's days (a daily run: its day). Each day replays its own 13 weeks from the
actual stock at their start (≈ 0.2 s a demo day, two-thirds of it the day loop of the
simulation), so a two-year backfill would spend ~2 min on days it never publishes;
a day re-run later is replayed then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.config import RestockConfig
from restock.performance.kpis import EXACT, warehouse_lines
from restock.performance.replay import replay_frame

log = logging.getLogger(__name__)

TABLE = "replenishment_replay"
COLUMNS = table_registry.columns(TABLE)
KEY = ["warehouse_id", "sku"]
# summed over keys on the warehouse and total rows (the ratios are recomputed)
ADDITIVE = (
    "demand_qty",
    "demand_days",
    "plan_days",
    "actual_supplied_qty",
    "actual_stockout_days",
    "actual_avg_on_hand_qty",
    "actual_avg_inventory_value",
    "plan_supplied_qty",
    "plan_stockout_days",
    "plan_avg_on_hand_qty",
    "plan_avg_inventory_value",
    "plan_orders",
    "plan_ordered_qty",
    "plan_end_on_hand_qty",
    "start_on_hand_qty",
    "start_in_transit_qty",
)


def ensure_table(con: DuckDBPyConnection) -> None:
    table_registry.ensure_tables(con, {TABLE: COLUMNS})


def read_daily(con: DuckDBPyConnection, start: date, last: date, config: RestockConfig) -> pd.DataFrame:
    """One row per warehouse × SKU × day of ``start .. last`` (every key seen in the
    range has every day): demand_qty, supplied_qty, the plan columns (null without a
    plan row), order_allowed, actual_on_hand_qty, in_transit_qty and unit_cost."""
    warehouse_lines(con, "_replay_lines", start, last, config)
    ordering_inactive = "true" if config.replenishment.order_inactive_products else "false"
    frame = con.execute(
        f"""with demand as (
            select warehouse_id, sku, day, sum(requested)::double as demand_qty, sum(supplied)::double as supplied_qty
            from _replay_lines group by all
        ),
        plan as (
            select warehouse_id, sku, as_of_date as day, policy, reorder_point, order_up_to, lead_time_days,
                   units_per_case, moq_cases, (is_active or {ordering_inactive}) as order_allowed
            from analytics.replenishment_plan where as_of_date between $start and $last
        ),
        stock as (
            select warehouse_id, sku, as_of_date as day, on_hand_qty::{EXACT}::double as on_hand,
                   in_transit_qty::{EXACT}::double as in_transit
            from marts.inventory_positions where as_of_date between $start and $last
        ),
        snapshots as (select distinct warehouse_id, day from stock),
        keys as (
            select distinct warehouse_id, sku from (
                select warehouse_id, sku from demand union all select warehouse_id, sku from plan
                union all select warehouse_id, sku from stock
            )
        ),
        grid as (
            select k.warehouse_id, k.sku, d.day::date as day
            from keys k, range($start::timestamp, $last::timestamp + interval 1 day, interval 1 day) d(day)
        )
        select g.warehouse_id, g.sku, g.day,
               coalesce(d.demand_qty, 0) as demand_qty, coalesce(d.supplied_qty, 0) as supplied_qty,
               p.policy, p.reorder_point, p.order_up_to, p.lead_time_days, p.units_per_case, p.moq_cases,
               p.order_allowed,
               case when s.on_hand is not null then s.on_hand when n.day is not null then 0 end as actual_on_hand_qty,
               case when s.in_transit is not null then s.in_transit when n.day is not null then 0 end
                   as in_transit_qty,
               pr.unit_cost_amount::double as unit_cost
        from grid g
        left join demand d using (warehouse_id, sku, day)
        left join plan p using (warehouse_id, sku, day)
        left join stock s using (warehouse_id, sku, day)
        left join snapshots n using (warehouse_id, day)
        left join marts.products pr on pr.sku = g.sku and pr.as_of_date = g.day
        order by g.warehouse_id, g.sku, g.day""",
        {"start": start, "last": last},
    ).df()
    con.execute("drop table if exists _replay_lines")
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def replay_day(daily: pd.DataFrame, day: date, config: RestockConfig) -> pd.DataFrame:
    """The replay rows of ``day`` (:data:`COLUMNS`) from :func:`read_daily`'s frame,
    which must cover the window and the day before it."""
    weeks = config.kpis.replay_weeks
    window_start = day - timedelta(days=7 * weeks - 1)
    window = daily[(daily["day"] >= window_start) & (daily["day"] <= day)]
    planned = window.loc[window["policy"].notna(), "day"]
    if planned.empty:
        return pd.DataFrame(columns=COLUMNS)
    # A plan younger than the window is replayed from its first day (before it nothing
    # would have been ordered, and the replay would only show the stock running down).
    window_start = max(window_start, planned.min())
    window = window[window["day"] >= window_start]
    before = window_start - timedelta(days=1)
    active = window.groupby(KEY, sort=False).agg(
        demand=("demand_qty", "sum"), plans=("policy", "count"), supplied=("supplied_qty", "sum")
    )
    active = active[(active["demand"] > 0) | (active["plans"] > 0)]
    if active.empty:
        return pd.DataFrame(columns=COLUMNS)
    keys = active.index
    window = window.set_index(KEY).loc[keys].reset_index()
    start = daily[daily["day"] == before].set_index(KEY).reindex(keys)
    start = pd.DataFrame(
        {
            "warehouse_id": keys.get_level_values(0),
            "sku": keys.get_level_values(1),
            "start_on_hand_qty": start["actual_on_hand_qty"].fillna(0.0).to_numpy(),
            "start_in_transit_qty": start["in_transit_qty"].fillna(0.0).to_numpy(),
        }
    )
    summary = replay_frame(window, start, config.replenishment.review_period_days).set_index(KEY)
    cost = daily[daily["day"] == day].set_index(KEY)["unit_cost"].reindex(summary.index).to_numpy(dtype=float)
    rows = pd.DataFrame(
        {
            "demand_qty": summary["demand_qty"],
            "demand_days": summary["demand_days"],
            "plan_days": summary["plan_days"],
            "actual_supplied_qty": active["supplied"].reindex(summary.index),
            "actual_stockout_days": summary["actual_stockout_days"],
            "actual_avg_on_hand_qty": summary["actual_avg_on_hand_qty"],
            "actual_avg_inventory_value": summary["actual_avg_on_hand_qty"] * cost,
            "plan_supplied_qty": summary["plan_served_qty"],
            "plan_stockout_days": summary["plan_stockout_days"],
            "plan_avg_on_hand_qty": summary["plan_avg_on_hand_qty"],
            "plan_avg_inventory_value": summary["plan_avg_on_hand_qty"] * cost,
            "plan_orders": summary["plan_orders"],
            "plan_ordered_qty": summary["plan_ordered_qty"],
            "plan_end_on_hand_qty": summary["plan_end_on_hand_qty"],
            "start_on_hand_qty": summary["start_on_hand_qty"],
            "start_in_transit_qty": summary["start_in_transit_qty"],
        },
        index=summary.index,
    ).reset_index()
    rows["level"], rows["key"] = "warehouse_sku", rows["warehouse_id"] + "|" + rows["sku"]
    warehouses = rows.groupby("warehouse_id", as_index=False)[list(ADDITIVE)].sum(min_count=1)
    warehouses["level"], warehouses["key"], warehouses["sku"] = "warehouse", warehouses["warehouse_id"], None
    total = rows[list(ADDITIVE)].sum(min_count=1).to_frame().T
    total["level"], total["key"], total["warehouse_id"], total["sku"] = "total", "all", None, None
    out = pd.concat([rows, warehouses, total], ignore_index=True)
    out["as_of_date"], out["replay_weeks"], out["window_start"] = day, weeks, window_start
    demand = out["demand_qty"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["actual_fill_rate"] = np.where(
            demand > 0, out["actual_supplied_qty"].to_numpy(dtype=float) / demand, np.nan
        )
        out["plan_fill_rate"] = np.where(demand > 0, out["plan_supplied_qty"].to_numpy(dtype=float) / demand, np.nan)
        actual = out["actual_avg_on_hand_qty"].to_numpy(dtype=float)
        out["avg_on_hand_change"] = np.where(
            actual > 0, out["plan_avg_on_hand_qty"].to_numpy(dtype=float) / actual - 1.0, np.nan
        )
    for column in ("actual_avg_inventory_value", "plan_avg_inventory_value"):
        out[column] = out[column].astype(float).round(2)
    return out[COLUMNS]


def days_to_replay(days: Sequence[date], retain_days: int) -> list[date]:
    """The days of a run that can be published: its last ``retain_days`` days."""
    if not days:
        return []
    first_kept = max(days) - timedelta(days=retain_days - 1)
    return sorted({day for day in days if day >= first_kept})


def run_replay_days(
    con: DuckDBPyConnection,
    days: Sequence[date],
    config: RestockConfig,
    progress: Callable[[int, date], None] | None = None,
) -> int:
    """Replay and replace each of :func:`days_to_replay` of ``days`` (one transaction at
    the end); returns rows written."""
    wanted = days_to_replay(days, config.publishing.retain_days)
    if not wanted:
        return 0
    ensure_table(con)
    start = wanted[0] - timedelta(days=7 * config.kpis.replay_weeks)  # the day before the first window
    daily = read_daily(con, start, wanted[-1], config)
    frames = []
    for i, day in enumerate(wanted, 1):
        frames.append(replay_day(daily, day, config))
        if progress is not None:
            progress(i, day)
    frames = [f for f in frames if len(f)]  # days without a plan in their window have no rows
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from analytics.{TABLE} where as_of_date in (select unnest(?::date[]))", [wanted])
        if len(frame):
            con.register("_replay_rows", frame)
            con.execute(
                f"insert into analytics.{TABLE} ({', '.join(COLUMNS)}) select {', '.join(COLUMNS)} from _replay_rows "
                "order by as_of_date, level, key"
            )
            con.unregister("_replay_rows")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(frame)
