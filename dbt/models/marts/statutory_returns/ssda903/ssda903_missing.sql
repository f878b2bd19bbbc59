-- SSDA903 Missing table: each missing or away episode of a child in the return that overlaps the
-- collection year; an episode still open at the year end has no end date in the return.
{% set year_end = var('ssda903_year') ~ '-03-31' %}
{% set year_start = (var('ssda903_year') - 1) ~ '-04-01' %}
select
    missing.child_id as "CHILD",
    strftime(child.dob, '%d/%m/%Y') as "DOB",
    missing.missing_type as "MISSING",
    strftime(missing.start_date, '%d/%m/%Y') as "MIS_START",
    case when missing.end_date <= date '{{ year_end }}' then strftime(missing.end_date, '%d/%m/%Y') end as "MIS_END"
from {{ ref('stg_enterprise__missing_episode') }} as missing
inner join {{ ref('stg_enterprise__child') }} as child on child.child_id = missing.child_id
where not missing.is_deleted
    and missing.start_date <= date '{{ year_end }}'
    and (missing.end_date is null or missing.end_date >= date '{{ year_start }}')
    and missing.child_id in (select child_id from {{ ref('int_ssda903__episodes_in_year') }})
