-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'person') }}
)

select
        person_id,
        first_name,
        middle_name,
        surname,
        dob,
        sex,
        gender,
        ethnicity,
        person_type,
        {{ enterprise_lineage() }}
from source
