{{ config(meta={'window_column': 'order_date'}) }}

-- Confirmed order lines, one row per order line. Incremental: a run replaces the
-- order dates of its partition window (see macros/incremental_replace_window.sql).

{%- set window = partition_window(is_incremental()) %}

with order_lines as (

    select * from {{ ref('stg_crm__orders') }}
    -- partition_date is the pushable filter (raw is read for the window only);
    -- order_date equals it (tested on stg_crm__orders).
    where {{ in_window('partition_date', window) }}
      and {{ in_window('order_date', window) }}

)

select
    -- ids
    order_id,
    line_no,
    customer_id,
    sku,

    -- dates
    order_date,
    {{ week_start('order_date') }} as week_start,

    -- quantities, in sales units (cartons)
    ordered_qty,
    requested_qty,
    requested_qty - ordered_qty as shortfall_qty,

    -- amounts
    unit_price_amount,
    line_amount,

    -- lineage
    partition_date,
    source_file,
    source_row

from order_lines
