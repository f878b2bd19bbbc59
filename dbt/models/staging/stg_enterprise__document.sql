-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'document') }}
)

select
        document_id,
        child_id,
        worker_id,
        document_type,
        title,
        file_name,
        created_date,
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
