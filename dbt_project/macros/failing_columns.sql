{#
    The failing-rows query shared by the folded column tests (tests/generic/
    not_null_columns.sql, not_negative_columns.sql, accepted_range_columns.sql): one
    scan of the model, one row per failing row x failing column, with the row's key
    columns, `failed_column` (the column's name) and `failed_value` (as text). A row
    failing in two columns gives two rows, so the failure count equals the sum of the
    per-column tests it replaces.

    checks: list of [column, condition], the condition true when the value fails (a
    null condition passes, as in dbt's own tests).
#}
{% macro restock_failing_columns(model, checks, key_columns) %}
    {%- if not checks -%}
        {{ exceptions.raise_compiler_error("a folded column test needs at least one column") }}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- for check in checks -%}{%- do checked.append(check[0]) -%}{%- endfor -%}
    {%- set selected = [] -%}
    {%- for column in (key_columns or []) + checked -%}
        {%- if column not in selected -%}{%- do selected.append(column) -%}{%- endif -%}
    {%- endfor %}
    with failing_rows as (
        select {{ selected | join(', ') }}
        from {{ model }}
        where {% for check in checks %}({{ check[1] }}){% if not loop.last %} or {% endif %}{% endfor %}
    )
    select
        {%- for column in key_columns or [] %}
        failing_rows.{{ column }},
        {%- endfor %}
        failed.failed_column,
        case failed.failed_column
            {%- for check in checks %}
            when '{{ check[0] }}' then cast(failing_rows.{{ check[0] }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as failed_value
    from failing_rows
    cross join (values {% for check in checks %}('{{ check[0] }}'){% if not loop.last %}, {% endif %}{% endfor %}) as failed (failed_column)
    where case failed.failed_column
        {%- for check in checks %}
        when '{{ check[0] }}' then ({{ check[1] }})
        {%- endfor %}
    end
{% endmacro %}
