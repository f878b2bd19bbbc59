-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'contact') }}
)

select
        contact_id,
        child_id,
        contact_date,
        contact_source,
        outcome,
        {{ enterprise_lineage() }}
from source
