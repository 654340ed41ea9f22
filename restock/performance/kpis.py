"""``analytics.kpis``: the numbers planners judge a replenishment system by, per
``as_of_date`` D, over trailing windows of whole weeks ending on D
(``kpis.windows_weeks``, default 1 and 13).

One set-based pass over a range of days (a backfill of two years is one query, not a
loop over days); every row of D reads only data dated on or before D.

Definitions (docs/tables.md repeats them per column):

- **Demand.** Order lines (``marts.order_lines``) dated in the window. A line belongs to
  the warehouse of its customer's region on the order date (``marts.customers``,
  mapped by ``replenishment.region_warehouse`` / ``default_warehouse``, as the plan
  does); lines of customers no warehouse serves are left out of every row.
  ``requested_qty`` = Σ requested, ``supplied_qty`` = Σ ordered (confirmed after
  rationing); **quantity fill rate** = supplied ÷ requested; **line fill rate** = lines
  supplied in full ÷ lines with a request.
- **Stock.** ``marts.inventory_positions`` (end of day). On a day the warehouse
  delivered a snapshot, a SKU missing from it holds 0; a day without any snapshot of
  the warehouse counts for neither stock nor stockouts. A **stockout day** is a day
  with a request for the SKU at the warehouse and on hand ≤ 0 at the end of it
  (warehouse and total rows: SKU-days). **Average on hand** = mean end-of-day on hand
  over the window's snapshot days.
- **Value** at the SKU's ``unit_cost_amount`` on D (``marts.products``):
  inventory value = on hand on D × cost; overstock = on hand above the plan's
  ``order_up_to`` on D (``analytics.replenishment_plan``); **turnover** = cost of the
  goods supplied ÷ average inventory value, annualised (× 365 ÷ window days);
  **days of supply** = on hand on D ÷ mean daily request over the window.
- **Cycle service level.** The window is cut into review cycles of
  ``replenishment.review_period_days`` (whole days, at least 1; 7 when it is 0) ending
  on D; a cycle counts when the SKU had a request in it, and is served when it had no
  stockout day. Achieved = served ÷ counted cycles, beside the target ``service_level``
  of the plan on D (its ABC class); aggregated rows weight the targets by counted cycles.
- **Forecast accuracy** on the rows whose window equals ``accuracy.window_weeks``:
  WAPE and bias of the horizon-1 forecasts of the review published on D
  (``analytics.forecast_accuracy``: level warehouse key = warehouse, level total);
  null elsewhere (no review is kept per warehouse × SKU, ABC class or tier).

Levels: ``warehouse_sku``, ``warehouse``, ``total`` (Σ of the warehouses), ``abc_class``
(all warehouses, per the SKU's class on D) and ``tier`` (demand columns only: is
rationing fair by tier?, the customer's tier on the order date).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.config import RestockConfig

log = logging.getLogger(__name__)

TABLE = "kpis"
COLUMNS = table_registry.columns(TABLE)
LEVELS = ("warehouse_sku", "warehouse", "total", "abc_class", "tier")
# A float sum depends on the order DuckDB's threads add in: quantities are summed exactly.
EXACT = "decimal(38, 6)"
PER_KEY = "decimal(38, 12)"  # a per-key DOUBLE term, rounded to 1e-12 before it is summed


def ensure_table(con: DuckDBPyConnection) -> None:
    table_registry.ensure_tables(con, {TABLE: COLUMNS})


def cycle_days(review_period_days: float) -> int:
    """Days of one review cycle: the review period in whole days, 7 when it is 0."""
    return max(1, round(review_period_days)) if review_period_days > 0 else 7


def _region_map_sql(config: RestockConfig) -> str:
    """``(region, warehouse_id)`` rows of ``replenishment.region_warehouse`` as SQL values."""
    pairs = config.replenishment.region_warehouse.items()
    if not pairs:
        return "select null::varchar as region, null::varchar as warehouse_id where false"
    rows = ", ".join(f"({_quote(region)}, {_quote(warehouse)})" for region, warehouse in sorted(pairs))
    return f"select * from (values {rows}) as m(region, warehouse_id)"


def _run(con: DuckDBPyConnection, sql: str, params: dict) -> None:
    """``sql`` with the named parameters it uses (DuckDB refuses unused ones)."""
    con.execute(sql, {name: value for name, value in params.items() if f"${name}" in sql})


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def warehouse_lines(con: DuckDBPyConnection, name: str, start: date, last: date, config: RestockConfig) -> None:
    """The order lines dated ``start .. last`` as temporary table ``name``: warehouse_id
    (of the customer's region on the order date), sku, day, tier, requested, supplied
    (exact decimals), requested_line and filled_line (0/1); lines of customers no
    warehouse serves are left out."""
    default = config.replenishment.default_warehouse
    _run(
        con,
        f"""create or replace temp table {name} as
        with region_map as ({_region_map_sql(config)})
        select coalesce(m.warehouse_id, {_quote(default) if default else "null"}) as warehouse_id,
               o.sku, o.order_date as day, c.tier,
               o.requested_qty::{EXACT} as requested, o.ordered_qty::{EXACT} as supplied,
               (o.requested_qty > 0)::int as requested_line,
               (o.requested_qty > 0 and o.ordered_qty >= o.requested_qty)::int as filled_line
        from marts.order_lines o
        left join marts.customers c on c.customer_id = o.customer_id and c.as_of_date = o.order_date
        left join region_map m on m.region = c.region
        where o.order_date between $start and $last""",
        {"start": start, "last": last},
    )
    con.execute(f"delete from {name} where warehouse_id is null")


def build_kpis(con: DuckDBPyConnection, first: date, last: date, config: RestockConfig) -> int:
    """Compute the KPI rows of every day in ``first .. last`` into the temporary table
    ``_kpis`` (columns :data:`COLUMNS`); returns its row count."""
    windows = sorted(set(config.kpis.windows_weeks))
    longest = 7 * windows[-1]
    start = first - timedelta(days=longest - 1)  # the first day any window of first reads
    cycle = cycle_days(config.replenishment.review_period_days)
    params = {"start": start, "first": first, "last": last}
    warehouse_lines(con, "_kpi_lines", start, last, config)
    # One row per warehouse × SKU × day from the key's first appearance (dense: windows count rows).
    _run(
        con,
        f"""create or replace temp table _kpi_days as
        with snapshots as (
            select warehouse_id, as_of_date as day from marts.inventory_positions
            where as_of_date between $start and $last group by all
        ),
        stock as (
            select warehouse_id, sku, as_of_date as day, on_hand_qty::{EXACT} as on_hand
            from marts.inventory_positions where as_of_date between $start and $last
        ),
        demand as (
            select warehouse_id, sku, day, sum(requested) as requested, sum(supplied) as supplied,
                   sum(requested_line) as lines, sum(filled_line) as filled_lines
            from _kpi_lines group by all
        ),
        keys as (
            select warehouse_id, sku, min(day) as since from (
                select warehouse_id, sku, day from stock union all select warehouse_id, sku, day from demand
            ) group by all
        ),
        grid as (
            select k.warehouse_id, k.sku, d.day::date as day
            from keys k, range($start::timestamp, $last::timestamp + interval 1 day, interval 1 day) d(day)
            where d.day >= k.since
        )
        select g.warehouse_id, g.sku, g.day,
               coalesce(d.requested, 0) as requested, coalesce(d.supplied, 0) as supplied,
               coalesce(d.lines, 0) as lines, coalesce(d.filled_lines, 0) as filled_lines,
               case when s.on_hand is not null then s.on_hand when n.day is not null then 0 end as on_hand,
               coalesce(coalesce(d.requested, 0) > 0
                        and (s.on_hand <= 0 or (s.on_hand is null and n.day is not null)), false)::int as stockout
        from grid g
        left join demand d using (warehouse_id, sku, day)
        left join stock s using (warehouse_id, sku, day)
        left join snapshots n using (warehouse_id, day)""",
        params,
    )
    con.execute("create or replace temp table _kpis as select * from analytics.kpis limit 0")
    for weeks in windows:
        _insert_window(con, weeks, cycle, config, params)
    con.execute(
        """update _kpis set key = case level
             when 'warehouse_sku' then warehouse_id || '|' || sku
             when 'warehouse' then warehouse_id
             when 'total' then 'all'
             when 'abc_class' then coalesce(abc_class, 'unclassified')
             else coalesce(tier::varchar, 'unknown') end"""
    )
    con.execute("drop table if exists _kpi_lines")
    con.execute("drop table if exists _kpi_days")
    found = con.execute("select count(*) from _kpis").fetchone()
    return int(found[0]) if found else 0


def _insert_window(con: DuckDBPyConnection, weeks: int, cycle: int, config: RestockConfig, params: dict) -> None:
    days = 7 * weeks
    cycles = max(1, days // cycle)
    review_weeks = config.accuracy.window_weeks
    frame = f"partition by warehouse_id, sku order by day rows between {days - 1} preceding and current row"
    block = f"partition by warehouse_id, sku order by day rows between {cycle - 1} preceding and current row"
    # Blocks ending on D, D - cycle, ...: the same day modulo the cycle, `cycles` of them.
    blocks = (
        f"partition by warehouse_id, sku, (day - date '2000-01-03') % {cycle} "
        f"order by day rows between {cycles - 1} preceding and current row"
    )
    _run(
        con,
        f"""create or replace temp table _kpi_window as
        with blocks as (
            select *, (sum(requested) over ({block}) > 0)::int as block_demand,
                   (sum(stockout) over ({block}) > 0)::int as block_stockout
            from _kpi_days
        ),
        rolled as (
            select warehouse_id, sku, day, on_hand as on_hand_today,
                   sum(requested) over ({frame}) as requested, sum(supplied) over ({frame}) as supplied,
                   sum(lines) over ({frame}) as lines, sum(filled_lines) over ({frame}) as filled_lines,
                   sum(stockout) over ({frame}) as stockout_days,
                   sum(on_hand) over ({frame}) as on_hand_sum, count(on_hand) over ({frame}) as snapshot_days,
                   sum(block_demand) over ({blocks}) as demand_cycles,
                   sum(block_demand * (1 - block_stockout)) over ({blocks}) as served_cycles
            from blocks
        )
        select r.*, p.unit_cost_amount as unit_cost,
               -- per-key terms as exact decimals: their sums over keys do not depend on
               -- the order DuckDB's threads add them in (a re-run gives the same digits)
               (r.on_hand_sum / nullif(r.snapshot_days, 0))::{PER_KEY} as avg_on_hand,
               greatest(r.on_hand_today - pl.order_up_to, 0)::{PER_KEY} as overstock,
               pl.service_level::{PER_KEY} as service_level,
               coalesce(pc.abc_class, pl.abc_class) as abc_class
        from rolled r
        left join marts.products p on p.sku = r.sku and p.as_of_date = r.day
        left join analytics.replenishment_plan pl
               on pl.warehouse_id = r.warehouse_id and pl.sku = r.sku and pl.as_of_date = r.day
        left join analytics.product_classes pc on pc.sku = r.sku and pc.as_of_date = r.day
        where r.day between $first and $last and (r.on_hand_today > 0 or r.requested > 0 or pl.sku is not null)""",
        params,
    )
    measures = f"""
        sum(lines)::integer as order_lines,
        sum(requested)::double as requested_qty,
        sum(supplied)::double as supplied_qty,
        sum(supplied) / nullif(sum(requested), 0) as quantity_fill_rate,
        sum(filled_lines) / nullif(sum(lines), 0) as line_fill_rate,
        sum(stockout_days)::integer as stockout_days,
        sum(avg_on_hand)::double as avg_on_hand_qty,
        sum(on_hand_today)::double as on_hand_qty,
        sum(on_hand_today * unit_cost)::decimal(18, 2) as inventory_value,
        sum(avg_on_hand * unit_cost)::decimal(18, 2) as avg_inventory_value,
        sum(overstock)::double as overstock_qty,
        sum(overstock * unit_cost)::decimal(18, 2) as overstock_value,
        sum(supplied * unit_cost)::decimal(18, 2) as cogs_value,
        sum(supplied * unit_cost) / nullif(sum(avg_on_hand * unit_cost), 0) * 365.0 / {days} as inventory_turnover,
        sum(on_hand_today) / nullif(sum(requested) / {days}, 0) as days_of_supply,
        sum(demand_cycles)::integer as demand_cycles,
        sum(served_cycles)::integer as served_cycles,
        sum(served_cycles) / nullif(sum(demand_cycles), 0) as achieved_service_level,
        case when sum(demand_cycles) > 0
             then sum(service_level * demand_cycles) / nullif(sum(case when service_level is not null
                                                                 then demand_cycles end), 0)
             else sum(service_level) / nullif(count(service_level), 0) end as target_service_level"""
    window_start = f"day - interval {days - 1} day"
    groups = {
        "warehouse_sku": ("warehouse_id, sku, abc_class", "warehouse_id, sku, abc_class"),
        "warehouse": ("warehouse_id", "warehouse_id, null, null"),
        "total": ("", "null, null, null"),
        "abc_class": ("abc_class", "null, null, abc_class"),
    }
    for level, (by, keys) in groups.items():
        group = f"day, {by}" if by else "day"
        _run(
            con,
            f"""insert into _kpis by name
            select day as as_of_date, {weeks} as window_weeks, '{level}' as level, null::integer as tier,
                   ({window_start})::date as window_start, * exclude (day)
            from (select day, {_key_columns(keys)}, {measures} from _kpi_window group by {group})""",
            params,
        )
    _run(
        con,
        f"""insert into _kpis by name
        with daily as (
            select tier, day, sum(requested) as requested, sum(supplied) as supplied,
                   sum(requested_line) as lines, sum(filled_line) as filled_lines
            from _kpi_lines group by all
        ),
        tiers as (select distinct tier from _kpi_lines),
        grid as (
            select t.tier, d.day::date as day
            from tiers t, range($start::timestamp, $last::timestamp + interval 1 day, interval 1 day) d(day)
        ),
        rolled as (
            select g.tier, g.day,
                   sum(coalesce(d.requested, 0)) over w as requested, sum(coalesce(d.supplied, 0)) over w as supplied,
                   sum(coalesce(d.lines, 0)) over w as lines, sum(coalesce(d.filled_lines, 0)) over w as filled_lines
            from grid g left join daily d on d.tier is not distinct from g.tier and d.day = g.day
            window w as (partition by g.tier order by g.day rows between {days - 1} preceding and current row)
        )
        select day as as_of_date, {weeks} as window_weeks, 'tier' as level, tier,
               ({window_start})::date as window_start,
               lines::integer as order_lines, requested::double as requested_qty, supplied::double as supplied_qty,
               supplied / nullif(requested, 0) as quantity_fill_rate, filled_lines / nullif(lines, 0) as line_fill_rate
        from rolled where day between $first and $last and requested > 0""",
        params,
    )
    if weeks == review_weeks:
        con.execute(
            """update _kpis k set forecast_wape = a.wape, forecast_bias = a.bias
            from analytics.forecast_accuracy a
            where a.as_of_date = k.as_of_date and a.horizon = 1 and k.window_weeks = $weeks
              and ((k.level = 'warehouse' and a.level = 'warehouse' and a.key = k.warehouse_id)
                or (k.level = 'total' and a.level = 'total' and a.key = 'all'))""",
            {"weeks": weeks},
        )
    con.execute("drop table if exists _kpi_window")


def _key_columns(keys: str) -> str:
    """``warehouse_id, sku, abc_class`` selected under those names from a group's key expressions."""
    names = ("warehouse_id", "sku", "abc_class")
    parts = [part.strip() for part in keys.split(",")]
    return ", ".join(
        f"{part}::varchar as {name}" if part == "null" else f"{part} as {name}"
        for part, name in zip(parts, names, strict=True)
    )


def run_kpi_days(con: DuckDBPyConnection, days: Sequence[date], config: RestockConfig) -> int:
    """Compute and replace the KPI rows of ``days`` (one transaction); returns rows written."""
    if not days:
        return 0
    ensure_table(con)
    first, last = min(days), max(days)
    build_kpis(con, first, last, config)
    wanted = sorted(set(days))
    con.execute("begin transaction")
    try:
        con.execute("delete from analytics.kpis where as_of_date in (select unnest(?::date[]))", [wanted])
        found = con.execute(
            f"insert into analytics.kpis ({', '.join(COLUMNS)}) select {', '.join(COLUMNS)} from _kpis "
            "where as_of_date in (select unnest(?::date[])) "
            "order by as_of_date, window_weeks, level, key",
            [wanted],
        ).fetchone()
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _kpis")
    return int(found[0]) if found else 0
