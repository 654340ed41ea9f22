-- Promotion lists from the CRM: typed, one row per promotion per snapshot date.

with source as (

    select * from {{ source('raw', 'promotions') }}

),

renamed as (

    select
        -- ids
        {{ clean_text('sku') }} as sku,

        -- numerics
        cast({{ clean_text('discount_pct') }} as decimal(5, 2)) as discount_pct,

        -- dates
        cast({{ clean_text('start_date') }} as date) as start_date,
        cast({{ clean_text('end_date') }} as date) as end_date,

        -- lineage
        _partition_date as snapshot_date,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at

    from source

),

deduplicated as (

    -- A promotion (SKU x start date) repeated inside one file: the last row wins.
    select
        *,
        row_number() over (
            partition by snapshot_date, sku, start_date
            order by source_row desc
        ) as version_rank

    from renamed

)

select
    sku,
    start_date,
    end_date,
    discount_pct,
    snapshot_date,
    source_file,
    source_row,
    loaded_at

from deduplicated
where version_rank = 1
