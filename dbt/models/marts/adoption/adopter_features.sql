-- One row per approved adopter household: its characteristics, and whether it adopted a child of each
-- cohort that waits longest. Ready for the adopter analysis (who adopts these children?).
with adopter as (
    select * from {{ ref('stg_enterprise__adopter') }} where not is_deleted
),

outcomes as (
    select
        household_id,
        count(*) as children_adopted,
        bool_or(is_sibling_group) as adopted_sibling_group,
        bool_or(is_age_5_plus) as adopted_age_5_plus,
        bool_or(is_minority_ethnic) as adopted_minority_ethnic,
        bool_or(is_disabled) as adopted_disabled
    from {{ ref('int_adoption__journeys') }}
    where household_id is not null
    group by household_id
)

select
    adopter.household_id,
    adopter.household_type,
    adopter.status,
    adopter.approval_date,
    adopter.region,
    adopter.religion,
    adopter.ethnicity,
    adopter.ethnicity not in ('WBRI', 'WIRI', 'WOTH', 'REFU', 'NOBT') as is_minority_ethnic_household,
    adopter.prior_fostering,
    adopter.years_fostering,
    adopter.birth_children,
    adopter.birth_children > 0 as has_birth_children,
    greatest(adopter.adult_1_age, coalesce(adopter.adult_2_age, adopter.adult_1_age)) as oldest_adult_age,
    adopter.occupation_sector,
    adopter.pref_sibling_group,
    adopter.pref_age_5_plus,
    adopter.pref_minority_ethnic,
    adopter.pref_disability,
    coalesce(outcomes.children_adopted, 0) as children_adopted,
    coalesce(outcomes.adopted_sibling_group, false) as adopted_sibling_group,
    coalesce(outcomes.adopted_age_5_plus, false) as adopted_age_5_plus,
    coalesce(outcomes.adopted_minority_ethnic, false) as adopted_minority_ethnic,
    coalesce(outcomes.adopted_disabled, false) as adopted_disabled
from adopter
left join outcomes on outcomes.household_id = adopter.household_id
