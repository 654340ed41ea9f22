"""Segmentation, forecasts and their accuracy review: thin wiring around
restock.segmentation.tables, restock.forecasting.origins and
restock.forecasting.accuracy_review (tables in schema analytics)."""

import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.assets.charts import chart_metadata
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import RestockResource, WarehouseResource

if TYPE_CHECKING:  # pandas and duckdb load with the first run, not with the code location
    import pandas as pd
    from duckdb import DuckDBPyConnection

    from restock.config import RestockConfig

MARTS = {
    name: dg.AssetKey(["marts", name])
    for name in ("customers", "order_lines", "products", "customer_sku_weekly_demand")
}
CUSTOMER_SEGMENTS = dg.AssetKey(["segmentation", "customer_segments"])
PRODUCT_CLASSES = dg.AssetKey(["segmentation", "product_classes"])
DEMAND_FORECASTS = dg.AssetKey(["forecasting", "demand_forecasts"])


def _daily_table(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    table: str,
    build: Callable[["DuckDBPyConnection", date], "pd.DataFrame"],
    columns: list[str],
) -> dict[str, Any]:
    """Build and replace one table's rows for every day of the run's range."""
    from restock.progress import Progress
    from restock.segmentation.tables import ensure_tables
    from restock.warehouse import replace_day

    days = window_days(context)
    started, rows = time.monotonic(), 0
    progress = Progress(f"analytics.{table}", len(days), context.log.info)
    with warehouse.connect() as con:
        ensure_tables(con)
        for day in days:
            rows += replace_day(con, f"analytics.{table}", "as_of_date", day, build(con, day), columns)
            progress.advance(through=day, detail=f"{rows:,} rows")
        return {"rows": rows, "days": len(days), "seconds": round(time.monotonic() - started, 2)}


def _daily_table_in_workers(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    table: str,
    run: Callable[..., int],
    config: "RestockConfig",
) -> dict[str, Any]:
    """:func:`_daily_table` for a long run, its days built in worker processes
    (restock.day_workers): ``run(open_writer, path, days, config, progress, memory_limit)``
    returns the rows written."""
    from restock.progress import Progress

    days = window_days(context)
    started = time.monotonic()
    tracker = Progress(f"analytics.{table}", len(days), context.log.info)

    def progress(i: int, day: date, totals: dict[str, int], skipped: int) -> None:
        tracker.advance(through=day, done=i, detail=f"{sum(totals.values()):,} rows")

    # The workers read the warehouse while this process holds no connection to it.
    rows = run(warehouse.connect, Path(warehouse.path), days, config, progress, warehouse.memory_limit)
    return {"rows": rows, "days": len(days), "seconds": round(time.monotonic() - started, 2)}


