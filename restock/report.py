"""Print where the tables are and a few rows of each mart and analytics table (the
end of `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

from duckdb import DuckDBPyConnection

from restock.settings import load_settings
from restock.warehouse import connect

MARTS = ("customers", "products", "order_lines", "customer_sku_weekly_demand", "inventory_positions")
PREVIEWS = {
    "customer_sku_weekly_demand": "select * from marts.customer_sku_weekly_demand "
    "where week_start = (select max(week_start) from marts.customer_sku_weekly_demand) "
    "order by requested_qty desc limit 5",
    "inventory_positions": "select * from marts.inventory_positions "
    "where as_of_date = (select max(as_of_date) from marts.inventory_positions) "
    "order by inventory_position_qty limit 5",
    "customers": "select tier_source, count(*) as customers, min(tier) as min_tier, max(tier) as max_tier "
    "from marts.customers where as_of_date = (select max(as_of_date) from marts.customers) and is_active "
    "group by tier_source order by tier_source",
}
ANALYTICS = {
    "customer_segments": "as_of_date",
    "product_classes": "as_of_date",
    "segment_forecasts": "forecast_origin",
    "customer_forecast_shares": "forecast_origin",
    "accuracy_reviews": "review_date",
}
ANALYTICS_PREVIEWS = {
    "customer_segments": "select segment_id, lifecycle_state, count(*) as customers from analytics.customer_segments "
    "where as_of_date = (select max(as_of_date) from analytics.customer_segments) "
    "group by all order by customers desc limit 6",
    "demand_forecasts": "select level, sku, period_start, horizon, round(forecast_qty, 1) as forecast_qty, "
    "round(lower_qty, 1) as lower_qty, round(upper_qty, 1) as upper_qty, model from analytics.demand_forecasts "
    "where as_of_date = (select max(as_of_date) from analytics.forecast_runs) and level in ('total', 'sku') "
    "and horizon = 1 order by level = 'total' desc, forecast_qty desc limit 6",
    "replenishment_plan": "select warehouse_id, sku, round(inventory_position, 0) as position, round(daily_demand_mean, 1) "
    "as daily_demand, round(safety_stock, 0) as safety_stock, round(order_up_to, 0) as order_up_to, recommended_order_qty, "
    "round(days_of_supply, 1) as days_of_supply from analytics.replenishment_plan "
    "where as_of_date = (select max(as_of_date) from analytics.replenishment_plan) order by recommended_order_qty desc limit 5",
    "inventory_alerts": "select warehouse_id, sku, alert_type, severity, detail from analytics.inventory_alerts "
    "where as_of_date = (select max(as_of_date) from analytics.inventory_alerts) "
    "order by case severity when 'high' then 0 when 'medium' then 1 else 2 end, warehouse_id, sku limit 8",
    "forecast_accuracy": "select level, key, horizon, n_periods, round(wape, 3) as wape, round(mase, 3) as mase, "
    "round(bias, 3) as bias, round(tracking_signal, 2) as tracking_signal from analytics.forecast_accuracy "
    "where as_of_date = (select max(as_of_date) from analytics.forecast_runs) and level = 'total' order by horizon",
}

# What BI sees (serving.duckdb): (table, title, query)
LATEST_PREVIEWS = (
    (
        "replenishment_plan",
        "top recommended orders",
        "select as_of_date, warehouse_id, sku, round(inventory_position) as position, round(order_up_to) as order_up_to, "
        "recommended_order_qty, round(days_of_supply, 1) as days_of_supply from replenishment_plan_latest "
        "order by recommended_order_qty desc limit 8",
    ),
    (
        "inventory_alerts",
        "most severe",
        "select warehouse_id, sku, alert_type, severity, detail from inventory_alerts_latest "
        "order by case severity when 'high' then 0 when 'medium' then 1 else 2 end, warehouse_id, sku limit 8",
    ),
)


def _has_table(con: DuckDBPyConnection, name: str) -> bool:
    """Whether analytics.<name> exists (a warehouse built before that asset ran lacks it)."""
    query = "select count(*) from information_schema.tables where table_schema = 'analytics' and table_name = ?"
    return bool(con.execute(query, [name]).fetchall()[0][0])


def main() -> int:
    settings = load_settings()
    if not settings.warehouse_path.exists():
        print(f"no warehouse at {settings.warehouse_path}: run `make demo` or `make backfill` first")
        return 1
    con = connect(settings.warehouse_path, read_only=True, memory_limit=settings.duckdb_memory_limit)
    print(f"\nWarehouse (DuckDB, open read-only when no run is writing): {settings.warehouse_path}")
    print(f"Landing folder: {settings.landing_dir}\n")
    print(f"{'table':<38} {'rows':>12}  period")
    for mart in MARTS:
        date_col = {"order_lines": "order_date", "customer_sku_weekly_demand": "week_start"}.get(mart, "as_of_date")
        rows, first, last = con.execute(
            f"select count(*), min({date_col}), max({date_col}) from marts.{mart}"
        ).fetchone()
        print(f"marts.{mart:<32} {rows:>12,}  {first} .. {last}")
    has_analytics = _has_table(con, "forecast_runs")
    if has_analytics:
        for table, date_col in ANALYTICS.items():
            rows, first, last = con.execute(
                f"select count(*), min({date_col}), max({date_col}) from analytics.{table}"
            ).fetchone()
            print(f"analytics.{table:<28} {rows:>12,}  {first} .. {last}")
    for mart, sql in PREVIEWS.items():
        print(f"\n-- marts.{mart}")
        print(con.execute(sql).df().to_string(index=False))
    if has_analytics:
        for table, sql in ANALYTICS_PREVIEWS.items():
            if table in ("replenishment_plan", "inventory_alerts") and not _has_table(con, table):
                continue
            print(f"\n-- analytics.{table}")
            print(con.execute(sql).df().to_string(index=False))
    con.close()
    _print_published(settings.data_dir, settings.postgres_url, settings.postgres_schema)
    return 0


def _print_published(data_dir: Path, postgres_url: str | None, postgres_schema: str) -> None:
    """What BI tools see: serving.duckdb's catalogue and the latest recommendations."""
    import duckdb

    serving = data_dir / "serving.duckdb"
    if not serving.exists():
        print(f"\nNothing published yet ({serving} does not exist).")
        return
    con = duckdb.connect(str(serving), read_only=True)
    try:
        print(f"\nPublished for BI (open read-only; columns: docs/tables.md): {serving}")
        print(f"Parquet: {data_dir / 'published'}/<table>/as_of_date=<day>/")
        if postgres_url:
            print(f"PostgreSQL: the same tables in schema {postgres_schema} of the server of RESTOCK_POSTGRES_URL")
        print(
            con.execute("select table_name, days, first_day, latest_day from published_tables order by 1")
            .df()
            .to_string(index=False)
        )
        tables = {r[0] for r in con.execute("select table_name from published_tables where has_view").fetchall()}
        for table, title, sql in LATEST_PREVIEWS:
            if table in tables:
                print(f"\n-- {table}_latest: {title}")
                print(con.execute(sql).df().to_string(index=False))
        if "kpis" in tables:
            print("\n" + kpi_line(con, "replenishment_replay" in tables))
    finally:
        con.close()
    report = data_dir / "published" / "report" / "report_latest.html"
    if report.exists():
        print(f"\nDaily report (open in a browser, works offline): {report}")


