-- SSDA903 Header table: one row per child looked after at any time in the collection year.
select distinct
    child.child_id as "CHILD",
    coalesce(child.sex, 'U') as "SEX",  -- M, F or U (2024-25 onwards)
    strftime(child.dob, '%d/%m/%Y') as "DOB",
    child.ethnicity as "ETHNIC",
    child.upn as "UPN",
    case child.is_mother when true then '1' when false then '0' end as "MOTHER",  -- recorded for girls
    cast(null as varchar) as "MC_DOB"
from {{ ref('stg_enterprise__child') }} as child
where child.child_id in (select child_id from {{ ref('int_ssda903__episodes_in_year') }})
