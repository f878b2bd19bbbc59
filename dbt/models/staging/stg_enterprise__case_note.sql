-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'case_note') }}
)

select
        note_id,
        child_id,
        worker_id,
        note_type,
        event_date,
        recorded_at,
        note_text,
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
