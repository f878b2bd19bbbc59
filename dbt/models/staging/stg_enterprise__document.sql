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
        {{ enterprise_lineage() }}
from source
