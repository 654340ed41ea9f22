{#
    The partition window: which days an incremental mart recomputes.

    Dagster passes the partition (or backfill range) as vars `min_date` / `max_date`
    (ISO dates, inclusive). Models call

        {% set window = partition_window(var('min_date'), var('max_date'), is_incremental()) %}

    and filter their inputs with `in_window(column, window)`. The window is `none`
    (= everything loaded) when the model is not built incrementally (first build,
    --full-refresh): a rebuilt table always holds the whole history, so a narrow
    window can never truncate a mart. The vars are read in the model, not in here,
    so that unit tests can override them.

    Day grain: [min_date, max_date]. Week grain: the Monday-starting weeks that
    overlap [min_date, max_date], as [Monday of min_date, Monday of max_date]
    (compare with a week_start column).
#}
{% macro partition_window(min_date, max_date, enabled=true, grain='day') %}
    {%- if not enabled -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set start = restock_parse_date(min_date, 'min_date') -%}
    {%- set end = restock_parse_date(max_date, 'max_date') -%}
    {%- if start > end -%}
        {{ exceptions.raise_compiler_error("min_date " ~ start ~ " is after max_date " ~ end) }}
    {%- endif -%}
    {%- if grain == 'week' -%}
        {%- set start = start - modules.datetime.timedelta(days=start.weekday()) -%}
        {%- set end = end - modules.datetime.timedelta(days=end.weekday()) -%}
    {%- elif grain != 'day' -%}
        {{ exceptions.raise_compiler_error("partition_window grain must be 'day' or 'week', got " ~ grain) }}
    {%- endif -%}
    {{ return({'start': start, 'end': end, 'grain': grain}) }}
{% endmacro %}


{#- A var value as a date; ISO strings only (also YAML dates). Fails at compile time. -#}
{% macro restock_parse_date(value, name) %}
    {%- set text = (value | string) | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be an ISO date YYYY-MM-DD, got '" ~ text ~ "'") }}
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
