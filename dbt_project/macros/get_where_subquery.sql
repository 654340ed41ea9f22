{#
    dbt's `get_where_subquery` (the `where` config of data tests), plus two
    placeholders for the run's window: `__min_date__` and `__max_date__` become the
    window's first and last day as ISO dates (run_window() in partition_window.sql),
    e.g.

        where: "partition_date between '__min_date__' and '__max_date__'"

    A `where` config is rendered while dbt parses the project, so `{{ var(...) }}` in
    it would make the window part of what dbt parses (and every run with another window
    a full re-parse); the placeholders are filled in when the test is compiled. This
    override follows dbt's documented pattern for custom `where` logic.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__min_date__' in where or '__max_date__' in where -%}
            {%- set window = run_window() -%}
            {%- set where = where | replace('__min_date__', window.start.isoformat()) | replace('__max_date__', window.end.isoformat()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