def _percent(value: float | None, signed: bool = False) -> str:
    if value is None or value != value:  # null or NaN
        return "n/a"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def kpi_line(con: DuckDBPyConnection, with_replay: bool) -> str:
    """The last published day's total KPIs over the longest window, and the replay, in one paragraph."""
    found = con.execute(
        """select as_of_date, window_weeks, quantity_fill_rate, line_fill_rate, stockout_days, on_hand_qty,
                  inventory_value, inventory_turnover, days_of_supply, achieved_service_level,
                  target_service_level, forecast_wape, forecast_bias
           from kpis_latest where level = 'total' order by window_weeks desc limit 1"""
    ).fetchone()
    if found is None:
        return "KPIs: no total row published yet."
    day, weeks, fill, lines, stockouts, on_hand, value, turnover, supply, achieved, target, wape, bias = found
    text = (
        f"KPIs {day} (last {weeks} weeks, all warehouses): fill rate {_percent(fill)} of the quantity requested "
        f"({_percent(lines)} of the lines in full), {stockouts or 0} stockout SKU-days, on hand {on_hand or 0:,.0f} "
        f"cartons worth {float(value or 0):,.0f}, turnover {turnover or 0:.1f} a year, {supply or 0:.1f} days of "
        f"supply, cycle service level {_percent(achieved)} (target {_percent(target)}), forecast WAPE "
        f"{_percent(wape)}, bias {_percent(bias, signed=True)}."
    )
    if with_replay:
        replay = con.execute(
            """select replay_weeks, avg_on_hand_change, plan_fill_rate, actual_fill_rate, plan_stockout_days,
                      actual_stockout_days from replenishment_replay_latest where level = 'total'"""
        ).fetchone()
        if replay is not None:
            weeks, change, plan_fill, actual_fill, plan_out, actual_out = replay
            more_or_less = "less" if (change or 0) < 0 else "more"
            text += (
                f"\nReplay of the last {weeks} weeks: following the plan would have held "
                f"{abs(change or 0):.1%} {more_or_less} stock at a fill rate of {_percent(plan_fill)} "
                f"(actual {_percent(actual_fill)}; stockout SKU-days {plan_out} vs {actual_out})."
            )
    return text


if __name__ == "__main__":
    sys.exit(main())
