-- SKU x day: the attributes of the product snapshot in force that day (the latest
-- snapshot dated on or before it). SKUs missing from the snapshot in force have no
-- row that day. A filter on as_of_date is pushed down to the calendar.

with products as (

    select * from {{ ref('stg_crm__products') }}

),

snapshot_ranges as (

    {{ snapshot_ranges('products') }}

),

calendar as (

    select calendar_date from {{ ref('int_calendar__days') }}

)

select
    calendar.calendar_date as as_of_date,
    products.sku,
    products.product_name,
    products.brand,
    products.category,
    products.price_band,
    products.sales_unit,
    products.product_status,
    products.units_per_case,
    products.unit_cost_amount,
    products.list_price_amount,
    products.lead_time_days,
    products.lead_time_std_days,
    products.moq_cases,
    products.shelf_life_days,
    products.launched_on,
    products.snapshot_date

from calendar
inner join snapshot_ranges
    on {{ in_snapshot_range('calendar.calendar_date', 'snapshot_ranges') }}
inner join products
    on products.snapshot_date = snapshot_ranges.valid_from
