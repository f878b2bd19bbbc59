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
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
