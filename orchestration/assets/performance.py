"""How the distributor is doing: the KPI table (and the replay of the plan). Thin wiring
around restock.performance (tables in schema analytics, one set per day)."""

import time

import dagster as dg

from orchestration.assets.charts import chart_metadata
from orchestration.assets.forecasting import MARTS, PRODUCT_CLASSES
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import RestockResource, WarehouseResource

REPLENISHMENT_PLAN = dg.AssetKey(["replenishment", "replenishment_plan"])
FORECAST_ACCURACY = dg.AssetKey(["forecasting", "forecast_accuracy"])
# What both tables are measured on: the orders, customers, products and stock of the marts.
ORDERS_AND_STOCK = [
    MARTS["order_lines"],
    MARTS["customers"],
    MARTS["products"],
    dg.AssetKey(["marts", "inventory_positions"]),
]


@dg.asset(
    key=["performance", "kpis"],
    group_name="performance",
    deps=[*ORDERS_AND_STOCK, PRODUCT_CLASSES, REPLENISHMENT_PLAN, FORECAST_ACCURACY],
    description=(
        "analytics.kpis: per as_of_date over the last week and the last 13 weeks (restock.yaml kpis), per "
        "warehouse x SKU, warehouse, total, ABC class and customer tier: requested and supplied quantity, fill "
        "rates, stockout days, average and current stock, inventory turnover, days of supply, inventory and "
        "overstock value, achieved vs target cycle service level, forecast WAPE and bias."
    ),
    kinds={"sql", "duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def kpis(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.asset_charts import kpi_charts
    from restock.performance.kpis import run_kpi_days

    days = window_days(context)
    started = time.monotonic()
    with warehouse.connect() as con:
        rows = run_kpi_days(con, days, restock.config)
        seconds = round(time.monotonic() - started, 2)
        charts = chart_metadata(context, kpi_charts, con, days[-1], restock.config)
    context.log.info(f"kpis: {rows} rows for {len(days)} days ({days[0]} .. {days[-1]}) in {seconds} s")
    return dg.MaterializeResult(metadata={"row_count": rows, "days": len(days), "seconds": seconds, **charts})


@dg.asset(
    key=["performance", "replenishment_replay"],
    group_name="performance",
    deps=[*ORDERS_AND_STOCK, REPLENISHMENT_PLAN],
    description=(
        "analytics.replenishment_replay: the last 13 weeks (restock.yaml kpis.replay_weeks) replayed as if the "
        "plan's purchase orders had been placed, from the actual stock, requests and lead times, beside what "
        "happened: fill rate, stockout days, average stock and its value, per warehouse x SKU, warehouse and "
        "total. Only the days a run can publish (publishing.retain_days) are replayed."
    ),
    kinds={"python", "duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def replenishment_replay(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.performance.replay_table import days_to_replay, run_replay_days
    from restock.progress import Progress

    days = window_days(context)
    replayed = days_to_replay(days, restock.config.publishing.retain_days)
    started = time.monotonic()
    tracker = Progress("replenishment replay", len(replayed), context.log.info)
    with warehouse.connect() as con:
        rows = run_replay_days(
            con, days, restock.config, lambda i, day: tracker.advance(through=day, done=i, detail="days replayed")
        )
    seconds = round(time.monotonic() - started, 2)
    skipped = len(days) - len(replayed)
    context.log.info(
        f"replenishment_replay: {rows} rows for {len(replayed)} days in {seconds} s"
        + (f"; {skipped} earlier days not replayed (outside publishing.retain_days)" if skipped else "")
    )
    return dg.MaterializeResult(
        metadata={"row_count": rows, "days": len(replayed), "days_not_replayed": skipped, "seconds": seconds}
    )


performance_assets = [kpis, replenishment_replay]
