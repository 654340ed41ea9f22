"""One as-of day ``D`` of ``replenishment_plan``, ``customer_order_suggestions`` and
``inventory_alerts``: demand, policy, suggestions, allocation and alerts.

:func:`build_replenishment` reads the day's inputs (:mod:`restock.replenishment.inputs`)
and applies the rules below with the pure :mod:`~restock.replenishment.policy`,
:mod:`~restock.replenishment.allocation`, :mod:`~restock.replenishment.alerts` and
:mod:`~restock.replenishment.cycles`; :mod:`restock.replenishment.tables` writes the
result. Business numbers: ``config.replenishment`` (restock.yaml), plus
``forecasting.quantity / horizon_weeks / interval_level`` and ``accuracy.window_weeks``.

Inputs on ``D`` (nothing dated after ``D`` is read; a missing table, or one without a
row for ``D``, raises ``ValueError`` naming it): ``analytics.forecast_runs`` and the
view ``analytics.demand_forecasts`` (level ``customer``); ``analytics.customer_segments``
(region, tier, customer_status, lifecycle_state); ``marts.customers`` (order_weekday,
null allowed); ``analytics.product_classes`` (abc_class); ``marts.products`` (lead
time and its std, units_per_case, moq_cases, unit_cost_amount, shelf_life_days,
launched_on, is_active); ``marts.inventory_positions`` (on hand, in transit,
allocated, oldest_batch_date); and, possibly empty, ``analytics.segment_forecasts`` ×
``analytics.customer_forecast_shares``, ``marts.customer_sku_weekly_demand`` and
``marts.order_lines``.

Decisions (the exact rules):

1. **Customer → warehouse.** The input contract has no such link. A customer is
   served by ``region_warehouse[region]``, its region from ``customer_segments`` on
   ``D``; a region not in the map goes to ``default_warehouse``; when that is null
   the customer is left out of the demand, the suggestions and the demand history,
   and counted (``unmapped_customers`` frame and a log warning). The map of ``D``
   applies to all past data too (a customer that moved counts fully at its warehouse
   of ``D``).

2. **Demand mean per warehouse × SKU: the demand of the days after ``D``.** From the
   customer-level forecasts of ``D`` (segment forecast × customer share of the day's
   origin, horizons ``1..horizon_weeks``). Horizon 1 is the first week not complete
   on the forecast origin: on a mid-week ``D`` part of it is past, and the orders of
   its past days (and of ``D``) are already in the stock figures (shipped, or in
   ``allocated_qty``), so they are not demand after ``D``. The window is
   ``W = max(T, 1)`` days, ``D + 1 .. D + W``, with ``T`` the protection interval
   (``R + L`` for periodic review, ``L`` for min–max and continuous review, ``L`` the
   SKU's lead time), cut at the end of the last forecast week. Window demand = Σ over
   the warehouse's customers and forecast weeks of ``forecast_qty × share``, the
   share of that week in the window (:func:`~restock.replenishment.cycles.window_shares`):
   1 if the customer's order day that week (``order_weekday`` on ``D``) is in the
   window, else 0; without an order weekday, days of the week in the window ÷ 7.
   ``daily_demand_mean`` = window demand ÷ window days; ``weekly_forecast_qty`` = 7 ×
   that; ``forecast_weeks`` = forecast weeks the window touches. On a forecast origin
   (Sunday) with ``T`` whole weeks this is the mean of the first ``T / 7`` weekly
   forecasts ÷ 7.

3. **Demand std per warehouse × SKU.** The RMSE of the warehouse's own horizon-1
   forecast errors over the weeks ``W`` of the ``accuracy.window_weeks`` complete
   weeks ending with the last complete week on ``D`` that have a horizon-1 forecast
   from an origin ≤ ``D``. Per week, forecast = Σ over the warehouse's customers of
   segment forecast × customer share (that origin's shares); actual = Σ of
   ``forecasting.quantity`` of all the warehouse's customers (one the forecast did not
   cover is a real error for the warehouse's stock). ``RMSE = √(Σ_w e_w² / |W|)``, a
   missing forecast or demand row counting as 0. Weekly → daily with
   :func:`~restock.replenishment.policy.daily_demand_from_period` (÷ √7). With
   ``|W| < min_error_weeks`` (the first weeks of history) the std comes from the
   horizon-1 forecast interval instead: ``(upper − lower) / (2·Φ⁻¹((1 + level)/2))``,
   ``level`` = ``forecasting.interval_level``, summed over the warehouse's customers
   (exact within a segment, conservative across segments). Why: it measures the error
   of the quantity the plan is sized on, at the plan's grain, without assumptions
   about the models.

4. **Plan rows** = the warehouse × SKU rows of ``marts.inventory_positions`` on ``D``
   plus every warehouse × SKU with a positive forecast (on hand 0). A forecast SKU
   absent from ``marts.products`` on ``D`` is dropped and logged (no lead time); an
   inventory SKU absent from it is an error. Service level from the SKU's
   ``abc_class`` on ``D`` via ``service_levels`` (no class →
   ``unclassified_service_level``). A SKU not active on ``D`` (delisted or not
   launched) gets ``recommended_order_qty = 0`` unless ``order_inactive_products``;
   the rest of its row (levels, days of supply, alerts) stays.

5. **Customer order suggestions.** Customers with ``customer_status = 'active'`` and
   ``lifecycle_state`` not ``churned``/``closed`` on ``D``, mapped to a warehouse;
   their forecast for their *next* order cycle after ``D`` (the first
   ``order_weekday`` strictly after ``D``, :func:`~restock.replenishment.cycles.next_cycle_date`:
   ``cycle_start`` = that date, forecast = the week containing it; without an order
   weekday, the first forecast week starting after ``D``, ``cycle_start`` = its
   ``period_start``) with ``forecast_qty > 0``, rounded by
   :func:`~restock.replenishment.allocation.customer_order_suggestions`
   (``suggestion_rounding``). Then per warehouse × SKU,
   :func:`~restock.replenishment.allocation.allocate` (``allocation``; tier null → 1)
   with ``available_qty = max(on_hand + in_transit − allocated, 0)`` on ``D`` (without
   ``in_transit`` when ``allocation.available_includes_in_transit`` is false; 0 where
   the warehouse holds no row for the SKU). A SKU whose suggestions fit is untouched
   ("unconstrained").

   **Rows kept: ``suggested_qty > 0``** (:func:`stored_suggestions`), after the
   allocation (which is therefore the same as with every row). A row whose forecast
   rounds to 0 cartons (below half a carton with ``nearest``) also has
   ``allocated_qty = 0`` (never above the suggestion) and carries nothing a user reads:
   its ``forecast_qty`` is the customer row of ``demand_forecasts``, and its
   ``allocation_rule`` is that of the SKU's other rows (one rule per warehouse × SKU; a
   SKU short of stock always has a positive suggestion, so it keeps rows). A customer
   rationed to 0 (``suggested_qty > 0``, ``allocated_qty = 0``) is kept. About half of
   the demo's rows were such zero rows.

6. **Alerts** = :func:`~restock.replenishment.alerts.inventory_alerts` on the plan
   (``alerts``: no stockout_risk / below_safety_stock alert where
   ``daily_demand_mean`` < ``min_daily_demand``), with ``oldest_batch_date``,
   ``shelf_life_days`` and ``weeks_since_last_demand`` = (D − the last ``order_date``
   ≤ D with ``forecasting.quantity`` > 0 among the warehouse's customers) / 7; a SKU
   never ordered at the warehouse counts from the later of the warehouse's first
   order line and the SKU's ``launched_on`` (no order line at all: null, no dead-stock
   alert).

Output columns: :data:`PLAN_COLUMNS`, :data:`SUGGESTION_COLUMNS`, :data:`ALERT_COLUMNS`.
``days_of_supply`` is ``inf`` where stock is held without forecast demand.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection
from scipy.stats import norm

from restock import table_registry
from restock.config import RestockConfig
from restock.replenishment import alerts as alerts_mod
from restock.replenishment import allocation as alloc
from restock.replenishment import cycles, inputs, policy

log = logging.getLogger(__name__)

DAYS_PER_WEEK = 7.0
INACTIVE_LIFECYCLE = ("churned", "closed")

# Columns of the three tables, in table order, from restock/warehouse_tables.yml.
PLAN_COLUMNS = table_registry.columns("replenishment_plan")
SUGGESTION_COLUMNS = table_registry.columns("customer_order_suggestions")
ALERT_COLUMNS = table_registry.columns("inventory_alerts")


def build_replenishment(
    con: DuckDBPyConnection, day: date, config: RestockConfig, cache: inputs.DayCache | None = None
) -> dict[str, pd.DataFrame]:
    """The rows of the three tables for ``day`` (see the module docstring).

    Returns ``{"replenishment_plan", "customer_order_suggestions", "inventory_alerts",
    "unmapped_customers"}``; the first three carry ``as_of_date``; the last lists the
    customers left out (customer_id, region) and is not written. ``cache``: reuse the
    inputs shared with the previous days of a run (:class:`~restock.replenishment.inputs.DayCache`;
    the same rows as without).
    """
    inputs.require_inputs(con, day, cache)
    customers, unmapped = inputs.read_customers(con, day, config)
    forecasts = inputs.read_customer_forecasts(con, day, customers, config.forecasting.horizon_weeks, cache)
    inventory = inputs.read_inventory(con, day)
    products = inputs.read_products(con, day)

    plan = _plan(con, day, config, customers, forecasts, inventory, products, cache)
    suggestions = stored_suggestions(allocated_suggestions(con, day, config, customers, inventory, cache))
    limits = config.replenishment.alerts
    alerts = alerts_mod.inventory_alerts(
        plan,
        as_of_date=day,
        overstock_days=limits.overstock_days,
        expiry_warning_days=limits.expiry_warning_days,
        dead_stock_weeks=limits.dead_stock_weeks,
        min_daily_demand=limits.min_daily_demand,
    )
    alerts.insert(0, "as_of_date", day)
    return {
        "replenishment_plan": plan[PLAN_COLUMNS],
        "customer_order_suggestions": suggestions[SUGGESTION_COLUMNS],
        "inventory_alerts": alerts[ALERT_COLUMNS],
        "unmapped_customers": unmapped,
    }


def _plan(
    con: DuckDBPyConnection,
    day: date,
    config: RestockConfig,
    customers: pd.DataFrame,
    forecasts: pd.DataFrame,
    inventory: pd.DataFrame,
    products: pd.DataFrame,
    cache: inputs.DayCache | None = None,
) -> pd.DataFrame:
    rules = config.replenishment
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
        log.warning(
            "%s: %d forecast SKUs without a marts.products row dropped from the plan: %s",
            day,
            len(dropped),
            dropped[:5],
        )
    demanded = demanded[demanded["sku"].isin(known)]
    grid = inventory.merge(demanded, on=["warehouse_id", "sku"], how="outer")
    for column in ("on_hand_qty", "in_transit_qty", "allocated_qty"):
        grid[column] = grid[column].fillna(0.0)
    grid = grid.merge(products, on="sku", how="left")

    # Demand mean: the forecast demand of the window of days after D (decision 2).
    grid = grid.merge(_window_demand(day, config, forecasts, products), on=["warehouse_id", "sku"], how="left")
    window = _window_days(day, config, forecasts, grid["lead_time_days"])
    grid["forecast_weeks"] = window["weeks"]
    grid["weekly_forecast_qty"] = (
        np.maximum(grid["window_demand"].fillna(0.0).to_numpy() / window["days"], 0.0) * DAYS_PER_WEEK
    )
    grid = grid.drop(columns="window_demand")

    # Demand spread: RMSE of past horizon-1 errors, or the forecast interval (decision 3).
    errors, n_weeks = inputs.read_horizon1_errors(
        con, day, customers, config.accuracy.window_weeks, config.forecasting.quantity, cache
    )
    if n_weeks >= rules.min_error_weeks:
        grid = grid.merge(errors, on=["warehouse_id", "sku"], how="left")
        grid["weekly_error_std"] = grid["weekly_error_std"].fillna(0.0)
        grid["error_basis"] = f"rmse_h1_{n_weeks}w"
    else:
        z = norm.ppf((1 + config.forecasting.interval_level) / 2)
        h1 = forecasts[forecasts["horizon"] == 1]
        spread = (
            (h1["spread_qty"] / (2 * z))
            .groupby([h1["warehouse_id"], h1["sku"]])
            .sum()
            .rename("weekly_error_std")
            .reset_index()
        )
        grid = grid.merge(spread, on=["warehouse_id", "sku"], how="left")
        grid["weekly_error_std"] = grid["weekly_error_std"].fillna(0.0)
        grid["error_basis"] = "interval_h1"
    daily = [
        policy.daily_demand_from_period(m, s, DAYS_PER_WEEK)
        for m, s in zip(grid["weekly_forecast_qty"], grid["weekly_error_std"], strict=True)
    ]
    grid["daily_demand_mean"] = [d for d, _ in daily]
    grid["daily_demand_std"] = [s for _, s in daily]

    plan = policy.replenishment_plan(
        grid,
        policy=rules.policy,
        review_period_days=rules.review_period_days,
        service_levels=rules.service_levels,
        unclassified_service_level=rules.unclassified_service_level,
        ordering_cost=rules.ordering_cost,
        holding_cost_rate=rules.holding_cost_rate,
    )
    extra = grid[
        [
            "warehouse_id",
            "sku",
            "abc_class",
            "units_per_case",
            "moq_cases",
            "unit_cost",
            "is_active",
            "forecast_weeks",
            "weekly_forecast_qty",
            "weekly_error_std",
            "error_basis",
            "oldest_batch_date",
            "shelf_life_days",
            "launched_on",
        ]
    ]
    plan = plan.merge(extra, on=["warehouse_id", "sku"], how="left")
    plan["is_active"] = plan["is_active"].fillna(False).astype(bool)
    if not rules.order_inactive_products:
        plan.loc[~plan["is_active"], "recommended_order_qty"] = 0
    counts = customers.groupby("warehouse_id")["customer_id"].nunique()
    plan["customers"] = plan["warehouse_id"].map(counts).fillna(0).astype(int)

    # Weeks since the last demand at the warehouse (dead stock, decision 6).
    last, first = inputs.read_demand_dates(con, day, customers, config.forecasting.quantity, cache)
    plan = plan.merge(last, on=["warehouse_id", "sku"], how="left").merge(first, on="warehouse_id", how="left")
    since = pd.to_datetime(plan["last_demand_date"])
    never = (
        pd.concat([pd.to_datetime(plan["first_order_date"]), pd.to_datetime(plan["launched_on"])], axis=1)
        .max(axis=1, skipna=False)
        .fillna(pd.to_datetime(plan["first_order_date"]))
    )
    since = since.fillna(never)
    plan["weeks_since_last_demand"] = (pd.Timestamp(day) - since).dt.days / DAYS_PER_WEEK
    plan.insert(0, "as_of_date", day)
    return plan


def _window_days(
    day: date, config: RestockConfig, forecasts: pd.DataFrame, lead_time_days: pd.Series
) -> dict[str, np.ndarray]:
    """Window length in days (``max(T, 1)``, cut at the end of the forecast weeks) and
    the number of forecast weeks it touches, per row of ``lead_time_days``."""
    rules = config.replenishment
    review = rules.review_period_days if rules.policy == policy.PERIODIC_REVIEW else 0.0
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
        weeks = np.clip(np.ceil(days / DAYS_PER_WEEK - 1e-9), 1, config.forecasting.horizon_weeks).astype(int)
    return {"days": days, "weeks": weeks}


def _window_demand(day: date, config: RestockConfig, forecasts: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Σ forecast × share of it in the window after ``day``, per warehouse × SKU."""
    lead = forecasts["sku"].map(products.drop_duplicates("sku").set_index("sku")["lead_time_days"])
    rows = forecasts[lead.notna().to_numpy()]  # a SKU without a products row is dropped from the plan
    if rows.empty:
        return pd.DataFrame(
            {
                "warehouse_id": pd.Series(dtype=object),
                "sku": pd.Series(dtype=object),
                "window_demand": pd.Series(dtype=float),
            }
        )
    window = _window_days(day, config, forecasts, lead[lead.notna()])["days"]
    share = cycles.window_shares(
        rows["period_start"].to_numpy(dtype="datetime64[D]"), rows["order_weekday"].to_numpy(dtype=float), day, window
    )
    demand = pd.DataFrame(
        {
            "warehouse_id": rows["warehouse_id"].to_numpy(),
            "sku": rows["sku"].to_numpy(),
            "window_demand": rows["forecast_qty"].to_numpy(dtype=float) * share,
        }
    )
    return demand.groupby(["warehouse_id", "sku"], as_index=False, sort=False)["window_demand"].sum()


