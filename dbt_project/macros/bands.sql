{#
    Band index of a value against ascending edges: the number of edges <= value.
    n edges give n + 1 bands, 0..n; a value equal to an edge is in the upper band;
    a null value is in band 0. Generic in the number of edges (zero edges: band 0).

        band_index('avg_weekly_qty', [2, 4, 7])  ->  0 below 2, 1 in [2, 4), 2 in [4, 7), 3 from 7
#}
{% macro band_index(value_expr, edges) -%}
    {%- if edges | length == 0 -%}
        0
    {%- else -%}
        (
        {%- for edge in edges %}
            case when {{ value_expr }} >= {{ edge }} then 1 else 0 end{% if not loop.last %} +{% endif %}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#-
    A var holding band edges, validated: a list of numbers (or its JSON / YAML text,
    as `--vars` may deliver it), strictly ascending. Fails at compile time otherwise.
-#}
{% macro band_edges(value, name) %}
    {%- set edges = fromyaml(value) if value is string else value -%}
    {%- if edges is none -%}
        {%- set edges = [] -%}
    {%- endif -%}
    {%- if edges is mapping or edges is string or edges is not iterable -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a list of numbers, got " ~ value) }}
    {%- endif -%}
    {%- for edge in edges -%}
        {%- if edge is not number or edge is sameas true or edge is sameas false -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ ": edge " ~ edge ~ " is not a number") }}
        {%- endif -%}
        {%- if not loop.first and edge <= loop.previtem -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " must be strictly ascending, got " ~ edges) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(edges | list) }}
{% endmacro %}


{#- A var that must be a positive integer (ints, or digit strings from --vars). -#}
{% macro positive_int(value, name) %}
    {%- set text = (value | string) | trim -%}
    {%- if not modules.re.match('^[0-9]+$', text) or (text | int) < 1 -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a positive integer, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(text | int) }}
{% endmacro %}
