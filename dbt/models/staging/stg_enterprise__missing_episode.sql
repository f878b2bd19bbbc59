-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'missing_episode') }}
)

select
        missing_id,
        child_id,
        missing_type,
        start_date,
        end_date,
        {{ enterprise_lineage() }}
from source
