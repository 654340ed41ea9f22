-- Order lines from the CRM: typed, deduplicated, confirmed lines only.
-- Filters on partition_date are pushed down to raw.orders (the dedupe window is
-- partitioned by it), so a one-day run reads one day of raw.

with source as (

    select * from {{ source('raw', 'orders') }}

),

renamed as (

    select
        -- ids
        {{ clean_text('order_id') }} as order_id,
        cast({{ clean_text('line_no') }} as integer) as line_no,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('sku') }} as sku,

        -- status
        {{ clean_code('status') }} as order_status,

        -- quantities, in sales units (cartons)
        cast({{ clean_text('quantity') }} as decimal(18, 3)) as ordered_qty,
        cast({{ clean_text('requested_quantity') }} as decimal(18, 3)) as delivered_requested_qty,

        -- amounts, in currency (yuan)
        cast({{ clean_text('unit_price') }} as decimal(18, 2)) as unit_price_amount,
        cast({{ clean_text('amount') }} as decimal(18, 2)) as delivered_line_amount,

        -- dates
        cast({{ clean_text('order_date') }} as date) as order_date,

        -- lineage
        _partition_date as partition_date,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at

    from source

),

deduplicated as (

    -- A line repeated inside one file: the last row of the file wins. Across files
    -- there is nothing to dedupe (a re-delivered day replaces its rows in raw).
    select
        *,
        row_number() over (
            partition by partition_date, order_id, line_no
            order by source_row desc
        ) as version_rank

    from renamed

),

confirmed as (

    select * from deduplicated
    where version_rank = 1
      and order_status = 'confirmed'

)

select
    order_id,
    line_no,
    customer_id,
    sku,
    order_date,
    ordered_qty,
    coalesce(delivered_requested_qty, ordered_qty) as requested_qty,
    unit_price_amount,
    coalesce(
        delivered_line_amount,
        cast(ordered_qty * unit_price_amount as decimal(18, 2))
    ) as line_amount,
    partition_date,
    source_file,
    source_row,
    loaded_at

from confirmed
