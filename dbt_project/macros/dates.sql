{#- Monday of the ISO week containing `date_expr`, as a date. -#}
{% macro week_start(date_expr) -%}
    cast({{ dbt.date_trunc('week', date_expr) }} as date)
{%- endmacro %}


{#-
    Valid-from / valid-until (exclusive) ranges of full snapshots: a snapshot is in
    force from its date until the next snapshot's date. `snapshots` names a relation
    or CTE with a `snapshot_date` column. The last snapshot has valid_until null
    (in force until a newer one arrives).
-#}
{% macro snapshot_ranges(snapshots) -%}
    select
        snapshot_date as valid_from,
        lead(snapshot_date) over (order by snapshot_date) as valid_until
    from (select distinct snapshot_date from {{ snapshots }}) as snapshot_dates
{%- endmacro %}


{#- Join predicate: `date_expr` falls in the snapshot range `ranges` (from snapshot_ranges). -#}
{% macro in_snapshot_range(date_expr, ranges) -%}
    {{ date_expr }} >= {{ ranges }}.valid_from
    and ({{ ranges }}.valid_until is null or {{ date_expr }} < {{ ranges }}.valid_until)
{%- endmacro %}
