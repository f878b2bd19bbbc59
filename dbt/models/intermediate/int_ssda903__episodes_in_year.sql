-- CLA episodes open at any time in the SSDA903 collection year (1 April to 31 March), with the child's
-- need code and home postcode, in canonical types; the ssda903_* marts only format these.
{% set year_end = var('ssda903_year') ~ '-03-31' %}
{% set year_start = (var('ssda903_year') - 1) ~ '-04-01' %}
with cla as (
    select * from {{ ref('stg_enterprise__episode') }}
    where kind = 'CLA' and not is_deleted
        and start_date <= date '{{ year_end }}'
        and (end_date is null or end_date >= date '{{ year_start }}')
),

placement as (
    select * from {{ ref('stg_enterprise__placement') }}
),

home as (
    select person_id, postcode, valid_from, valid_to from {{ ref('stg_enterprise__person_address') }} where not is_deleted
),

need as (
    -- the need code of the child's latest CIN episode, N1 (abuse or neglect) when there is none
    select child_id, arg_max(code, start_date) as cin_code
    from {{ ref('stg_enterprise__episode') }}
    where kind = 'CIN' and not is_deleted
    group by child_id
)

select
    cla.episode_id,
    cla.child_id,
    cla.start_date,
    case when cla.end_date <= date '{{ year_end }}' then cla.end_date end as end_date,
    case when cla.end_date <= date '{{ year_end }}' then cla.reason_end end as reason_end,
    cla.reason_new,
    cla.code as legal_status,
    coalesce(need.cin_code, 'N1') as cin_code,
    placement.placement_type,
    placement.placement_provider,
    placement.placement_postcode,
    placement.urn,
    case when cla.end_date <= date '{{ year_end }}' then placement.reason_place_change end as reason_place_change,
    (
        select arg_max(home.postcode, home.valid_from) from home
        where home.person_id = cla.child_id and home.valid_from <= cla.start_date
    ) as home_postcode
from cla
left join placement on placement.placement_id = cla.episode_id
left join need on need.child_id = cla.child_id
