"""Segmentation, forecasts and their accuracy review: thin wiring around
restock.segmentation.daily and restock.forecasting.daily (tables in schema analytics)."""


import time

import dagster as dg

from orchestration.environment import CONFIG
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import WarehouseResource

PROGRESS_EVERY_DAYS = 30
MARTS = {name: dg.AssetKey(["marts", name]) for name in ("customers", "order_lines", "products", "customer_sku_weekly_demand")}
CUSTOMER_SEGMENTS = dg.AssetKey(["segmentation", "customer_segments"])
PRODUCT_CLASSES = dg.AssetKey(["segmentation", "product_classes"])
DEMAND_FORECASTS = dg.AssetKey(["forecasting", "demand_forecasts"])


def _daily_table(context: dg.AssetExecutionContext, warehouse: WarehouseResource, table: str, build, columns) -> dict:
    """Build and replace one table's rows for every day of the run's range."""
    from restock.segmentation.daily import ensure_tables
    from restock.warehouse import replace_day

    days = window_days(context)
    started, rows = time.monotonic(), 0
    with warehouse.connect() as con:
        ensure_tables(con)
        for i, day in enumerate(days, 1):
            rows += replace_day(con, f"analytics.{table}", "as_of_date", day, build(con, day), columns)
            if i % PROGRESS_EVERY_DAYS == 0 or i == len(days):
                context.log.info(f"analytics.{table}: {i}/{len(days)} days (through {day}), {rows} rows")
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
def customer_segments(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from restock.config import segmentation_settings
    from restock.segmentation.daily import SEGMENT_COLUMNS, customer_segments_for_day

    settings = segmentation_settings(CONFIG)
    stats = _daily_table(context, warehouse, "customer_segments",
                         lambda con, day: customer_segments_for_day(con, day, **settings), SEGMENT_COLUMNS)
    last = window_days(context)[-1]
    with warehouse.connect() as con:
        states = con.execute(
            "select lifecycle_state, count(*) from analytics.customer_segments where as_of_date = ? group by 1 order by 1", [last]
        ).fetchall()
        segments = con.execute("select count(distinct segment_id) from analytics.customer_segments where as_of_date = ?", [last]).fetchone()[0]
    return dg.MaterializeResult(metadata={
        "row_count": stats["rows"], "days": stats["days"], "seconds": stats["seconds"],
        "segments_last_day": segments,
        "lifecycle_last_day": dg.MetadataValue.json(dict(states)),
    })


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
def product_classes(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from restock.segmentation.daily import PRODUCT_COLUMNS, product_classes_for_day

    settings = dict(CONFIG["product_classes"])
    quantity = CONFIG["forecasting"]["quantity"]
    stats = _daily_table(context, warehouse, "product_classes",
                         lambda con, day: product_classes_for_day(con, day, quantity=quantity, **settings), PRODUCT_COLUMNS)
    last = window_days(context)[-1]
    with warehouse.connect() as con:
        classes = con.execute(
            "select demand_class, count(*) from analytics.product_classes where as_of_date = ? group by 1 order by 1", [last]
        ).fetchall()
    return dg.MaterializeResult(metadata={
        "row_count": stats["rows"], "days": stats["days"], "seconds": stats["seconds"],
        "demand_classes_last_day": dg.MetadataValue.json(dict(classes)),
    })


@dg.asset(
    key=DEMAND_FORECASTS,
    group_name="forecasting",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[CUSTOMER_SEGMENTS, PRODUCT_CLASSES, MARTS["customer_sku_weekly_demand"]],
    kinds={"python", "statsmodels", "duckdb"},
    description=(
        "analytics.demand_forecasts (view): weekly demand per segment x SKU and per customer x SKU for the next "
        "horizon_weeks, with an interval and the model used. Refreshed once per order cycle (the cut-off weekday); "
        "the days in between reuse that origin's forecast. Model selection by rolling-origin backtest every "
        "selection_every_weeks, refits in between (restock/forecasting/panel.py). Fitted by a process pool."
    ),
)
def demand_forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from restock.forecasting.daily import describe, ensure_tables, panel_settings, run_forecasts
    from restock.forecasting.panel import make_pool

    days = window_days(context)
    pool = make_pool(panel_settings(CONFIG).workers)

    def progress(result) -> None:
        context.log.info(
            f"origin {result.origin}: {result.status}, {result.series} series, {result.selected} selected, "
            f"{result.fallbacks} on a fallback rule ({result.failed_fits} failed fits), {result.forecast_rows} rows, "
            f"{result.seconds} s"
        )

    try:
        with warehouse.connect() as con:
            ensure_tables(con)
            results = run_forecasts(con, days, CONFIG, pool, progress)
            model_mix = con.execute(
                """select model, count(*) from analytics.segment_forecasts
                   where forecast_origin = (select max(forecast_origin) from analytics.forecast_runs where as_of_date <= ?)
                     and horizon = 1 group by 1 order by 2 desc""",
                [days[-1]],
            ).fetchall()
    finally:
        if pool is not None:
            pool.shutdown()
    computed = [r for r in results if r.status == "computed"]
    summary = describe(results)
    context.log.info(summary)
    return dg.MaterializeResult(metadata={
        "summary": summary,
        "origins_computed": len(computed),
        "origins_reused": sum(r.status == "reused" for r in results),
        "origins_without_data": sum(r.status == "no_segments" for r in results),
        "series_fitted": sum(r.series for r in computed),
        "series_selected": sum(r.selected for r in computed),
        "series_fell_back": sum(r.fallbacks for r in computed),
        "series_failed_fit": sum(r.failed_fits for r in computed),
        "segment_rows": sum(r.forecast_rows for r in computed),
        "customer_share_rows": sum(r.share_rows for r in computed),
        "series_without_customers": sum(r.unallocated_series for r in computed),
        "seconds_fitting": round(sum(r.seconds for r in computed), 2),
        "models_last_origin": dg.MetadataValue.json(dict(model_mix)),
    })


@dg.asset(
    key=["forecasting", "forecast_accuracy"],
    group_name="forecasting",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[DEMAND_FORECASTS],
    kinds={"python", "duckdb"},
    description=(
        "analytics.forecast_accuracy (view): past forecasts against what then happened over the last "
        "accuracy.window_weeks complete weeks: WAPE, MASE, bias and tracking signal per level (total, segment, "
        "SKU, series) and horizon; out_of_control flags |tracking signal| above the configured limit."
    ),
)
def forecast_accuracy(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from restock.forecasting.daily import ensure_tables, run_accuracy

    days = window_days(context)
    started = time.monotonic()
    with warehouse.connect() as con:
        ensure_tables(con)
        reviews = run_accuracy(con, days, CONFIG)
        latest = con.execute(
            """select horizon, round(wape, 4), round(bias, 4), n_periods from analytics.forecast_accuracy
               where as_of_date = ? and level = 'total' order by horizon""",
            [days[-1]],
        ).fetchall()
        flagged = con.execute(
            "select count(*) from analytics.forecast_accuracy where as_of_date = ? and level = 'series' and out_of_control",
            [days[-1]],
        ).fetchone()[0]
    table = "| horizon | WAPE | bias | weeks |\n|---|---|---|---|\n" + "\n".join(f"| {h} | {w} | {b} | {n} |" for h, w, b, n in latest)
    return dg.MaterializeResult(metadata={
        "reviews_computed": len(reviews),
        "row_count": sum(n for _, n in reviews),
        "seconds": round(time.monotonic() - started, 2),
        "total_by_horizon_last_day": dg.MetadataValue.md(table),
        "series_out_of_control_last_day": flagged,
    })


forecasting_assets = [customer_segments, product_classes, demand_forecasts, forecast_accuracy]
