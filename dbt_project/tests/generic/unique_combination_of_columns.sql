{#
    Composite key test: no two rows share the same values of all the given columns.
    Fails with one row per duplicated key (and how many times it occurs).

        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [order_id, line_no]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') -%}
    select {{ columns_csv }}, count(*) as duplicate_count
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}
