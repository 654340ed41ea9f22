{#- Quantities and amounts: a value below zero fails (null passes; pair with not_null). -#}
{% test not_negative(model, column_name) %}
    select {{ column_name }} as negative_value
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