@dg.asset(
    key=CUSTOMER_SEGMENTS,
    group_name="segmentation",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[MARTS["customers"], MARTS["order_lines"]],
    kinds={"python", "duckdb"},
    description=(
        "analytics.customer_segments: per customer and as_of_date, tier, channel, region, lifecycle state "
        "(new / active / at_risk / churned / closed, counted in missed order cycles), RFM scores 1-5 and "
        "segment_id (restock.yaml segmentation). Point in time: orders on or before the day."
    ),
)
def customer_segments(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.day_workers import uses_workers
    from restock.segmentation.tables import (
        SEGMENT_COLUMNS,
        customer_segments_builder,
        customer_segments_in_workers,
        segments_summary,
    )

    days, config = window_days(context), restock.config
    if uses_workers(config.backfill, len(days)):
        stats = _daily_table_in_workers(context, warehouse, "customer_segments", customer_segments_in_workers, config)
    else:
        build = customer_segments_builder(days, config.segmentation)
        stats = _daily_table(context, warehouse, "customer_segments", build, SEGMENT_COLUMNS)
    with warehouse.connect() as con:
        summary = segments_summary(con, window_days(context)[-1])
    return dg.MaterializeResult(
        metadata={
            "row_count": stats["rows"],
            "days": stats["days"],
            "seconds": stats["seconds"],
            "segments_last_day": summary["segments"],
            "lifecycle_last_day": dg.MetadataValue.json(summary["lifecycle"]),
        }
    )


@dg.asset(
    key=PRODUCT_CLASSES,
    group_name="segmentation",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[MARTS["customer_sku_weekly_demand"], MARTS["order_lines"], MARTS["products"]],
    kinds={"python", "duckdb"},
    description=(
        "analytics.product_classes: per SKU and as_of_date, ABC by value, XYZ by the coefficient of variation, "
        "demand class by ADI / CV² (smooth / erratic / intermittent / lumpy, or no_demand) over the "
        "configured window of complete weeks (restock.yaml product_classes)."
    ),
)
def product_classes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.segmentation.tables import PRODUCT_COLUMNS, demand_class_counts, product_classes_for_day

    rules, quantity = restock.config.product_classes, restock.config.forecasting.quantity
    same_week: dict = {}  # the days of a week share their classes (product_classes_for_day)
    stats = _daily_table(
        context,
        warehouse,
        "product_classes",
        lambda con, day: product_classes_for_day(con, day, rules, quantity, same_week),
        PRODUCT_COLUMNS,
    )
    with warehouse.connect() as con:
        classes = demand_class_counts(con, window_days(context)[-1])
    return dg.MaterializeResult(
        metadata={
            "row_count": stats["rows"],
            "days": stats["days"],
            "seconds": stats["seconds"],
            "demand_classes_last_day": dg.MetadataValue.json(classes),
        }
    )


@dg.asset(
    key=DEMAND_FORECASTS,
    group_name="forecasting",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[CUSTOMER_SEGMENTS, PRODUCT_CLASSES, MARTS["customer_sku_weekly_demand"]],
    kinds={"python", "statsmodels", "duckdb"},
    description=(
        "analytics.demand_forecasts (view): weekly demand for the next horizon_weeks at every level (total, SKU, "
        "warehouse x SKU, segment x SKU, customer x SKU; the levels add up, reconciled by a method chosen by "
        "backtest), with an interval and the model used. Refreshed once per order cycle (the cut-off weekday); "
        "the days in between reuse that origin's forecast. Model selection by rolling-origin backtest every "
        "selection_every_weeks and for series out of control, refits in between (restock/forecasting/panel.py). "
        "Fitted by a process pool."
    ),
)
def demand_forecasts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.asset_charts import demand_forecast_charts
    from restock.forecasting.origins import OriginResult, describe, model_mix, run_forecasts
    from restock.forecasting.panel import forecast_origin, make_pool
    from restock.forecasting.tables import ensure_tables
    from restock.progress import Progress

    days = window_days(context)
    config = restock.config
    pool = make_pool(config.forecasting.workers)
    origins = {forecast_origin(d, config.forecasting.cutoff_weekday) for d in days}
    tracker, statuses = Progress("forecasts", len(origins), context.log.info, unit="origins"), Counter[str]()

    def progress(result: OriginResult) -> None:
        context.log.info(
            f"origin {result.origin}: {result.status}, {result.series} series, {result.selected} choices stored, "
            f"{result.fallbacks} on a fallback rule ({result.failed_fits} failed fits), {result.forecast_rows} rows, "
            f"{result.seconds} s"
        )
        statuses[result.status] += 1
        tracker.advance(through=result.origin, detail=", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))

    try:
        with warehouse.connect() as con:
            ensure_tables(con)
            results = run_forecasts(con, days, config, pool, progress)
            models = model_mix(con, days[-1])
            charts = chart_metadata(context, demand_forecast_charts, con, days[-1], config)
    finally:
        if pool is not None:
            pool.shutdown()
    computed = [r for r in results if r.status == "computed"]
    summary = describe(results)
    context.log.info(summary)
    return dg.MaterializeResult(
        metadata={
            "summary": summary,
            "origins_computed": len(computed),
            "origins_reused": sum(r.status == "reused" for r in results),
            "origins_without_data": sum(r.status == "no_segments" for r in results),
            "series_fitted": sum(r.series for r in computed),
            "choices_stored": sum(r.selected for r in computed),
            "series_fell_back": sum(r.fallbacks for r in computed),
            "series_failed_fit": sum(r.failed_fits for r in computed),
            "segment_rows": sum(r.forecast_rows for r in computed),
            "customer_share_rows": sum(r.share_rows for r in computed),
            "series_without_customers": sum(r.unallocated_series for r in computed),
            "seconds_fitting": round(sum(r.seconds for r in computed), 2),
            "models_last_origin": dg.MetadataValue.json(models),
            **charts,
        }
    )


@dg.asset(
    key=["forecasting", "forecast_accuracy"],
    group_name="forecasting",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[DEMAND_FORECASTS],
    kinds={"python", "duckdb"},
    description=(
        "analytics.forecast_accuracy (view): past forecasts against what then happened over the last "
        "accuracy.window_weeks complete weeks: WAPE, MASE, bias, tracking signal and 80 % interval coverage per "
        "level (total, warehouse, segment, SKU, series, customer) and horizon; out_of_control flags |tracking "
        "signal| above the configured limit."
    ),
)
def forecast_accuracy(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> dg.MaterializeResult:
    from restock.asset_charts import forecast_accuracy_charts
    from restock.forecasting.accuracy_review import accuracy_summary, run_accuracy_in_workers
    from restock.forecasting.panel import forecast_origin
    from restock.forecasting.tables import ensure_tables
    from restock.progress import Progress

    days = window_days(context)
    started = time.monotonic()
    origins = {forecast_origin(d, restock.config.forecasting.cutoff_weekday) for d in days}
    tracker, computed = Progress("accuracy reviews", len(origins), context.log.info, unit="origins"), Counter[str]()

    def progress(origin: date, rows: int | None) -> None:
        computed["reviews"] += rows is not None
        computed["rows"] += rows or 0
        reviewed, kept = computed["reviews"], tracker.done + 1 - computed["reviews"]
        tracker.advance(through=origin, detail=f"{reviewed} computed ({computed['rows']:,} rows), {kept} kept")

    with warehouse.connect() as con:
        ensure_tables(con)
    # A long run's reviews are computed in worker processes, which read the warehouse
    # while this process holds no connection to it.
    reviews = run_accuracy_in_workers(
        warehouse.connect, Path(warehouse.path), days, restock.config, progress, warehouse.memory_limit
    )
    seconds = round(time.monotonic() - started, 2)
    with warehouse.connect() as con:
        latest, flagged = accuracy_summary(con, days[-1])
        charts = chart_metadata(context, forecast_accuracy_charts, con, days[-1], restock.config)
    table = "| horizon | WAPE | bias | weeks |\n|---|---|---|---|\n" + "\n".join(
        f"| {h} | {w} | {b} | {n} |" for h, w, b, n in latest
    )
    return dg.MaterializeResult(
        metadata={
            "reviews_computed": len(reviews),
            "row_count": sum(n for _, n in reviews),
            "seconds": seconds,
            "total_by_horizon_last_day": dg.MetadataValue.md(table),
            "series_out_of_control_last_day": flagged,
            **charts,
        }
    )


forecasting_assets = [customer_segments, product_classes, demand_forecasts, forecast_accuracy]
