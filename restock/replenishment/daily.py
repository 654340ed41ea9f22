"""The daily replenishment tables: ``replenishment_plan``, ``customer_order_suggestions``
and ``inventory_alerts`` (issue 4), for one as-of day ``D``.

Plain Python, no Dagster import: :func:`build_replenishment` reads the warehouse on
``D`` and returns the rows of the three tables; :func:`write_replenishment` writes
them to ``analytics.<table>`` keyed by ``as_of_date`` (a re-run of a day replaces the
day of each table in one transaction, :func:`restock.segmentation.daily.replace_day`).
The rules live in the pure modules :mod:`restock.replenishment.policy`,
:mod:`restock.replenishment.allocation` and :mod:`restock.replenishment.alerts`; this
module reads, assembles and writes. Business numbers come from the ``replenishment``
section of restock.yaml (:func:`replenishment_settings`; a key left out takes the
pure module's default).

Inputs on ``D`` (point in time: nothing dated after ``D`` is read). A missing table,
or a table with no row for ``D``, raises ``ValueError`` naming it:

- ``analytics.forecast_runs`` (the day's forecast origin) and the view
  ``analytics.demand_forecasts`` (level ``customer``) behind it;
- ``analytics.customer_segments`` (region, tier, customer_status, lifecycle_state);
- ``marts.customers`` (order_weekday; null allowed);
- ``analytics.product_classes`` (abc_class);
- ``marts.products`` (lead_time_days, lead_time_std_days, units_per_case, moq_cases,
  unit_cost_amount, shelf_life_days, launched_on, is_active);
- ``marts.inventory_positions`` (on_hand_qty, in_transit_qty, allocated_qty,
  oldest_batch_date);
- ``analytics.segment_forecasts`` × ``analytics.customer_forecast_shares`` (past
  horizon-1 forecasts, for the error std), ``marts.customer_sku_weekly_demand`` and
  ``marts.order_lines`` (past demand; may be empty).

Decisions (the exact rules):

1. **Customer → warehouse.** The input contract has no such link. A customer is
   served by ``region_warehouse[region]`` with its region from
   ``analytics.customer_segments`` on ``D``; a region not in the map goes to
   ``default_warehouse``; when that is null the customer is left out of the demand,
   the suggestions and the demand history, and counted (``unmapped_customers`` frame
   and a log warning). The map on ``D`` is applied to all past data too (a customer
   moved between regions counts fully at its warehouse of ``D``).

2. **Demand mean per warehouse × SKU: the demand of the days after ``D``.** The
   customer-level forecasts of ``D`` (``demand_forecasts``, level ``customer``,
   ``as_of_date = D``: segment forecast × customer share of the day's origin,
   horizons ``1..horizon_weeks``). Horizon 1 is the first week not complete on the
   forecast origin: on a mid-week ``D`` it is the *current* week, part of which is
   past; the orders of its past days (and of ``D`` itself) are already in the stock
   figures (shipped, or in ``allocated_qty``), so they are not demand after ``D``.
   The window is ``W = max(T, 1)`` days after ``D`` (``D + 1 .. D + W``; ``T`` the
   protection interval: ``R + L`` for periodic review, ``L`` for min–max and
   continuous review, ``L`` the SKU's lead time), cut at the end of the last
   forecast week. Window demand = Σ over the warehouse's customers and forecast weeks
   of ``forecast_qty × share``, the share of that week's forecast falling in the
   window (:func:`restock.replenishment.cycles.window_shares`): 1 if the customer's
   order day that week (``marts.customers.order_weekday`` on ``D``) is in the
   window, else 0; without an order weekday, days of the week in the window ÷ 7.
   ``daily_demand_mean`` = window demand ÷ window days (so ``d·T`` is the window
   demand); ``weekly_forecast_qty`` = 7 × that daily mean (the weekly rate used);
   ``forecast_weeks`` = the number of forecast weeks the window touches. On a
   forecast origin (Sunday) with ``T`` a whole number of weeks this is the mean of
   the first ``T / 7`` weekly forecasts ÷ 7.

3. **Demand std per warehouse × SKU.** The RMSE of the warehouse's own horizon-1
   forecast errors over the accuracy review window: the weeks ``W`` of the
   ``accuracy.window_weeks`` complete weeks ending with the last complete week on
   ``D`` that have a horizon-1 forecast from an origin ≤ ``D``; per week, forecast =
   Σ over the warehouse's customers of segment forecast × customer share (that
   origin's shares), actual = Σ of ``forecasting.quantity`` (requested cartons) of
   the warehouse's customers that week (all of them: a customer the forecast did not
   cover is a real error for the warehouse's stock). ``RMSE = √(Σ_w e_w² / |W|)``, a
   week without a forecast or demand row counting as e = forecast or −actual (0 when
   both are missing). Weekly → daily with ``daily_demand_from_period`` (÷ √7). When
   ``|W| < min_error_weeks`` (the first weeks of history) the std comes from the
   horizon-1 forecast interval instead: ``(upper − lower) / (2·Φ⁻¹((1 + level)/2))``
   with ``level`` = ``forecasting.interval_level``, summed over the warehouse's
   customers (exact within a segment, conservative across segments). Why this: it
   measures the error of the quantity the plan is sized on, at the plan's grain, and
   needs no distributional assumption about the models.

4. **Plan rows** = the warehouse × SKU rows of ``marts.inventory_positions`` on ``D``
   plus every warehouse × SKU with a positive forecast (on hand 0). A forecast SKU
   absent from ``marts.products`` on ``D`` is dropped and counted (no lead time); an
   inventory SKU absent from it is an error. Service level from the SKU's
   ``abc_class`` on ``D`` via ``service_levels`` (no class → ``unclassified_service_level``).
   Lead time, its std, case pack, MOQ and unit cost from ``marts.products`` on ``D``.
   A SKU that is not active on ``D`` (``is_active`` false: delisted or not launched)
   gets ``recommended_order_qty = 0`` when ``order_inactive_products`` is false (the
   default): the rest of its row (levels, days of supply, alerts) stays.

5. **Customer order suggestions.** Customers with ``customer_status = 'active'`` and
   ``lifecycle_state`` not ``churned``/``closed`` on ``D``, mapped to a warehouse;
   their forecast for their *next* order cycle after ``D``
   (:func:`restock.replenishment.cycles.next_cycle_date`: the first
   ``order_weekday`` strictly after ``D``; ``cycle_start`` = that date, the forecast
   = the customer forecast of the week containing it; without an order weekday, the
   first forecast week starting after ``D``, ``cycle_start`` = its ``period_start``)
   with ``forecast_qty > 0``, rounded by
   :func:`restock.replenishment.allocation.customer_order_suggestions`
   (``suggestion_rounding``). Then per warehouse × SKU,
   :func:`restock.replenishment.allocation.allocate` with the customer's ``tier``
   (null → 1) and ``available_qty = max(on_hand + in_transit − allocated, 0)`` of
   the warehouse on ``D`` (without ``in_transit`` when
   ``allocation.available_includes_in_transit`` is false; 0 when the warehouse holds
   no row for the SKU). ``allocate`` leaves a SKU whose suggestions fit untouched
   ("unconstrained").

6. **Alerts** = :func:`restock.replenishment.alerts.inventory_alerts` on the plan
   (no stockout_risk / below_safety_stock alert where ``daily_demand_mean`` <
   ``alerts.min_daily_demand``) with ``oldest_batch_date`` (inventory), ``shelf_life_days`` (products) and
   ``weeks_since_last_demand`` = (D − last ``order_date`` ≤ D with
   ``forecasting.quantity`` > 0 among the warehouse's customers) / 7; a SKU never
   ordered at the warehouse counts from the later of the warehouse's first order
   line and the SKU's ``launched_on`` (no order line at all: null, no dead-stock
   alert).

Output columns: :data:`PLAN_COLUMNS`, :data:`SUGGESTION_COLUMNS`, :data:`ALERT_COLUMNS`.
``days_of_supply`` is ``inf`` where stock is held without forecast demand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from restock.calendar import last_complete_week_start
from restock.replenishment import alerts as alerts_mod
from restock.replenishment import allocation as alloc
from restock.replenishment import cycles
from restock.replenishment import policy
from restock.warehouse import replace_day

log = logging.getLogger(__name__)

DAYS_PER_WEEK = 7.0
DEFAULT_MIN_ERROR_WEEKS = 4
INACTIVE_LIFECYCLE = ("churned", "closed")

PLAN_COLUMNS = [
    "as_of_date", *policy.PLAN_COLUMNS, "abc_class", "units_per_case", "moq_cases", "unit_cost",
    "is_active", "forecast_weeks", "weekly_forecast_qty", "weekly_error_std", "error_basis", "customers",
]
SUGGESTION_COLUMNS = [
    "as_of_date", "warehouse_id", "customer_id", "sku", "cycle_start", "tier", "forecast_qty",
    "suggested_qty", "allocated_qty", "allocation_rule",
]
ALERT_COLUMNS = ["as_of_date", *alerts_mod.ALERT_COLUMNS]
TABLES = {
    "replenishment_plan": PLAN_COLUMNS,
    "customer_order_suggestions": SUGGESTION_COLUMNS,
    "inventory_alerts": ALERT_COLUMNS,
}

DDL = [
    """create table if not exists analytics.replenishment_plan (
        as_of_date date not null, warehouse_id varchar not null, sku varchar not null,
        on_hand_qty double, in_transit_qty double, allocated_qty double, inventory_position double,
        daily_demand_mean double, daily_demand_std double, lead_time_days double, lead_time_std_days double,
        service_level double, safety_stock double, reorder_point double, order_up_to double,
        recommended_order_qty bigint, days_of_supply double, policy varchar, abc_class varchar,
        units_per_case double, moq_cases double, unit_cost double, is_active boolean, forecast_weeks integer,
        weekly_forecast_qty double, weekly_error_std double, error_basis varchar, customers integer)""",
    """create table if not exists analytics.customer_order_suggestions (
        as_of_date date not null, warehouse_id varchar not null, customer_id varchar not null,
        sku varchar not null, cycle_start date, tier integer, forecast_qty double, suggested_qty bigint,
        allocated_qty bigint, allocation_rule varchar)""",
    """create table if not exists analytics.inventory_alerts (
        as_of_date date not null, warehouse_id varchar not null, sku varchar not null,
        alert_type varchar not null, severity varchar not null, value double, threshold double,
        on_hand_qty double, detail varchar)""",
]


def ensure_tables(con) -> None:
    con.execute("create schema if not exists analytics")
    for ddl in DDL:
        con.execute(ddl)


# --------------------------------------------------------------------------- settings


def replenishment_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``replenishment`` section with defaults, plus the forecasting keys used."""
    rep = dict(config.get("replenishment") or {})
    alloc_cfg = dict(rep.get("allocation") or {})
    alert_cfg = dict(rep.get("alerts") or {})
    fc = config.get("forecasting") or {}
    acc = config.get("accuracy") or {}
    weights = alloc_cfg.get("tier_weights")
    return {
        "region_warehouse": dict(rep.get("region_warehouse") or {}),
        "default_warehouse": rep.get("default_warehouse"),
        "policy": rep.get("policy", policy.DEFAULT_POLICY),
        "review_period_days": float(rep.get("review_period_days", policy.DEFAULT_REVIEW_PERIOD_DAYS)),
        "service_levels": dict(rep.get("service_levels") or policy.DEFAULT_SERVICE_LEVELS),
        "unclassified_service_level": float(
            rep.get("unclassified_service_level", policy.DEFAULT_UNCLASSIFIED_SERVICE_LEVEL)
        ),
        "ordering_cost": float(rep.get("ordering_cost", policy.DEFAULT_ORDERING_COST)),
        "holding_cost_rate": float(rep.get("holding_cost_rate", policy.DEFAULT_HOLDING_COST_RATE)),
        "min_error_weeks": int(rep.get("min_error_weeks", DEFAULT_MIN_ERROR_WEEKS)),
        "order_inactive_products": bool(rep.get("order_inactive_products", False)),
        "suggestion_rounding": rep.get("suggestion_rounding", alloc.DEFAULT_SUGGESTION_ROUNDING),
        "allocation": {
            "rule": alloc_cfg.get("rule", alloc.DEFAULT_RULE),
            "rules_by_sku": dict(alloc_cfg.get("rules_by_sku") or {}),
            "tier_weights": {int(k): float(v) for k, v in weights.items()} if weights else alloc.DEFAULT_TIER_WEIGHTS,
            "cap_qty": _tier_map(alloc_cfg.get("cap_qty")),
            "min_qty": _tier_map(alloc_cfg.get("min_qty")),
            "fixed_qty": alloc_cfg.get("fixed_qty"),
        },
        "available_includes_in_transit": bool(alloc_cfg.get("available_includes_in_transit", True)),
        "overstock_days": float(alert_cfg.get("overstock_days", alerts_mod.DEFAULT_OVERSTOCK_DAYS)),
        "expiry_warning_days": float(alert_cfg.get("expiry_warning_days", alerts_mod.DEFAULT_EXPIRY_WARNING_DAYS)),
        "dead_stock_weeks": float(alert_cfg.get("dead_stock_weeks", alerts_mod.DEFAULT_DEAD_STOCK_WEEKS)),
        "min_daily_demand": float(alert_cfg.get("min_daily_demand", alerts_mod.DEFAULT_MIN_DAILY_DEMAND)),
        "quantity": fc.get("quantity", "requested_qty"),
        "horizon_weeks": int(fc.get("horizon_weeks", 8)),
        "interval_level": float(fc.get("interval_level", 0.8)),
        "error_window_weeks": int(acc.get("window_weeks", 13)),
    }


