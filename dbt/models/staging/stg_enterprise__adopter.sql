-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'adopter') }}
)

select
        household_id,
        household_type,
        adult_1_id,
        adult_2_id,
        adult_1_age,
        adult_2_age,
        ethnicity,
        religion,
        prior_fostering,
        years_fostering,
        birth_children,
        occupation_sector,
        region,
        approval_date,
        status,
        pref_sibling_group,
        pref_age_5_plus,
        pref_minority_ethnic,
        pref_disability,
        {{ enterprise_lineage() }}
from source
