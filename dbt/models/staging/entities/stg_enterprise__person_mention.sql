-- Staging: renaming and typing only.
with source as (
    select * from {{ source('enterprise', 'person_mention') }}
)

select
        mention_id,
        resolved_person_id,
        match_probability,
        method as resolution_method,
        child_id,
        resolved_at
from source
