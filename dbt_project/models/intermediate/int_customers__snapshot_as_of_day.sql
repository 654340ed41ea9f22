-- Customer x day: the attributes of the customer snapshot in force that day (the
-- latest snapshot dated on or before it). Customers missing from the snapshot in
-- force have no row that day. A filter on as_of_date is pushed down to the calendar.

with customers as (

    select * from {{ ref('stg_crm__customers') }}

),

snapshot_ranges as (

    {{ snapshot_ranges('customers') }}

),

calendar as (

    select calendar_date from {{ ref('int_calendar__days') }}

)

select
    calendar.calendar_date as as_of_date,
    customers.customer_id,
    customers.customer_name,
    customers.channel,
    customers.region,
    customers.crm_tier,
    customers.customer_status,
    customers.order_weekday,
    customers.opened_on,
    customers.closed_on,
    customers.snapshot_date

from calendar
inner join snapshot_ranges
    on {{ in_snapshot_range('calendar.calendar_date', 'snapshot_ranges') }}
inner join customers
    on customers.snapshot_date = snapshot_ranges.valid_from
