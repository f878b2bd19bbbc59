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
        {{ enterprise_lineage() }}
from source
