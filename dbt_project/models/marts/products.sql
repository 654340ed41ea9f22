{{ config(meta={'window_column': 'as_of_date'}) }}

-- SKU x day: the product snapshot in force that day, typed. Incremental: a run
-- replaces the days of its partition window.

{%- set window = partition_window(is_incremental()) %}

with products as (

    select * from {{ ref('int_products__snapshot_as_of_day') }}
    where {{ in_window('as_of_date', window) }}

)

select
    -- ids
    as_of_date,
    sku,

    -- attributes
    product_name,
    brand,
    category,
    price_band,
    sales_unit,
    product_status,
    -- a product without a status is active; a launch date in the future is not yet
    coalesce(product_status, 'active') = 'active'
        and (launched_on is null or launched_on <= as_of_date) as is_active,

    -- numerics
    units_per_case,
    unit_cost_amount,
    list_price_amount,
    lead_time_days,
    lead_time_std_days,
    moq_cases,
    shelf_life_days,

    -- dates
    launched_on,
    snapshot_date

from products
