{{ config(meta={'window_column': 'as_of_date'}) }}

-- Warehouse x SKU x day: end-of-day stock in sales units (cartons) and the
-- inventory position (on hand + in transit - allocated). Incremental: a run replaces
-- the days of its partition window.

{%- set window = partition_window(is_incremental()) %}

with inventory as (

    select * from {{ ref('stg_wms__inventory') }}
    where {{ in_window('inventory_date', window) }}

)

select
    -- ids
    inventory_date as as_of_date,
    warehouse_id,
    sku,

    -- quantities, in sales units (cartons)
    on_hand_qty,
    in_transit_qty,
    allocated_qty,
    on_hand_qty + in_transit_qty - allocated_qty as inventory_position_qty,

    -- age of the stock
    oldest_batch_date,
    {{ dbt.datediff('oldest_batch_date', 'inventory_date', 'day') }} as oldest_batch_age_days

from inventory
