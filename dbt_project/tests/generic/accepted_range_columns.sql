{#
    Values outside their column's [min_value, max_value] fail (either bound optional;
    null passes): one row per value out of range, naming its column (`failed_column`,
    `failed_value`) and the row's `key_columns`. One node for a model's accepted_range
    columns instead of one `accepted_range` test per column, for the daily run's cost
    (see not_null_columns.sql).

        - accepted_range_columns:
            name: stg_crm__customers_in_range
            arguments:
              columns:
                crm_tier: {min_value: 1, max_value: 30}
                order_weekday: {min_value: 1, max_value: 7}
#}
{% test accepted_range_columns(model, columns, key_columns=none) %}
    {%- set checks = [] -%}
    {%- for column, bounds in columns.items() -%}
        {%- set conditions = [] -%}
        {%- if bounds.get('min_value') is not none -%}{%- do conditions.append(column ~ ' < ' ~ bounds['min_value']) -%}{%- endif -%}
        {%- if bounds.get('max_value') is not none -%}{%- do conditions.append(column ~ ' > ' ~ bounds['max_value']) -%}{%- endif -%}
        {%- if not conditions -%}
            {{ exceptions.raise_compiler_error("accepted_range_columns: " ~ column ~ " needs min_value or max_value") }}
        {%- endif -%}
        {%- do checks.append([column, conditions | join(' or ')]) -%}
    {%- endfor -%}
    {{ restock_failing_columns(model, checks, key_columns) }}
{% endtest %}
