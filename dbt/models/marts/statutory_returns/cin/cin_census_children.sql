-- CIN census ChildIdentifiers and ChildCharacteristics: one row per child with a referral open in the census year.
select
    child.child_id,
    -- LAchildID allows letters and digits only, up to 20 (rules 1570/1580): a second source's prefix loses its colon
    regexp_replace(child.child_id, '[^A-Za-z0-9]', '', 'g') as la_child_id,
    child.upn,
    case
        when child.upn is not null then null
        when date_sub('year', child.dob, {{ cin_year_end() }}) < 5 then 'UN1'  -- not of school age
        else 'UN2'  -- never attended a maintained school in England, as far as the record says
    end as upn_unknown,
    child.dob as birth_date,
    coalesce(child.sex, 'U') as sex,
    child.ethnicity,
    coalesce(child.disability, 'NONE') as disability
from {{ ref('stg_enterprise__child') }} as child
where not child.is_deleted and child.child_id in (select child_id from {{ ref('int_cin__referrals_in_year') }})