def allocated_suggestions(
    con: DuckDBPyConnection,
    day: date,
    config: RestockConfig,
    customers: pd.DataFrame,
    inventory: pd.DataFrame,
    cache: inputs.DayCache | None = None,
) -> pd.DataFrame:
    """Every active customer × SKU with a positive forecast for its next cycle,
    rounded and allocated (decision 5), zero suggestions included: ``customers`` and
    ``inventory`` as :mod:`restock.replenishment.inputs` reads them on ``day``."""
    rules = config.replenishment
    active = customers[
        (customers["customer_status"] == "active") & ~customers["lifecycle_state"].isin(INACTIVE_LIFECYCLE)
    ]
    cycle = inputs.read_next_cycle_forecasts(con, day, active, config.forecasting.horizon_weeks, cache)
    # cache=False: the dates' cache pays only with many repeats, and its check iterates every row
    cycle["cycle_start"] = pd.to_datetime(cycle["cycle_start"], cache=False).dt.date
    tiers = active.set_index("customer_id")["tier"]
    cycle = cycle.assign(tier=cycle["customer_id"].map(tiers).fillna(1).astype(int))
    rounded = alloc.customer_order_suggestions(cycle, rounding=rules.suggestion_rounding)
    in_transit = inventory["in_transit_qty"] if rules.allocation.available_includes_in_transit else 0.0
    stock = inventory.assign(
        available_qty=np.maximum(inventory["on_hand_qty"] + in_transit - inventory["allocated_qty"], 0.0)
    )
    parts = []
    for warehouse, rows in rounded.groupby("warehouse_id", sort=True):
        held = stock[stock["warehouse_id"] == warehouse]
        available = dict.fromkeys(rows["sku"].unique(), 0.0) | dict(
            zip(held["sku"], held["available_qty"], strict=True)
        )
        parts.append(_allocate(rows.reset_index(drop=True), available, config))
    columns = [c for c in SUGGESTION_COLUMNS if c != "as_of_date"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    out = out.sort_values(["warehouse_id", "sku", "customer_id"], kind="mergesort").reset_index(drop=True)
    out.insert(0, "as_of_date", day)
    return out


def stored_suggestions(suggestions: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`allocated_suggestions` the warehouse keeps: ``suggested_qty >
    0`` (see decision 5; the sums of suggested_qty and allocated_qty per customer,
    SKU and warehouse are unchanged)."""
    return suggestions[suggestions["suggested_qty"] > 0].reset_index(drop=True)


def _allocate(suggestions: pd.DataFrame, available: dict[str, float], config: RestockConfig) -> pd.DataFrame:
    """:func:`~restock.replenishment.allocation.allocate` with ``replenishment.allocation``."""
    rules = config.replenishment.allocation
    cap, minimum = rules.cap_qty, rules.min_qty
    return alloc.allocate(
        suggestions,
        available,
        rule=rules.rule,
        rules_by_sku=rules.rules_by_sku,
        # null in restock.yaml: the tier number is the weight
        tier_weights=alloc.DEFAULT_TIER_WEIGHTS if rules.tier_weights is None else rules.tier_weights,
        # {tier: n} in whole units; a single number or null as given
        cap_qty={int(k): int(v) for k, v in cap.items()} if isinstance(cap, dict) else cap,
        min_qty={int(k): int(v) for k, v in minimum.items()} if isinstance(minimum, dict) else minimum,
        fixed_qty=rules.fixed_qty,
    )


__all__ = [
    "build_replenishment",
    "allocated_suggestions",
    "stored_suggestions",
    "PLAN_COLUMNS",
    "SUGGESTION_COLUMNS",
    "ALERT_COLUMNS",
]
