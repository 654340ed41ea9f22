-- One row per day from the first to the last day loaded in raw (any of the orders,
-- inventory, customers or products extracts), gaps included. Every date spine in the
-- project comes from here, so a window like 1900-01-01..2999-12-31 costs nothing.
-- Reads the raw partition dates directly: min/max of one DATE column per table is a
-- cheap scan, cheaper than going through the deduplicating staging views.

with loaded_ranges as (

    {% for extract in ['orders', 'inventory', 'customers', 'products'] -%}
    select min(_partition_date) as first_day, max(_partition_date) as last_day
    from {{ source('raw', extract) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

bounds as (

    select min(first_day) as first_day, max(last_day) as last_day
    from loaded_ranges

),

days as (

    select cast(series.day_ts as date) as calendar_date
    from bounds,
        generate_series(
            cast(bounds.first_day as timestamp),
            cast(bounds.last_day as timestamp),
            interval '1 day'
        ) as series(day_ts)

)

select
    calendar_date,
    {{ week_start('calendar_date') }} as week_start,
    cast(extract(isodow from calendar_date) as integer) as iso_weekday

from days
