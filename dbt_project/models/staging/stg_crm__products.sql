-- Product snapshots from the CRM: typed, one row per SKU per snapshot date.

with source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        -- ids
        {{ clean_text('sku') }} as sku,

        -- attributes
        {{ clean_text('product_name') }} as product_name,
        {{ clean_text('brand') }} as brand,
        {{ clean_code('category') }} as category,
        {{ clean_code('price_band') }} as price_band,
        {{ clean_code('unit') }} as sales_unit,
        {{ clean_code('status') }} as product_status,

        -- numerics
        cast({{ clean_text('units_per_case') }} as integer) as units_per_case,
        cast({{ clean_text('unit_cost') }} as decimal(18, 2)) as unit_cost_amount,
        cast({{ clean_text('list_price') }} as decimal(18, 2)) as list_price_amount,
        cast({{ clean_text('lead_time_days') }} as integer) as lead_time_days,
        cast({{ clean_text('lead_time_std_days') }} as decimal(9, 2)) as lead_time_std_days,
        cast({{ clean_text('moq_cases') }} as integer) as moq_cases,
        cast({{ clean_text('shelf_life_days') }} as integer) as shelf_life_days,

        -- dates
        cast({{ clean_text('launched_on') }} as date) as launched_on,

        -- lineage
        _partition_date as snapshot_date,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at

    from source

),

deduplicated as (

    -- A SKU repeated inside one snapshot file: the last row wins.
    select
        *,
        row_number() over (
            partition by snapshot_date, sku
            order by source_row desc
        ) as version_rank

    from renamed

)

select
    sku,
    product_name,
    brand,
    category,
    price_band,
    sales_unit,
    product_status,
    units_per_case,
    unit_cost_amount,
    list_price_amount,
    lead_time_days,
    lead_time_std_days,
    moq_cases,
    shelf_life_days,
    launched_on,
    snapshot_date,
    source_file,
    source_row,
    loaded_at

from deduplicated
where version_rank = 1
