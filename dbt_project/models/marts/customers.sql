{{ config(meta={'window_column': 'as_of_date'}) }}

-- Customer x day: the customer snapshot in force that day, whether the customer is
-- active, its trailing volume and its tier. Point in time: a row for day D uses
-- only orders dated on or before D. Incremental: a run replaces the days of its
-- partition window.
--
-- Tier (档位): the CRM tier when the CRM has one; otherwise derived from the trailing
-- volume as volume band x price band:
--   derived_tier = volume_band * n_price_bands + price_band + 1
-- (10 volume bands x 3 price bands = tiers 1..30 with restock.yaml's edges), capped
-- at new_customer_max_tier for customers opened less than tier_window_weeks weeks ago.

{%- set window = partition_window(is_incremental()) %}
{%- set window_weeks = positive_int(var('tier_window_weeks'), 'tier_window_weeks') %}
{%- set window_days = window_weeks * 7 %}
{%- set volume_edges = band_edges(var('tier_volume_band_edges'), 'tier_volume_band_edges') %}
{%- set price_edges = band_edges(var('tier_price_band_edges'), 'tier_price_band_edges') %}
{%- set n_price_bands = (price_edges | length) + 1 %}
{%- set new_customer_max_tier = positive_int(var('new_customer_max_tier'), 'new_customer_max_tier') %}

with customer_days as (

    select * from {{ ref('int_customers__snapshot_as_of_day') }}
    where {{ in_window('as_of_date', window) }}

),

order_lines as (

    select * from {{ ref('order_lines') }}

),

daily_order_totals as (

    -- Only the orders a trailing window ending inside the partition window can see.
    select
        customer_id,
        order_date,
        sum(ordered_qty) as ordered_qty,
        sum(line_amount) as line_amount,
        -- quantity of the lines that carry an amount: the denominator of the price
        sum(case when line_amount is not null then ordered_qty end) as priced_qty

    from order_lines
    where {{ in_window('order_date', window, lead_in_days=window_days - 1) }}
    group by customer_id, order_date

),

first_orders as (

    select
        customer_id,
        min(order_date) as first_order_date

    from order_lines
    group by customer_id

),

activity as (

    -- Customer-days (zero volume) and order-days of the same customers in one
    -- stream, so that a running sum over a date range gives each customer-day its
    -- trailing totals without a customer x day x order join.
    select
        customer_id,
        as_of_date as activity_date,
        true as is_customer_day,
        cast(0 as decimal(18, 3)) as ordered_qty,
        cast(0 as decimal(18, 2)) as line_amount,
        cast(0 as decimal(18, 3)) as priced_qty
    from customer_days

    union all

    select
        customer_id,
        order_date as activity_date,
        false as is_customer_day,
        ordered_qty,
        line_amount,
        priced_qty
    from daily_order_totals

),

trailing_totals as (

    select
        customer_id,
        activity_date as as_of_date,
        is_customer_day,
        sum(ordered_qty) over trailing_days as trailing_qty,
        sum(line_amount) over trailing_days as trailing_amount,
        sum(priced_qty) over trailing_days as trailing_priced_qty

    from activity
    -- the window_days days ending on the row's date, that day included (RANGE
    -- frames include the current date's order-day rows)
    window trailing_days as (
        partition by customer_id
        order by activity_date
        range between interval '{{ window_days - 1 }} days' preceding and current row
    )

),

measured as (

    select
        customer_days.*,
        (
            customer_days.customer_status = 'active'
            and (customer_days.opened_on is null or customer_days.opened_on <= customer_days.as_of_date)
            and (customer_days.closed_on is null or customer_days.closed_on > customer_days.as_of_date)
        ) as is_active,
        case
            when first_orders.first_order_date <= customer_days.as_of_date
                then first_orders.first_order_date
        end as first_order_date,
        coalesce(trailing_totals.trailing_qty, 0) as trailing_qty,
        coalesce(trailing_totals.trailing_amount, 0) as trailing_amount,
        coalesce(trailing_totals.trailing_qty, 0) / {{ window_weeks }} as avg_weekly_qty,
        trailing_totals.trailing_amount
            / nullif(trailing_totals.trailing_priced_qty, 0) as avg_unit_price_amount

    from customer_days
    left join trailing_totals
        on trailing_totals.customer_id = customer_days.customer_id
        and trailing_totals.as_of_date = customer_days.as_of_date
        and trailing_totals.is_customer_day
    left join first_orders
        on first_orders.customer_id = customer_days.customer_id

),

banded as (

    select
        *,
        {{ band_index('avg_weekly_qty', volume_edges) }} as volume_band,
        {{ band_index('avg_unit_price_amount', price_edges) }} as price_band,
        -- new: fewer than tier_window_weeks weeks since it opened (or, without an
        -- opening date, since its first order; no history at all counts as new)
        coalesce(
            {{ dbt.datediff('coalesce(opened_on, first_order_date)', 'as_of_date', 'day') }}
                < {{ window_days }},
            true
        ) as is_new_customer

    from measured

),

tiered as (

    select
        *,
        case
            when crm_tier is null and is_new_customer
                then least(volume_band * {{ n_price_bands }} + price_band + 1, {{ new_customer_max_tier }})
            when crm_tier is null
                then volume_band * {{ n_price_bands }} + price_band + 1
        end as derived_tier

    from banded

)

select
    -- ids
    as_of_date,
    customer_id,

    -- attributes of the snapshot in force
    customer_name,
    channel,
    region,
    customer_status,
    order_weekday,
    opened_on,
    closed_on,
    snapshot_date,
    is_active,

    -- trailing volume (point in time)
    first_order_date,
    trailing_qty,
    trailing_amount,
    avg_weekly_qty,
    avg_unit_price_amount,

    -- tier
    volume_band,
    price_band,
    is_new_customer,
    crm_tier,
    derived_tier,
    coalesce(crm_tier, derived_tier) as tier,
    case when crm_tier is not null then 'crm' else 'derived' end as tier_source

from tiered
