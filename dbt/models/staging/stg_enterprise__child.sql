-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'child') }}
)

select
        person_id as child_id,
        upn,
        nhs_number,
        dob,
        sex,
        ethnicity,
        disability,
        is_mother,
        {{ enterprise_lineage() }}
from source
