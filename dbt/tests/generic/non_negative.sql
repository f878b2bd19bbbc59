{% test non_negative(model, column_name) %}
-- Rows where the column is below zero (a duration that ends before it starts).
select {{ column_name }} from {{ model }} where {{ column_name }} < 0
{% endtest %}
