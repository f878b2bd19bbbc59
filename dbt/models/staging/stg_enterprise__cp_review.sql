-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'cp_review') }}
)

select
        cp_review_id,
        cp_plan_id,
        child_id,
        review_date,
        {{ enterprise_lineage() }}
from source
