-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'worker') }}
)

select
        worker_id,
        first_name,
        surname,
        role,
        team,
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
