{#
    Nulls in any of `columns` fail: one row per null, naming its column
    (`failed_column`) and the row's `key_columns`. Why one node for a model's not_null
    columns instead of one dbt `not_null` test per column: every test is a dbt node,
    compiled (its `where` window read from the warehouse), queried, and recorded by
    Dagster as an asset check. The daily run of 2025-12-31 on the two-year demo
    warehouse (2 threads, medians of 3): 114 per-column tests, 2.0 s compile + 2.7 s
    query thread time, dbt elapsed 4.5 s; folded, 49 nodes: 1.1 s + 1.7 s, 3.1 s.
    Failing rows: the compiled query, or `dbt test --select <test> --store-failures`.

        data_tests:
          - not_null_columns:
              name: order_lines_not_null
              arguments:
                columns: [order_id, line_no, order_date]
                key_columns: [order_id, line_no]
              config: *window
#}
{% test not_null_columns(model, columns, key_columns=none) %}
    {%- set checks = [] -%}
    {%- for column in columns -%}{%- do checks.append([column, column ~ ' is null']) -%}{%- endfor -%}
    {{ restock_failing_columns(model, checks, key_columns) }}
{% endtest %}
