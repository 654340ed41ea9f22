{#
    Custom incremental strategy `replace_window` (config: incremental_strategy =
    'replace_window', meta.window_column = <date column>, meta.window_grain =
    'day' | 'week').

    Replaces the partition window of a mart: delete every row whose window column
    lies in the run's window (macros/partition_window.sql), then insert the rows the
    model computed for it, in one transaction. So

    - re-running a day, or a re-delivered day, never duplicates rows;
    - a day whose data shrank loses its old rows (a plain delete+insert on a unique
      key would keep rows whose key disappeared);
    - as a guard, rows the model produced outside the window also replace what the
      table held for their window-column values (nothing is ever counted twice).

    dbt's incremental materialization (dbt-duckdb's) calls this with the computed
    rows staged in `temp_relation`.
#}
{% macro get_incremental_replace_window_sql(arg_dict) %}
    {%- set meta = config.get('meta') or {} -%}
    {%- set column = meta.get('window_column') -%}
    {%- if not column -%}
        {{ exceptions.raise_compiler_error("Model " ~ this ~ " uses incremental_strategy 'replace_window' but sets no meta.window_column") }}
    {%- endif -%}
    {%- set window = partition_window(true, meta.get('window_grain', 'day')) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }}
    where {{ in_window(column, window) }}
       or {{ column }} in (select {{ column }} from {{ source }});

    insert into {{ target }} ({{ columns_csv }})
    select {{ columns_csv }}
    from {{ source }}
{% endmacro %}
