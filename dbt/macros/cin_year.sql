{# The CIN census year (var cin_year): 1 April of the year before to 31 March, as DATE literals. #}
{% macro cin_year_start() -%}
    date '{{ var("cin_year") - 1 }}-04-01'
{%- endmacro %}

{% macro cin_year_end() -%}
    date '{{ var("cin_year") }}-03-31'
{%- endmacro %}

{# A census value that is known only once ``column``'s date has passed: blank when that date is after 31 March. #}
{% macro cin_by_year_end(column, value=none) -%}
    case when {{ column }} <= {{ cin_year_end() }} then {{ value or column }} end
{%- endmacro %}

{# A module of the census (an assessment, an enquiry, a plan) joined to its referral open in the year. #}
{% macro cin_module_of_referral(model, alias) -%}
    from {{ ref(model) }} as {{ alias }}
    inner join {{ ref('int_cin__referrals_in_year') }} as referral on referral.referral_id = {{ alias }}.referral_id
{%- endmacro %}

{# Working days (Monday to Friday) after ``start`` up to and including ``end``: the DfE's timeliness measures count
   these (bank holidays are not removed: the lake holds no calendar of them). Null when either date is. #}
{% macro working_days_between(start, end) -%}
    case when {{ start }} is not null and {{ end }} is not null then (
        select count(*) from range(cast({{ start }} as timestamp) + interval 1 day,
            cast({{ end }} as timestamp) + interval 1 day, interval 1 day) as days(day)
        where isodow(days.day) < 6
    ) end
{%- endmacro %}
