"""Replenishment plan, customer order suggestions and inventory alerts: thin wiring
around restock.replenishment.daily (tables in schema analytics, one set per day)."""


import time

import dagster as dg

from orchestration.assets.forecasting import CUSTOMER_SEGMENTS, DEMAND_FORECASTS, MARTS, PRODUCT_CLASSES
from orchestration.environment import CONFIG
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import WarehouseResource

PROGRESS_EVERY_DAYS = 30
TABLES = {
    "replenishment_plan": (
        "analytics.replenishment_plan: per warehouse x SKU and as_of_date, inventory position, daily demand mean "
        "and std (from the customer forecasts and the warehouse's past errors), lead time, service level by ABC "
        "class, safety stock, reorder point, order-up-to and the recommended order rounded to case and MOQ "
        "(restock.yaml replenishment)."
    ),
    "customer_order_suggestions": (
        "analytics.customer_order_suggestions: per active customer x SKU, the next cycle's forecast, the suggested "
        "quantity in whole sales units and, where the warehouse is short, the allocated quantity and the rule used."
    ),
    "inventory_alerts": (
        "analytics.inventory_alerts: per warehouse x SKU x alert (stockout_risk, below_safety_stock, overstock, "
        "expiring, dead_stock) with severity and the numbers behind it."
    ),
}
DEPS = [DEMAND_FORECASTS, CUSTOMER_SEGMENTS, PRODUCT_CLASSES, MARTS["products"], MARTS["order_lines"],
        MARTS["customers"], dg.AssetKey(["marts", "inventory_positions"])]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["replenishment", name], group_name="replenishment", deps=DEPS, description=text,
                     kinds={"python", "duckdb"})
        for name, text in TABLES.items()
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def replenishment(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from restock.replenishment.daily import ensure_tables, run_day

    days = window_days(context)
    started = time.monotonic()
    totals = {name: 0 for name in TABLES}
    skipped = []
    with warehouse.connect() as con:
        ensure_tables(con)
        for i, day in enumerate(days, 1):
            # A day before the first forecast origin with data has no forecast to plan from.
            if not con.execute("select count(*) from analytics.forecast_runs where as_of_date = ?", [day]).fetchall()[0][0]:
                skipped.append(day)
            else:
                for name, rows in run_day(con, day, CONFIG).items():
                    totals[name] += rows
            if i % PROGRESS_EVERY_DAYS == 0 or i == len(days):
                context.log.info(f"replenishment: {i}/{len(days)} days (through {day}), rows {totals}, {len(skipped)} days without forecasts")
    if skipped:
        context.log.warning(f"no forecast for {len(skipped)} days ({skipped[0]} .. {skipped[-1]}): no replenishment rows for them")
    seconds = round(time.monotonic() - started, 2)
    for name in TABLES:
        yield dg.MaterializeResult(
            asset_key=["replenishment", name],
            metadata={"row_count": totals[name], "days": len(days), "days_without_forecast": len(skipped), "seconds": seconds},
        )


replenishment_assets = [replenishment]
