-- End-of-day stock per warehouse x SKU from the WMS: typed, deduplicated, in sales
-- units (cartons). When the extract counts cases (var inventory_quantity_unit =
-- 'case'), quantities are multiplied by units_per_case of the product snapshot in
-- force that day; a SKU without units_per_case then gets null quantities, which the
-- not_null tests report. Filters on inventory_date are pushed down to raw.

{%- set quantity_unit = var('inventory_quantity_unit') %}
{%- if quantity_unit not in ['sales_unit', 'case'] %}
    {{ exceptions.raise_compiler_error("var inventory_quantity_unit must be 'sales_unit' or 'case', got '" ~ quantity_unit ~ "'") }}
{%- endif %}

with source as (

    select * from {{ source('raw', 'inventory') }}

),

renamed as (

    select
        -- ids
        {{ clean_text('warehouse_id') }} as warehouse_id,
        {{ clean_text('sku') }} as sku,

        -- quantities, in the extract's unit; missing in-transit / allocated = none
        cast({{ clean_text('on_hand_qty') }} as decimal(18, 3)) as on_hand_qty,
        coalesce(cast({{ clean_text('in_transit_qty') }} as decimal(18, 3)), 0) as in_transit_qty,
        coalesce(cast({{ clean_text('allocated_qty') }} as decimal(18, 3)), 0) as allocated_qty,

        -- dates
        cast({{ clean_text('oldest_batch_date') }} as date) as oldest_batch_date,

        -- lineage
        _partition_date as inventory_date,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at

    from source

),

deduplicated as (

    -- A warehouse x SKU repeated inside one file: the last row wins.
    select
        *,
        row_number() over (
            partition by inventory_date, warehouse_id, sku
            order by source_row desc
        ) as version_rank

    from renamed

),

inventory as (

    select * from deduplicated
    where version_rank = 1

)

{%- if quantity_unit == 'case' %},

products as (

    select snapshot_date, sku, units_per_case
    from {{ ref('stg_crm__products') }}

),

product_snapshot_ranges as (

    {{ snapshot_ranges('products') }}

),

in_sales_units as (

    select
        inventory.warehouse_id,
        inventory.sku,
        inventory.on_hand_qty * products.units_per_case as on_hand_qty,
        inventory.in_transit_qty * products.units_per_case as in_transit_qty,
        inventory.allocated_qty * products.units_per_case as allocated_qty,
        inventory.oldest_batch_date,
        inventory.inventory_date,
        inventory.source_file,
        inventory.source_row,
        inventory.loaded_at

    from inventory
    left join product_snapshot_ranges
        on {{ in_snapshot_range('inventory.inventory_date', 'product_snapshot_ranges') }}
    left join products
        on products.snapshot_date = product_snapshot_ranges.valid_from
        and products.sku = inventory.sku

)

{%- else %},

in_sales_units as (

    select * from inventory

)

{%- endif %}

select
    warehouse_id,
    sku,
    cast(on_hand_qty as decimal(18, 3)) as on_hand_qty,
    cast(in_transit_qty as decimal(18, 3)) as in_transit_qty,
    cast(allocated_qty as decimal(18, 3)) as allocated_qty,
    oldest_batch_date,
    inventory_date,
    source_file,
    source_row,
    loaded_at

from in_sales_units
