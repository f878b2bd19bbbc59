-- Staging: renaming and typing only.
with source as (
    select * from {{ source('enterprise', 'resolved_person') }}
)

select
        resolved_person_id,
        cast(mentions as integer) as mentions,
        name_as_written,
        mentioned_role,
        recorded as is_recorded,
        relation as recorded_relations,
        children as recorded_children,
        mention_children
from source
