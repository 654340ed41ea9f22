"""Replenishment plan, customer order suggestions and inventory alerts: thin wiring
around restock.replenishment.tables (tables in schema analytics, one set per day)."""

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.assets.charts import chart_metadata
from orchestration.assets.forecasting import CUSTOMER_SEGMENTS, DEMAND_FORECASTS, MARTS, PRODUCT_CLASSES
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import RestockResource, WarehouseResource

TABLES = {
    "replenishment_plan": (
        "analytics.replenishment_plan: per warehouse x SKU and as_of_date, inventory position, daily demand mean "
        "and std (from the customer forecasts and the warehouse's past errors), lead time, service level by ABC "
        "class, safety stock, reorder point, order-up-to and the recommended order rounded to case and MOQ "
        "(restock.yaml replenishment)."
    ),
    "customer_order_suggestions": (
        "analytics.customer_order_suggestions: per active customer x SKU with a suggestion of at least one sales "
        "unit (zero suggestions are not stored), the next cycle's forecast, the suggested quantity in whole sales "
        "units and, where the warehouse is short, the allocated quantity and the rule used."
    ),
    "inventory_alerts": (
        "analytics.inventory_alerts: per warehouse x SKU x alert (stockout_risk, below_safety_stock, overstock, "
        "expiring, dead_stock) with severity and the numbers behind it."
    ),
}
DEPS = [
    DEMAND_FORECASTS,
    CUSTOMER_SEGMENTS,
    PRODUCT_CLASSES,
    MARTS["products"],
    MARTS["order_lines"],
    MARTS["customers"],
    dg.AssetKey(["marts", "inventory_positions"]),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["replenishment", name], group_name="replenishment", deps=DEPS, description=text, kinds={"python", "duckdb"}
        )
        for name, text in TABLES.items()
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def replenishment(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> Iterator[dg.MaterializeResult]:
    from restock.asset_charts import replenishment_charts
    from restock.progress import Progress
    from restock.replenishment.tables import run_days_in_workers

    days = window_days(context)
    started = time.monotonic()
    tracker = Progress("replenishment", len(days), context.log.info)

    def progress(i: int, day: date, totals: dict[str, int], skipped: int) -> None:
        tracker.advance(through=day, done=i, detail=f"rows {totals}, {skipped} days without forecasts")

    # The workers read the warehouse while this process holds no connection to it.
    totals, skipped = run_days_in_workers(
        warehouse.connect, Path(warehouse.path), days, restock.config, progress, memory_limit=warehouse.memory_limit
    )
    seconds = round(time.monotonic() - started, 2)
    with warehouse.connect() as con:
        charts = chart_metadata(context, replenishment_charts, con, days[-1], restock.config)
    if skipped:
        context.log.warning(
            f"no forecast for {len(skipped)} days ({skipped[0]} .. {skipped[-1]}): no replenishment rows for them"
        )
    for name in TABLES:
        yield dg.MaterializeResult(
            asset_key=["replenishment", name],
            metadata={
                "row_count": totals[name],
                "days": len(days),
                "days_without_forecast": len(skipped),
                "seconds": seconds,
                **(charts if name == "replenishment_plan" else {}),
            },
        )


replenishment_assets = [replenishment]
