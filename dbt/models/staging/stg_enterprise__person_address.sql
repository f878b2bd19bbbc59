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
        _deleted_at is not null as is_deleted,
        _source as source_system,
        _extract_id as source_extract_id
from source
