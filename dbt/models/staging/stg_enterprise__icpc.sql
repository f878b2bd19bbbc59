-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'icpc') }}
)

select
        icpc_id,
        s47_id,
        referral_id,
        child_id,
        target_date,
        icpc_date,
        cp_plan_required,
        {{ enterprise_lineage() }}
from source
