-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'assessment_factor') }}
)

select
        assessment_id,
        factor,
        {{ enterprise_lineage() }}
from source
