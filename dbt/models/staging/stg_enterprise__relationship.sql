-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'relationship') }}
)

select
        relationship_id,
        child_id,
        person_id,
        relation,
        valid_from,
        valid_to,
        {{ enterprise_lineage() }}
from source
