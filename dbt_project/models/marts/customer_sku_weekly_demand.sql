{{ config(meta={'window_column': 'week_start', 'window_grain': 'week'}) }}

-- Customer x SKU x week (Monday): quantities ordered, with explicit zero weeks. A
-- customer x SKU has a row for every week from the week of the customer's first
-- order of that SKU in which the customer was active on at least one day (as per
-- the customers mart), up to the last loaded day, and for every week with orders;
-- weeks without orders carry 0. Incremental: a run replaces the weeks overlapping
-- its partition window (the current week is recomputed by every daily run).

{%- set window = partition_window(is_incremental(), grain='week') %}

with order_lines as (

    select * from {{ ref('order_lines') }}

),

weekly_orders as (

    select
        customer_id,
        sku,
        week_start,
        sum(ordered_qty) as ordered_qty,
        sum(requested_qty) as requested_qty,
        count(*) as order_line_count

    from order_lines
    -- the window's weeks: from its first Monday to its last Sunday
    where {{ in_window('order_date', window, lag_days=6) }}
    group by customer_id, sku, week_start

),

first_order_weeks as (

    select
        customer_id,
        sku,
        min(week_start) as first_order_week

    from order_lines
    group by customer_id, sku

),

active_weeks as (

    select
        customer_id,
        {{ week_start('as_of_date') }} as week_start,
        count(*) as active_days

    from {{ ref('customers') }}
    where is_active
      and {{ in_window('as_of_date', window, lag_days=6) }}
    group by customer_id, {{ week_start('as_of_date') }}

),

demand_weeks as (

    -- weeks the customer was active, from its first order of the SKU on
    select
        first_order_weeks.customer_id,
        first_order_weeks.sku,
        active_weeks.week_start

    from first_order_weeks
    inner join active_weeks
        on active_weeks.customer_id = first_order_weeks.customer_id
        and active_weeks.week_start >= first_order_weeks.first_order_week

    union

    -- and every week with orders (an order is demand even from an inactive customer)
    select customer_id, sku, week_start
    from weekly_orders

)

select
    -- ids
    demand_weeks.customer_id,
    demand_weeks.sku,
    demand_weeks.week_start,

    -- quantities, in sales units (cartons)
    coalesce(weekly_orders.ordered_qty, 0) as ordered_qty,
    coalesce(weekly_orders.requested_qty, 0) as requested_qty,
    coalesce(weekly_orders.order_line_count, 0) as order_line_count,

    -- exposure
    coalesce(active_weeks.active_days, 0) as customer_active_days

from demand_weeks
left join weekly_orders
    on weekly_orders.customer_id = demand_weeks.customer_id
    and weekly_orders.sku = demand_weeks.sku
    and weekly_orders.week_start = demand_weeks.week_start
left join active_weeks
    on active_weeks.customer_id = demand_weeks.customer_id
    and active_weeks.week_start = demand_weeks.week_start
