-- Customer snapshots from the CRM: typed, one row per customer per snapshot date.

with source as (

    select * from {{ source('raw', 'customers') }}

),

renamed as (

    select
        -- ids
        {{ clean_text('customer_id') }} as customer_id,

        -- attributes
        {{ clean_text('customer_name') }} as customer_name,
        {{ clean_code('channel') }} as channel,
        {{ clean_code('region') }} as region,
        cast({{ clean_text('tier') }} as integer) as crm_tier,
        {{ clean_code('status') }} as customer_status,
        cast({{ clean_text('order_weekday') }} as integer) as order_weekday,

        -- dates
        cast({{ clean_text('opened_on') }} as date) as opened_on,
        cast({{ clean_text('closed_on') }} as date) as closed_on,

        -- lineage
        _partition_date as snapshot_date,
        _source_file as source_file,
        _source_row as source_row,
        _loaded_at as loaded_at

    from source

),

deduplicated as (

    -- A customer repeated inside one snapshot file: the last row wins.
    select
        *,
        row_number() over (
            partition by snapshot_date, customer_id
            order by source_row desc
        ) as version_rank

    from renamed

)

select
    customer_id,
    customer_name,
    channel,
    region,
    crm_tier,
    customer_status,
    order_weekday,
    opened_on,
    closed_on,
    snapshot_date,
    source_file,
    source_row,
    loaded_at

from deduplicated
where version_rank = 1
