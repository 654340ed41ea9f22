{#- Raw text as delivered -> trimmed, empty as null. For names and ids (case kept). -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}


{#- Raw text -> trimmed, lower-cased, empty as null. For codes and statuses. -#}
{% macro clean_code(column) -%}
    lower(nullif(trim({{ column }}), ''))
{%- endmacro %}
