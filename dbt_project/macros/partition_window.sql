{#
    The partition window: which days an incremental mart recomputes.

    The window of a run comes from `run_window()` below, read when a node is compiled
    (never while dbt parses the project): vars `min_date` / `max_date` when given (a
    run by hand), else the one row of table raw._dbt_run_window (Dagster writes the
    partition or backfill range there right before `dbt build` and drops it after),
    else everything loaded. Dagster does not pass the window as vars because dbt
    re-parses the whole project whenever --vars change; a table changes nothing dbt
    parses, so consecutive runs of different days reuse the partial parse.

    Models call

        {% set window = partition_window(is_incremental()) %}

    and filter their inputs with `in_window(column, window)`. The window is `none`
    (= everything loaded) when the model is not built incrementally (first build,
    --full-refresh): a rebuilt table always holds the whole history, so a narrow
    window can never truncate a mart. Data tests use the window through placeholders
    in their `where` config (macros/get_where_subquery.sql).

    Day grain: [min_date, max_date]. Week grain: the Monday-starting weeks that
    overlap [min_date, max_date], as [Monday of min_date, Monday of max_date]
    (compare with a week_start column).
#}
{% macro partition_window(enabled=true, grain='day') %}
    {%- if not enabled -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set run = run_window() -%}
    {%- set start, end = run.start, run.end -%}
    {%- if grain == 'week' -%}
        {%- set start = start - modules.datetime.timedelta(days=start.weekday()) -%}
        {%- set end = end - modules.datetime.timedelta(days=end.weekday()) -%}
    {%- elif grain != 'day' -%}
        {{ exceptions.raise_compiler_error("partition_window grain must be 'day' or 'week', got " ~ grain) }}
    {%- endif -%}
    {{ return({'start': start, 'end': end, 'grain': grain}) }}
{% endmacro %}


{#
    The run's window as dates {'start': ..., 'end': ...} (inclusive): vars min_date /
    max_date when given (ISO dates; a missing one leaves that side open), else the
    row of raw._dbt_run_window, else 1900-01-01 .. 2999-12-31 (everything loaded:
    date spines are clamped to the loaded days, so the open window costs nothing).
    While dbt parses (`execute` is false) it reads no table. Bad values fail at
    compile time.
#}
{% macro run_window() %}
    {%- set bounds = ['1900-01-01', '2999-12-31'] -%}
    {%- set min_var, max_var = var('min_date', none), var('max_date', none) -%}
    {%- if min_var is not none or max_var is not none -%}
        {%- set bounds = [bounds[0] if min_var is none else min_var, bounds[1] if max_var is none else max_var] -%}
    {%- elif execute -%}
        {#- raw is a source schema, so dbt's relation cache answers this without a query -#}
        {%- set table = adapter.get_relation(database=target.database, schema='raw', identifier='_dbt_run_window') -%}
        {%- if table is not none -%}
            {%- set rows = run_query("select cast(min_date as varchar), cast(max_date as varchar) from " ~ table).rows -%}
            {%- if rows | length > 1 -%}
                {{ exceptions.raise_compiler_error(table ~ " must hold at most one row (the run's window), it holds " ~ (rows | length)) }}
            {%- elif rows | length == 1 -%}
                {%- set bounds = [rows[0][0], rows[0][1]] -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- set start = restock_parse_date(bounds[0], 'min_date') -%}
    {%- set end = restock_parse_date(bounds[1], 'max_date') -%}
    {%- if start > end -%}
        {{ exceptions.raise_compiler_error("min_date " ~ start ~ " is after max_date " ~ end) }}
    {%- endif -%}
    {{ return({'start': start, 'end': end}) }}
{% endmacro %}


{#- A window bound as a date; ISO strings only (also YAML dates). Fails at compile time. -#}
{% macro restock_parse_date(value, name) %}
    {%- set text = (value | string) | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be an ISO date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat(text)) }}
{% endmacro %}


{#- A Python date as a SQL date literal. -#}
{% macro date_literal(value) -%}
    cast('{{ value.isoformat() }}' as date)
{%- endmacro %}


{#
    Predicate: `column` lies in the window, widened by `lead_in_days` before its start
    (e.g. a trailing 13-week volume needs 90 earlier days of orders) and `lag_days`
    after its end (a week window covers 6 days after its last Monday).
    `true` when there is no window.
#}
{% macro in_window(column, window, lead_in_days=0, lag_days=0) -%}
    {%- if window is none -%}
        true
    {%- else -%}
        {%- set start = window.start - modules.datetime.timedelta(days=lead_in_days) -%}
        {%- set end = window.end + modules.datetime.timedelta(days=lag_days) -%}
        {{ column }} between {{ date_literal(start) }} and {{ date_literal(end) }}
    {%- endif -%}
{%- endmacro %}
