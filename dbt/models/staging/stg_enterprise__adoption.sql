-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'adoption') }}
)

select
        adoption_id,
        child_id,
        household_id,
        entered_care,
        decision_to_place,
        placement_order,
        matched,
        placed,
        adoption_order,
        sibling_group_id,
        adopted_by_foster_carer,
        {{ enterprise_lineage() }}
from source
