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
        {{ enterprise_lineage() }}
from source
