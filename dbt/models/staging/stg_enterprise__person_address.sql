-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'person_address') }}
)

select
        person_id,
        address_id,
        line1,
        town,
        postcode,
        valid_from,
        valid_to,
        {{ enterprise_lineage() }}
from source
