-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'placement') }}
)

select
        episode_id as placement_id,
        child_id,
        placement_type,
        placement_postcode,
        placement_provider,
        carer_id,
        urn,
        reason_place_change,
        start_date,
        end_date,
        {{ enterprise_lineage() }}
from source
