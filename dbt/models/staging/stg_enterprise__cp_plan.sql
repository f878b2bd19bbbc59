-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'cp_plan') }}
)

select
        cp_plan_id,
        referral_id,
        icpc_id,
        child_id,
        start_date,
        end_date,
        initial_category,
        latest_category,
        {{ enterprise_lineage() }}
from source
