-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'involvement') }}
)

select
        involvement_id,
        child_id,
        worker_id,
        involvement_type,
        valid_from,
        valid_to,
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
