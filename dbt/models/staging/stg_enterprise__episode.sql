-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'episode') }}
)

select
        episode_id,
        child_id,
        kind,
        start_date,
        end_date,
        code,
        reason_new,
        reason_end,
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
