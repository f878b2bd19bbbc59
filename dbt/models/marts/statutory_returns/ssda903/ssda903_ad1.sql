-- SSDA903 AD1 table: children adopted in the collection year (an episode ending E11 or E12).
with adopted as (
    select distinct child_id from {{ ref('int_ssda903__episodes_in_year') }} where reason_end in ('E11', 'E12')
),

adults as (
    -- one row per adult: an equi-join below, where `person_id in (adult_1_id, adult_2_id)` compared every household
    -- with every person (15 s at 100,000 children)
    select household_id, adult_1_id as person_id from {{ ref('stg_enterprise__adopter') }} where adult_1_id is not null
    union all
    select household_id, adult_2_id from {{ ref('stg_enterprise__adopter') }} where adult_2_id is not null
),

adopters as (
    select household.household_id,
        case when household.adult_2_age is null then 1 else 2 end as adopters,
        household.household_type,
        string_agg(person.sex, '' order by person.sex desc) as sexes
    from {{ ref('stg_enterprise__adopter') }} as household
    left join adults on adults.household_id = household.household_id
    left join {{ ref('stg_enterprise__person') }} as person on person.person_id = adults.person_id
    group by all
)

select
    journey.child_id as "CHILD",
    strftime(journey.dob, '%d/%m/%Y') as "DOB",
    strftime(journey.decision_to_place, '%d/%m/%Y') as "DATE_INT",
    strftime(journey.matched, '%d/%m/%Y') as "DATE_MATCH",
    case when journey.adopted_by_foster_carer then '1' else '0' end as "FOSTER_CARE",
    cast(adopters.adopters as varchar) as "NB_ADOPTR",
    case adopters.sexes when 'M' then 'M1' when 'F' then 'F1' when 'MM' then 'MM' when 'FF' then 'FF' else 'MF' end
        as "SEX_ADOPTR",
    -- L0 single adopter, L11 / L12 different- / same-gender married couple, L2 civil partners, L3 unmarried couple
    case
        when adopters.household_type = 'Married couple' and adopters.sexes = 'MF' then 'L11'
        when adopters.household_type = 'Married couple' then 'L12'
        when adopters.household_type = 'Civil partners' then 'L2'
        when adopters.household_type = 'Unmarried couple' then 'L3'
        else 'L0'
    end as "LS_ADOPTR"
from {{ ref('int_adoption__journeys') }} as journey
inner join adopted on adopted.child_id = journey.child_id
left join adopters on adopters.household_id = journey.household_id
