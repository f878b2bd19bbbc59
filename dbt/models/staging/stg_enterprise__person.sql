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
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
