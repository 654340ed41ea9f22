{#
    Quantities and amounts: a value below zero in any of `columns` fails (null passes;
    pair with not_null_columns): one row per negative value, naming its column
    (`failed_column`, `failed_value`) and the row's `key_columns`. One node for a
    model's not_negative columns instead of one `not_negative` test per column, for the
    daily run's cost (see not_null_columns.sql). A test of another severity (a `warn`)
    stays a separate test.
#}
{% test not_negative_columns(model, columns, key_columns=none) %}
    {%- set checks = [] -%}
    {%- for column in columns -%}{%- do checks.append([column, column ~ ' < 0']) -%}{%- endfor -%}
    {{ restock_failing_columns(model, checks, key_columns) }}
{% endtest %}