def _tier_map(value):
    if isinstance(value, Mapping):
        return {int(k): int(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- reading


def _relation_exists(con, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def _require_day(con, table: str, column: str, day: date, hint: str = "") -> None:
    if not _relation_exists(con, table):
        raise ValueError(f"{table} does not exist: it is needed for the replenishment of {day}{hint}")
    if not con.execute(f"select count(*) from {table} where {column} = ?", [day]).fetchone()[0]:
        raise ValueError(f"{table} has no row with {column} = {day}{hint}")


def _require_table(con, table: str, day: date) -> None:
    if not _relation_exists(con, table):
        raise ValueError(f"{table} does not exist: it is needed for the replenishment of {day}")


def _customers(con, day: date, settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers of ``day`` with their warehouse; and the unmapped ones."""
    frame = con.execute(
        """select s.customer_id, s.region, s.tier, s.customer_status, s.lifecycle_state,
                  m.order_weekday::double as order_weekday
           from analytics.customer_segments s
           left join marts.customers m on m.customer_id = s.customer_id and m.as_of_date = s.as_of_date
           where s.as_of_date = ?""",
        [day],
    ).df()
    mapping = settings["region_warehouse"]
    frame["warehouse_id"] = frame["region"].map(mapping).astype(object)
    default = settings["default_warehouse"]
    if default is not None:
        frame["warehouse_id"] = frame["warehouse_id"].fillna(default)
    unmapped = frame[frame["warehouse_id"].isna()][["customer_id", "region"]].reset_index(drop=True)
    if len(unmapped):
        log.warning(
            "%s: %d customers in regions without a warehouse (%s) left out of the replenishment",
            day, len(unmapped), sorted(unmapped["region"].fillna("<null>").unique())[:10],
        )
    return frame[frame["warehouse_id"].notna()].reset_index(drop=True), unmapped


def _customer_forecasts(con, day: date, customers: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    """The day's customer forecasts summed per warehouse × SKU × week × order weekday
    (all the plan needs: the window share depends on nothing else), with the summed
    width of the forecast intervals (``spread_qty``, upper − lower, floored at 0)."""
    con.register("_rep_customers", customers[["customer_id", "warehouse_id", "order_weekday"]])
    try:
        return con.execute(
            """select c.warehouse_id, f.sku, f.horizon, f.period_start, c.order_weekday,
                      sum(f.forecast_qty) as forecast_qty, sum(greatest(f.upper_qty - f.lower_qty, 0)) as spread_qty
               from analytics.demand_forecasts f join _rep_customers c using (customer_id)
               where f.as_of_date = ? and f.level = 'customer' and f.horizon <= ?
               group by all""",
            [day, horizon_weeks],
        ).df()
    finally:
        con.unregister("_rep_customers")


def _next_cycle_forecasts(con, day: date, customers: pd.DataFrame, horizon_weeks: int) -> pd.DataFrame:
    """Each customer's forecast rows (``forecast_qty > 0``) for its next order cycle after
    ``day`` (decision 5), with ``cycle_start``: the week containing the customer's
    next cycle date, or, without an order weekday, the first week starting after ``day``."""
    frame = customers[["customer_id", "warehouse_id"]].assign(
        next_cycle=cycles.next_cycle_dates(day, customers["order_weekday"].to_numpy(dtype=float))
    )
    con.register("_rep_customers", frame)
    try:
        return con.execute(
            """select c.warehouse_id, f.customer_id, f.sku,
                      coalesce(c.next_cycle::date, f.period_start) as cycle_start, f.forecast_qty
               from analytics.demand_forecasts f join _rep_customers c using (customer_id)
               where f.as_of_date = ? and f.level = 'customer' and f.horizon <= ? and f.forecast_qty > 0
                 and case when c.next_cycle is null then f.period_start > ?::date and f.period_start <= ?::date + 7
                          else c.next_cycle::date between f.period_start and f.period_start + 6 end""",
            [day, horizon_weeks, day, day],
        ).df()
    finally:
        con.unregister("_rep_customers")


def _error_std(con, day: date, customers: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, int]:
    """Weekly RMSE of horizon-1 errors per warehouse × SKU, and the number of weeks."""
    last = last_complete_week_start(day)
    first = last - timedelta(weeks=settings["error_window_weeks"] - 1)
    quantity = settings["quantity"]
    con.register("_rep_customers", customers[["customer_id", "warehouse_id"]])
    try:
        frame = con.execute(
            f"""
            with fc as (
                select c.warehouse_id, f.sku, f.period_start, sum(f.forecast_qty * s.share) as forecast_qty
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
                   sum(power(coalesce(fc.forecast_qty, 0) - coalesce(a.actual_qty, 0), 2)) as sse
            from fc full outer join actual a using (warehouse_id, sku, period_start)
            group by all
            """,
            [first, last, day, first, last, day],
        ).df()
        n_weeks = con.execute(
            """select count(distinct period_start) from analytics.segment_forecasts
               where horizon = 1 and period_start between ? and ? and forecast_origin <= ?""",
            [first, last, day],
        ).fetchall()[0][0]  # fetchall: a pending fetchone result blocks unregister
    finally:
        con.unregister("_rep_customers")
    frame["weekly_error_std"] = np.sqrt(frame["sse"] / n_weeks) if n_weeks else np.nan
    return frame[["warehouse_id", "sku", "weekly_error_std"]], int(n_weeks)


def _last_demand(con, day: date, customers: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    quantity = settings["quantity"]
    con.register("_rep_customers", customers[["customer_id", "warehouse_id"]])
    try:
        last = con.execute(
            f"""select c.warehouse_id, o.sku, max(o.order_date) as last_demand_date
                from marts.order_lines o join _rep_customers c using (customer_id)
                where o.order_date <= ? and o.{quantity} > 0 group by all""",
            [day],
        ).df()
        first = con.execute(
            """select c.warehouse_id, min(o.order_date) as first_order_date
               from marts.order_lines o join _rep_customers c using (customer_id)
               where o.order_date <= ? group by all""",
            [day],
        ).df()
    finally:
        con.unregister("_rep_customers")
    return last, first


# --------------------------------------------------------------------------- building


def build_replenishment(con, day: date, config: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The rows of the three tables for ``day`` (see the module docstring).

    Returns ``{"replenishment_plan", "customer_order_suggestions", "inventory_alerts",
    "unmapped_customers"}``; the first three carry ``as_of_date``; the last lists the
    customers left out (customer_id, region) and is not written.
    """
    settings = replenishment_settings(config)
    _require_day(con, "analytics.forecast_runs", "as_of_date", day, " (the forecasts were not run for this day)")
    _require_table(con, "analytics.demand_forecasts", day)
    _require_day(con, "analytics.customer_segments", "as_of_date", day)
    _require_day(con, "marts.customers", "as_of_date", day)
    _require_day(con, "analytics.product_classes", "as_of_date", day)
    _require_day(con, "marts.products", "as_of_date", day)
    _require_day(con, "marts.inventory_positions", "as_of_date", day)
    for table in ("analytics.segment_forecasts", "analytics.customer_forecast_shares",
                  "marts.customer_sku_weekly_demand", "marts.order_lines"):
        _require_table(con, table, day)

    customers, unmapped = _customers(con, day, settings)
    forecasts = _customer_forecasts(con, day, customers, settings["horizon_weeks"])
    inventory = con.execute(
        """select warehouse_id, sku, on_hand_qty::double as on_hand_qty, in_transit_qty::double as in_transit_qty,
                  allocated_qty::double as allocated_qty, oldest_batch_date
           from marts.inventory_positions where as_of_date = ?""",
        [day],
    ).df()
    products = con.execute(
        """select p.sku, p.lead_time_days::double as lead_time_days, p.lead_time_std_days::double as lead_time_std_days,
                  p.units_per_case::double as units_per_case, p.moq_cases::double as moq_cases,
                  p.unit_cost_amount::double as unit_cost, p.shelf_life_days::double as shelf_life_days,
                  p.launched_on, p.is_active, c.abc_class
           from marts.products p
           left join (select sku, abc_class from analytics.product_classes where as_of_date = ?) c using (sku)
           where p.as_of_date = ?""",
        [day, day],
    ).df()

    plan = _plan(day, settings, customers, forecasts, inventory, products, con)
    suggestions = _suggestions(con, day, settings, customers, inventory)
    alerts = alerts_mod.inventory_alerts(
        plan,
        as_of_date=day,
        overstock_days=settings["overstock_days"],
        expiry_warning_days=settings["expiry_warning_days"],
        dead_stock_weeks=settings["dead_stock_weeks"],
        min_daily_demand=settings["min_daily_demand"],
    )
    alerts.insert(0, "as_of_date", day)
    return {
        "replenishment_plan": plan[PLAN_COLUMNS],
        "customer_order_suggestions": suggestions[SUGGESTION_COLUMNS],
        "inventory_alerts": alerts[ALERT_COLUMNS],
        "unmapped_customers": unmapped,
    }


def _plan(day, settings, customers, forecasts, inventory, products, con) -> pd.DataFrame:
    known = set(products["sku"])
    missing = sorted(set(inventory["sku"]) - known)
    if missing:
        raise ValueError(
            f"marts.products has no row on {day} for sku {missing[:5]} held in marts.inventory_positions "
            "(lead time unknown)"
        )
    weekly = forecasts.groupby(["warehouse_id", "sku", "horizon"], as_index=False)["forecast_qty"].sum()
    demanded = weekly.loc[weekly["forecast_qty"] > 0, ["warehouse_id", "sku"]].drop_duplicates()
    dropped = sorted(set(demanded["sku"]) - known)
    if dropped:
        log.warning("%s: %d forecast SKUs without a marts.products row dropped from the plan: %s",
                    day, len(dropped), dropped[:5])
    demanded = demanded[demanded["sku"].isin(known)]
    grid = inventory.merge(demanded, on=["warehouse_id", "sku"], how="outer")
    for column in ("on_hand_qty", "in_transit_qty", "allocated_qty"):
        grid[column] = grid[column].fillna(0.0)
    grid = grid.merge(products, on="sku", how="left")

    # Demand mean: the forecast demand of the window of days after D (decision 2).
    grid = grid.merge(_window_demand(day, settings, forecasts, products), on=["warehouse_id", "sku"], how="left")
    window = _window_days(day, settings, forecasts, grid["lead_time_days"])
    grid["forecast_weeks"] = window["weeks"]
    grid["weekly_forecast_qty"] = (
        np.maximum(grid["window_demand"].fillna(0.0).to_numpy() / window["days"], 0.0) * DAYS_PER_WEEK
    )
    grid = grid.drop(columns="window_demand")

    # Demand spread: RMSE of past horizon-1 errors, or the forecast interval.
    errors, n_weeks = _error_std(con, day, customers, settings)
    if n_weeks >= settings["min_error_weeks"]:
        grid = grid.merge(errors, on=["warehouse_id", "sku"], how="left")
        grid["weekly_error_std"] = grid["weekly_error_std"].fillna(0.0)
        grid["error_basis"] = f"rmse_h1_{n_weeks}w"
    else:
        z = norm.ppf((1 + settings["interval_level"]) / 2)
        h1 = forecasts[forecasts["horizon"] == 1]
        spread = (h1["spread_qty"] / (2 * z)).groupby(
            [h1["warehouse_id"], h1["sku"]]).sum().rename("weekly_error_std").reset_index()
        grid = grid.merge(spread, on=["warehouse_id", "sku"], how="left")
        grid["weekly_error_std"] = grid["weekly_error_std"].fillna(0.0)
        grid["error_basis"] = "interval_h1"
    daily = [policy.daily_demand_from_period(m, s, DAYS_PER_WEEK)
             for m, s in zip(grid["weekly_forecast_qty"], grid["weekly_error_std"], strict=True)]
    grid["daily_demand_mean"] = [d for d, _ in daily]
    grid["daily_demand_std"] = [s for _, s in daily]

    plan = policy.replenishment_plan(
        grid,
        policy=settings["policy"],
        review_period_days=settings["review_period_days"],
        service_levels=settings["service_levels"],
        unclassified_service_level=settings["unclassified_service_level"],
        ordering_cost=settings["ordering_cost"],
        holding_cost_rate=settings["holding_cost_rate"],
    )
    extra = grid[["warehouse_id", "sku", "abc_class", "units_per_case", "moq_cases", "unit_cost", "is_active",
                  "forecast_weeks", "weekly_forecast_qty", "weekly_error_std", "error_basis",
                  "oldest_batch_date", "shelf_life_days", "launched_on"]]
    plan = plan.merge(extra, on=["warehouse_id", "sku"], how="left")
    plan["is_active"] = plan["is_active"].fillna(False).astype(bool)
    if not settings["order_inactive_products"]:
        plan.loc[~plan["is_active"], "recommended_order_qty"] = 0
    counts = customers.groupby("warehouse_id")["customer_id"].nunique()
    plan["customers"] = plan["warehouse_id"].map(counts).fillna(0).astype(int)

    # Weeks since the last demand at the warehouse (dead stock).
    last, first = _last_demand(con, day, customers, settings)
    plan = plan.merge(last, on=["warehouse_id", "sku"], how="left").merge(first, on="warehouse_id", how="left")
    since = pd.to_datetime(plan["last_demand_date"])
    never = pd.concat([pd.to_datetime(plan["first_order_date"]), pd.to_datetime(plan["launched_on"])], axis=1).max(
        axis=1, skipna=False).fillna(pd.to_datetime(plan["first_order_date"]))
    since = since.fillna(never)
    plan["weeks_since_last_demand"] = (pd.Timestamp(day) - since).dt.days / DAYS_PER_WEEK
    plan.insert(0, "as_of_date", day)
    return plan


def _window_days(day, settings, forecasts, lead_time_days) -> dict[str, np.ndarray]:
    """Window length in days (``max(T, 1)``, cut at the end of the forecast weeks) and
    the number of forecast weeks it touches, per row of ``lead_time_days``."""
    review = settings["review_period_days"] if settings["policy"] == policy.PERIODIC_REVIEW else 0.0
    protection = pd.to_numeric(lead_time_days).fillna(0.0).to_numpy(dtype=float) + review
    days = np.maximum(protection, 1.0)
    first = pd.Timestamp(day) + pd.Timedelta(days=1)
    if len(forecasts):
        week1 = pd.Timestamp(forecasts["period_start"].min())
        end = pd.Timestamp(forecasts["period_start"].max()) + pd.Timedelta(days=DAYS_PER_WEEK)
        days = np.clip(days, 1e-9, max((end - first).days, 1e-9))
        offset = (first - week1).days
        weeks = (np.floor((offset + days - 1e-9) / DAYS_PER_WEEK) - np.floor(offset / DAYS_PER_WEEK) + 1).astype(int)
    else:  # no forecast on the day: no demand; weeks as the whole weeks of the window
        weeks = np.clip(np.ceil(days / DAYS_PER_WEEK - 1e-9), 1, settings["horizon_weeks"]).astype(int)
    return {"days": days, "weeks": weeks}


def _window_demand(day, settings, forecasts, products) -> pd.DataFrame:
    """Σ forecast × share of it in the window after ``day``, per warehouse × SKU."""
    lead = forecasts["sku"].map(products.drop_duplicates("sku").set_index("sku")["lead_time_days"])
    rows = forecasts[lead.notna().to_numpy()]  # a SKU without a products row is dropped from the plan
    if rows.empty:
        return pd.DataFrame({"warehouse_id": pd.Series(dtype=object), "sku": pd.Series(dtype=object),
                             "window_demand": pd.Series(dtype=float)})
    window = _window_days(day, settings, forecasts, lead[lead.notna()])["days"]
    share = cycles.window_shares(rows["period_start"].to_numpy(dtype="datetime64[D]"),
                                 rows["order_weekday"].to_numpy(dtype=float), day, window)
    demand = pd.DataFrame({"warehouse_id": rows["warehouse_id"].to_numpy(), "sku": rows["sku"].to_numpy(),
                           "window_demand": rows["forecast_qty"].to_numpy(dtype=float) * share})
    return demand.groupby(["warehouse_id", "sku"], as_index=False, sort=False)["window_demand"].sum()


def _suggestions(con, day, settings, customers, inventory) -> pd.DataFrame:
    active = customers[(customers["customer_status"] == "active")
                       & ~customers["lifecycle_state"].isin(INACTIVE_LIFECYCLE)]
    cycle = _next_cycle_forecasts(con, day, active, settings["horizon_weeks"])
    cycle["cycle_start"] = pd.to_datetime(cycle["cycle_start"]).dt.date
    tiers = active.set_index("customer_id")["tier"]
    cycle = cycle.assign(tier=cycle["customer_id"].map(tiers).fillna(1).astype(int))
    rounded = alloc.customer_order_suggestions(cycle, rounding=settings["suggestion_rounding"])
    stock = inventory.assign(
        available_qty=np.maximum(
            inventory["on_hand_qty"]
            + (inventory["in_transit_qty"] if settings["available_includes_in_transit"] else 0.0)
            - inventory["allocated_qty"],
            0.0,
        )
    )
    parts = []
    params = settings["allocation"]
    for warehouse, rows in rounded.groupby("warehouse_id", sort=True):
        held = stock[stock["warehouse_id"] == warehouse]
        available = dict.fromkeys(rows["sku"].unique(), 0.0) | dict(zip(held["sku"], held["available_qty"], strict=True))
        parts.append(alloc.allocate(rows.reset_index(drop=True), available, **params))
    columns = [c for c in SUGGESTION_COLUMNS if c != "as_of_date"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    out = out.sort_values(["warehouse_id", "sku", "customer_id"], kind="mergesort").reset_index(drop=True)
    out.insert(0, "as_of_date", day)
    return out


# --------------------------------------------------------------------------- writing


def write_replenishment(con, day: date, frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Replace ``day`` in the three ``analytics`` tables; returns rows written per table."""
    ensure_tables(con)
    counts = {}
    for table, columns in TABLES.items():
        frame = frames[table]
        if len(frame) and (frame["as_of_date"] != day).any():
            raise ValueError(f"{table}: rows with an as_of_date other than {day}")
        counts[table] = replace_day(con, f"analytics.{table}", "as_of_date", day, frame, columns)
    return counts


def run_day(con, day: date, config: Mapping[str, Any]) -> dict[str, int]:
    """Build and write one day."""
    return write_replenishment(con, day, build_replenishment(con, day, config))


__all__ = ["build_replenishment", "write_replenishment", "run_day", "ensure_tables", "replenishment_settings",
           "PLAN_COLUMNS", "SUGGESTION_COLUMNS", "ALERT_COLUMNS"]
