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
        {{ enterprise_lineage() }}
from source
