{#
    Custom schemas are used verbatim: models configured with `+schema: marts` land in
    schema `marts` (not dbt's default `<target_schema>_marts`), so BI tools and the
    Python side find `staging`, `intermediate` and `marts` under stable names.
    Models without a custom schema go to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
