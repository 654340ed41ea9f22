"""The forecasting tables of the warehouse (schema ``analytics``) and their views.

- ``segment_forecasts``: segment × SKU × week for each forecast origin (horizon
  1..H, point and bounds, model, how it was obtained, the in-sample naive MAE used
  by MASE, the base forecast before reconciliation);
- ``level_forecasts``: the same for the SKU and total series (:mod:`restock.forecasting.levels`);
- ``reconciliations``: how each origin's levels were made to add up;
- ``customer_forecast_shares``: customer × SKU shares of each segment × SKU per
  origin (:mod:`restock.forecasting.disaggregation`);
- ``forecast_members``: customer → segment on each origin for every customer that
  has not closed (churned ones that come back are demand too): the population each
  segment forecast is made from and for; the accuracy review compares with its demand;
- ``model_choices``: the model picked per series at each selection origin, with its
  parameters and backtest scores;
- ``forecast_runs``: as_of_date → forecast_origin, one row per materialized day;
- ``accuracy_reviews``: the review computed on each origin.

Views: ``demand_forecasts`` (every level per as_of_date: total, SKU, warehouse ×
SKU, segment × SKU, customer × SKU; the published shape) and ``forecast_accuracy`` (per as_of_date). Days between two
origins reuse the origin's rows through ``forecast_runs`` instead of copying them.

The columns of every table and view are described in ``restock/warehouse_tables.yml``,
which the tables are created from (:mod:`restock.table_registry`).
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection

from restock import table_registry

# Created from restock/warehouse_tables.yml, in this order.
TABLES = (
    "segment_forecasts",
    "level_forecasts",
    "reconciliations",
    "customer_forecast_shares",
    "forecast_members",
    "model_choices",
    "forecast_runs",
    "accuracy_reviews",
)


def _exact_sum(column: str) -> str:
    """SQL summing DOUBLE ``column`` to the same last digit on every run, whatever order
    DuckDB's threads add the terms in: the terms rounded to 1e-12 and added as decimals
    (exact). A sum ordered by customer did that too, at ~0.5 s of the ~0.7 s a demo day's
    read took. A NaN, an infinity or a term of 1e20 or more (no decimal can hold it) makes
    it the plain sum, so the value reaches the published gate instead of failing the read."""
    fits = f"isfinite({column}) and abs({column}) < 1e20"
    return (
        f"case when bool_and({fits}) then sum(case when {fits} then {column}::decimal(38, 12) end)::double "
        f"else sum({column}) end"
    )


# Queries over the tables (their columns are described in warehouse_tables.yml too).
VIEWS = [
    # Every level of the published forecasts. Customer rows = segment forecast × share,
    # bounds from the customer's own spread (share ratios; segment bound × share without);
    # warehouse × SKU rows = the sum of the warehouse's customer rows, bounds the sum of
    # segment bound × share; SKU and total rows = level_forecasts, reconciled to the sum
    # of the segment rows; the warehouse sums are _exact_sum's.
    f"""create or replace view analytics.demand_forecasts as
        with customer_rows as (
            select r.as_of_date, f.segment_id, s.customer_id, m.warehouse_id, f.sku, f.forecast_origin,
                   f.period_start, f.horizon, f.forecast_qty * s.share as forecast_qty,
                   f.lower_qty * s.share as lower_qty, f.upper_qty * s.share as upper_qty,
                   coalesce(f.forecast_qty * s.share * s.lower_ratio, f.lower_qty * s.share) as own_lower_qty,
                   coalesce(f.forecast_qty * s.share * s.upper_ratio, f.upper_qty * s.share) as own_upper_qty,
                   f.model
            from analytics.forecast_runs r
            join analytics.segment_forecasts f using (forecast_origin)
            join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)
            left join analytics.forecast_members m using (forecast_origin, customer_id)
        )
        select r.as_of_date, l.level, null::varchar as warehouse_id, null::varchar as segment_id,
               null::varchar as customer_id, case when l.level = 'sku' then l.key end as sku,
               l.forecast_origin, l.period_start, l.horizon, l.forecast_qty, l.lower_qty, l.upper_qty, l.model
        from analytics.forecast_runs r join analytics.level_forecasts l using (forecast_origin)
        union all
        select as_of_date, 'warehouse' as level, warehouse_id, null::varchar, null::varchar, sku, forecast_origin,
               period_start, horizon, {_exact_sum("forecast_qty")}, {_exact_sum("lower_qty")},
               {_exact_sum("upper_qty")}, null::varchar as model
        from customer_rows where warehouse_id is not null
        group by as_of_date, warehouse_id, sku, forecast_origin, period_start, horizon
        union all
        select r.as_of_date, 'segment' as level, null::varchar, f.segment_id, null::varchar, f.sku,
               f.forecast_origin, f.period_start, f.horizon, f.forecast_qty, f.lower_qty, f.upper_qty, f.model
        from analytics.forecast_runs r join analytics.segment_forecasts f using (forecast_origin)
        union all
        select as_of_date, 'customer' as level, warehouse_id, segment_id, customer_id, sku, forecast_origin,
               period_start, horizon, forecast_qty, own_lower_qty, own_upper_qty, model
        from customer_rows""",
    """create or replace view analytics.forecast_accuracy as
        select r.as_of_date, a.* exclude (review_date), a.review_date
        from analytics.forecast_runs r join analytics.accuracy_reviews a on a.review_date = r.forecast_origin""",
]

# Columns in table order, from restock/warehouse_tables.yml.
FORECAST_COLUMNS = table_registry.columns("segment_forecasts")
LEVEL_COLUMNS = table_registry.columns("level_forecasts")
CHOICE_COLUMNS = table_registry.columns("model_choices")


def ensure_tables(con: DuckDBPyConnection) -> None:
    table_registry.ensure_tables(con, TABLES)
    for view in VIEWS:
        con.execute(view)
